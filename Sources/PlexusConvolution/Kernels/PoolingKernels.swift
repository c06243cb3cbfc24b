import Dispatch
import PlexusCore
import PlexusKernels

/// A raw pointer shared by workers that touch disjoint samples of it.
struct SharedPointer<Pointee>: @unchecked Sendable {
  let pointer: UnsafeMutablePointer<Pointee>
  init(_ pointer: UnsafeMutablePointer<Pointee>) { self.pointer = pointer }
  init(_ pointer: UnsafePointer<Pointee>) { self.pointer = UnsafeMutablePointer(mutating: pointer) }
}

/// Runs `body` over sample ranges: on one thread unless the pass visits at least
/// `ConvolutionLayers.minimumParallelPoolingVisits` window elements (pooling is memory-bound,
/// so threads pay off only for large batches of large images).
func forEachSampleChunk(samples: Int, visitsPerSample: Int, _ body: @Sendable (Range<Int>) -> Void)
{
  let (visits, overflow) = samples.multipliedReportingOverflow(by: visitsPerSample)
  if overflow || visits >= ConvolutionLayers.minimumParallelPoolingVisits.current {
    Parallel.forEachChunk(count: samples, costPerElement: visitsPerSample, body)
  } else if samples > 0 {
    body(0..<samples)
  }
}

/// Pooling windows over channels-last samples. Padded positions never take part: a maximum
/// ignores them and an average divides by the number of positions inside the input (Keras'
/// convention). Samples are split across cores when the work is large.
enum PoolingKernels {
  /// Max pooling (`plexus_max_pool` in PlexusKernels); writes the output and, when `argmax`
  /// is given, per output element the offset within its sample of the input element that won
  /// (where backward routes the gradient).
  static func maxPoolForward(
    _ input: UnsafePointer<Float>, samples: Int, geometry g: ConvolutionGeometry,
    output: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>?
  ) {
    let (source, destination) = (SharedPointer(input), SharedPointer(output))
    let winners = argmax.map { SharedPointer($0) }
    let inputStride = g.inputSampleSize
    let outputStride = g.outputPositions * g.channels
    forEachSampleChunk(
      samples: samples, visitsPerSample: outputStride * g.kernelHeight * g.kernelWidth
    ) { range in
      plexus_max_pool(
        Int64(range.count), Int64(g.inputHeight), Int64(g.inputWidth), Int64(g.channels),
        Int64(g.kernelHeight), Int64(g.kernelWidth), Int64(g.strideHeight),
        Int64(g.strideWidth), Int64(g.padTop), Int64(g.padLeft), Int64(g.outputHeight),
        Int64(g.outputWidth), source.pointer + range.lowerBound * inputStride,
        destination.pointer + range.lowerBound * outputStride,
        winners.map { $0.pointer + range.lowerBound * outputStride })
    }
  }

  /// Runs `body(inputOffset, outputOffset)` for each sample, with the offsets of its input and
  /// output, across threads when the pass is large (see `forEachSampleChunk`).
  static func forEachSample(
    samples: Int, geometry: ConvolutionGeometry, _ body: @Sendable (Int, Int) -> Void
  ) {
    let inputStride = geometry.inputSampleSize
    let outputStride = geometry.outputPositions * geometry.channels
    forEachSampleChunk(
      samples: samples, visitsPerSample: outputStride * geometry.kernelHeight * geometry.kernelWidth
    ) { range in
      for sample in range { body(sample * inputStride, sample * outputStride) }
    }
  }

  /// Routes each output gradient to the input element that won the maximum (accumulating).
  static func maxPoolBackward(
    _ outputGradient: UnsafePointer<Float>, argmax: UnsafePointer<Int32>, samples: Int,
    geometry: ConvolutionGeometry, inputGradient: UnsafeMutablePointer<Float>
  ) {
    let outputStride = geometry.outputPositions * geometry.channels
    let inputStride = geometry.inputSampleSize
    for sample in 0..<samples {
      let dy = outputGradient + sample * outputStride
      let winners = argmax + sample * outputStride
      let dx = inputGradient + sample * inputStride
      for index in 0..<outputStride { dx[Int(winners[index])] += dy[index] }
    }
  }

  /// Average pooling over the positions of each window that lie inside the input
  /// (`backward == false`: `source` is the input, `destination` the output), or its adjoint
  /// (`backward`: spreads each output gradient in `source` evenly over its window,
  /// accumulating into the input gradient `destination`).
  static func averagePool(
    _ source: UnsafePointer<Float>, samples: Int, geometry: ConvolutionGeometry,
    into destination: UnsafeMutablePointer<Float>, backward: Bool
  ) {
    let (source, destination) = (SharedPointer(source), SharedPointer(destination))
    // The input (or input gradient) and the output (or output gradient) of each sample.
    let (values, pooled) = backward ? (destination, source) : (source, destination)
    forEachSample(samples: samples, geometry: geometry) { inputOffset, outputOffset in
      averagePoolSample(
        window: values.pointer + inputOffset, pooled: pooled.pointer + outputOffset,
        geometry: geometry, backward: backward)
    }
  }

  /// Forward (`backward == false`): writes `pooled = mean(window)` for one sample, reading
  /// `window`. Backward: accumulates `pooled / count` into each window position of `window`
  /// (then the input gradient), reading `pooled` (the output gradient).
  static func averagePoolSample(
    window inputValues: UnsafeMutablePointer<Float>, pooled: UnsafeMutablePointer<Float>,
    geometry g: ConvolutionGeometry, backward: Bool
  ) {
    let channels = g.channels
    var out = pooled
    for outputRow in 0..<g.outputHeight {
      let rowBase = outputRow * g.strideHeight - g.padTop
      let rowStart = Swift.max(0, (-rowBase + g.dilationHeight - 1) / g.dilationHeight)
      var rowEnd = g.kernelHeight
      while rowEnd > rowStart && rowBase + (rowEnd - 1) * g.dilationHeight >= g.inputHeight {
        rowEnd -= 1
      }
      for outputColumn in 0..<g.outputWidth {
        let columnBase = outputColumn * g.strideWidth - g.padLeft
        let columnStart = Swift.max(0, (-columnBase + g.dilationWidth - 1) / g.dilationWidth)
        var columnEnd = g.kernelWidth
        while columnEnd > columnStart
          && columnBase + (columnEnd - 1) * g.dilationWidth >= g.inputWidth
        {
          columnEnd -= 1
        }
        let inside = (rowEnd - rowStart) * (columnEnd - columnStart)
        let scale: Float = inside > 0 ? 1 / Float(inside) : 0
        if !backward { out.update(repeating: 0, count: channels) }
        for kernelRow in rowStart..<Swift.max(rowStart, rowEnd) {
          let inputRow = rowBase + kernelRow * g.dilationHeight
          for kernelColumn in columnStart..<Swift.max(columnStart, columnEnd) {
            let inputColumn = columnBase + kernelColumn * g.dilationWidth
            let values = inputValues + (inputRow * g.inputWidth + inputColumn) * channels
            if backward {
              for channel in 0..<channels { values[channel] += out[channel] * scale }
            } else {
              for channel in 0..<channels { out[channel] += values[channel] }
            }
          }
        }
        if !backward {
          for channel in 0..<channels { out[channel] *= scale }
        }
        out += channels
      }
    }
  }
}

extension PoolingKernels {
  /// Validates a pooling layer's input shape and returns its window geometry.
  ///
  /// - Throws: `PlexusError.shapeMismatch` for an input that is not rank 3, smaller than the
  ///   window after padding, or padded by a full window or more (a window would see no input).
  static func geometry(
    layer: String, inputShape: [Int], poolSize: [Int], strides: [Int], padding: Padding
  ) throws -> ConvolutionGeometry {
    try ShapeCheck.require(
      inputShape, rank: 3, layer: layer, expected: "[height, width, channels] (rank 3)")
    if case .explicit(let top, let bottom, let left, let right) = padding,
      max(top, bottom) >= poolSize[0] || max(left, right) >= poolSize[1]
    {
      throw PlexusError.invalidConfiguration(
        "layer '\(layer)': explicit padding \(padding) must be smaller than the pool size \(poolSize) "
          + "on each side, or some windows would hold only padding")
    }
    guard
      let rows = padding.resolve(
        input: inputShape[0], kernel: poolSize[0], stride: strides[0], dilation: 1, axis: .height),
      let columns = padding.resolve(
        input: inputShape[1], kernel: poolSize[1], stride: strides[1], dilation: 1, axis: .width)
    else {
      throw PlexusError.shapeMismatch(
        layer: layer,
        expected: "an input at least as large as the pool \(poolSize) after padding \(padding)",
        found: inputShape)
    }
    return ConvolutionGeometry(
      inputHeight: inputShape[0], inputWidth: inputShape[1], channels: inputShape[2],
      kernelHeight: poolSize[0],
      kernelWidth: poolSize[1], strideHeight: strides[0], strideWidth: strides[1],
      padTop: rows.before,
      padLeft: columns.before, outputHeight: rows.output, outputWidth: columns.output)
  }
}
