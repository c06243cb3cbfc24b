import PlexusCore

/// A depthwise 2-D convolution as direct loops over channels-last data: for each output pixel
/// and kernel tap, the `C` input values of the tap's pixel times the `C * M` kernel values of
/// the tap, accumulated into the pixel's `C * M` outputs (channel `c * M + m`). The innermost
/// loops run over contiguous channels, which the compiler vectorizes; there is no column
/// matrix, since a depthwise product (one input channel per output) is too thin for `gemm`.
///
/// `geometry.channels` is the input channels `C`; the kernel is `[KH, KW, C, M]`.
struct DepthwiseLowering: ConvolutionPass {
  let geometry: ConvolutionGeometry
  /// The filters per input channel `M`.
  let multiplier: Int

  var fusesActivation: Bool { false }

  /// The direct pass of a grouped convolution with one input channel per group (`groups ==
  /// channels > 1`), whose kernel `[KH, KW, 1, F]` is the depthwise kernel `[KH, KW, C, F / C]`;
  /// `nil` for other groupings. `geometry` is one group's (one channel).
  static func forGroups(geometry: ConvolutionGeometry, groups: Int, channels: Int, filters: Int)
    -> DepthwiseLowering?
  {
    guard groups > 1, groups == channels else { return nil }
    var whole = geometry
    whole.channels = channels
    return DepthwiseLowering(geometry: whole, multiplier: filters / groups)
  }

  /// The kernel taps of output row `oh` (or column) that fall inside the input: the first and
  /// end tap and the input index of the first.
  @inline(__always)
  private static func taps(
    output: Int, stride: Int, padding: Int, dilation: Int, kernel: Int, input: Int
  ) -> Range<Int> {
    let origin = output * stride - padding
    // The first tap with origin + tap * dilation >= 0, and the end with < input.
    let first = origin >= 0 ? 0 : (-origin + dilation - 1) / dilation
    let end = origin >= input ? 0 : Swift.min(kernel, (input - origin + dilation - 1) / dilation)
    return first..<Swift.max(first, end)
  }

  func forward(
    input: Tensor, kernel: Tensor, bias: Tensor?, activation: ActivationFunction,
    outputShape: [Int], scratch: ConvolutionScratch
  ) -> Tensor {
    let g = geometry
    let (channels, multiplier) = (g.channels, self.multiplier)
    let width = channels * multiplier
    let batch = input.batchCount
    let positions = g.outputPositions
    let plan = TilePlan(
      batch: batch, positions: positions, patch: g.kernelHeight * g.kernelWidth,
      work: TilePlan.work(batch, positions, g.kernelHeight * g.kernelWidth, width))
    let biasValues = bias ?? Tensor.zeros([0])
    let hasBias = bias != nil
    // Every output is set to the bias (or zero) before the taps add to it.
    return Tensor(unsafeUninitializedShape: outputShape) { out in
      input.withUnsafeBufferPointer { x in
        kernel.withUnsafeBufferPointer { w in
          biasValues.withUnsafeBufferPointer { b in
            let (xs, ws, bs, outs) = (
              SharedPointer(x.baseAddress!), SharedPointer(w.baseAddress!),
              SharedPointer(b.baseAddress ?? x.baseAddress!), SharedPointer(out.baseAddress!)
            )
            plan.forEachSampleRange { samples in
              for sample in samples {
                let image = UnsafePointer(xs.pointer + sample * g.inputSampleSize)
                for oh in 0..<g.outputHeight {
                  let rows = Self.taps(
                    output: oh, stride: g.strideHeight, padding: g.padTop,
                    dilation: g.dilationHeight, kernel: g.kernelHeight, input: g.inputHeight)
                  for ow in 0..<g.outputWidth {
                    let y =
                      outs.pointer + ((sample * g.outputHeight + oh) * g.outputWidth + ow) * width
                    if hasBias {
                      y.update(from: bs.pointer, count: width)
                    } else {
                      y.update(repeating: 0, count: width)
                    }
                    let columns = Self.taps(
                      output: ow, stride: g.strideWidth, padding: g.padLeft,
                      dilation: g.dilationWidth, kernel: g.kernelWidth, input: g.inputWidth)
                    for i in rows {
                      let ih = oh * g.strideHeight - g.padTop + i * g.dilationHeight
                      for j in columns {
                        let iw = ow * g.strideWidth - g.padLeft + j * g.dilationWidth
                        let pixel = image + (ih * g.inputWidth + iw) * channels
                        let tap = UnsafePointer(ws.pointer + (i * g.kernelWidth + j) * width)
                        Self.multiplyAdd(
                          pixel, tap, into: y, channels: channels, multiplier: multiplier)
                      }
                    }
                  }
                }
              }
            }
          }
        }
      }
    }
  }

  /// `y[c * M + m] += x[c] * w[c * M + m]`.
  @inline(__always)
  private static func multiplyAdd(
    _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>,
    channels: Int, multiplier: Int
  ) {
    if multiplier == 1 {
      for c in 0..<channels { y[c] += x[c] * w[c] }
      return
    }
    for c in 0..<channels {
      let value = x[c]
      let base = c * multiplier
      for m in 0..<multiplier { y[base + m] += value * w[base + m] }
    }
  }

  func backward(
    gradient: Tensor, activation: ActivationFunction, activationOutput: Tensor, input: Tensor,
    kernel: Parameter, bias: Parameter?, computingInputGradient: Bool,
    scratch: ConvolutionScratch
  ) -> Tensor? {
    let g = geometry
    let (channels, multiplier) = (g.channels, self.multiplier)
    let width = channels * multiplier
    let batch = input.batchCount
    let positions = g.outputPositions
    if let bias { ConvolutionLowering.addChannelSums(of: gradient, channels: width, to: bias) }
    let plan = TilePlan(
      batch: batch, positions: positions, patch: g.kernelHeight * g.kernelWidth,
      work: TilePlan.work(2, batch, positions, g.kernelHeight * g.kernelWidth, width))
    var inputGradient = Tensor.zeros(computingInputGradient ? input.shape : [1])
    let weights = kernel.value
    let kernelSize = weights.count
    // Each thread but the first accumulates its kernel gradient apart.
    let partials = SharedPointer(
      scratch.partialGradients.reserve(Swift.max(plan.threads - 1, 1) * kernelSize))
    if plan.threads > 1 {
      partials.pointer.update(repeating: 0, count: (plan.threads - 1) * kernelSize)
    }
    gradient.withUnsafeBufferPointer { dy in
      input.withUnsafeBufferPointer { x in
        weights.withUnsafeBufferPointer { w in
          kernel.gradient.withUnsafeMutableBufferPointer { dw in
            inputGradient.withUnsafeMutableBufferPointer { dx in
              let (dys, xs, ws, dws, dxs) = (
                SharedPointer(dy.baseAddress!), SharedPointer(x.baseAddress!),
                SharedPointer(w.baseAddress!), SharedPointer(dw.baseAddress!),
                SharedPointer(dx.baseAddress!)
              )
              plan.forEachThread { thread, samples in
                let kernelGradient =
                  thread == 0 ? dws.pointer : partials.pointer + (thread - 1) * kernelSize
                for sample in samples {
                  let image = UnsafePointer(xs.pointer + sample * g.inputSampleSize)
                  let imageGradient = dxs.pointer + sample * g.inputSampleSize
                  for oh in 0..<g.outputHeight {
                    let rows = Self.taps(
                      output: oh, stride: g.strideHeight, padding: g.padTop,
                      dilation: g.dilationHeight, kernel: g.kernelHeight, input: g.inputHeight)
                    for ow in 0..<g.outputWidth {
                      let outputGradient = UnsafePointer(
                        dys.pointer + ((sample * g.outputHeight + oh) * g.outputWidth + ow)
                          * width)
                      let columns = Self.taps(
                        output: ow, stride: g.strideWidth, padding: g.padLeft,
                        dilation: g.dilationWidth, kernel: g.kernelWidth, input: g.inputWidth)
                      for i in rows {
                        let ih = oh * g.strideHeight - g.padTop + i * g.dilationHeight
                        for j in columns {
                          let iw = ow * g.strideWidth - g.padLeft + j * g.dilationWidth
                          let offset = (ih * g.inputWidth + iw) * channels
                          let tap = (i * g.kernelWidth + j) * width
                          Self.multiplyAddGradients(
                            outputGradient, input: image + offset,
                            kernel: UnsafePointer(ws.pointer + tap),
                            kernelGradient: kernelGradient + tap,
                            inputGradient: computingInputGradient ? imageGradient + offset : nil,
                            channels: channels, multiplier: multiplier)
                        }
                      }
                    }
                  }
                }
              }
              for thread in 1..<Swift.max(plan.threads, 1) {
                BLAS.axpy(
                  count: kernelSize, alpha: 1, x: partials.pointer + (thread - 1) * kernelSize,
                  y: dw.baseAddress!)
              }
            }
          }
        }
      }
    }
    return computingInputGradient ? inputGradient : nil
  }

  /// `dw[c * M + m] += x[c] * dy[c * M + m]` and `dx[c] += w[c * M + m] * dy[c * M + m]`.
  @inline(__always)
  private static func multiplyAddGradients(
    _ dy: UnsafePointer<Float>, input x: UnsafePointer<Float>, kernel w: UnsafePointer<Float>,
    kernelGradient dw: UnsafeMutablePointer<Float>, inputGradient dx: UnsafeMutablePointer<Float>?,
    channels: Int, multiplier: Int
  ) {
    if multiplier == 1 {
      for c in 0..<channels { dw[c] += x[c] * dy[c] }
      if let dx { for c in 0..<channels { dx[c] += w[c] * dy[c] } }
      return
    }
    for c in 0..<channels {
      let value = x[c]
      let base = c * multiplier
      var sum: Float = 0
      for m in 0..<multiplier {
        dw[base + m] += value * dy[base + m]
        sum += w[base + m] * dy[base + m]
      }
      dx?[c] += sum
    }
  }
}
