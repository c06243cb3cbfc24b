import PlexusCore
import Testing

/// Naive references for the axis operations: loops over every multi-index of a result.
private enum Naive {
  /// The multi-index of row-major position `flat` in `shape`.
  static func multiIndex(_ flat: Int, in shape: [Int]) -> [Int] {
    var rest = flat
    var index = [Int](repeating: 0, count: shape.count)
    for axis in shape.indices.reversed() {
      index[axis] = rest % shape[axis]
      rest /= shape[axis]
    }
    return index
  }

  /// The row-major position of `index` in `shape`.
  static func flatIndex(_ index: [Int], in shape: [Int]) -> Int {
    index.indices.reduce(0) { $0 * shape[$1] + index[$1] }
  }

  static func element(_ tensor: Tensor, _ index: [Int]) -> Float {
    tensor[flat: flatIndex(index, in: tensor.shape)]
  }

  /// A tensor of `shape` whose element at each multi-index is `value(index)`.
  static func tensor(_ shape: [Int], _ value: ([Int]) -> Float) throws -> Tensor {
    let count = shape.reduce(1, *)
    return try Tensor(
      shape: shape, scalars: (0..<count).map { value(multiIndex($0, in: shape)) })
  }

  /// Distinct values 1, 2, 3, ... in row-major order.
  static func iota(_ shape: [Int]) throws -> Tensor {
    try Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { Float($0 + 1) })
  }

  static func slice(_ x: Tensor, axis: Int, range: Range<Int>) throws -> Tensor {
    var shape = x.shape
    shape[axis] = range.count
    return try tensor(shape) { index in
      var source = index
      source[axis] += range.lowerBound
      return element(x, source)
    }
  }

  static func concatenate(_ tensors: [Tensor], axis: Int) throws -> Tensor {
    var shape = tensors[0].shape
    shape[axis] = tensors.reduce(0) { $0 + $1.shape[axis] }
    return try tensor(shape) { index in
      var position = index[axis]
      for part in tensors {
        if position < part.shape[axis] {
          var source = index
          source[axis] = position
          return element(part, source)
        }
        position -= part.shape[axis]
      }
      fatalError("position \(index) outside the parts")
    }
  }

  /// Axis `i` of the result is axis `permutation[i]` of `x`.
  static func transpose(_ x: Tensor, _ permutation: [Int]) throws -> Tensor {
    try tensor(permutation.map { x.shape[$0] }) { index in
      var source = [Int](repeating: 0, count: x.rank)
      for (axis, from) in permutation.enumerated() { source[from] = index[axis] }
      return element(x, source)
    }
  }

  /// The multi-index of `shape` that broadcasts to `index` of a result of higher or equal rank.
  static func broadcastIndex(_ index: [Int], to shape: [Int]) -> [Int] {
    let padding = index.count - shape.count
    return shape.indices.map { shape[$0] == 1 ? 0 : index[padding + $0] }
  }

  static func broadcast(
    _ a: Tensor, _ b: Tensor, to shape: [Int], _ combine: (Float, Float) -> Float
  ) throws -> Tensor {
    try tensor(shape) { index in
      combine(
        element(a, broadcastIndex(index, to: a.shape)),
        element(b, broadcastIndex(index, to: b.shape)))
    }
  }

  /// Sums `gradient` over every axis that `shape` broadcasts along, in double precision.
  static func summed(_ gradient: Tensor, toShape shape: [Int]) throws -> [Double] {
    var sums = [Double](repeating: 0, count: shape.reduce(1, *))
    for flat in 0..<gradient.count {
      let index = multiIndex(flat, in: gradient.shape)
      sums[flatIndex(broadcastIndex(index, to: shape), in: shape)] += Double(gradient[flat: flat])
    }
    return sums
  }

  static func permutations(of count: Int) -> [[Int]] {
    guard count > 0 else { return [[]] }
    return permutations(of: count - 1).flatMap { smaller in
      (0...smaller.count).map { position in
        var permutation = smaller
        permutation.insert(count - 1, at: position)
        return permutation
      }
    }
  }
}

/// Runs `body` and checks that it throws a `PlexusError` whose message contains each fragment.
private func expectPlexusError(
  mentioning fragments: [String], sourceLocation: SourceLocation = #_sourceLocation,
  _ body: () throws -> Void
) {
  do {
    try body()
    Issue.record("expected a PlexusError mentioning \(fragments)", sourceLocation: sourceLocation)
  } catch let error as PlexusError {
    let message = error.description
    for fragment in fragments {
      #expect(
        message.contains(fragment), "'\(message)' should mention \(fragment)",
        sourceLocation: sourceLocation)
    }
  } catch {
    Issue.record("expected a PlexusError, got \(error)", sourceLocation: sourceLocation)
  }
}

/// Shapes of ranks 1 to 4, some with extents of 1.
private let shapesOfEveryRank: [[Int]] = [
  [5], [3, 4], [2, 3, 4], [2, 3, 2, 5], [1, 4, 1, 3], [4, 1],
]

@Suite struct TensorAxisTests {
  @Test(arguments: shapesOfEveryRank)
  func sliceMatchesReferenceOnEveryAxis(shape: [Int]) throws {
    let x = try Naive.iota(shape)
    for axis in -shape.count..<shape.count {
      let resolved = axis < 0 ? axis + shape.count : axis
      let extent = shape[resolved]
      let ranges = [0..<extent, 0..<0, 0..<1, (extent / 2)..<extent, 1..<Swift.max(1, extent - 1)]
      for range in ranges {
        let sliced = try x.slice(axis: axis, range: range)
        #expect(
          sliced == (try Naive.slice(x, axis: resolved, range: range)),
          "slice \(shape) axis \(axis) \(range)")
      }
    }
  }

  @Test func sliceAlongBatchAndLastAxisOfALargeTensor() throws {
    var generator = SeededGenerator(seed: 5)
    let x = Tensor.normal([37, 19, 23], using: &generator)
    #expect(try x.slice(axis: 0, range: 5..<30) == Naive.slice(x, axis: 0, range: 5..<30))
    #expect(try x.slice(axis: -1, range: 3..<4) == Naive.slice(x, axis: 2, range: 3..<4))
    #expect(try x.slice(axis: -1, range: 2..<20) == Naive.slice(x, axis: 2, range: 2..<20))
    #expect(try x.slice(axis: 0, range: 5..<30) == x.samples(5..<30))
  }

  @Test(arguments: shapesOfEveryRank)
  func concatenateMatchesReferenceOnEveryAxis(shape: [Int]) throws {
    var generator = SeededGenerator(seed: 9)
    for axis in -shape.count..<shape.count {
      let resolved = axis < 0 ? axis + shape.count : axis
      let parts = [2, 0, 1, 3].map { extent -> Tensor in
        var partShape = shape
        partShape[resolved] = extent
        return Tensor.normal(partShape, using: &generator)
      }
      let joined = try Tensor.concatenate(parts, axis: axis)
      #expect(
        joined == (try Naive.concatenate(parts, axis: resolved)), "concatenate \(shape) \(axis)")
    }
  }

  @Test(arguments: shapesOfEveryRank)
  func splitMatchesSlicesAndConcatenatesBack(shape: [Int]) throws {
    let x = try Naive.iota(shape)
    for axis in -shape.count..<shape.count {
      let resolved = axis < 0 ? axis + shape.count : axis
      let extent = shape[resolved]
      for sizes in [[extent], [0, extent], [1, extent - 1], [extent - 1, 0, 1]] {
        let parts = try x.split(axis: axis, sizes: sizes)
        #expect(parts.count == sizes.count)
        var start = 0
        for (part, size) in zip(parts, sizes) {
          #expect(part == (try Naive.slice(x, axis: resolved, range: start..<(start + size))))
          start += size
        }
        #expect(try Tensor.concatenate(parts, axis: axis) == x, "split \(shape) \(axis) \(sizes)")
      }
      for count in 1...extent where extent % count == 0 {
        let parts = try x.split(axis: axis, count: count)
        #expect(parts.count == count)
        #expect(parts.allSatisfy { $0.shape[resolved] == extent / count })
        #expect(try Tensor.concatenate(parts, axis: resolved) == x)
      }
    }
  }

  @Test(arguments: shapesOfEveryRank)
  func transposeMatchesReferenceForEveryPermutation(shape: [Int]) throws {
    let x = try Naive.iota(shape)
    for permutation in Naive.permutations(of: shape.count) {
      let transposed = try x.transposed(permutation: permutation)
      #expect(transposed == (try Naive.transpose(x, permutation)), "\(shape) by \(permutation)")
      var inverse = [Int](repeating: 0, count: permutation.count)
      for (axis, from) in permutation.enumerated() { inverse[from] = axis }
      #expect(try transposed.transposed(permutation: inverse) == x)
      let negative = permutation.map { $0 - shape.count }
      #expect(try x.transposed(permutation: negative) == transposed)
    }
  }

  /// Sizes above the 32-element tile, odd so the tiles are uneven.
  @Test func largeTransposesMatchReference() throws {
    var generator = SeededGenerator(seed: 13)
    let matrix = Tensor.normal([67, 45], using: &generator)
    let reference = try Naive.transpose(matrix, [1, 0])
    #expect(try matrix.transposed() == reference)
    #expect(try matrix.transposed(permutation: [1, 0]) == reference)
    #expect(try matrix.transposed().transposed() == matrix)

    let batched = Tensor.normal([3, 37, 41], using: &generator)
    #expect(try batched.transposed(permutation: [0, 2, 1]) == Naive.transpose(batched, [0, 2, 1]))

    let images = Tensor.normal([2, 5, 6, 7], using: &generator)
    let channelsFirst = try images.transposed(permutation: [0, 3, 1, 2])
    #expect(channelsFirst.shape == [2, 7, 5, 6])
    #expect(channelsFirst == (try Naive.transpose(images, [0, 3, 1, 2])))
    #expect(try channelsFirst.transposed(permutation: [0, 2, 3, 1]) == images)

    let reversed = Tensor.normal([40, 3, 35], using: &generator)
    #expect(
      try reversed.transposed(permutation: [2, 1, 0]) == Naive.transpose(reversed, [2, 1, 0]))
    #expect(
      try reversed.transposed(permutation: [2, 0, 1]) == Naive.transpose(reversed, [2, 0, 1]))

    let row = Tensor.normal([1, 9], using: &generator)
    #expect(try row.transposed() == Naive.transpose(row, [1, 0]))
  }

  @Test func broadcastShapesFollowNumPy() throws {
    #expect(try Tensor.broadcastShape([2, 3], [3]) == [2, 3])
    #expect(try Tensor.broadcastShape([2, 1, 4], [3, 1]) == [2, 3, 4])
    #expect(try Tensor.broadcastShape([1], [2, 3]) == [2, 3])
    #expect(try Tensor.broadcastShape([2, 3], [1]) == [2, 3])
    #expect(try Tensor.broadcastShape([], [4, 2]) == [4, 2])
    #expect(try Tensor.broadcastShape([0, 3], [1, 3]) == [0, 3])
    #expect(try Tensor.broadcastShape([5, 1, 3], [5, 4, 1]) == [5, 4, 3])
  }

  @Test func broadcastingArithmeticOnHandWrittenCases() throws {
    let matrix = try Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
    let row = Tensor([10, 20, 30])
    #expect(try matrix.adding(row) == Tensor(shape: [2, 3], scalars: [11, 22, 33, 14, 25, 36]))
    #expect(try (matrix + row) == matrix.adding(row))
    #expect(try (row - matrix) == Tensor(shape: [2, 3], scalars: [9, 18, 27, 6, 15, 24]))

    let a = try Tensor(shape: [2, 1, 4], scalars: [1, 2, 3, 4, 5, 6, 7, 8])
    let b = try Tensor(shape: [3, 1], scalars: [1, 2, 3])
    let expected = try Tensor(
      shape: [2, 3, 4],
      scalars: [
        1, 2, 3, 4, 2, 4, 6, 8, 3, 6, 9, 12, 5, 6, 7, 8, 10, 12, 14, 16, 15, 18, 21, 24,
      ])
    #expect(try a.multiplying(b) == expected)
    #expect(try (b * a) == expected)

    let one = Tensor([2])
    let square = try Tensor(shape: [2, 2], scalars: [1, 2, 3, 4])
    #expect(try (square - one) == Tensor(shape: [2, 2], scalars: [-1, 0, 1, 2]))
    #expect(try (one / square) == Tensor(shape: [2, 2], scalars: [2, 1, 2.0 / 3, 0.5]))
    #expect(try square.maximum(one) == Tensor(shape: [2, 2], scalars: [2, 2, 3, 4]))
    #expect(try square.minimum(one) == Tensor(shape: [2, 2], scalars: [1, 2, 2, 2]))
    let scalar = try Tensor(shape: [], scalars: [3])
    #expect(try square.adding(scalar) == Tensor(shape: [2, 2], scalars: [4, 5, 6, 7]))

    let empty = Tensor.zeros([0, 3])
    #expect(try empty.adding(Tensor.zeros([1, 3])).shape == [0, 3])
  }

  @Test func maximumAndMinimumPropagateNaN() throws {
    let values = Tensor([1, .nan, 3])
    let other = Tensor([.nan, 2, 1])
    let maximum = try values.maximum(other)
    let minimum = try values.minimum(other)
    #expect(maximum[flat: 0].isNaN && maximum[flat: 1].isNaN && maximum[flat: 2] == 3)
    #expect(minimum[flat: 0].isNaN && minimum[flat: 1].isNaN && minimum[flat: 2] == 1)
  }

  @Test(arguments: [
    ([2, 3], [3]), ([2, 1, 4], [3, 1]), ([1], [2, 3]), ([2, 3], [1]), ([4, 1, 3, 1], [2, 1, 5]),
    ([3, 1], [1, 4]), ([2, 3], [2, 3]), ([], [2, 2]), ([1, 5], [7, 1, 1]), ([6, 1, 8], [6, 5, 1]),
  ])
  func broadcastingArithmeticMatchesReference(left: [Int], right: [Int]) throws {
    var generator = SeededGenerator(seed: 17)
    let a = Tensor.normal(left, using: &generator)
    let b = Tensor.uniform(right, low: 0.5, high: 2, using: &generator)
    let shape = try Tensor.broadcastShape(left, right)
    #expect(try a.adding(b) == Naive.broadcast(a, b, to: shape, +))
    #expect(try a.subtracting(b) == Naive.broadcast(a, b, to: shape, -))
    #expect(try b.subtracting(a) == Naive.broadcast(b, a, to: shape, -))
    #expect(try a.multiplying(b) == Naive.broadcast(a, b, to: shape, *))
    #expect(try a.dividing(b) == Naive.broadcast(a, b, to: shape, /))
    #expect(try b.dividing(a) == Naive.broadcast(b, a, to: shape, /))
    #expect(try a.maximum(b) == Naive.broadcast(a, b, to: shape, { Swift.max($0, $1) }))
    #expect(try a.minimum(b) == Naive.broadcast(a, b, to: shape, { Swift.min($0, $1) }))
    #expect(try a.zipMap(b) { $0 * 2 - $1 } == Naive.broadcast(a, b, to: shape) { $0 * 2 - $1 })
  }

  /// `<broadcast(x), g> == <x, g.summed(toShape: x.shape)>` for every operand shape, and the
  /// sums match a naive double-precision reference.
  @Test(arguments: [
    ([3], [2, 3]), ([2, 1, 4], [2, 3, 4]), ([3, 1], [2, 3, 4]), ([1], [2, 3]), ([], [4, 5]),
    ([1, 1], [3, 4]), ([4, 1, 3, 1], [4, 2, 3, 5]), ([2, 3], [2, 3]), ([5, 1], [5, 7]),
    ([1, 7], [5, 7]),
  ])
  func summedToShapeIsTheAdjointOfBroadcasting(operand: [Int], result: [Int]) throws {
    var generator = SeededGenerator(seed: 23)
    let x = Tensor.normal(operand, using: &generator)
    let gradient = Tensor.normal(result, using: &generator)
    let broadcast = try x.adding(Tensor.zeros(result))
    let reduced = try gradient.summed(toShape: operand)
    #expect(reduced.shape == operand)
    let reference = try Naive.summed(gradient, toShape: operand)
    for index in 0..<reduced.count {
      #expect(abs(Double(reduced[flat: index]) - reference[index]) < 1e-4)
    }
    var left: Double = 0
    for index in 0..<broadcast.count {
      left += Double(broadcast[flat: index]) * Double(gradient[flat: index])
    }
    var right: Double = 0
    for index in 0..<x.count { right += Double(x[flat: index]) * Double(reduced[flat: index]) }
    #expect(abs(left - right) < 1e-4 * Swift.max(1, abs(left)))
  }

  @Test func summedToShapeOfEmptyTensorsGivesZeros() throws {
    let empty = Tensor.zeros([0, 3])
    #expect(try empty.summed(toShape: [1, 3]) == Tensor.zeros([1, 3]))
    #expect(try empty.summed(toShape: [3]) == Tensor.zeros([3]))
  }

  @Test func invalidAxesRangesAndSizesThrow() throws {
    let x = try Naive.iota([2, 3])
    expectPlexusError(mentioning: ["[2, 3]", "axis 2"]) { _ = try x.slice(axis: 2, range: 0..<1) }
    expectPlexusError(mentioning: ["[2, 3]", "axis -3"]) { _ = try x.slice(axis: -3, range: 0..<1) }
    expectPlexusError(mentioning: ["[2, 3]", "2..<4"]) { _ = try x.slice(axis: 1, range: 2..<4) }
    expectPlexusError(mentioning: ["[]"]) {
      _ = try Tensor(shape: [], scalars: [1]).slice(axis: 0, range: 0..<1)
    }
    expectPlexusError(mentioning: ["empty"]) { _ = try Tensor.concatenate([], axis: 0) }
    expectPlexusError(mentioning: ["[2, 3]", "[2, 4]"]) {
      _ = try Tensor.concatenate([x, Tensor.zeros([2, 4])], axis: 0)
    }
    expectPlexusError(mentioning: ["[2, 3]", "[3]"]) {
      _ = try Tensor.concatenate([x, Tensor.zeros([3])], axis: 0)
    }
    expectPlexusError(mentioning: ["[2, 3]", "axis 5"]) {
      _ = try Tensor.concatenate([x, x], axis: 5)
    }
    expectPlexusError(mentioning: ["[2, 3]", "[1, 1]"]) { _ = try x.split(axis: 1, sizes: [1, 1]) }
    expectPlexusError(mentioning: ["[2, 3]", "[4, -1]"]) {
      _ = try x.split(axis: 1, sizes: [4, -1])
    }
    expectPlexusError(mentioning: ["[2, 3]", "2 equal parts"]) {
      _ = try x.split(axis: 1, count: 2)
    }
    expectPlexusError(mentioning: ["[2, 3]", "count 0"]) { _ = try x.split(axis: 1, count: 0) }
    expectPlexusError(mentioning: ["[2, 3]", "count 4"]) { _ = try x.split(axis: -1, count: 4) }
    expectPlexusError(mentioning: ["[2, 3]", "axis -3"]) { _ = try x.split(axis: -3, count: 1) }
  }

  @Test func nonPermutationsThrow() throws {
    let x = try Naive.iota([2, 3, 4])
    expectPlexusError(mentioning: ["[2, 3, 4]", "[0, 0, 1]", "not a permutation"]) {
      _ = try x.transposed(permutation: [0, 0, 1])
    }
    expectPlexusError(mentioning: ["[2, 3, 4]", "[2, -1, 0]", "not a permutation"]) {
      _ = try x.transposed(permutation: [2, -1, 0])
    }
    expectPlexusError(mentioning: ["[2, 3, 4]", "[1, 0]"]) {
      _ = try x.transposed(permutation: [1, 0])
    }
    expectPlexusError(mentioning: ["[2, 3, 4]", "[0, 3, 1]"]) {
      _ = try x.transposed(permutation: [0, 3, 1])
    }
    expectPlexusError(mentioning: ["[2, 3, 4]", "rank-2"]) { _ = try x.transposed() }
  }

  @Test func incompatibleBroadcastsThrow() throws {
    expectPlexusError(mentioning: ["[2, 3]", "[4]"]) { _ = try Tensor.broadcastShape([2, 3], [4]) }
    expectPlexusError(mentioning: ["[-1]", "[2]"]) { _ = try Tensor.broadcastShape([-1], [2]) }
    expectPlexusError(mentioning: ["[0]", "[2]"]) { _ = try Tensor.broadcastShape([0], [2]) }
    expectPlexusError(mentioning: ["overflows"]) {
      _ = try Tensor.broadcastShape([Int.max, 1], [1, 2])
    }
    let x = Tensor.zeros([2, 3])
    let y = Tensor.zeros([2, 4])
    let operations: [() throws -> Tensor] = [
      { try x.adding(y) }, { try x.subtracting(y) }, { try x.multiplying(y) },
      { try x.dividing(y) }, { try x.maximum(y) }, { try x.minimum(y) },
      { try x.zipMap(y, +) },
    ]
    for operation in operations {
      expectPlexusError(mentioning: ["[2, 3]", "[2, 4]"]) { _ = try operation() }
    }
    expectPlexusError(mentioning: ["[4]", "[2, 3]"]) { _ = try x.summed(toShape: [4]) }
    expectPlexusError(mentioning: ["[1, 2, 3]", "[2, 3]"]) { _ = try x.summed(toShape: [1, 2, 3]) }
    expectPlexusError(mentioning: ["[-2, 3]"]) { _ = try x.summed(toShape: [-2, 3]) }
  }

  /// Operations that used to stop the process on mismatched shapes now throw.
  @Test func formerlyTrappingElementwiseAndMatrixOperationsThrow() throws {
    let x = Tensor.zeros([2, 3])
    let y = Tensor.zeros([3, 2])
    expectPlexusError(mentioning: ["[2, 3]", "[3, 2]"]) { _ = try x + y }
    expectPlexusError(mentioning: ["[2, 3]", "[3, 2]"]) { _ = try x - y }
    expectPlexusError(mentioning: ["[2, 3]", "[3, 2]"]) { _ = try x * y }
    expectPlexusError(mentioning: ["[2, 3]", "[3, 2]"]) { _ = try x / y }
    expectPlexusError(mentioning: ["[2, 3]", "[3, 2]"]) {
      var sum = x
      try sum += y
    }
    expectPlexusError(mentioning: ["[2, 3]", "[3]"]) {
      var row = Tensor.zeros([3])
      try row += x
    }
    expectPlexusError(mentioning: ["[2, 3]", "[3, 2]"]) {
      var sum = x
      try sum.add(y, scaledBy: 2)
    }
    expectPlexusError(mentioning: ["[2, 3]", "[3, 2]"]) { _ = try x.maxAbsoluteDifference(to: y) }
    expectPlexusError(mentioning: ["[]"]) {
      _ = try Tensor(shape: [], scalars: [1]).sumOverBatch()
    }
    expectPlexusError(mentioning: ["[2, 3]", "[2]"]) {
      var rows = x
      try rows.addToLastAxis(Tensor.zeros([2]))
    }
    expectPlexusError(mentioning: ["[2, 3]", "[1, 3]"]) {
      var rows = x
      try rows.addToLastAxis(Tensor.zeros([1, 3]))
    }

    expectPlexusError(mentioning: ["[2, 3, 1]", "rank-2"]) {
      _ = try Tensor.matmul(Tensor.zeros([2, 3, 1]), y)
    }
    expectPlexusError(mentioning: ["[2, 3]", "[2, 3]", "inner dimensions"]) {
      _ = try Tensor.matmul(x, x)
    }
    expectPlexusError(mentioning: ["[2, 3]", "[3, 2] (transposed)", "inner dimensions"]) {
      _ = try Tensor.matmul(x, y, transposeB: true)
    }
    expectPlexusError(mentioning: ["[2, 3]", "[3, 2]", "[2, 2]", "[3, 3]"]) {
      var product = Tensor.zeros([3, 3])
      try Tensor.matmul(x, y, into: &product)
    }
  }

  @Test func inPlaceAdditionBroadcastsOntoTheLeftShape() throws {
    var rows = try Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
    try rows += Tensor([10, 20, 30])
    #expect(rows == (try Tensor(shape: [2, 3], scalars: [11, 22, 33, 14, 25, 36])))
    try rows += rows
    #expect(rows.scalars == [22, 44, 66, 28, 50, 72])
    try rows.add(Tensor.zeros([2, 3]).adding(Tensor([1])), scaledBy: -2)
    #expect(rows.scalars == [20, 42, 64, 26, 48, 70])
  }
}
