/// Slicing, concatenation, splitting and transposition along any axis.
///
/// Axes are counted from the front; a negative axis counts from the end as in NumPy (`-1` is
/// the last axis). Every operation validates its arguments against the tensor's shape and
/// throws a `PlexusError` naming the shapes involved.
extension Tensor {
  /// `axis` resolved to a position in `0..<rank` (negative values count from the end).
  ///
  /// - Throws: `PlexusError.invalidArgument` when the axis is out of range for the shape.
  func resolvedAxis(_ axis: Int, operation: String) throws -> Int {
    guard rank > 0 else {
      throw PlexusError.invalidArgument(
        "\(operation): axis \(axis) is out of range: a tensor of shape \(shape) has no axes")
    }
    guard axis >= -rank && axis < rank else {
      throw PlexusError.invalidArgument(
        "\(operation): axis \(axis) is out of range for shape \(shape) "
          + "(rank \(rank): axes \(-rank)..<\(rank))")
    }
    return axis < 0 ? axis + rank : axis
  }

  /// The elements at positions `range` of `axis`, as a new tensor.
  ///
  /// ```swift
  /// let x = try Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
  /// try x.slice(axis: -1, range: 1..<3)  // [[2, 3], [5, 6]]
  /// ```
  ///
  /// Runs of the innermost axes are copied whole, so slicing along the batch axis is a single
  /// copy and slicing along the last axis copies one run per row.
  ///
  /// - Throws: `PlexusError.invalidArgument` when the axis is out of range or `range` does not
  ///   lie within the axis.
  public func slice(axis: Int, range: Range<Int>) throws -> Tensor {
    let axis = try resolvedAxis(axis, operation: "slice")
    guard range.lowerBound >= 0, range.upperBound <= shape[axis] else {
      throw PlexusError.invalidArgument(
        "slice: range \(range) is out of bounds for axis \(axis) of shape \(shape) "
          + "(valid positions 0..<\(shape[axis]))")
    }
    return sliceWithinBounds(axis: axis, range: range)
  }

  /// `slice(axis:range:)` for an axis in `0..<rank` and a range within it.
  func sliceWithinBounds(axis: Int, range: Range<Int>) -> Tensor {
    if range.count == shape[axis] { return self }
    var newShape = shape
    newShape[axis] = range.count
    guard count > 0, !range.isEmpty else { return Tensor(shape: newShape) }
    let inner = shape[(axis + 1)...].reduce(1, *)
    let sourceRun = shape[axis] * inner
    let run = range.count * inner
    let outer = count / sourceRun
    return Tensor(unsafeUninitializedShape: newShape) { destination in
      copyRuns(
        from: storage.pointer + range.lowerBound * inner, sourceStride: sourceRun,
        to: destination.baseAddress!, destinationStride: run, length: run, runs: outer)
    }
  }

  /// Joins tensors along `axis`; every other dimension must match.
  ///
  /// ```swift
  /// // [N, 3] and [N, 5] give [N, 8]
  /// let joined = try Tensor.concatenate([a, b], axis: -1)
  /// ```
  ///
  /// - Throws: `PlexusError.invalidArgument` for an empty list or an axis out of range;
  ///   `PlexusError.invalidShape` when ranks or the other dimensions differ, or the result's
  ///   element count overflows.
  public static func concatenate(_ tensors: [Tensor], axis: Int) throws -> Tensor {
    guard let first = tensors.first else {
      throw PlexusError.invalidArgument("concatenate: the list of tensors is empty")
    }
    let axis = try first.resolvedAxis(axis, operation: "concatenate")
    var total = 0
    for (position, tensor) in tensors.enumerated() {
      guard tensor.rank == first.rank else {
        throw PlexusError.invalidShape(
          "concatenate along axis \(axis): tensor \(position) has shape \(tensor.shape) "
            + "(rank \(tensor.rank)) but tensor 0 has shape \(first.shape) (rank \(first.rank))")
      }
      for dimension in 0..<first.rank
      where dimension != axis && tensor.shape[dimension] != first.shape[dimension] {
        throw PlexusError.invalidShape(
          "concatenate along axis \(axis): tensor \(position) has shape \(tensor.shape) but "
            + "tensor 0 has shape \(first.shape); all dimensions but axis \(axis) must match")
      }
      let (sum, overflow) = total.addingReportingOverflow(tensor.shape[axis])
      guard !overflow else {
        throw PlexusError.invalidShape("concatenate along axis \(axis): the total extent overflows")
      }
      total = sum
    }
    if tensors.count == 1 { return first }
    var shape = first.shape
    shape[axis] = total
    let count = try Tensor.elementCount(of: shape)
    guard count > 0 else { return Tensor(shape: shape) }
    let inner = shape[(axis + 1)...].reduce(1, *)
    let outer = shape[..<axis].reduce(1, *)
    let resultRun = total * inner
    return Tensor(unsafeUninitializedShape: shape) { destination in
      var offset = 0
      for tensor in tensors {
        let run = tensor.shape[axis] * inner
        guard run > 0 else { continue }
        copyRuns(
          from: tensor.storage.pointer, sourceStride: run, to: destination.baseAddress! + offset,
          destinationStride: resultRun, length: run, runs: outer)
        offset += run
      }
    }
  }

  /// Splits the tensor along `axis` into consecutive parts of the given extents.
  ///
  /// `Tensor.concatenate(x.split(axis: a, sizes: s), axis: a)` equals `x`.
  ///
  /// - Throws: `PlexusError.invalidArgument` when the axis is out of range, a size is
  ///   negative, or the sizes do not add up to the extent of the axis.
  public func split(axis: Int, sizes: [Int]) throws -> [Tensor] {
    let axis = try resolvedAxis(axis, operation: "split")
    var total = 0
    for size in sizes {
      guard size >= 0 else {
        throw PlexusError.invalidArgument(
          "split: size \(size) in \(sizes) is negative (axis \(axis) of shape \(shape))")
      }
      let (sum, overflow) = total.addingReportingOverflow(size)
      guard !overflow else {
        throw PlexusError.invalidArgument("split: the sizes \(sizes) overflow when added")
      }
      total = sum
    }
    guard total == shape[axis] else {
      throw PlexusError.invalidArgument(
        "split: sizes \(sizes) add up to \(total) but axis \(axis) of shape \(shape) has "
          + "extent \(shape[axis])")
    }
    var start = 0
    return sizes.map { size in
      defer { start += size }
      return sliceWithinBounds(axis: axis, range: start..<(start + size))
    }
  }

  /// Splits the tensor along `axis` into `count` parts of equal extent.
  ///
  /// - Throws: `PlexusError.invalidArgument` when the axis is out of range, `count` is not
  ///   between 1 and the extent of the axis (1 for an empty axis), or does not divide it.
  public func split(axis: Int, count parts: Int) throws -> [Tensor] {
    let axis = try resolvedAxis(axis, operation: "split")
    let extent = shape[axis]
    guard parts >= 1, parts <= Swift.max(extent, 1) else {
      throw PlexusError.invalidArgument(
        "split: count \(parts) must be between 1 and \(Swift.max(extent, 1)), the extent of "
          + "axis \(axis) of shape \(shape)")
    }
    guard extent % parts == 0 else {
      throw PlexusError.invalidArgument(
        "split: axis \(axis) of shape \(shape) has extent \(extent), which \(parts) equal parts "
          + "cannot divide")
    }
    return try split(axis: axis, sizes: Array(repeating: extent / parts, count: parts))
  }

  /// The tensor with its axes reordered: axis `i` of the result is axis `permutation[i]` of
  /// this tensor (NumPy's `transpose(axes)`; negative entries count from the end).
  ///
  /// ```swift
  /// // [N, H, W, C] to [N, C, H, W]
  /// let channelsFirst = try images.transposed(permutation: [0, 3, 1, 2])
  /// ```
  ///
  /// Axes that stay adjacent are merged first; runs that stay contiguous are copied whole, and
  /// otherwise the source's contiguous axis and the result's last axis are swapped as tiled
  /// matrix transposes.
  ///
  /// - Throws: `PlexusError.invalidArgument` when `permutation` does not list every axis
  ///   exactly once.
  public func transposed(permutation: [Int]) throws -> Tensor {
    guard permutation.count == rank else {
      throw PlexusError.invalidArgument(
        "transpose: permutation \(permutation) has \(permutation.count) entries but shape "
          + "\(shape) has rank \(rank)")
    }
    var axes: [Int] = []
    axes.reserveCapacity(rank)
    var seen = [Bool](repeating: false, count: rank)
    for entry in permutation {
      guard entry >= -rank && entry < rank else {
        throw PlexusError.invalidArgument(
          "transpose: axis \(entry) in permutation \(permutation) is out of range for shape "
            + "\(shape)")
      }
      let axis = entry < 0 ? entry + rank : entry
      guard !seen[axis] else {
        throw PlexusError.invalidArgument(
          "transpose: \(permutation) is not a permutation of the axes of shape \(shape): "
            + "axis \(axis) appears twice")
      }
      seen[axis] = true
      axes.append(axis)
    }
    return permuted(axes)
  }

  /// The tensor with axis `i` of the result taken from axis `axes[i]`.
  ///
  /// - Precondition: `axes` is a permutation of `0..<rank` (checked by the callers).
  func permuted(_ axes: [Int]) -> Tensor {
    let newShape = axes.map { shape[$0] }
    guard count > 1 else {
      var result = self
      result.shape = newShape
      return result
    }
    let sourceStrides = StridedLayout.contiguousStrides(shape)
    let layout = StridedLayout(extents: newShape, first: axes.map { sourceStrides[$0] })
    let axisCount = layout.rank
    let inner = layout.extents[axisCount - 1]
    let innerStride = layout.first[axisCount - 1]
    if axisCount == 1 && innerStride == 1 {
      // Only axes of extent 1 moved: the elements keep their order.
      var result = self
      result.shape = newShape
      return result
    }
    let source = storage.pointer
    if innerStride == 1 {
      return Tensor(unsafeUninitializedShape: newShape) { buffer in
        let destination = buffer.baseAddress!
        var offset = 0
        layout.forEachOuterPosition(innerAxes: 1) { sourceOffset, _ in
          (destination + offset).update(from: source + sourceOffset, count: inner)
          offset += inner
        }
      }
    }
    // The source's contiguous axis moved away from the end: pair it with the result's last
    // axis as a matrix transpose, tiled, for every position of the remaining axes.
    let resultStrides = StridedLayout.contiguousStrides(layout.extents)
    let contiguousAxis = layout.first.firstIndex(of: 1)!
    var outerExtents: [Int] = []
    var outerSourceStrides: [Int] = []
    var outerResultStrides: [Int] = []
    for axis in 0..<(axisCount - 1) where axis != contiguousAxis {
      outerExtents.append(layout.extents[axis])
      outerSourceStrides.append(layout.first[axis])
      outerResultStrides.append(resultStrides[axis])
    }
    let outer = StridedLayout(
      extents: outerExtents, first: outerSourceStrides, second: outerResultStrides)
    let columns = layout.extents[contiguousAxis]
    let destinationRowStride = resultStrides[contiguousAxis]
    return Tensor(unsafeUninitializedShape: newShape) { buffer in
      let destination = buffer.baseAddress!
      outer.forEachOuterPosition(innerAxes: 0) { sourceOffset, resultOffset in
        transposeMatrix(
          source + sourceOffset, rows: inner, columns: columns, sourceRowStride: innerStride,
          into: destination + resultOffset, destinationRowStride: destinationRowStride)
      }
    }
  }

  /// The transpose of a rank-2 tensor (a tiled copy).
  ///
  /// - Throws: `PlexusError.invalidShape` when the tensor is not rank 2; use
  ///   `transposed(permutation:)` for other ranks.
  public func transposed() throws -> Tensor {
    guard rank == 2 else {
      throw PlexusError.invalidShape(
        "transposed() needs a rank-2 tensor, got shape \(shape); use transposed(permutation:) "
          + "for other ranks")
    }
    let rows = shape[0]
    let columns = shape[1]
    guard rows > 1 && columns > 1 else {
      var result = self
      result.shape = [columns, rows]
      return result
    }
    return Tensor(unsafeUninitializedShape: [columns, rows]) { destination in
      transposeMatrix(
        storage.pointer, rows: rows, columns: columns, sourceRowStride: columns,
        into: destination.baseAddress!, destinationRowStride: rows)
    }
  }
}
