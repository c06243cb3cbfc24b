/// An n-dimensional array of `Float` in contiguous row-major order.
///
/// `Tensor` is a value type with copy-on-write storage: copies are cheap until one of them is
/// mutated. Shapes are batch first (`[N, F]`, `[N, H, W, C]`, `[N, T, F]`).
///
/// ```swift
/// var x = try Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
/// x[1, 2] = 0
/// let y = x * 2
/// ```
public struct Tensor: Sendable {
  /// The extent of each dimension.
  public internal(set) var shape: [Int]
  @usableFromInline var storage: TensorStorage

  /// The number of elements.
  @inlinable public var count: Int { storage.count }
  /// The number of dimensions.
  @inlinable public var rank: Int { shape.count }

  /// Creates a tensor filled with `value`.
  ///
  /// - Precondition: every dimension is non-negative and the element count fits in `Int`.
  public init(shape: [Int], repeating value: Float = 0) {
    let count = Tensor.elementCountOrTrap(shape)
    self.shape = shape
    self.storage = TensorStorage(count: count, repeating: value)
  }

  /// Zeros of `shape` (`count` elements, checked by the caller) whose pages are made when first
  /// touched (see `TensorStorage(lazilyZeroedCount:)`).
  init(lazilyZeroedShape shape: [Int], count: Int) {
    self.shape = shape
    storage = TensorStorage(lazilyZeroedCount: count)
  }

  /// Creates a tensor of zeros.
  public static func zeros(_ shape: [Int]) -> Tensor { Tensor(shape: shape, repeating: 0) }

  /// Creates a tensor from scalars in row-major order.
  ///
  /// - Throws: `PlexusError.invalidShape` when the shape is invalid or does not match the
  ///   number of scalars.
  public init(shape: [Int], scalars: [Float]) throws {
    let count = try Tensor.elementCount(of: shape)
    guard count == scalars.count else {
      throw PlexusError.invalidShape(
        "shape \(shape) holds \(count) elements but \(scalars.count) scalars were given")
    }
    self.shape = shape
    self.storage = TensorStorage(count: count)
    scalars.withUnsafeBufferPointer { source in
      if let base = source.baseAddress { storage.pointer.update(from: base, count: count) }
    }
  }

  /// Creates a rank-1 tensor from scalars.
  public init(_ scalars: [Float]) {
    self.shape = [scalars.count]
    self.storage = TensorStorage(count: scalars.count)
    scalars.withUnsafeBufferPointer { source in
      if let base = source.baseAddress { storage.pointer.update(from: base, count: scalars.count) }
    }
  }

  /// Creates a tensor of the given shape whose elements are written by `initializer`.
  ///
  /// The buffer passed to `initializer` is uninitialized-free (zero filled) and has exactly
  /// `shape.reduce(1, *)` elements.
  public init(
    shape: [Int], initializingWith initializer: (UnsafeMutableBufferPointer<Float>) throws -> Void
  ) rethrows {
    let count = Tensor.elementCountOrTrap(shape)
    self.shape = shape
    self.storage = TensorStorage(count: count, repeating: 0)
    try initializer(UnsafeMutableBufferPointer(start: storage.pointer, count: count))
  }

  /// Creates a tensor whose elements `initializer` must all write: the buffer starts
  /// uninitialized (faster than zero filling when every element is overwritten, as with a
  /// `beta = 0` matrix product).
  ///
  /// - Precondition: every dimension is non-negative and the element count fits in `Int`.
  public init(
    unsafeUninitializedShape shape: [Int],
    initializingWith initializer: (UnsafeMutableBufferPointer<Float>) throws -> Void
  ) rethrows {
    let count = Tensor.elementCountOrTrap(shape)
    self.shape = shape
    self.storage = TensorStorage(count: count)
    try initializer(UnsafeMutableBufferPointer(start: storage.pointer, count: count))
  }

  /// The number of elements described by `shape`, with overflow and sign checks.
  ///
  /// - Throws: `PlexusError.invalidShape` for negative dimensions or overflow.
  public static func elementCount(of shape: [Int]) throws -> Int {
    var count = 1
    for dimension in shape {
      guard dimension >= 0 else {
        throw PlexusError.invalidShape("dimension \(dimension) in \(shape) is negative")
      }
      let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
      guard !overflow else {
        throw PlexusError.invalidShape("the element count of \(shape) overflows")
      }
      count = product
    }
    return count
  }

  @usableFromInline
  static func elementCountOrTrap(_ shape: [Int]) -> Int {
    do { return try elementCount(of: shape) } catch {
      preconditionFailure("\(error)")
    }
  }

  /// All elements in row-major order.
  public var scalars: [Float] {
    Array(UnsafeBufferPointer(start: storage.pointer, count: count))
  }

  /// The single element of a one-element tensor.
  public var scalar: Float? { count == 1 ? storage.pointer[0] : nil }

  /// Calls `body` with the elements in row-major order.
  @inlinable
  public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R)
    rethrows -> R
  {
    try body(UnsafeBufferPointer(start: storage.pointer, count: storage.count))
  }

  /// Calls `body` with mutable access to the elements, copying shared storage first.
  @inlinable
  public mutating func withUnsafeMutableBufferPointer<R>(
    _ body: (UnsafeMutableBufferPointer<Float>) throws -> R
  ) rethrows -> R {
    if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
    return try body(UnsafeMutableBufferPointer(start: storage.pointer, count: storage.count))
  }

  @usableFromInline
  func flatIndex(_ indices: [Int]) -> Int {
    precondition(
      indices.count == shape.count, "expected \(shape.count) indices, got \(indices.count)")
    var index = 0
    for (axis, position) in indices.enumerated() {
      precondition(
        position >= 0 && position < shape[axis], "index \(indices) out of range for \(shape)")
      index = index * shape[axis] + position
    }
    return index
  }

  /// The element at a multi-dimensional index.
  public subscript(_ indices: Int...) -> Float {
    get { storage.pointer[flatIndex(indices)] }
    set {
      let index = flatIndex(indices)
      withUnsafeMutableBufferPointer { $0[index] = newValue }
    }
  }

  /// The element at a row-major position.
  public subscript(flat index: Int) -> Float {
    get {
      precondition(index >= 0 && index < count, "flat index \(index) out of range 0..<\(count)")
      return storage.pointer[index]
    }
    set {
      precondition(index >= 0 && index < count, "flat index \(index) out of range 0..<\(count)")
      withUnsafeMutableBufferPointer { $0[index] = newValue }
    }
  }

  /// The same elements with another shape of equal element count (storage is shared).
  ///
  /// - Throws: `PlexusError.invalidShape` when the element counts differ.
  public func reshaped(_ newShape: [Int]) throws -> Tensor {
    let newCount = try Tensor.elementCount(of: newShape)
    guard newCount == count else {
      throw PlexusError.invalidShape("cannot reshape \(shape) (\(count) elements) to \(newShape)")
    }
    var result = self
    result.shape = newShape
    return result
  }

  /// Replaces the shape in place with one of equal element count.
  ///
  /// - Precondition: the element counts are equal.
  public mutating func reshape(_ newShape: [Int]) {
    precondition(
      Tensor.elementCountOrTrap(newShape) == count, "cannot reshape \(shape) to \(newShape)")
    shape = newShape
  }

  /// The size of the first (batch) dimension; 0 for a scalar tensor.
  public var batchCount: Int { shape.first ?? 0 }

  /// The elements of one sample (the shape without its batch dimension).
  public var sampleShape: [Int] { Array(shape.dropFirst()) }

  /// The number of elements in one sample.
  public var sampleSize: Int { shape.dropFirst().reduce(1, *) }

  /// The samples `range` of the batch dimension, as a new tensor.
  ///
  /// - Precondition: `range` lies within the batch dimension.
  public func samples(_ range: Range<Int>) -> Tensor {
    precondition(
      rank >= 1 && range.lowerBound >= 0 && range.upperBound <= shape[0],
      "sample range \(range) out of bounds for \(shape)")
    let stride = sampleSize
    var newShape = shape
    newShape[0] = range.count
    return Tensor(shape: newShape) { destination in
      if let base = destination.baseAddress, !range.isEmpty {
        base.update(from: storage.pointer + range.lowerBound * stride, count: range.count * stride)
      }
    }
  }

  /// The samples at `indices` of the batch dimension, in that order, as a new tensor.
  ///
  /// - Precondition: every index lies within the batch dimension.
  public func gatherSamples(_ indices: [Int]) -> Tensor {
    precondition(rank >= 1, "gatherSamples needs a batch dimension")
    let stride = sampleSize
    var newShape = shape
    newShape[0] = indices.count
    return Tensor(shape: newShape) { destination in
      guard let base = destination.baseAddress else { return }
      for (row, index) in indices.enumerated() {
        precondition(
          index >= 0 && index < shape[0], "sample index \(index) out of bounds for \(shape)")
        (base + row * stride).update(from: storage.pointer + index * stride, count: stride)
      }
    }
  }

  /// Concatenates tensors along the batch dimension.
  ///
  /// - Throws: `PlexusError.invalidShape` when the sample shapes differ or the list is empty.
  public static func concatenateSamples(_ tensors: [Tensor]) throws -> Tensor {
    guard let first = tensors.first else {
      throw PlexusError.invalidShape("cannot concatenate an empty list of tensors")
    }
    let sampleShape = first.sampleShape
    for tensor in tensors where tensor.sampleShape != sampleShape {
      throw PlexusError.invalidShape(
        "cannot concatenate samples of shape \(tensor.sampleShape) with \(sampleShape)")
    }
    let total = tensors.reduce(0) { $0 + $1.batchCount }
    return Tensor(shape: [total] + sampleShape) { destination in
      guard let base = destination.baseAddress else { return }
      var offset = 0
      for tensor in tensors {
        (base + offset).update(from: tensor.storage.pointer, count: tensor.count)
        offset += tensor.count
      }
    }
  }
}

extension Tensor: Equatable {
  /// Tensors are equal when shapes and all elements are equal (bitwise `==` per element).
  public static func == (lhs: Tensor, rhs: Tensor) -> Bool {
    guard lhs.shape == rhs.shape else { return false }
    if lhs.storage === rhs.storage { return true }
    for index in 0..<lhs.count where lhs.storage.pointer[index] != rhs.storage.pointer[index] {
      return false
    }
    return true
  }
}

extension Tensor: CustomStringConvertible {
  public var description: String {
    let preview = scalars.prefix(8).map { String($0) }.joined(separator: ", ")
    return "Tensor(shape: \(shape), [\(preview)\(count > 8 ? ", …" : "")])"
  }
}
