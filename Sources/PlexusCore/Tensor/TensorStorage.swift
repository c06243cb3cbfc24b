#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Heap storage of a tensor: a 64-byte aligned buffer of `Float`.
///
/// Tensors share storage until one of them is mutated (copy-on-write).
@usableFromInline
final class TensorStorage: @unchecked Sendable {
  @usableFromInline let pointer: UnsafeMutablePointer<Float>
  @usableFromInline let count: Int
  /// The length of the anonymous memory map holding the values, 0 when they are on the heap.
  private let mappedByteCount: Int

  @usableFromInline
  init(count: Int) {
    let capacity = Swift.max(count, 1)
    let raw = UnsafeMutableRawPointer.allocate(
      byteCount: capacity * MemoryLayout<Float>.stride, alignment: 64)
    pointer = raw.bindMemory(to: Float.self, capacity: capacity)
    self.count = count
    mappedByteCount = 0
  }

  /// Zeros whose pages are only made when first touched: a large count is an anonymous memory
  /// map (the kernel's zero pages, page-aligned), a small one zero-filled heap memory. For values
  /// that are about to be replaced, such as the parameters of a model being loaded from a file,
  /// and gradients not yet used: they then cost no memory traffic.
  init(lazilyZeroedCount count: Int) {
    let capacity = Swift.max(count, 1)
    let bytes = capacity * MemoryLayout<Float>.stride
    #if os(Linux) || os(macOS)
      if bytes >= TensorStorage.minimumMappedBytes,
        let address = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
        address != MAP_FAILED
      {
        pointer = address.bindMemory(to: Float.self, capacity: capacity)
        self.count = count
        mappedByteCount = bytes
        return
      }
    #endif
    let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
    pointer = raw.bindMemory(to: Float.self, capacity: capacity)
    pointer.initialize(repeating: 0, count: capacity)
    self.count = count
    mappedByteCount = 0
  }

  /// The smallest storage `init(lazilyZeroedCount:)` maps (smaller storage is zero-filled).
  static let minimumMappedBytes = 1 << 20

  @usableFromInline
  convenience init(count: Int, repeating value: Float) {
    self.init(count: count)
    pointer.initialize(repeating: value, count: count)
  }

  deinit {
    #if os(Linux) || os(macOS)
      if mappedByteCount > 0 {
        munmap(UnsafeMutableRawPointer(pointer), mappedByteCount)
        return
      }
    #endif
    UnsafeMutableRawPointer(pointer).deallocate()
  }

  @usableFromInline
  func copy() -> TensorStorage {
    let result = TensorStorage(count: count)
    result.pointer.initialize(from: pointer, count: count)
    return result
  }
}
