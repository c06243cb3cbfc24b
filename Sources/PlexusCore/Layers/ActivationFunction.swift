import Foundation

/// An elementwise (or, for softmax, per-row) activation function with its derivative.
///
/// Encodes to JSON as its Keras name (`"relu"`); parameterized functions with a non-default
/// parameter encode as an object (`{"name": "leaky_relu", "alpha": 0.2}`).
public enum ActivationFunction: Sendable, Equatable, Hashable {
  /// The identity.
  case linear
  /// `1 / (1 + e^-x)`.
  case sigmoid
  /// Hyperbolic tangent.
  case tanh
  /// `max(0, x)`.
  case relu
  /// `x` for positive inputs, `alpha * x` otherwise.
  case leakyRelu(alpha: Float)
  /// `x` for positive inputs, `alpha * (e^x - 1)` otherwise.
  case elu(alpha: Float)
  /// The exact Gaussian error linear unit `x * Φ(x)` (as PyTorch's default).
  case gelu
  /// `log(1 + e^x)`.
  case softplus
  /// The softmax over the last dimension.
  case softmax
  /// The Heaviside step `x >= 0 ? 1 : 0` (the classic perceptron); its gradient is zero.
  case step

  /// Keras' default slope for leaky ReLU.
  public static let defaultLeakyAlpha: Float = 0.3
  /// Keras' default scale for ELU.
  public static let defaultEluAlpha: Float = 1.0

  /// The name used in JSON configs.
  public var name: String {
    switch self {
    case .linear: return "linear"
    case .sigmoid: return "sigmoid"
    case .tanh: return "tanh"
    case .relu: return "relu"
    case .leakyRelu: return "leaky_relu"
    case .elu: return "elu"
    case .gelu: return "gelu"
    case .softplus: return "softplus"
    case .softmax: return "softmax"
    case .step: return "step"
    }
  }

  /// All names accepted in JSON configs.
  public static let allNames = [
    "linear", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "gelu", "softplus", "softmax", "step",
  ]

  /// Looks up a function by name, with an optional parameter (`alpha`).
  ///
  /// - Throws: `PlexusError.invalidConfiguration` naming the accepted names.
  public init(name: String, alpha: Float? = nil) throws {
    switch name {
    case "linear", "identity", "none": self = .linear
    case "sigmoid": self = .sigmoid
    case "tanh": self = .tanh
    case "relu": self = .relu
    case "leaky_relu", "leakyrelu": self = .leakyRelu(alpha: alpha ?? Self.defaultLeakyAlpha)
    case "elu": self = .elu(alpha: alpha ?? Self.defaultEluAlpha)
    case "gelu": self = .gelu
    case "softplus": self = .softplus
    case "softmax": self = .softmax
    case "step", "heaviside": self = .step
    default:
      throw PlexusError.invalidConfiguration(
        "unknown activation '\(name)'; expected one of \(Self.allNames.joined(separator: ", "))")
    }
  }

  /// Applies the function to a batch.
  public func apply(_ input: Tensor) -> Tensor {
    var output = input
    output.withUnsafeMutableBufferPointer { buffer in
      applyInPlace(buffer, lastDimension: input.shape.last ?? 1)
    }
    return output
  }

  /// Applies the function in place; `lastDimension` is the row length softmax normalizes over.
  ///
  /// Large buffers are split by whole rows across cores (`Parallel.forEachChunk`).
  public func applyInPlace(_ buffer: UnsafeMutableBufferPointer<Float>, lastDimension: Int) {
    let shared = UncheckedSendable(buffer)
    forEachRowChunk(count: buffer.count, lastDimension: lastDimension) { range in
      applySerially(
        UnsafeMutableBufferPointer(rebasing: shared.value[range]), lastDimension: lastDimension)
    }
  }

  /// Relative cost of one element, for deciding when to split work across cores.
  private var costPerElement: Int {
    switch self {
    case .linear, .relu, .leakyRelu, .step: return 1
    default: return 16
    }
  }

  /// Runs `body` over chunks of `0..<count` that hold whole rows of `lastDimension` elements.
  private func forEachRowChunk(
    count: Int, lastDimension: Int, _ body: @Sendable (Range<Int>) -> Void
  ) {
    let width = Swift.max(lastDimension, 1)
    guard count % width == 0 else {
      body(0..<count)
      return
    }
    Parallel.forEachChunk(count: count / width, costPerElement: costPerElement * width) { rows in
      body(rows.lowerBound * width..<rows.upperBound * width)
    }
  }

  private func applySerially(_ buffer: UnsafeMutableBufferPointer<Float>, lastDimension: Int) {
    switch self {
    case .linear: return
    case .sigmoid:
      for index in buffer.indices { buffer[index] = Self.sigmoid(buffer[index]) }
    case .tanh:
      for index in buffer.indices { buffer[index] = Foundation.tanh(buffer[index]) }
    case .relu:
      // A select rather than a branch, so the loop vectorizes (NaN becomes 0 as well).
      for index in buffer.indices {
        let value = buffer[index]
        buffer[index] = value > 0 ? value : 0
      }
    case .leakyRelu(let alpha):
      for index in buffer.indices where buffer[index] < 0 { buffer[index] *= alpha }
    case .elu(let alpha):
      for index in buffer.indices where buffer[index] < 0 {
        buffer[index] = alpha * Foundation.expm1(buffer[index])
      }
    case .gelu:
      for index in buffer.indices {
        let x = buffer[index]
        buffer[index] = 0.5 * x * (1 + Foundation.erf(x * Float(0.5).squareRoot()))
      }
    case .softplus:
      for index in buffer.indices { buffer[index] = Self.softplus(buffer[index]) }
    case .step:
      for index in buffer.indices { buffer[index] = buffer[index] >= 0 ? 1 : 0 }
    case .softmax:
      let width = Swift.max(lastDimension, 1)
      var rowStart = 0
      while rowStart < buffer.count {
        let row = UnsafeMutableBufferPointer(
          rebasing: buffer[rowStart..<Swift.min(rowStart + width, buffer.count)])
        Self.softmaxRow(row)
        rowStart += width
      }
    }
  }

  /// The gradient with respect to the input, given the input, the output computed from it and
  /// the gradient with respect to the output.
  public func backward(input: Tensor, output: Tensor, outputGradient: Tensor) -> Tensor {
    var result = outputGradient
    let width = output.shape.last ?? 1
    result.withUnsafeMutableBufferPointer { gradient in
      input.withUnsafeBufferPointer { x in
        output.withUnsafeBufferPointer { y in
          backwardInPlace(gradient: gradient, input: x, output: y, lastDimension: width)
        }
      }
    }
    return result
  }

  /// Multiplies `gradient` in place by the derivative (for softmax: the Jacobian-vector
  /// product per row). `input` is only read by functions whose derivative needs it.
  ///
  /// Large buffers are split by whole rows across cores (`Parallel.forEachChunk`).
  public func backwardInPlace(
    gradient: UnsafeMutableBufferPointer<Float>, input: UnsafeBufferPointer<Float>,
    output: UnsafeBufferPointer<Float>, lastDimension: Int
  ) {
    let shared = UncheckedSendable((gradient, input, output))
    forEachRowChunk(count: gradient.count, lastDimension: lastDimension) { range in
      let (gradient, input, output) = shared.value
      backwardSerially(
        gradient: UnsafeMutableBufferPointer(rebasing: gradient[range]),
        input: input.isEmpty ? input : UnsafeBufferPointer(rebasing: input[range]),
        output: UnsafeBufferPointer(rebasing: output[range]), lastDimension: lastDimension)
    }
  }

  private func backwardSerially(
    gradient: UnsafeMutableBufferPointer<Float>, input: UnsafeBufferPointer<Float>,
    output: UnsafeBufferPointer<Float>, lastDimension: Int
  ) {
    switch self {
    case .linear: return
    case .sigmoid:
      for index in gradient.indices { gradient[index] *= output[index] * (1 - output[index]) }
    case .tanh:
      for index in gradient.indices { gradient[index] *= 1 - output[index] * output[index] }
    case .relu:
      // Explicit vector selects: with two buffers the compiler keeps a branchy scalar loop.
      let count = gradient.count
      let target = UnsafeMutableRawPointer(gradient.baseAddress!)
      let source = UnsafeRawPointer(output.baseAddress!)
      var index = 0
      while index + 8 <= count {
        let bytes = index * 4
        let value = target.loadUnaligned(fromByteOffset: bytes, as: SIMD8<Float>.self)
        let activated = source.loadUnaligned(fromByteOffset: bytes, as: SIMD8<Float>.self)
        target.storeBytes(
          of: value.replacing(with: 0, where: .!(activated .> 0)), toByteOffset: bytes,
          as: SIMD8<Float>.self)
        index += 8
      }
      while index < count {
        gradient[index] = output[index] > 0 ? gradient[index] : 0
        index += 1
      }
    case .leakyRelu(let alpha):
      for index in gradient.indices where input[index] < 0 { gradient[index] *= alpha }
    case .elu(let alpha):
      for index in gradient.indices where input[index] < 0 {
        gradient[index] *= output[index] + alpha
      }
    case .gelu:
      let inverseSqrt2: Float = Float(0.5).squareRoot()
      let inverseSqrt2Pi: Float = 1 / (2 * Float.pi).squareRoot()
      for index in gradient.indices {
        let x = input[index]
        let cdf = 0.5 * (1 + Foundation.erf(x * inverseSqrt2))
        let pdf = inverseSqrt2Pi * Foundation.exp(-0.5 * x * x)
        gradient[index] *= cdf + x * pdf
      }
    case .softplus:
      for index in gradient.indices { gradient[index] *= Self.sigmoid(input[index]) }
    case .step:
      for index in gradient.indices { gradient[index] = 0 }
    case .softmax:
      let width = Swift.max(lastDimension, 1)
      var rowStart = 0
      while rowStart < gradient.count {
        let end = Swift.min(rowStart + width, gradient.count)
        var dot: Float = 0
        for index in rowStart..<end { dot += gradient[index] * output[index] }
        for index in rowStart..<end { gradient[index] = output[index] * (gradient[index] - dot) }
        rowStart += width
      }
    }
  }

  /// Whether `backward` reads the input (otherwise the output suffices).
  public var derivativeNeedsInput: Bool {
    switch self {
    case .leakyRelu, .elu, .gelu, .softplus: return true
    default: return false
    }
  }

  @inlinable static func sigmoid(_ x: Float) -> Float {
    if x >= 0 { return 1 / (1 + Foundation.exp(-x)) }
    let e = Foundation.exp(x)
    return e / (1 + e)
  }

  @inlinable static func softplus(_ x: Float) -> Float {
    x > 0 ? x + Foundation.log1p(Foundation.exp(-x)) : Foundation.log1p(Foundation.exp(x))
  }

  /// Replaces a row by its softmax, stably (subtracting the row maximum).
  public static func softmaxRow(_ row: UnsafeMutableBufferPointer<Float>) {
    guard let largest = row.max() else { return }
    var total: Float = 0
    for index in row.indices {
      let e = Foundation.exp(row[index] - largest)
      row[index] = e
      total += e
    }
    let inverse = 1 / total
    for index in row.indices { row[index] *= inverse }
  }
}

extension ActivationFunction: Codable {
  private enum CodingKeys: String, CodingKey { case name, alpha }

  public init(from decoder: Decoder) throws {
    if let single = try? decoder.singleValueContainer(), let name = try? single.decode(String.self)
    {
      self = try ActivationFunction(name: name)
      return
    }
    let container = try decoder.container(keyedBy: CodingKeys.self)
    let name = try container.decode(String.self, forKey: .name)
    let alpha = try container.decodeIfPresent(Float.self, forKey: .alpha)
    self = try ActivationFunction(name: name, alpha: alpha)
  }

  public func encode(to encoder: Encoder) throws {
    switch self {
    case .leakyRelu(let alpha) where alpha != Self.defaultLeakyAlpha,
      .elu(let alpha) where alpha != Self.defaultEluAlpha:
      var container = encoder.container(keyedBy: CodingKeys.self)
      try container.encode(name, forKey: .name)
      try container.encode(alpha, forKey: .alpha)
    default:
      var container = encoder.singleValueContainer()
      try container.encode(name)
    }
  }
}
