/// Heap storage of a tensor: a 64-byte aligned buffer of `Float`.
///
/// Tensors share storage until one of them is mutated (copy-on-write).
@usableFromInline
final class TensorStorage: @unchecked Sendable {
  @usableFromInline let pointer: UnsafeMutablePointer<Float>
  @usableFromInline let count: Int

  @usableFromInline
  init(count: Int) {
    let capacity = Swift.max(count, 1)
    let raw = UnsafeMutableRawPointer.allocate(
      byteCount: capacity * MemoryLayout<Float>.stride, alignment: 64)
    pointer = raw.bindMemory(to: Float.self, capacity: capacity)
    self.count = count
  }

  @usableFromInline
  convenience init(count: Int, repeating value: Float) {
    self.init(count: count)
    pointer.initialize(repeating: value, count: count)
  }

  deinit {
    UnsafeMutableRawPointer(pointer).deallocate()
  }

  @usableFromInline
  func copy() -> TensorStorage {
    let result = TensorStorage(count: count)
    result.pointer.initialize(from: pointer, count: count)
    return result
  }
}
