/// Elementwise arithmetic with NumPy broadcasting, and its adjoint `summed(toShape:)`.
///
/// Two shapes broadcast when, aligned at their last axes, each pair of dimensions is equal or
/// one of them is 1 (a missing leading dimension counts as 1). The result takes the larger
/// dimension of each pair: `[2, 3]` with `[3]` gives `[2, 3]`, `[2, 1, 4]` with `[3, 1]`
/// gives `[2, 3, 4]`.
extension Tensor {
  /// The shape that `a` and `b` broadcast to under NumPy's rules.
  ///
  /// - Throws: `PlexusError.invalidShape` when a dimension is negative, a pair of dimensions
  ///   differs with neither being 1, or the result's element count overflows.
  public static func broadcastShape(_ a: [Int], _ b: [Int]) throws -> [Int] {
    try broadcastShape(a, b, operation: "broadcast")
  }

  /// `broadcastShape(_:_:)` with the operation's name at the start of error messages.
  @usableFromInline
  static func broadcastShape(_ a: [Int], _ b: [Int], operation: String) throws -> [Int] {
    for dimension in a + b where dimension < 0 {
      throw PlexusError.invalidShape(
        "\(operation): cannot broadcast shapes \(a) and \(b): dimension \(dimension) is negative")
    }
    let rank = Swift.max(a.count, b.count)
    var result = [Int](repeating: 1, count: rank)
    for axis in 0..<rank {
      let fromEnd = rank - axis
      let left = fromEnd <= a.count ? a[a.count - fromEnd] : 1
      let right = fromEnd <= b.count ? b[b.count - fromEnd] : 1
      if left == right || right == 1 {
        result[axis] = left
      } else if left == 1 {
        result[axis] = right
      } else {
        throw PlexusError.invalidShape(
          "\(operation): cannot broadcast shapes \(a) and \(b): dimensions \(left) and "
            + "\(right) at axis -\(fromEnd) differ and neither is 1")
      }
    }
    do { _ = try elementCount(of: result) } catch {
      throw PlexusError.invalidShape(
        "\(operation): shapes \(a) and \(b) broadcast to \(result), whose element count "
          + "overflows")
    }
    return result
  }

  /// Combines `lhs` and `rhs` element by element with `combine` after broadcasting them to a
  /// common shape.
  ///
  /// Equal shapes run as one flat loop; otherwise the broadcast axes are coalesced and the
  /// innermost run pairs contiguous elements with contiguous or repeated ones.
  ///
  /// - Throws: `PlexusError.invalidShape` when the shapes do not broadcast.
  @inlinable
  static func broadcasting<Combiner: ElementwiseCombiner>(
    _ lhs: Tensor, _ rhs: Tensor, operation: String, _ combine: Combiner
  ) throws -> Tensor {
    let left = lhs.storage.pointer
    let right = rhs.storage.pointer
    if lhs.shape == rhs.shape {
      return Tensor(unsafeUninitializedShape: lhs.shape) { destination in
        for index in 0..<destination.count {
          destination[index] = combine(left[index], right[index])
        }
      }
    }
    let shape = try broadcastShape(lhs.shape, rhs.shape, operation: operation)
    let count = elementCountOrTrap(shape)
    guard count > 0 else { return Tensor(shape: shape) }
    if rhs.count == 1 && shape == lhs.shape {
      let value = right[0]
      return Tensor(unsafeUninitializedShape: shape) { destination in
        for index in 0..<count { destination[index] = combine(left[index], value) }
      }
    }
    if lhs.count == 1 && shape == rhs.shape {
      let value = left[0]
      return Tensor(unsafeUninitializedShape: shape) { destination in
        for index in 0..<count { destination[index] = combine(value, right[index]) }
      }
    }
    let layout = StridedLayout(
      extents: shape,
      first: StridedLayout.broadcastStrides(lhs.shape, rank: shape.count),
      second: StridedLayout.broadcastStrides(rhs.shape, rank: shape.count))
    let inner = layout.extents[layout.rank - 1]
    let leftStride = layout.first[layout.rank - 1]
    let rightStride = layout.second[layout.rank - 1]
    return Tensor(unsafeUninitializedShape: shape) { buffer in
      let destination = buffer.baseAddress!
      var offset = 0
      layout.forEachOuterPosition(innerAxes: 1) { leftOffset, rightOffset in
        let target = destination + offset
        let a = left + leftOffset
        let b = right + rightOffset
        if leftStride == 1 && rightStride == 1 {
          for index in 0..<inner { target[index] = combine(a[index], b[index]) }
        } else if leftStride == 1 {
          let value = b[0]
          for index in 0..<inner { target[index] = combine(a[index], value) }
        } else if rightStride == 1 {
          let value = a[0]
          for index in 0..<inner { target[index] = combine(value, b[index]) }
        } else {
          target.update(repeating: combine(a[0], b[0]), count: inner)
        }
        offset += inner
      }
    }
  }

  /// The elementwise sum, broadcasting the shapes.
  ///
  /// - Throws: `PlexusError.invalidShape` when the shapes do not broadcast.
  public func adding(_ other: Tensor) throws -> Tensor {
    try Tensor.broadcasting(self, other, operation: "add", AddingCombiner())
  }

  /// The elementwise difference `self - other`, broadcasting the shapes.
  ///
  /// - Throws: `PlexusError.invalidShape` when the shapes do not broadcast.
  public func subtracting(_ other: Tensor) throws -> Tensor {
    try Tensor.broadcasting(self, other, operation: "subtract", SubtractingCombiner())
  }

  /// The elementwise product, broadcasting the shapes.
  ///
  /// - Throws: `PlexusError.invalidShape` when the shapes do not broadcast.
  public func multiplying(_ other: Tensor) throws -> Tensor {
    try Tensor.broadcasting(self, other, operation: "multiply", MultiplyingCombiner())
  }

  /// The elementwise quotient `self / other` (IEEE division: `x / 0` is infinite or NaN),
  /// broadcasting the shapes.
  ///
  /// - Throws: `PlexusError.invalidShape` when the shapes do not broadcast.
  public func dividing(_ other: Tensor) throws -> Tensor {
    try Tensor.broadcasting(self, other, operation: "divide", DividingCombiner())
  }

  /// The elementwise larger value, broadcasting the shapes; NaN where either value is NaN
  /// (as `numpy.maximum`).
  ///
  /// - Throws: `PlexusError.invalidShape` when the shapes do not broadcast.
  public func maximum(_ other: Tensor) throws -> Tensor {
    try Tensor.broadcasting(self, other, operation: "maximum", MaximumCombiner())
  }

  /// The elementwise smaller value, broadcasting the shapes; NaN where either value is NaN
  /// (as `numpy.minimum`).
  ///
  /// - Throws: `PlexusError.invalidShape` when the shapes do not broadcast.
  public func minimum(_ other: Tensor) throws -> Tensor {
    try Tensor.broadcasting(self, other, operation: "minimum", MinimumCombiner())
  }

  /// The elementwise sum, broadcasting the shapes (`adding(_:)`).
  public static func + (lhs: Tensor, rhs: Tensor) throws -> Tensor { try lhs.adding(rhs) }
  /// The elementwise difference, broadcasting the shapes (`subtracting(_:)`).
  public static func - (lhs: Tensor, rhs: Tensor) throws -> Tensor { try lhs.subtracting(rhs) }
  /// The elementwise product, broadcasting the shapes (`multiplying(_:)`).
  public static func * (lhs: Tensor, rhs: Tensor) throws -> Tensor { try lhs.multiplying(rhs) }
  /// The elementwise quotient, broadcasting the shapes (`dividing(_:)`).
  public static func / (lhs: Tensor, rhs: Tensor) throws -> Tensor { try lhs.dividing(rhs) }

  /// Sums this tensor down to `shape`, a shape that broadcasts to this tensor's shape.
  ///
  /// This is the adjoint of broadcasting: when an operand of shape `shape` was broadcast into
  /// a result of this tensor's shape, `gradient.summed(toShape: shape)` is the operand's
  /// gradient. Every axis where `shape` has extent 1 (or no entry) is summed over, in single
  /// precision.
  ///
  /// ```swift
  /// let z = try x.adding(bias)                        // [N, F] + [F]
  /// let biasGradient = try zGradient.summed(toShape: [F])
  /// ```
  ///
  /// - Throws: `PlexusError.invalidShape` when `shape` is invalid or does not broadcast to
  ///   this tensor's shape.
  public func summed(toShape target: [Int]) throws -> Tensor {
    _ = try Tensor.elementCount(of: target)
    let broadcast: [Int]
    do { broadcast = try Tensor.broadcastShape(target, shape) } catch {
      throw PlexusError.invalidShape(
        "summed(toShape:): shape \(target) does not broadcast to \(shape)")
    }
    guard broadcast == shape else {
      throw PlexusError.invalidShape(
        "summed(toShape:): shape \(target) does not broadcast to \(shape) (together they "
          + "broadcast to \(broadcast))")
    }
    if target == shape { return self }
    guard count > 0 else { return Tensor(shape: target) }
    let layout = StridedLayout(
      extents: shape, first: StridedLayout.broadcastStrides(target, rank: rank))
    let inner = layout.extents[layout.rank - 1]
    let innerStride = layout.first[layout.rank - 1]
    let source = storage.pointer
    return Tensor(shape: target) { buffer in
      let destination = buffer.baseAddress!
      var offset = 0
      layout.forEachOuterPosition(innerAxes: 1) { destinationOffset, _ in
        let run = source + offset
        let sums = destination + destinationOffset
        if innerStride == 1 {
          for index in 0..<inner { sums[index] += run[index] }
        } else {
          sums[0] += sumOfRun(run, count: inner)
        }
        offset += inner
      }
    }
  }
}

/// The sum of `count` contiguous elements, in eight interleaved partial sums (vectorized).
@inline(__always)
func sumOfRun(_ run: UnsafePointer<Float>, count: Int) -> Float {
  var partial = SIMD8<Float>()
  var index = 0
  while index + 8 <= count {
    partial += UnsafeRawPointer(run + index).loadUnaligned(as: SIMD8<Float>.self)
    index += 8
  }
  var total = partial.sum()
  while index < count {
    total += run[index]
    index += 1
  }
  return total
}

/// An elementwise binary operation on `Float`. Each operation is its own type, so the
/// broadcasting loops are specialized for it and the operation inlines into them.
@usableFromInline
protocol ElementwiseCombiner {
  func callAsFunction(_ a: Float, _ b: Float) -> Float
}

/// A caller's closure as an `ElementwiseCombiner` (for `zipMap`).
@usableFromInline
struct ClosureCombiner: ElementwiseCombiner {
  @usableFromInline let body: (Float, Float) -> Float
  @inlinable init(_ body: @escaping (Float, Float) -> Float) { self.body = body }
  @inlinable func callAsFunction(_ a: Float, _ b: Float) -> Float { body(a, b) }
}

/// `a + b`.
struct AddingCombiner: ElementwiseCombiner {
  @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a + b }
}

/// `a - b`.
struct SubtractingCombiner: ElementwiseCombiner {
  @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a - b }
}

/// `a * b`.
struct MultiplyingCombiner: ElementwiseCombiner {
  @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a * b }
}

/// `a / b`.
struct DividingCombiner: ElementwiseCombiner {
  @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a / b }
}

/// The larger of `a` and `b`; NaN when either is NaN.
struct MaximumCombiner: ElementwiseCombiner {
  @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float {
    a > b || a.isNaN ? a : b
  }
}

/// The smaller of `a` and `b`; NaN when either is NaN.
struct MinimumCombiner: ElementwiseCombiner {
  @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float {
    a < b || a.isNaN ? a : b
  }
}
