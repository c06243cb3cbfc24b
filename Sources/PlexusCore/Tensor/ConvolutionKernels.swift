/// The geometry of a 2-D sliding window over a channels-last sample `[H, W, C]`: kernel,
/// strides, dilation and the padding before each axis. Shared by convolutions (forward and
/// transposed), pooling and any family that lowers convolutions to matrix products.
///
/// The output extent is stored, not derived, so that a transposed convolution can describe
/// the forward convolution it inverts.
public struct ConvolutionGeometry: Sendable, Equatable {
  /// The input height.
  public var inputHeight: Int
  /// The input width.
  public var inputWidth: Int
  /// The number of channels of the input.
  public var channels: Int
  /// The kernel height.
  public var kernelHeight: Int
  /// The kernel width.
  public var kernelWidth: Int
  /// The vertical stride.
  public var strideHeight: Int
  /// The horizontal stride.
  public var strideWidth: Int
  /// The vertical dilation (1: no holes).
  public var dilationHeight: Int
  /// The horizontal dilation (1: no holes).
  public var dilationWidth: Int
  /// The zero rows added above the input.
  public var padTop: Int
  /// The zero columns added left of the input.
  public var padLeft: Int
  /// The output height.
  public var outputHeight: Int
  /// The output width.
  public var outputWidth: Int

  /// Creates a geometry.
  ///
  /// - Precondition: extents, kernel, strides and dilation are positive and paddings are
  ///   non-negative (layers validate these at build time).
  public init(
    inputHeight: Int, inputWidth: Int, channels: Int, kernelHeight: Int, kernelWidth: Int,
    strideHeight: Int = 1, strideWidth: Int = 1, dilationHeight: Int = 1, dilationWidth: Int = 1,
    padTop: Int = 0, padLeft: Int = 0, outputHeight: Int, outputWidth: Int
  ) {
    precondition(
      inputHeight > 0 && inputWidth > 0 && channels > 0 && kernelHeight > 0 && kernelWidth > 0
        && strideHeight > 0 && strideWidth > 0 && dilationHeight > 0 && dilationWidth > 0
        && padTop >= 0 && padLeft >= 0 && outputHeight > 0 && outputWidth > 0,
      "invalid convolution geometry")
    self.inputHeight = inputHeight
    self.inputWidth = inputWidth
    self.channels = channels
    self.kernelHeight = kernelHeight
    self.kernelWidth = kernelWidth
    self.strideHeight = strideHeight
    self.strideWidth = strideWidth
    self.dilationHeight = dilationHeight
    self.dilationWidth = dilationWidth
    self.padTop = padTop
    self.padLeft = padLeft
    self.outputHeight = outputHeight
    self.outputWidth = outputWidth
  }

  /// The number of elements of one input sample (`H * W * C`).
  @inlinable public var inputSampleSize: Int { inputHeight * inputWidth * channels }
  /// The number of output positions of one sample (`OH * OW`).
  @inlinable public var outputPositions: Int { outputHeight * outputWidth }
  /// The length of one unrolled patch (`KH * KW * C`): a row of the column matrix.
  @inlinable public var patchSize: Int { kernelHeight * kernelWidth * channels }
  /// The extent of the dilated kernel along the height.
  @inlinable public var effectiveKernelHeight: Int { dilationHeight * (kernelHeight - 1) + 1 }
  /// The extent of the dilated kernel along the width.
  @inlinable public var effectiveKernelWidth: Int { dilationWidth * (kernelWidth - 1) + 1 }
  /// Whether the window is a plain 1x1 stride-1 window without padding, so that the column
  /// matrix is the input itself.
  @inlinable public var isPointwise: Bool {
    kernelHeight == 1 && kernelWidth == 1 && strideHeight == 1 && strideWidth == 1 && padTop == 0
      && padLeft == 0 && outputHeight == inputHeight && outputWidth == inputWidth
  }
}

/// Lowering of convolutions to matrix products (im2col / col2im) on channels-last data.
///
/// The column matrix of a batch has one row per output position (`N * OH * OW` rows, in NHWC
/// order) and `KH * KW * C` columns ordered `(kh, kw, c)`, so that with an HWIO kernel viewed
/// as a `[KH * KW * C, O]` matrix one `gemm` yields the NHWC output directly.
public enum ConvolutionKernels {
  /// Unrolls the rows `rows` of a batch's column matrix (output positions `rows` counted over
  /// the whole batch, NHWC order) into `columns` (`rows.count * patchSize` elements), on the
  /// calling thread. `input` is the start of the batch.
  ///
  /// Tiles of rows that fit in cache let a `gemm` consume the columns while they are hot.
  public static func im2col(
    _ input: UnsafePointer<Float>, rows: Range<Int>, geometry g: ConvolutionGeometry,
    into columns: UnsafeMutablePointer<Float>
  ) {
    var destination = columns
    forEachPosition(rows: rows, geometry: g) { sample, outputRow, outputColumn in
      transferPosition(
        image: UnsafeMutablePointer(mutating: input + sample &* g.inputSampleSize),
        patch: destination, outputRow: outputRow, outputColumn: outputColumn, geometry: g,
        folding: false)
      destination += g.patchSize
    }
  }

  /// Adds the rows `rows` of a column matrix (`rows.count * patchSize` elements) back onto the
  /// batch `input` (the adjoint of `im2col(_:rows:geometry:into:)`), on the calling thread.
  public static func col2im(
    _ columns: UnsafePointer<Float>, rows: Range<Int>, geometry g: ConvolutionGeometry,
    addingInto input: UnsafeMutablePointer<Float>
  ) {
    var source = columns
    forEachPosition(rows: rows, geometry: g) { sample, outputRow, outputColumn in
      transferPosition(
        image: input + sample &* g.inputSampleSize, patch: UnsafeMutablePointer(mutating: source),
        outputRow: outputRow, outputColumn: outputColumn, geometry: g, folding: true)
      source += g.patchSize
    }
  }

  /// Unrolls the rows `rows` of the column matrix of a single-channel batch in transposed
  /// form: `columns[p * rows.count + r]` holds patch element `p` (`kh * KW + kw`) of row
  /// `rows.lowerBound + r`. For one channel this layout copies whole runs of an input row at
  /// a time instead of one short patch row per output position; a `gemm` with a transposed
  /// first operand consumes it.
  ///
  /// - Precondition: `geometry.channels == 1`.
  public static func im2colTransposed(
    _ input: UnsafePointer<Float>, rows: Range<Int>, geometry g: ConvolutionGeometry,
    into columns: UnsafeMutablePointer<Float>
  ) {
    precondition(g.channels == 1, "im2colTransposed needs a single channel")
    transferTransposed(
      image: UnsafeMutablePointer(mutating: input), columns: columns, rows: rows, geometry: g,
      folding: false)
  }

  /// Adds a transposed single-channel column tile (the layout of `im2colTransposed`) back onto
  /// the batch `input`, on the calling thread.
  ///
  /// - Precondition: `geometry.channels == 1`.
  public static func col2imTransposed(
    _ columns: UnsafePointer<Float>, rows: Range<Int>, geometry g: ConvolutionGeometry,
    addingInto input: UnsafeMutablePointer<Float>
  ) {
    precondition(g.channels == 1, "col2imTransposed needs a single channel")
    transferTransposed(
      image: input, columns: UnsafeMutablePointer(mutating: columns), rows: rows, geometry: g,
      folding: true)
  }

  /// Moves a transposed single-channel column tile between the batch `image` and `columns`:
  /// without `folding`, unrolls the image into the tile (zeros for padding); with `folding`,
  /// adds the tile back onto the image. Callers pass a constant `folding`.
  @inline(__always)
  static func transferTransposed(
    image: UnsafeMutablePointer<Float>, columns: UnsafeMutablePointer<Float>, rows: Range<Int>,
    geometry g: ConvolutionGeometry, folding: Bool
  ) {
    let leading = rows.count
    forEachRun(rows: rows, geometry: g) { sample, outputRow, firstColumn, length, offset in
      let sampleStart = image + sample &* g.inputSampleSize
      for kernelRow in 0..<g.kernelHeight {
        let inputRow = outputRow &* g.strideHeight &- g.padTop &+ kernelRow &* g.dilationHeight
        let rowInside = inputRow >= 0 && inputRow < g.inputHeight
        // Padding rows read as zeros and take no gradient.
        if !rowInside && folding { continue }
        let rowStart = sampleStart + (rowInside ? inputRow &* g.inputWidth : 0)
        for kernelColumn in 0..<g.kernelWidth {
          let tile = columns + ((kernelRow &* g.kernelWidth &+ kernelColumn) &* leading &+ offset)
          guard rowInside else {
            clear(tile, length)
            continue
          }
          let start = firstColumn &* g.strideWidth &- g.padLeft &+ kernelColumn &* g.dilationWidth
          let (low, high) = insideRange(
            start: start, stride: g.strideWidth, length: length, extent: g.inputWidth)
          if folding {
            if g.strideWidth == 1 {
              accumulate(tile + low, rowStart + (start &+ low), high &- low)
            } else {
              for index in low..<high { rowStart[start &+ index &* g.strideWidth] += tile[index] }
            }
            continue
          }
          clear(tile, low)
          if g.strideWidth == 1 {
            copy(rowStart + (start &+ low), tile + low, high &- low)
          } else {
            for index in low..<high { tile[index] = rowStart[start &+ index &* g.strideWidth] }
          }
          clear(tile + high, length &- high)
        }
      }
    }
  }

  /// The indices `j` in `0..<length` with `0 <= start + j * stride < extent`, as a range
  /// `low..<high` (empty ranges have `low == high`).
  @inline(__always)
  static func insideRange(start: Int, stride: Int, length: Int, extent: Int) -> (Int, Int) {
    if stride == 1 {
      // No divisions on the common path.
      let low = Swift.min(length, Swift.max(0, -start))
      return (low, Swift.max(low, Swift.min(length, extent &- start)))
    }
    let low = start >= 0 ? 0 : Swift.min(length, (-start &+ stride &- 1) / stride)
    let high =
      start >= extent
      ? low : Swift.max(low, Swift.min(length, (extent &- start &+ stride &- 1) / stride))
    return (low, high)
  }

  /// Calls `body(sample, outputRow, firstColumn, length, offset)` for the runs of consecutive
  /// output columns that make up the batch rows `rows`; `offset` is the run's position within
  /// `rows`.
  @inline(__always)
  static func forEachRun(
    rows: Range<Int>, geometry g: ConvolutionGeometry, _ body: (Int, Int, Int, Int, Int) -> Void
  ) {
    var row = rows.lowerBound
    while row < rows.upperBound {
      let sample = row / g.outputPositions
      let position = row % g.outputPositions
      let outputRow = position / g.outputWidth
      let firstColumn = position % g.outputWidth
      let length = Swift.min(g.outputWidth &- firstColumn, rows.upperBound &- row)
      body(sample, outputRow, firstColumn, length, row &- rows.lowerBound)
      row &+= length
    }
  }

  /// Calls `body(sample, outputRow, outputColumn)` for the batch rows `rows`, in order.
  @inline(__always)
  static func forEachPosition(
    rows: Range<Int>, geometry g: ConvolutionGeometry, _ body: (Int, Int, Int) -> Void
  ) {
    guard !rows.isEmpty else { return }
    let positions = g.outputPositions
    var sample = rows.lowerBound / positions
    let position = rows.lowerBound % positions
    var outputRow = position / g.outputWidth
    var outputColumn = position % g.outputWidth
    for _ in rows {
      body(sample, outputRow, outputColumn)
      outputColumn &+= 1
      if outputColumn == g.outputWidth {
        outputColumn = 0
        outputRow &+= 1
        if outputRow == g.outputHeight {
          outputRow = 0
          sample &+= 1
        }
      }
    }
  }

  /// Moves the patch of one output position (`patchSize` elements at `patch`) between the
  /// column matrix and the sample `image`: without `folding`, writes the patch from the image
  /// (zeros for padding); with `folding`, adds the patch back onto the image positions it was
  /// read from (the adjoint). Callers pass a constant `folding`, so each use is specialized.
  @inline(__always)
  static func transferPosition(
    image: UnsafeMutablePointer<Float>, patch: UnsafeMutablePointer<Float>, outputRow: Int,
    outputColumn: Int, geometry g: ConvolutionGeometry, folding: Bool
  ) {
    let channels = g.channels
    let kernelWidth = g.kernelWidth
    let rowSpan = kernelWidth &* channels
    let rowStride = g.inputWidth &* channels
    let rowBase = outputRow &* g.strideHeight &- g.padTop
    let columnBase = outputColumn &* g.strideWidth &- g.padLeft
    let inside =
      g.dilationWidth == 1 && columnBase >= 0 && columnBase &+ kernelWidth <= g.inputWidth
    // One run of `count` floats: the image at `pixels`, the patch at `values`.
    @inline(__always) func transfer(
      _ pixels: UnsafeMutablePointer<Float>, _ values: UnsafeMutablePointer<Float>, _ count: Int
    ) {
      if folding { accumulate(values, pixels, count) } else { copy(pixels, values, count) }
    }
    var target = patch
    for kernelRow in 0..<g.kernelHeight {
      let inputRow = rowBase &+ kernelRow &* g.dilationHeight
      if inputRow < 0 || inputRow >= g.inputHeight {
        if !folding { clear(target, rowSpan) }
      } else if inside {
        transfer(image + (inputRow &* rowStride &+ columnBase &* channels), target, rowSpan)
      } else {
        let rowStart = image + inputRow &* rowStride
        for kernelColumn in 0..<kernelWidth {
          let inputColumn = columnBase &+ kernelColumn &* g.dilationWidth
          if inputColumn < 0 || inputColumn >= g.inputWidth {
            if !folding { clear(target + kernelColumn &* channels, channels) }
          } else {
            transfer(
              rowStart + inputColumn &* channels, target + kernelColumn &* channels, channels)
          }
        }
      }
      target += rowSpan
    }
  }

  /// Copies `count` floats with vector loads and stores (no call to `memcpy`, which costs more
  /// than the copy for the short runs of small patches).
  @inline(__always)
  static func copy(
    _ source: UnsafePointer<Float>, _ destination: UnsafeMutablePointer<Float>, _ count: Int
  ) {
    let from = UnsafeRawPointer(source)
    let to = UnsafeMutableRawPointer(destination)
    var offset = 0
    let end = count &* 4
    while offset &+ 32 <= end {
      to.storeBytes(
        of: from.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self), toByteOffset: offset,
        as: SIMD8<Float>.self)
      offset &+= 32
    }
    if offset &+ 16 <= end {
      to.storeBytes(
        of: from.loadUnaligned(fromByteOffset: offset, as: SIMD4<Float>.self), toByteOffset: offset,
        as: SIMD4<Float>.self)
      offset &+= 16
    }
    if offset &+ 8 <= end {
      to.storeBytes(
        of: from.loadUnaligned(fromByteOffset: offset, as: SIMD2<Float>.self), toByteOffset: offset,
        as: SIMD2<Float>.self)
      offset &+= 8
    }
    if offset < end {
      to.storeBytes(
        of: from.load(fromByteOffset: offset, as: Float.self), toByteOffset: offset, as: Float.self)
    }
  }

  /// Adds `count` floats of `source` onto `destination` with vector operations.
  @inline(__always)
  static func accumulate(
    _ source: UnsafePointer<Float>, _ destination: UnsafeMutablePointer<Float>, _ count: Int
  ) {
    let from = UnsafeRawPointer(source)
    let to = UnsafeMutableRawPointer(destination)
    var offset = 0
    let end = count &* 4
    while offset &+ 32 <= end {
      let sum =
        to.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self)
        + from.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self)
      to.storeBytes(of: sum, toByteOffset: offset, as: SIMD8<Float>.self)
      offset &+= 32
    }
    if offset &+ 16 <= end {
      let sum =
        to.loadUnaligned(fromByteOffset: offset, as: SIMD4<Float>.self)
        + from.loadUnaligned(fromByteOffset: offset, as: SIMD4<Float>.self)
      to.storeBytes(of: sum, toByteOffset: offset, as: SIMD4<Float>.self)
      offset &+= 16
    }
    while offset < end {
      let sum =
        to.load(fromByteOffset: offset, as: Float.self)
        + from.load(fromByteOffset: offset, as: Float.self)
      to.storeBytes(of: sum, toByteOffset: offset, as: Float.self)
      offset &+= 4
    }
  }

  /// Sets `count` floats to zero.
  @inline(__always)
  static func clear(_ destination: UnsafeMutablePointer<Float>, _ count: Int) {
    // The loops below may become a call to memset: skip the call for the common empty case.
    guard count > 0 else { return }
    let to = UnsafeMutableRawPointer(destination)
    var offset = 0
    let end = count &* 4
    while offset &+ 32 <= end {
      to.storeBytes(of: SIMD8<Float>(), toByteOffset: offset, as: SIMD8<Float>.self)
      offset &+= 32
    }
    while offset < end {
      to.storeBytes(of: 0, toByteOffset: offset, as: Float.self)
      offset &+= 4
    }
  }
}
