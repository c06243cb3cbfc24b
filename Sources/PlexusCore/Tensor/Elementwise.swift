extension Tensor {
  /// Applies `transform` to every element.
  @inlinable
  public func map(_ transform: (Float) -> Float) -> Tensor {
    Tensor(shape: shape) { destination in
      let source = storage.pointer
      for index in 0..<destination.count { destination[index] = transform(source[index]) }
    }
  }

  /// Combines two tensors element by element, broadcasting their shapes (NumPy rules, see
  /// `broadcastShape(_:_:)`).
  ///
  /// - Throws: `PlexusError.invalidShape` when the shapes do not broadcast.
  @inlinable
  public func zipMap(_ other: Tensor, _ combine: (Float, Float) -> Float) throws -> Tensor {
    try withoutActuallyEscaping(combine) { combine in
      try Tensor.broadcasting(self, other, operation: "zipMap", ClosureCombiner(combine))
    }
  }

  /// Multiplies every element by a scalar.
  public static func * (lhs: Tensor, rhs: Float) -> Tensor { lhs.map { $0 * rhs } }
  /// Multiplies every element by a scalar.
  public static func * (lhs: Float, rhs: Tensor) -> Tensor { rhs.map { $0 * lhs } }
  /// Adds a scalar to every element.
  public static func + (lhs: Tensor, rhs: Float) -> Tensor { lhs.map { $0 + rhs } }

  /// Adds `rhs` to `lhs` in place; `rhs` may broadcast to the shape of `lhs` (a bias `[F]`
  /// onto `[N, F]`). Equal shapes run as one BLAS axpy.
  ///
  /// - Throws: `PlexusError.invalidShape` when `rhs` does not broadcast to the shape of
  ///   `lhs`.
  public static func += (lhs: inout Tensor, rhs: Tensor) throws {
    if lhs.shape == rhs.shape {
      lhs.addScaled(rhs, alpha: 1)
      return
    }
    let shape = try broadcastShape(lhs.shape, rhs.shape, operation: "+=")
    guard shape == lhs.shape else {
      throw PlexusError.invalidShape(
        "+=: cannot add shape \(rhs.shape) in place to shape \(lhs.shape): together they "
          + "broadcast to \(shape)")
    }
    lhs = try lhs.adding(rhs)
  }

  /// Computes `self += alpha * other` in place (BLAS axpy).
  ///
  /// - Throws: `PlexusError.invalidShape` when the shapes differ.
  public mutating func add(_ other: Tensor, scaledBy alpha: Float) throws {
    guard shape == other.shape else {
      throw PlexusError.invalidShape(
        "add(_:scaledBy:): cannot add shape \(other.shape) to shape \(shape)")
    }
    addScaled(other, alpha: alpha)
  }

  /// `self += alpha * other` for tensors of equal element count.
  mutating func addScaled(_ other: Tensor, alpha: Float) {
    precondition(count == other.count, "cannot add \(other.shape) to \(shape)")
    let count = self.count
    withUnsafeMutableBufferPointer { destination in
      other.withUnsafeBufferPointer { source in
        BLAS.axpy(count: count, alpha: alpha, x: source.baseAddress!, y: destination.baseAddress!)
      }
    }
  }

  /// Multiplies every element by `factor` in place.
  public mutating func scale(by factor: Float) {
    withUnsafeMutableBufferPointer { buffer in
      for index in buffer.indices { buffer[index] *= factor }
    }
  }

  /// Sets every element to `value` in place.
  public mutating func fill(_ value: Float) {
    withUnsafeMutableBufferPointer { $0.update(repeating: value) }
  }

  /// The sum of all elements, accumulated in double precision.
  public func sum() -> Float {
    var total: Double = 0
    withUnsafeBufferPointer { buffer in for value in buffer { total += Double(value) } }
    return Float(total)
  }

  /// The mean of all elements (0 for an empty tensor).
  public func mean() -> Float { count == 0 ? 0 : Float(Double(sum()) / Double(count)) }

  /// The largest element, or `nil` for an empty tensor.
  public func max() -> Float? { withUnsafeBufferPointer { $0.max() } }

  /// The smallest element, or `nil` for an empty tensor.
  public func min() -> Float? { withUnsafeBufferPointer { $0.min() } }

  /// Whether every element is finite (no NaN, no infinity).
  public var isFinite: Bool {
    withUnsafeBufferPointer { buffer in buffer.allSatisfy { $0.isFinite } }
  }

  /// The largest absolute elementwise difference to `other`.
  ///
  /// - Throws: `PlexusError.invalidShape` when the shapes differ.
  public func maxAbsoluteDifference(to other: Tensor) throws -> Float {
    guard shape == other.shape else {
      throw PlexusError.invalidShape(
        "maxAbsoluteDifference(to:): shapes \(shape) and \(other.shape) differ")
    }
    let left = storage.pointer
    let right = other.storage.pointer
    var result: Float = 0
    for index in 0..<count { result = Swift.max(result, abs(left[index] - right[index])) }
    return result
  }

  /// Sums over the batch (first) dimension: `[N, ...rest]` gives `[...rest]`.
  ///
  /// - Throws: `PlexusError.invalidShape` for a rank-0 tensor (it has no batch dimension).
  public func sumOverBatch() throws -> Tensor {
    guard rank >= 1 else {
      throw PlexusError.invalidShape("sumOverBatch() needs a batch dimension, got shape \(shape)")
    }
    let rows = shape[0]
    let width = sampleSize
    return Tensor(shape: sampleShape) { destination in
      let source = storage.pointer
      for row in 0..<rows {
        let rowStart = source + row * width
        for column in 0..<width { destination[column] += rowStart[column] }
      }
    }
  }

  /// Adds a vector to every row: `self[n, ..., j] += vector[j]` over the last dimension.
  ///
  /// - Throws: `PlexusError.invalidShape` when `vector` is not rank 1 with the extent of the
  ///   last dimension.
  public mutating func addToLastAxis(_ vector: Tensor) throws {
    let width = vector.count
    guard vector.rank == 1, shape.last == width else {
      throw PlexusError.invalidShape(
        "addToLastAxis: cannot add a vector of shape \(vector.shape) to each row of shape "
          + "\(shape)")
    }
    let rows = width == 0 ? 0 : count / width
    withUnsafeMutableBufferPointer { destination in
      let bias = vector.storage.pointer
      for row in 0..<rows {
        let rowStart = destination.baseAddress! + row * width
        for column in 0..<width { rowStart[column] += bias[column] }
      }
    }
  }

  /// The index of the largest element of each sample (over all non-batch dimensions).
  public func argmaxPerSample() -> [Int] {
    let rows = batchCount
    let width = sampleSize
    guard width > 0 else { return Array(repeating: 0, count: rows) }
    return (0..<rows).map { row in
      let start = storage.pointer + row * width
      var best = 0
      for column in 1..<width where start[column] > start[best] { best = column }
      return best
    }
  }
}
