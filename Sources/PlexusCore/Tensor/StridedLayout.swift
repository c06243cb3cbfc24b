/// The loop nest of a strided walk over a row-major result, after coalescing.
///
/// `extents` lists the axes outermost first. `first` and `second` give, for up to two
/// operands, the element stride of each axis (0 where an operand is broadcast along it). Axes
/// of extent 1 are dropped and neighbouring axes that both operands step through contiguously
/// are merged, so the innermost loop is as long as the data allows. There is always at least
/// one axis.
@usableFromInline
struct StridedLayout {
  @usableFromInline let extents: [Int]
  @usableFromInline let first: [Int]
  @usableFromInline let second: [Int]

  /// Coalesces the axes of `extents` with the strides of one or two operands.
  ///
  /// - Precondition: the strides have one entry per extent (an internal invariant).
  @usableFromInline
  init(extents: [Int], first: [Int], second: [Int]? = nil) {
    let second = second ?? [Int](repeating: 0, count: extents.count)
    precondition(
      first.count == extents.count && second.count == extents.count,
      "strided layout: \(extents.count) extents with \(first.count) and \(second.count) strides")
    var keptExtents: [Int] = []
    var keptFirst: [Int] = []
    var keptSecond: [Int] = []
    for axis in extents.indices where extents[axis] != 1 {
      let extent = extents[axis]
      if let last = keptExtents.indices.last, keptFirst[last] == first[axis] * extent,
        keptSecond[last] == second[axis] * extent
      {
        keptExtents[last] *= extent
        keptFirst[last] = first[axis]
        keptSecond[last] = second[axis]
      } else {
        keptExtents.append(extent)
        keptFirst.append(first[axis])
        keptSecond.append(second[axis])
      }
    }
    if keptExtents.isEmpty {
      keptExtents = [1]
      keptFirst = [0]
      keptSecond = [0]
    }
    self.extents = keptExtents
    self.first = keptFirst
    self.second = keptSecond
  }

  /// The number of (coalesced) axes.
  @usableFromInline var rank: Int { extents.count }

  /// Row-major strides of a contiguous array of `shape`, right-aligned to `rank` axes: leading
  /// padding axes and axes of extent 1 get stride 0, so the array broadcasts along them.
  ///
  /// - Precondition: `shape` has at most `rank` axes and a nonzero element count.
  @usableFromInline
  static func broadcastStrides(_ shape: [Int], rank: Int) -> [Int] {
    precondition(shape.count <= rank, "shape \(shape) has more than \(rank) axes")
    var strides = [Int](repeating: 0, count: rank)
    var stride = 1
    let padding = rank - shape.count
    for axis in shape.indices.reversed() {
      strides[padding + axis] = shape[axis] == 1 ? 0 : stride
      stride *= shape[axis]
    }
    return strides
  }

  /// Row-major strides of a contiguous array of `shape`.
  ///
  /// - Precondition: the element count of `shape` is nonzero (so no suffix product overflows).
  @usableFromInline
  static func contiguousStrides(_ shape: [Int]) -> [Int] {
    var strides = [Int](repeating: 0, count: shape.count)
    var stride = 1
    for axis in shape.indices.reversed() {
      strides[axis] = stride
      stride *= shape[axis]
    }
    return strides
  }

  /// Calls `body` once per position of all axes but the last `innerAxes`, in row-major order,
  /// with the element offsets of both operands at that position.
  @inlinable @inline(__always)
  func forEachOuterPosition(innerAxes: Int, _ body: (_ first: Int, _ second: Int) -> Void) {
    let outerAxes = rank - innerAxes
    var positions = 1
    for axis in 0..<outerAxes { positions *= extents[axis] }
    guard positions > 0 else { return }
    guard outerAxes > 0 else {
      body(0, 0)
      return
    }
    extents.withUnsafeBufferPointer { extents in
      first.withUnsafeBufferPointer { firstStrides in
        second.withUnsafeBufferPointer { secondStrides in
          withUnsafeTemporaryAllocation(of: Int.self, capacity: outerAxes) { index in
            index.initialize(repeating: 0)
            var firstOffset = 0
            var secondOffset = 0
            for _ in 0..<positions {
              body(firstOffset, secondOffset)
              var axis = outerAxes - 1
              while axis >= 0 {
                index[axis] += 1
                firstOffset += firstStrides[axis]
                secondOffset += secondStrides[axis]
                if index[axis] < extents[axis] { break }
                firstOffset -= firstStrides[axis] * extents[axis]
                secondOffset -= secondStrides[axis] * extents[axis]
                index[axis] = 0
                axis -= 1
              }
            }
          }
        }
      }
    }
  }
}

/// Copies `runs` runs of `length` elements, the `r`-th from `source + r * sourceStride` to
/// `destination + r * destinationStride`.
@inline(__always)
func copyRuns(
  from source: UnsafePointer<Float>, sourceStride: Int, to destination: UnsafeMutablePointer<Float>,
  destinationStride: Int, length: Int, runs: Int
) {
  if length == 1 {
    for run in 0..<runs { destination[run * destinationStride] = source[run * sourceStride] }
  } else {
    for run in 0..<runs {
      (destination + run * destinationStride).update(
        from: source + run * sourceStride, count: length)
    }
  }
}

/// Writes the transpose of the `rows x columns` matrix at `source` (rows `sourceRowStride`
/// elements apart, columns contiguous) to `destination` as a `columns x rows` matrix (rows
/// `destinationRowStride` elements apart, columns contiguous), in cache-sized tiles.
@inline(__always)
func transposeMatrix(
  _ source: UnsafePointer<Float>, rows: Int, columns: Int, sourceRowStride: Int,
  into destination: UnsafeMutablePointer<Float>, destinationRowStride: Int
) {
  let tile = 32
  for rowStart in stride(from: 0, to: rows, by: tile) {
    let rowEnd = Swift.min(rowStart + tile, rows)
    for columnStart in stride(from: 0, to: columns, by: tile) {
      let columnEnd = Swift.min(columnStart + tile, columns)
      // Writes run along destination rows; reads step down a source column of the tile (the
      // faster order when a row stride is a large power of two).
      for column in columnStart..<columnEnd {
        let destinationRow = destination + column * destinationRowStride
        let sourceColumn = source + column
        for row in rowStart..<rowEnd { destinationRow[row] = sourceColumn[row * sourceRowStride] }
      }
    }
  }
}
