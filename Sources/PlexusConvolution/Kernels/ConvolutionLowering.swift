import PlexusCore

/// A 2-D convolution lowered to matrix products: im2col + `gemm` for the forward pass, the
/// weight gradient and the input gradient (`gemm` + col2im).
///
/// The kernel is an HWIO tensor viewed as a `[KH * KW * C, O]` matrix. Whole batches go to one
/// `gemm` (BLAS threads split it); im2col and col2im split samples across cores. Batches whose
/// column matrix would exceed `ConvolutionLayers.maximumColumnElements` are processed in chunks of samples.
struct ConvolutionLowering {
  /// The largest column matrix built at once.
  static var maximumColumnElements: Int { ConvolutionLayers.maximumColumnElements }

  let geometry: ConvolutionGeometry
  let filters: Int

  /// Samples per chunk so that a chunk's column matrix stays within the limit.
  func samplesPerChunk(batch: Int) -> Int {
    let perSample = Swift.max(geometry.outputPositions * geometry.patchSize, 1)
    return Swift.max(1, Swift.min(batch, Self.maximumColumnElements / perSample))
  }

  /// Computes the convolution of a `[N, H, W, C]` batch (any shape with those elements) plus
  /// the bias, into a tensor of `outputShape` (`[N, OH, OW, O]` elements).
  ///
  /// - Returns: the output, and the column matrix of the whole batch when `keepColumns` and it
  ///   was built in one piece (backward then reuses it instead of unrolling again).
  func forward(
    input: Tensor, kernel: Tensor, bias: Tensor?, outputShape: [Int], keepColumns: Bool
  ) -> (output: Tensor, columns: Tensor?) {
    let batch = input.batchCount
    let positions = geometry.outputPositions
    let patch = geometry.patchSize
    let filters = self.filters
    var output = Tensor.zeros(outputShape)
    if let bias { output.addToLastAxis(bias) }
    let beta: Float = bias == nil ? 0 : 1
    if geometry.isPointwise {
      output.withUnsafeMutableBufferPointer { out in
        input.withUnsafeBufferPointer { x in
          kernel.withUnsafeBufferPointer { w in
            BLAS.gemm(
              transposeA: false, transposeB: false, m: batch * positions, n: filters, k: patch,
              a: x.baseAddress!, lda: patch, b: w.baseAddress!, ldb: filters, beta: beta,
              c: out.baseAddress!, ldc: filters)
          }
        }
      }
      return (output, nil)
    }
    let chunk = samplesPerChunk(batch: batch)
    if chunk == batch {
      let columns = Tensor(shape: [batch * positions, patch]) { columns in
        input.withUnsafeBufferPointer { x in
          ConvolutionKernels.im2col(x.baseAddress!, samples: batch, geometry: geometry, into: columns.baseAddress!)
        }
      }
      output.withUnsafeMutableBufferPointer { out in
        columns.withUnsafeBufferPointer { cols in
          kernel.withUnsafeBufferPointer { w in
            BLAS.gemm(
              transposeA: false, transposeB: false, m: batch * positions, n: filters, k: patch,
              a: cols.baseAddress!, lda: patch, b: w.baseAddress!, ldb: filters, beta: beta,
              c: out.baseAddress!, ldc: filters)
          }
        }
      }
      return (output, keepColumns ? columns : nil)
    }
    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: chunk * positions * patch)
    defer { scratch.deallocate() }
    output.withUnsafeMutableBufferPointer { out in
      input.withUnsafeBufferPointer { x in
        kernel.withUnsafeBufferPointer { w in
          var start = 0
          while start < batch {
            let count = Swift.min(chunk, batch - start)
            ConvolutionKernels.im2col(
              x.baseAddress! + start * geometry.inputSampleSize, samples: count, geometry: geometry,
              into: scratch)
            BLAS.gemm(
              transposeA: false, transposeB: false, m: count * positions, n: filters, k: patch,
              a: scratch, lda: patch, b: w.baseAddress!, ldb: filters, beta: beta,
              c: out.baseAddress! + start * positions * filters, ldc: filters)
            start += count
          }
        }
      }
    }
    return (output, nil)
  }

  /// Accumulates the kernel and bias gradients and returns the input gradient.
  ///
  /// - Parameters:
  ///   - gradient: the gradient with respect to the pre-activation output (`[N, OH, OW, O]`).
  ///   - input: the forward input.
  ///   - columns: the column matrix kept by `forward`, if any.
  func backward(
    gradient: Tensor, input: Tensor, columns: Tensor?, kernel: Parameter, bias: Parameter?
  ) -> Tensor {
    let batch = input.batchCount
    let positions = geometry.outputPositions
    let patch = geometry.patchSize
    let filters = self.filters
    if let bias { Self.addChannelSums(of: gradient, channels: filters, to: bias) }
    var inputGradient = Tensor.zeros(input.shape)
    let weights = kernel.value
    if geometry.isPointwise {
      gradient.withUnsafeBufferPointer { dy in
        input.withUnsafeBufferPointer { x in
          kernel.gradient.withUnsafeMutableBufferPointer { dw in
            BLAS.gemm(
              transposeA: true, transposeB: false, m: patch, n: filters, k: batch * positions,
              a: x.baseAddress!, lda: patch, b: dy.baseAddress!, ldb: filters, beta: 1,
              c: dw.baseAddress!, ldc: filters)
          }
          weights.withUnsafeBufferPointer { w in
            inputGradient.withUnsafeMutableBufferPointer { dx in
              BLAS.gemm(
                transposeA: false, transposeB: true, m: batch * positions, n: patch, k: filters,
                a: dy.baseAddress!, lda: filters, b: w.baseAddress!, ldb: filters,
                c: dx.baseAddress!, ldc: patch)
            }
          }
        }
      }
      return inputGradient
    }
    let chunk = columns == nil ? samplesPerChunk(batch: batch) : batch
    let columnScratch =
      columns == nil ? UnsafeMutablePointer<Float>.allocate(capacity: chunk * positions * patch) : nil
    let gradientScratch = UnsafeMutablePointer<Float>.allocate(capacity: chunk * positions * patch)
    defer {
      columnScratch?.deallocate()
      gradientScratch.deallocate()
    }
    gradient.withUnsafeBufferPointer { dy in
      input.withUnsafeBufferPointer { x in
        weights.withUnsafeBufferPointer { w in
          kernel.gradient.withUnsafeMutableBufferPointer { dw in
            inputGradient.withUnsafeMutableBufferPointer { dx in
              var start = 0
              while start < batch {
                let count = Swift.min(chunk, batch - start)
                let rows = count * positions
                let dyChunk = dy.baseAddress! + start * positions * filters
                let xChunk = x.baseAddress! + start * geometry.inputSampleSize
                let dxChunk = dx.baseAddress! + start * geometry.inputSampleSize
                // Weight gradient: columns^T x dY.
                let accumulateWeights = { (cols: UnsafePointer<Float>) in
                  BLAS.gemm(
                    transposeA: true, transposeB: false, m: patch, n: filters, k: rows,
                    a: cols, lda: patch, b: dyChunk, ldb: filters, beta: 1,
                    c: dw.baseAddress!, ldc: filters)
                }
                if let columns {
                  columns.withUnsafeBufferPointer { accumulateWeights($0.baseAddress!) }
                } else if let columnScratch {
                  ConvolutionKernels.im2col(xChunk, samples: count, geometry: geometry, into: columnScratch)
                  accumulateWeights(columnScratch)
                }
                // Input gradient: col2im(dY x W^T).
                BLAS.gemm(
                  transposeA: false, transposeB: true, m: rows, n: patch, k: filters,
                  a: dyChunk, lda: filters, b: w.baseAddress!, ldb: filters,
                  c: gradientScratch, ldc: patch)
                ConvolutionKernels.col2im(gradientScratch, samples: count, geometry: geometry, addingInto: dxChunk)
                start += count
              }
            }
          }
        }
      }
    }
    return inputGradient
  }

  /// Adds the per-channel sums of a channels-last gradient to a bias gradient.
  static func addChannelSums(of gradient: Tensor, channels: Int, to bias: Parameter) {
    let rows = gradient.count / channels
    bias.gradient.withUnsafeMutableBufferPointer { db in
      gradient.withUnsafeBufferPointer { dy in
        var row = dy.baseAddress!
        let sums = db.baseAddress!
        for _ in 0..<rows {
          for channel in 0..<channels { sums[channel] += row[channel] }
          row += channels
        }
      }
    }
  }
}

/// A 2-D transposed convolution lowered to matrix products: the adjoint of
/// `ConvolutionLowering`. Its `geometry` describes the forward convolution that maps the
/// transposed convolution's output back to its input; the kernel is `[KH, KW, O, C]`, viewed as
/// a `[KH * KW * O, C]` matrix.
struct TransposedConvolutionLowering {
  let geometry: ConvolutionGeometry
  /// The input channels (the forward convolution's filters).
  let inputChannels: Int

  func samplesPerChunk(batch: Int) -> Int {
    let perSample = Swift.max(geometry.outputPositions * geometry.patchSize, 1)
    return Swift.max(1, Swift.min(batch, ConvolutionLowering.maximumColumnElements / perSample))
  }

  /// Computes the transposed convolution of `[N, H, W, C]` (with `H, W` the geometry's output
  /// extent) plus bias, into `outputShape` (`[N, OH, OW, O]`, the geometry's input extent).
  func forward(input: Tensor, kernel: Tensor, bias: Tensor?, outputShape: [Int]) -> Tensor {
    let batch = input.batchCount
    let positions = geometry.outputPositions
    let patch = geometry.patchSize
    let inputChannels = self.inputChannels
    var output = Tensor.zeros(outputShape)
    if let bias { output.addToLastAxis(bias) }
    let chunk = samplesPerChunk(batch: batch)
    let scratch = geometry.isPointwise ? nil : UnsafeMutablePointer<Float>.allocate(capacity: chunk * positions * patch)
    defer { scratch?.deallocate() }
    output.withUnsafeMutableBufferPointer { out in
      input.withUnsafeBufferPointer { x in
        kernel.withUnsafeBufferPointer { w in
          guard let scratch else {
            BLAS.gemm(
              transposeA: false, transposeB: true, m: batch * positions, n: patch, k: inputChannels,
              a: x.baseAddress!, lda: inputChannels, b: w.baseAddress!, ldb: inputChannels, beta: 1,
              c: out.baseAddress!, ldc: patch)
            return
          }
          var start = 0
          while start < batch {
            let count = Swift.min(chunk, batch - start)
            BLAS.gemm(
              transposeA: false, transposeB: true, m: count * positions, n: patch, k: inputChannels,
              a: x.baseAddress! + start * positions * inputChannels, lda: inputChannels,
              b: w.baseAddress!, ldb: inputChannels, c: scratch, ldc: patch)
            ConvolutionKernels.col2im(
              scratch, samples: count, geometry: geometry,
              addingInto: out.baseAddress! + start * geometry.inputSampleSize)
            start += count
          }
        }
      }
    }
    return output
  }

  /// Accumulates the kernel and bias gradients and returns the input gradient.
  func backward(gradient: Tensor, input: Tensor, kernel: Parameter, bias: Parameter?) -> Tensor {
    let batch = input.batchCount
    let positions = geometry.outputPositions
    let patch = geometry.patchSize
    let inputChannels = self.inputChannels
    if let bias { ConvolutionLowering.addChannelSums(of: gradient, channels: geometry.channels, to: bias) }
    var inputGradient = Tensor.zeros(input.shape)
    let weights = kernel.value
    let chunk = samplesPerChunk(batch: batch)
    let scratch = geometry.isPointwise ? nil : UnsafeMutablePointer<Float>.allocate(capacity: chunk * positions * patch)
    defer { scratch?.deallocate() }
    gradient.withUnsafeBufferPointer { dy in
      input.withUnsafeBufferPointer { x in
        weights.withUnsafeBufferPointer { w in
          kernel.gradient.withUnsafeMutableBufferPointer { dw in
            inputGradient.withUnsafeMutableBufferPointer { dx in
              var start = 0
              while start < batch {
                let count = Swift.min(chunk, batch - start)
                let rows = count * positions
                let columns: UnsafePointer<Float>
                if let scratch {
                  ConvolutionKernels.im2col(
                    dy.baseAddress! + start * geometry.inputSampleSize, samples: count, geometry: geometry,
                    into: scratch)
                  columns = UnsafePointer(scratch)
                } else {
                  columns = dy.baseAddress! + start * geometry.inputSampleSize
                }
                let xChunk = x.baseAddress! + start * positions * inputChannels
                BLAS.gemm(
                  transposeA: false, transposeB: false, m: rows, n: inputChannels, k: patch,
                  a: columns, lda: patch, b: w.baseAddress!, ldb: inputChannels,
                  c: dx.baseAddress! + start * positions * inputChannels, ldc: inputChannels)
                BLAS.gemm(
                  transposeA: true, transposeB: false, m: patch, n: inputChannels, k: rows,
                  a: columns, lda: patch, b: xChunk, ldb: inputChannels, beta: 1,
                  c: dw.baseAddress!, ldc: inputChannels)
                start += count
              }
            }
          }
        }
      }
    }
    return inputGradient
  }
}
