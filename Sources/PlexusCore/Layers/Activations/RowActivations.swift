import Foundation

/// Calls `body` with each row of `lastDimension` elements of `buffer` (a trailing shorter run
/// forms one last row).
@inline(__always)
private func forEachRow(
  count: Int, lastDimension: Int, _ body: (_ start: Int, _ end: Int) -> Void
) {
  let width = Swift.max(lastDimension, 1)
  var start = 0
  while start < count {
    let end = Swift.min(start + width, count)
    body(start, end)
    start = end
  }
}

/// The softmax over the last dimension, `e^x_i / Σ_j e^x_j`, computed stably (subtracting the
/// row maximum). Its backward is the Jacobian-vector product `y ⊙ (g - ⟨g, y⟩)` per row.
struct SoftmaxActivation: ActivationKernel {
  static let name = "softmax"
  init() {}
  init(parameters: [String: Float]) {}
  var derivativeNeedsInput: Bool { false }

  func apply(_ buffer: UnsafeMutableBufferPointer<Float>, lastDimension: Int) {
    forEachRow(count: buffer.count, lastDimension: lastDimension) { start, end in
      ActivationFunction.softmaxRow(UnsafeMutableBufferPointer(rebasing: buffer[start..<end]))
    }
  }

  func backward(
    gradient: UnsafeMutableBufferPointer<Float>, input: UnsafeBufferPointer<Float>,
    output: UnsafeBufferPointer<Float>, lastDimension: Int
  ) {
    forEachRow(count: gradient.count, lastDimension: lastDimension) { start, end in
      var dot: Float = 0
      for index in start..<end { dot += gradient[index] * output[index] }
      for index in start..<end { gradient[index] = output[index] * (gradient[index] - dot) }
    }
  }
}

/// The log of the softmax over the last dimension, `x_i - m - log Σ_j e^(x_j - m)` with `m`
/// the row maximum (finite for any finite row). Its backward is `g - softmax(x) Σ_j g_j` per
/// row, with `softmax(x) = e^y`.
struct LogSoftmaxActivation: ActivationKernel {
  static let name = "log_softmax"
  init() {}
  init(parameters: [String: Float]) {}
  var derivativeNeedsInput: Bool { false }

  func apply(_ buffer: UnsafeMutableBufferPointer<Float>, lastDimension: Int) {
    forEachRow(count: buffer.count, lastDimension: lastDimension) { start, end in
      var largest = buffer[start]
      for index in start..<end { largest = Swift.max(largest, buffer[index]) }
      var total: Float = 0
      for index in start..<end { total += Foundation.exp(buffer[index] - largest) }
      // `(x - m) - log Σ` keeps the precision of `x - m` when `m` is large.
      let logTotal = Foundation.log(total)
      for index in start..<end { buffer[index] = (buffer[index] - largest) - logTotal }
    }
  }

  func backward(
    gradient: UnsafeMutableBufferPointer<Float>, input: UnsafeBufferPointer<Float>,
    output: UnsafeBufferPointer<Float>, lastDimension: Int
  ) {
    forEachRow(count: gradient.count, lastDimension: lastDimension) { start, end in
      var total: Float = 0
      for index in start..<end { total += gradient[index] }
      for index in start..<end {
        gradient[index] -= Foundation.exp(output[index]) * total
      }
    }
  }
}
