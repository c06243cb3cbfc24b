extension Tensor {
  /// Applies `transform` to every element.
  @inlinable
  public func map(_ transform: (Float) -> Float) -> Tensor {
    Tensor(shape: shape) { destination in
      let source = storage.pointer
      for index in 0..<destination.count { destination[index] = transform(source[index]) }
    }
  }

  /// Combines two tensors of equal shape element by element.
  ///
  /// - Precondition: the shapes are equal.
  @inlinable
  public func zipMap(_ other: Tensor, _ combine: (Float, Float) -> Float) -> Tensor {
    precondition(shape == other.shape, "elementwise shapes differ: \(shape) vs \(other.shape)")
    return Tensor(shape: shape) { destination in
      let lhs = storage.pointer
      let rhs = other.storage.pointer
      for index in 0..<destination.count { destination[index] = combine(lhs[index], rhs[index]) }
    }
  }

  /// Elementwise sum. - Precondition: equal shapes.
  public static func + (lhs: Tensor, rhs: Tensor) -> Tensor { lhs.zipMap(rhs, +) }
  /// Elementwise difference. - Precondition: equal shapes.
  public static func - (lhs: Tensor, rhs: Tensor) -> Tensor { lhs.zipMap(rhs, -) }
  /// Elementwise product. - Precondition: equal shapes.
  public static func * (lhs: Tensor, rhs: Tensor) -> Tensor { lhs.zipMap(rhs, *) }
  /// Multiplies every element by a scalar.
  public static func * (lhs: Tensor, rhs: Float) -> Tensor { lhs.map { $0 * rhs } }
  /// Multiplies every element by a scalar.
  public static func * (lhs: Float, rhs: Tensor) -> Tensor { rhs.map { $0 * lhs } }
  /// Adds a scalar to every element.
  public static func + (lhs: Tensor, rhs: Float) -> Tensor { lhs.map { $0 + rhs } }

  /// Adds `other` in place. - Precondition: equal element counts.
  public static func += (lhs: inout Tensor, rhs: Tensor) {
    lhs.add(rhs, scaledBy: 1)
  }

  /// Computes `self += alpha * other` in place (BLAS axpy).
  ///
  /// - Precondition: equal element counts.
  public mutating func add(_ other: Tensor, scaledBy alpha: Float) {
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
  /// - Precondition: equal shapes.
  public func maxAbsoluteDifference(to other: Tensor) -> Float {
    precondition(shape == other.shape, "shapes differ: \(shape) vs \(other.shape)")
    var result: Float = 0
    for index in 0..<count {
      result = Swift.max(result, abs(storage.pointer[index] - other.storage.pointer[index]))
    }
    return result
  }

  /// Sums over the batch (first) dimension: `[N, ...rest]` gives `[...rest]`.
  public func sumOverBatch() -> Tensor {
    precondition(rank >= 1, "sumOverBatch needs a batch dimension")
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
  /// - Precondition: `vector.count` equals the last dimension.
  public mutating func addToLastAxis(_ vector: Tensor) {
    let width = vector.count
    precondition(shape.last == width, "cannot broadcast \(vector.shape) over \(shape)")
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
