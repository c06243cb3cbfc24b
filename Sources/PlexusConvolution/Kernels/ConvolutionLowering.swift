import Dispatch
import PlexusCore
import PlexusKernels

/// The scratch tiles of a lowered convolution. They belong to one layer call — the call's
/// `CallRecord` keeps them in `scratch` — so the model that reuses its records from one step
/// to the next reuses the tiles, and tasks running one model at once never share them.
final class ConvolutionScratch {
  /// Unrolled input columns (one tile per thread).
  let columns = FloatBuffer()
  /// Column gradients before col2im (one tile per thread).
  let columnGradients = FloatBuffer()
  /// The weight (and bias) gradients of every thread but the first.
  let partialGradients = FloatBuffer()
  /// Output gradient tiles with the activation's derivative applied.
  let maskedGradients = FloatBuffer()
  /// The kernel rearranged for the direct channels-last kernel.
  let packedKernel = FloatBuffer()

  /// The scratch kept in `record`, created there on the call's first use.
  static func of(_ record: CallRecord) -> ConvolutionScratch {
    if let scratch = record.scratch as? ConvolutionScratch { return scratch }
    let scratch = ConvolutionScratch()
    record.scratch = scratch
    return scratch
  }
}

/// How a batch is cut for lowering: rows of the column matrix (output positions over the
/// batch) in tiles small enough to stay in cache, and whole samples per thread so that
/// threads never write the same input or output positions.
struct TilePlan: Sendable {
  let batch: Int
  let positions: Int
  let rowsPerTile: Int
  let threads: Int

  /// - Parameters:
  ///   - patch: the length of a column row.
  ///   - work: the multiply-adds of the whole pass, which decides whether threads pay off.
  init(batch: Int, positions: Int, patch: Int, work: Int) {
    self.batch = batch
    self.positions = positions
    rowsPerTile = Swift.max(
      1, ConvolutionLayers.columnTileElements.current / Swift.max(patch, 1))
    threads =
      work >= ConvolutionLayers.minimumParallelWork.current
      ? Swift.max(1, Swift.min(Parallel.maximumThreads.current, batch)) : 1
  }

  /// The product of `factors` (a pass's multiply-adds), `Int.max` when it overflows.
  static func work(_ factors: Int...) -> Int {
    var product = 1
    for factor in factors {
      let (next, overflow) = product.multipliedReportingOverflow(by: factor)
      if overflow { return .max }
      product = next
    }
    return product
  }

  /// Calls `body(thread, samples)` once per thread with that thread's index and samples
  /// (disjoint ranges that cover the batch), concurrently when there is more than one thread.
  func forEachThread(_ body: @Sendable (_ thread: Int, _ samples: Range<Int>) -> Void) {
    let (batch, threads) = (self.batch, self.threads)
    @Sendable func run(_ thread: Int) {
      body(thread, (thread * batch / threads)..<((thread + 1) * batch / threads))
    }
    if threads == 1 {
      run(0)
    } else {
      DispatchQueue.concurrentPerform(iterations: threads) { run($0) }
    }
  }

  /// Calls `body(samples)` once per thread with that thread's samples (disjoint ranges that
  /// cover the batch), concurrently when there is more than one thread.
  func forEachSampleRange(_ body: @Sendable (_ samples: Range<Int>) -> Void) {
    forEachThread { _, samples in body(samples) }
  }

  /// Calls `body(thread, rows)` for every tile; tiles of one thread run in order, threads run
  /// concurrently on disjoint sample ranges.
  func forEachTile(_ body: @Sendable (_ thread: Int, _ rows: Range<Int>) -> Void) {
    let (positions, rowsPerTile) = (self.positions, self.rowsPerTile)
    // The thread's own index: one derived from its first sample (`lower * threads / batch`)
    // gives two threads the same tiles when the batch does not divide evenly (3 over 2).
    forEachThread { thread, samples in
      var row = samples.lowerBound * positions
      let end = samples.upperBound * positions
      while row < end {
        let count = Swift.min(rowsPerTile, end - row)
        body(thread, row..<(row + count))
        row += count
      }
    }
  }
}

/// A 2-D convolution lowered to matrix products: im2col + `gemm` for the forward pass, the
/// weight gradient and the input gradient (`gemm` + col2im).
///
/// The kernel is an HWIO tensor viewed as a `[KH * KW * C, O]` matrix. The column matrix is
/// never built whole: tiles of `ConvolutionLayers.columnTileElements` are unrolled and fed to
/// `gemm` while they are in cache; large batches are split across cores by samples. The
/// tiles live in a `ConvolutionScratch` that each call passes in.
struct ConvolutionLowering: Sendable {
  let geometry: ConvolutionGeometry
  let filters: Int

  /// Whether the columns are unrolled transposed (`[patch, rows]`): for a single input
  /// channel that copies whole input row runs instead of one short patch row per position.
  var usesTransposedColumns: Bool { geometry.channels == 1 && !geometry.isPointwise }

  /// Whether the forward pass runs the direct channels-last kernel (few channels and filters,
  /// no dilation): each input value is broadcast against a vector of filters for several
  /// output pixels, which beats building a column matrix whose product is small.
  /// Whether the forward pass runs the direct single-channel kernel: one input channel,
  /// horizontal stride 1, no dilation (the first layer of most image models, whose
  /// `[KH * KW, O]` product is too thin for a BLAS to run well).
  var usesDirectKernel: Bool {
    geometry.channels >= 2 && geometry.channels <= 32 && filters <= 32 && !geometry.isPointwise
      && geometry.dilationHeight == 1 && geometry.dilationWidth == 1
  }

  var usesSingleChannelKernel: Bool {
    geometry.channels == 1 && !geometry.isPointwise && geometry.strideWidth == 1
      && geometry.dilationHeight == 1 && geometry.dilationWidth == 1
  }

  /// Computes `activation(conv(input) + bias)` for a `[N, H, W, C]` batch (any shape with those
  /// elements) into a tensor of `outputShape` (`[N, OH, OW, O]` elements). The bias and the
  /// activation are applied to each tile right after its `gemm`, while it is in cache.
  ///
  /// - Parameters:
  ///   - activation: applied in place per output row (any function whose backward needs only
  ///     the output, or `.linear`).
  ///   - scratch: the call's scratch tiles.
  func forward(
    input: Tensor, kernel: Tensor, bias: Tensor?, activation: ActivationFunction,
    outputShape: [Int], scratch: ConvolutionScratch
  ) -> Tensor {
    let batch = input.batchCount
    let geometry = self.geometry
    let patch = geometry.patchSize
    let filters = self.filters
    let transposedColumns = usesTransposedColumns
    let biasValues = bias ?? Tensor.zeros([0])
    // Every element is written by a beta = 0 product before the bias is added.
    return Tensor(unsafeUninitializedShape: outputShape) { out in
      input.withUnsafeBufferPointer { x in
        kernel.withUnsafeBufferPointer { w in
          biasValues.withUnsafeBufferPointer { b in
            let hasBias = bias != nil
            let (biasPointer, outs) = (
              SharedPointer(b.baseAddress!), SharedPointer(out.baseAddress!)
            )
            @Sendable func activate(_ rows: Range<Int>) {
              activation.applyInPlace(
                UnsafeMutableBufferPointer(
                  start: outs.pointer + rows.lowerBound * filters, count: rows.count * filters),
                lastDimension: filters)
            }
            @Sendable func finish(_ rows: Range<Int>) {
              if hasBias {
                Self.addBias(
                  biasPointer.pointer, to: outs.pointer + rows.lowerBound * filters,
                  rows: rows.count, channels: filters)
              }
              activate(rows)
            }
            if usesDirectKernel || usesSingleChannelKernel {
              // Direct kernels (PlexusKernels) add the bias themselves and build no column
              // matrix; the channels-last one reads the kernel packed into filter vectors.
              let g = geometry
              let direct = usesDirectKernel
              var weights = UnsafePointer(w.baseAddress!)
              var lanes: Int64 = 0
              if direct {
                let packed = scratch.packedKernel.reserve(
                  Int(
                    plexus_conv2d_packed_size(
                      Int64(g.kernelHeight), Int64(g.kernelWidth), Int64(g.channels),
                      Int64(filters))))
                lanes = plexus_conv2d_pack(
                  weights, Int64(g.kernelHeight), Int64(g.kernelWidth), Int64(g.channels),
                  Int64(filters), packed)
                weights = UnsafePointer(packed)
              }
              let plan = TilePlan(
                batch: batch, positions: g.outputPositions, patch: patch,
                work: TilePlan.work(batch, g.outputPositions, patch, filters))
              let (xs, ws) = (SharedPointer(x.baseAddress!), SharedPointer(weights))
              plan.forEachSampleRange { [lanes] samples in
                guard !samples.isEmpty else { return }
                let input = xs.pointer + samples.lowerBound * g.inputSampleSize
                let output = outs.pointer + samples.lowerBound * g.outputPositions * filters
                let biasValues = hasBias ? UnsafePointer(biasPointer.pointer) : nil
                if direct {
                  plexus_conv2d_direct(
                    Int64(samples.count), Int64(g.inputHeight), Int64(g.inputWidth),
                    Int64(g.channels), input, ws.pointer, lanes, Int64(g.kernelHeight),
                    Int64(g.kernelWidth), Int64(filters), Int64(g.strideHeight),
                    Int64(g.strideWidth), Int64(g.padTop), Int64(g.padLeft),
                    Int64(g.outputHeight), Int64(g.outputWidth), biasValues, output)
                } else {
                  plexus_conv2d_single_channel(
                    Int64(samples.count), Int64(g.inputHeight), Int64(g.inputWidth), input,
                    ws.pointer, Int64(g.kernelHeight), Int64(g.kernelWidth), Int64(filters),
                    Int64(g.strideHeight), Int64(g.padTop), Int64(g.padLeft),
                    Int64(g.outputHeight), Int64(g.outputWidth), biasValues, output)
                }
                let (first, end) = (
                  samples.lowerBound * g.outputPositions, samples.upperBound * g.outputPositions
                )
                activate(first..<end)
              }
              return
            }
            if geometry.isPointwise {
              let rows = batch * geometry.outputPositions
              BLAS.gemm(
                transposeA: false, transposeB: false, m: rows, n: filters, k: patch,
                a: x.baseAddress!, lda: patch, b: w.baseAddress!, ldb: filters,
                c: out.baseAddress!, ldc: filters)
              finish(0..<rows)
              return
            }
            let plan = TilePlan(
              batch: batch, positions: geometry.outputPositions, patch: patch,
              work: TilePlan.work(batch, geometry.outputPositions, patch, filters))
            let tileSize = plan.rowsPerTile * patch
            let tiles = SharedPointer(scratch.columns.reserve(plan.threads * tileSize))
            let (xs, ws) = (SharedPointer(x.baseAddress!), SharedPointer(w.baseAddress!))
            plan.forEachTile { thread, rows in
              let tile = tiles.pointer + thread * tileSize
              if transposedColumns {
                ConvolutionKernels.im2colTransposed(
                  xs.pointer, rows: rows, geometry: geometry, into: tile)
              } else {
                ConvolutionKernels.im2col(xs.pointer, rows: rows, geometry: geometry, into: tile)
              }
              BLAS.gemm(
                transposeA: transposedColumns, transposeB: false, m: rows.count, n: filters,
                k: patch,
                a: tile, lda: transposedColumns ? rows.count : patch, b: ws.pointer, ldb: filters,
                c: outs.pointer + rows.lowerBound * filters, ldc: filters)
              finish(rows)
            }
          }
        }
      }
    }
  }

  /// Adds `bias` to each of `rows` rows of `channels` values.
  @inline(__always)
  static func addBias(
    _ bias: UnsafePointer<Float>, to start: UnsafeMutablePointer<Float>, rows: Int, channels: Int
  ) {
    var row = start
    for _ in 0..<rows {
      for channel in 0..<channels { row[channel] += bias[channel] }
      row += channels
    }
  }

  /// Accumulates the kernel and bias gradients and returns the input gradient (`nil`, and not
  /// computed, when `computingInputGradient` is false).
  ///
  /// - Parameters:
  ///   - gradient: the gradient with respect to the layer's output (`[N, OH, OW, O]`).
  ///   - activation: the activation `forward` applied; its derivative is applied to each tile
  ///     of the gradient while it is in cache (it must need only the output).
  ///   - activationOutput: the output of `forward` (read when `activation` is not linear).
  ///   - input: the input of the forward pass.
  ///   - computingInputGradient: whether to compute the input gradient.
  ///   - scratch: the call's scratch tiles.
  func backward(
    gradient: Tensor, activation: ActivationFunction, activationOutput: Tensor, input: Tensor,
    kernel: Parameter, bias: Parameter?, computingInputGradient: Bool,
    scratch: ConvolutionScratch
  ) -> Tensor? {
    let batch = input.batchCount
    let geometry = self.geometry
    let positions = geometry.outputPositions
    let patch = geometry.patchSize
    let filters = self.filters
    let transposedColumns = usesTransposedColumns
    let masksTiles = activation != .linear && !geometry.isPointwise
    // Tiles apply the activation's derivative as they go; a pointwise kernel (no tiles) takes
    // it on the whole gradient first.
    let gradient =
      activation == .linear || masksTiles
      ? gradient
      : activation.backward(
        input: activationOutput, output: activationOutput, outputGradient: gradient)
    if let bias, !masksTiles { Self.addChannelSums(of: gradient, channels: filters, to: bias) }
    // Without an input gradient, `dx` points at one unused scalar.
    var inputGradient = Tensor.zeros(computingInputGradient ? input.shape : [1])
    let weights = kernel.value
    // With masked tiles the bias gradient accumulates here, tile by tile.
    var biasSums = bias?.gradient ?? Tensor.zeros([filters])
    gradient.withUnsafeBufferPointer { dy in
      input.withUnsafeBufferPointer { x in
        weights.withUnsafeBufferPointer { w in
          kernel.gradient.withUnsafeMutableBufferPointer { dw in
            inputGradient.withUnsafeMutableBufferPointer { dx in
              if geometry.isPointwise {
                BLAS.gemm(
                  transposeA: true, transposeB: false, m: patch, n: filters, k: batch * positions,
                  a: x.baseAddress!, lda: patch, b: dy.baseAddress!, ldb: filters, beta: 1,
                  c: dw.baseAddress!, ldc: filters)
                guard computingInputGradient else { return }
                BLAS.gemm(
                  transposeA: false, transposeB: true, m: batch * positions, n: patch, k: filters,
                  a: dy.baseAddress!, lda: filters, b: w.baseAddress!, ldb: filters,
                  c: dx.baseAddress!, ldc: patch)
                return
              }
              let plan = TilePlan(
                batch: batch, positions: positions, patch: patch,
                work: TilePlan.work(2, batch, positions, patch, filters))
              let tileSize = plan.rowsPerTile * patch
              let columns = SharedPointer(scratch.columns.reserve(plan.threads * tileSize))
              let columnGradients = SharedPointer(
                scratch.columnGradients.reserve(plan.threads * tileSize))
              let outputTileSize = plan.rowsPerTile * filters
              let maskedGradients = SharedPointer(
                scratch.maskedGradients.reserve(masksTiles ? plan.threads * outputTileSize : 1))
              // Each thread but the first accumulates its weight (and bias) gradient apart;
              // the partial sums are added below.
              let kernelSize = patch * filters
              let partialSize = kernelSize + filters
              let partials = SharedPointer(
                scratch.partialGradients.reserve(Swift.max(plan.threads - 1, 1) * partialSize))
              if plan.threads > 1 {
                partials.pointer.update(repeating: 0, count: (plan.threads - 1) * partialSize)
              }
              activationOutput.withUnsafeBufferPointer { y in
                biasSums.withUnsafeMutableBufferPointer { db in
                  let (xs, ws, dys, dxs, dws, ys, dbs) = (
                    SharedPointer(x.baseAddress!), SharedPointer(w.baseAddress!),
                    SharedPointer(dy.baseAddress!), SharedPointer(dx.baseAddress!),
                    SharedPointer(dw.baseAddress!), SharedPointer(y.baseAddress!),
                    SharedPointer(db.baseAddress!)
                  )
                  plan.forEachTile { thread, rows in
                    let tile = columns.pointer + thread * tileSize
                    let tileGradient = columnGradients.pointer + thread * tileSize
                    let partial = partials.pointer + (thread - 1) * partialSize
                    let weightGradient = thread == 0 ? dws.pointer : partial
                    var dyRows = UnsafePointer(dys.pointer + rows.lowerBound * filters)
                    if masksTiles {
                      // The activation's derivative on this tile, and its bias gradient.
                      let masked = maskedGradients.pointer + thread * outputTileSize
                      let count = rows.count * filters
                      masked.update(from: dyRows, count: count)
                      let activated = UnsafeBufferPointer(
                        start: ys.pointer + rows.lowerBound * filters, count: count)
                      activation.backwardInPlace(
                        gradient: UnsafeMutableBufferPointer(start: masked, count: count),
                        input: activated,
                        output: activated, lastDimension: filters)
                      Self.addColumnSums(
                        masked, rows: rows.count, channels: filters,
                        to: thread == 0 ? dbs.pointer : partial + kernelSize)
                      dyRows = UnsafePointer(masked)
                    }
                    if transposedColumns {
                      ConvolutionKernels.im2colTransposed(
                        xs.pointer, rows: rows, geometry: geometry, into: tile)
                      // Weight gradient: columns^T x dY with the columns stored [patch, rows].
                      BLAS.gemm(
                        transposeA: false, transposeB: false, m: patch, n: filters, k: rows.count,
                        a: tile, lda: rows.count, b: dyRows, ldb: filters, beta: 1,
                        c: weightGradient,
                        ldc: filters)
                      guard computingInputGradient else { return }
                      // Input gradient: col2im((dY x W^T)^T) = col2im(W x dY^T).
                      BLAS.gemm(
                        transposeA: false, transposeB: true, m: patch, n: rows.count, k: filters,
                        a: ws.pointer, lda: filters, b: dyRows, ldb: filters, c: tileGradient,
                        ldc: rows.count)
                      ConvolutionKernels.col2imTransposed(
                        tileGradient, rows: rows, geometry: geometry, addingInto: dxs.pointer)
                      return
                    }
                    ConvolutionKernels.im2col(
                      xs.pointer, rows: rows, geometry: geometry, into: tile)
                    // Weight gradient: columns^T x dY.
                    BLAS.gemm(
                      transposeA: true, transposeB: false, m: patch, n: filters, k: rows.count,
                      a: tile, lda: patch, b: dyRows, ldb: filters, beta: 1, c: weightGradient,
                      ldc: filters)
                    guard computingInputGradient else { return }
                    // Input gradient: col2im(dY x W^T).
                    BLAS.gemm(
                      transposeA: false, transposeB: true, m: rows.count, n: patch, k: filters,
                      a: dyRows, lda: filters, b: ws.pointer, ldb: filters, c: tileGradient,
                      ldc: patch)
                    ConvolutionKernels.col2im(
                      tileGradient, rows: rows, geometry: geometry, addingInto: dxs.pointer)
                  }
                  for thread in 1..<Swift.max(plan.threads, 1) {
                    let partial = partials.pointer + (thread - 1) * partialSize
                    BLAS.axpy(count: kernelSize, alpha: 1, x: partial, y: dw.baseAddress!)
                    BLAS.axpy(count: filters, alpha: 1, x: partial + kernelSize, y: db.baseAddress!)
                  }
                }
              }
            }
          }
        }
      }
    }
    if let bias, masksTiles { bias.gradient = biasSums }
    return computingInputGradient ? inputGradient : nil
  }

  /// Adds the column sums of a `[rows, channels]` block to `sums`.
  @inline(__always)
  static func addColumnSums(
    _ block: UnsafePointer<Float>, rows: Int, channels: Int, to sums: UnsafeMutablePointer<Float>
  ) {
    var row = block
    for _ in 0..<rows {
      for channel in 0..<channels { sums[channel] += row[channel] }
      row += channels
    }
  }

  /// Adds the per-channel sums of a channels-last gradient to a bias gradient, as a product
  /// with a vector of ones (`[1, rows] x [rows, channels]`).
  static func addChannelSums(of gradient: Tensor, channels: Int, to bias: Parameter) {
    let rows = gradient.count / channels
    guard rows > 0 else { return }
    let ones = [Float](repeating: 1, count: rows)
    bias.gradient.withUnsafeMutableBufferPointer { db in
      gradient.withUnsafeBufferPointer { dy in
        ones.withUnsafeBufferPointer { ones in
          BLAS.gemm(
            transposeA: false, transposeB: false, m: 1, n: channels, k: rows, a: ones.baseAddress!,
            lda: rows,
            b: dy.baseAddress!, ldb: channels, beta: 1, c: db.baseAddress!, ldc: channels)
        }
      }
    }
  }
}

/// A 2-D transposed convolution lowered to matrix products: the adjoint of
/// `ConvolutionLowering`. Its `geometry` describes the forward convolution that maps the
/// transposed convolution's output back to its input; the kernel is `[KH, KW, O, C]`, viewed as
/// a `[KH * KW * O, C]` matrix.
struct TransposedConvolutionLowering: Sendable {
  let geometry: ConvolutionGeometry
  /// The input channels (the forward convolution's filters).
  let inputChannels: Int

  /// Computes the transposed convolution of `[N, H, W, C]` (with `H, W` the geometry's output
  /// extent) plus bias, into `outputShape` (`[N, OH, OW, O]`, the geometry's input extent),
  /// unrolling in the call's `scratch` tiles.
  func forward(
    input: Tensor, kernel: Tensor, bias: Tensor?, outputShape: [Int], scratch: ConvolutionScratch
  ) -> Tensor {
    let batch = input.batchCount
    let geometry = self.geometry
    let positions = geometry.outputPositions
    let patch = geometry.patchSize
    let inputChannels = self.inputChannels
    var output = Tensor.zeros(outputShape)
    if let bias {
      // Every output position starts at the bias (`[O]`, built by the layer for `O` channels).
      let channels = bias.count
      precondition(outputShape.last == channels, "bias \(bias.shape) for output \(outputShape)")
      output.withUnsafeMutableBufferPointer { out in
        bias.withUnsafeBufferPointer { values in
          guard channels > 0, let start = out.baseAddress, let source = values.baseAddress else {
            return
          }
          for row in stride(from: 0, to: out.count, by: channels) {
            (start + row).update(from: source, count: channels)
          }
        }
      }
    }
    output.withUnsafeMutableBufferPointer { out in
      input.withUnsafeBufferPointer { x in
        kernel.withUnsafeBufferPointer { w in
          if geometry.isPointwise {
            BLAS.gemm(
              transposeA: false, transposeB: true, m: batch * positions, n: patch, k: inputChannels,
              a: x.baseAddress!, lda: inputChannels, b: w.baseAddress!, ldb: inputChannels, beta: 1,
              c: out.baseAddress!, ldc: patch)
            return
          }
          let plan = TilePlan(
            batch: batch, positions: positions, patch: patch,
            work: TilePlan.work(batch, positions, patch, inputChannels))
          let tileSize = plan.rowsPerTile * patch
          let tiles = SharedPointer(scratch.columns.reserve(plan.threads * tileSize))
          let (xs, ws, outs) = (
            SharedPointer(x.baseAddress!), SharedPointer(w.baseAddress!),
            SharedPointer(out.baseAddress!)
          )
          plan.forEachTile { thread, rows in
            let tile = tiles.pointer + thread * tileSize
            BLAS.gemm(
              transposeA: false, transposeB: true, m: rows.count, n: patch, k: inputChannels,
              a: xs.pointer + rows.lowerBound * inputChannels, lda: inputChannels,
              b: ws.pointer, ldb: inputChannels, c: tile, ldc: patch)
            ConvolutionKernels.col2im(
              tile, rows: rows, geometry: geometry, addingInto: outs.pointer)
          }
        }
      }
    }
    return output
  }

  /// Accumulates the kernel and bias gradients and returns the input gradient (`nil`, and not
  /// computed, when `computingInputGradient` is false), using the call's `scratch` tiles.
  func backward(
    gradient: Tensor, input: Tensor, kernel: Parameter, bias: Parameter?,
    computingInputGradient: Bool, scratch: ConvolutionScratch
  ) -> Tensor? {
    let batch = input.batchCount
    let geometry = self.geometry
    let positions = geometry.outputPositions
    let patch = geometry.patchSize
    let inputChannels = self.inputChannels
    if let bias {
      ConvolutionLowering.addChannelSums(of: gradient, channels: geometry.channels, to: bias)
    }
    // Without an input gradient, `dx` points at one unused scalar.
    var inputGradient = Tensor.zeros(computingInputGradient ? input.shape : [1])
    let weights = kernel.value
    gradient.withUnsafeBufferPointer { dy in
      input.withUnsafeBufferPointer { x in
        weights.withUnsafeBufferPointer { w in
          kernel.gradient.withUnsafeMutableBufferPointer { dw in
            inputGradient.withUnsafeMutableBufferPointer { dx in
              if geometry.isPointwise {
                if computingInputGradient {
                  BLAS.gemm(
                    transposeA: false, transposeB: false, m: batch * positions, n: inputChannels,
                    k: patch,
                    a: dy.baseAddress!, lda: patch, b: w.baseAddress!, ldb: inputChannels,
                    c: dx.baseAddress!, ldc: inputChannels)
                }
                BLAS.gemm(
                  transposeA: true, transposeB: false, m: patch, n: inputChannels,
                  k: batch * positions,
                  a: dy.baseAddress!, lda: patch, b: x.baseAddress!, ldb: inputChannels, beta: 1,
                  c: dw.baseAddress!, ldc: inputChannels)
                return
              }
              let plan = TilePlan(
                batch: batch, positions: positions, patch: patch,
                work: TilePlan.work(2, batch, positions, patch, inputChannels))
              let tileSize = plan.rowsPerTile * patch
              let columns = SharedPointer(scratch.columns.reserve(plan.threads * tileSize))
              let kernelSize = patch * inputChannels
              let partials = SharedPointer(
                scratch.partialGradients.reserve(Swift.max(plan.threads - 1, 1) * kernelSize))
              if plan.threads > 1 {
                partials.pointer.update(repeating: 0, count: (plan.threads - 1) * kernelSize)
              }
              let (xs, ws, dys, dxs, dws) = (
                SharedPointer(x.baseAddress!), SharedPointer(w.baseAddress!),
                SharedPointer(dy.baseAddress!),
                SharedPointer(dx.baseAddress!), SharedPointer(dw.baseAddress!)
              )
              plan.forEachTile { thread, rows in
                let tile = columns.pointer + thread * tileSize
                let weightGradient =
                  thread == 0 ? dws.pointer : partials.pointer + (thread - 1) * kernelSize
                ConvolutionKernels.im2col(dys.pointer, rows: rows, geometry: geometry, into: tile)
                if computingInputGradient {
                  BLAS.gemm(
                    transposeA: false, transposeB: false, m: rows.count, n: inputChannels,
                    k: patch, a: tile, lda: patch, b: ws.pointer, ldb: inputChannels,
                    c: dxs.pointer + rows.lowerBound * inputChannels, ldc: inputChannels)
                }
                BLAS.gemm(
                  transposeA: true, transposeB: false, m: patch, n: inputChannels, k: rows.count,
                  a: tile, lda: patch, b: xs.pointer + rows.lowerBound * inputChannels,
                  ldb: inputChannels, beta: 1,
                  c: weightGradient, ldc: inputChannels)
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
}
