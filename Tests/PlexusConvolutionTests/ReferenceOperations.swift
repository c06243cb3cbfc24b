import PlexusConvolution
import PlexusCore

/// Direct nested-loop definitions of the convolution family's operations, written
/// independently of the lowering, to compare the layers against.
enum Reference {
  /// Output extent and padding before along one axis, from the padding rules.
  static func resolve(
    _ padding: Padding, input: Int, kernel: Int, stride: Int, dilation: Int, height: Bool
  )
    -> (output: Int, before: Int)?
  {
    let effective = dilation * (kernel - 1) + 1
    switch padding {
    case .valid:
      return input >= effective ? ((input - effective) / stride + 1, 0) : nil
    case .same:
      let output = (input + stride - 1) / stride
      let total = max((output - 1) * stride + effective - input, 0)
      return (output, total / 2)
    case .explicit(let top, let bottom, let left, let right):
      let (before, after) = height ? (top, bottom) : (left, right)
      let padded = input + before + after
      return padded >= effective ? ((padded - effective) / stride + 1, before) : nil
    }
  }

  /// `out[n, oh, ow, o] = bias[o] + sum x[n, oh*s - p + kh*d, ow*s - p + kw*d, c] * k[kh, kw, c, o]`,
  /// with `groups`: filter `o` of group `g = o / (O / groups)` sums over input channels
  /// `g * C/groups + c` with kernel `[KH, KW, C/groups, O]`.
  static func conv2d(
    input: Tensor, kernel: Tensor, bias: Tensor?, strides: (Int, Int), dilation: (Int, Int),
    padding: Padding, groups: Int = 1
  ) -> Tensor? {
    let (n, h, w, channels) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
    let (kh, kw, c, o) = (kernel.shape[0], kernel.shape[1], kernel.shape[2], kernel.shape[3])
    precondition(c * groups == channels && o % groups == 0, "grouped kernel \(kernel.shape)")
    guard
      let rows = resolve(
        padding, input: h, kernel: kh, stride: strides.0, dilation: dilation.0, height: true),
      let columns = resolve(
        padding, input: w, kernel: kw, stride: strides.1, dilation: dilation.1, height: false)
    else { return nil }
    let x = input.scalars
    let k = kernel.scalars
    let b = bias?.scalars
    var out = [Float](repeating: 0, count: n * rows.output * columns.output * o)
    for sample in 0..<n {
      for oh in 0..<rows.output {
        for ow in 0..<columns.output {
          for filter in 0..<o {
            var total = Double(b?[filter] ?? 0)
            for i in 0..<kh {
              for j in 0..<kw {
                let ih = oh * strides.0 - rows.before + i * dilation.0
                let iw = ow * strides.1 - columns.before + j * dilation.1
                guard ih >= 0, ih < h, iw >= 0, iw < w else { continue }
                let firstChannel = filter / (o / groups) * c
                for channel in 0..<c {
                  total +=
                    Double(x[((sample * h + ih) * w + iw) * channels + firstChannel + channel])
                    * Double(k[((i * kw + j) * c + channel) * o + filter])
                }
              }
            }
            out[((sample * rows.output + oh) * columns.output + ow) * o + filter] = Float(total)
          }
        }
      }
    }
    return try? Tensor(shape: [n, rows.output, columns.output, o], scalars: out)
  }

  /// The transposed convolution as a scatter: every input element adds `x * k` to the output
  /// positions its window covers. Kernel `[KH, KW, O, C]`.
  static func conv2dTranspose(
    input: Tensor, kernel: Tensor, bias: Tensor?, strides: (Int, Int), dilation: (Int, Int),
    padding: Padding
  ) -> Tensor {
    let (n, h, w, c) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
    let (kh, kw, o) = (kernel.shape[0], kernel.shape[1], kernel.shape[2])
    func extent(_ size: Int, _ k: Int, _ s: Int, _ d: Int, height: Bool) -> (Int, Int) {
      let effective = d * (k - 1) + 1
      switch padding {
      case .valid: return ((size - 1) * s + effective, 0)
      case .same: return (size * s, max((size - 1) * s + effective - size * s, 0) / 2)
      case .explicit(let top, let bottom, let left, let right):
        let (before, after) = height ? (top, bottom) : (left, right)
        return ((size - 1) * s + effective - before - after, before)
      }
    }
    let (oh, top) = extent(h, kh, strides.0, dilation.0, height: true)
    let (ow, left) = extent(w, kw, strides.1, dilation.1, height: false)
    let x = input.scalars
    let k = kernel.scalars
    var out = [Double](repeating: 0, count: n * oh * ow * o)
    for sample in 0..<n {
      for row in 0..<oh {
        for column in 0..<ow {
          for filter in 0..<o {
            out[((sample * oh + row) * ow + column) * o + filter] = Double(
              bias?.scalars[filter] ?? 0)
          }
        }
      }
      for ih in 0..<h {
        for iw in 0..<w {
          for i in 0..<kh {
            for j in 0..<kw {
              let row = ih * strides.0 - top + i * dilation.0
              let column = iw * strides.1 - left + j * dilation.1
              guard row >= 0, row < oh, column >= 0, column < ow else { continue }
              for filter in 0..<o {
                for channel in 0..<c {
                  out[((sample * oh + row) * ow + column) * o + filter] +=
                    Double(x[((sample * h + ih) * w + iw) * c + channel])
                    * Double(k[((i * kw + j) * o + filter) * c + channel])
                }
              }
            }
          }
        }
      }
    }
    return Tensor(shape: [n, oh, ow, o]) { buffer in
      for index in buffer.indices { buffer[index] = Float(out[index]) }
    }
  }

  /// Max or average pooling over the in-bounds positions of each window.
  static func pool(
    input: Tensor, size: (Int, Int), strides: (Int, Int), padding: Padding, max useMax: Bool
  )
    -> Tensor?
  {
    let (n, h, w, c) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
    guard
      let rows = resolve(
        padding, input: h, kernel: size.0, stride: strides.0, dilation: 1, height: true),
      let columns = resolve(
        padding, input: w, kernel: size.1, stride: strides.1, dilation: 1, height: false)
    else { return nil }
    let x = input.scalars
    var out = [Float]()
    for sample in 0..<n {
      for oh in 0..<rows.output {
        for ow in 0..<columns.output {
          for channel in 0..<c {
            var values: [Float] = []
            for i in 0..<size.0 {
              for j in 0..<size.1 {
                let ih = oh * strides.0 - rows.before + i
                let iw = ow * strides.1 - columns.before + j
                if ih >= 0, ih < h, iw >= 0, iw < w {
                  values.append(x[((sample * h + ih) * w + iw) * c + channel])
                }
              }
            }
            out.append(useMax ? values.max() ?? 0 : values.reduce(0, +) / Float(values.count))
          }
        }
      }
    }
    return try? Tensor(shape: [n, rows.output, columns.output, c], scalars: out)
  }
}
