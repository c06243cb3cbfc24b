/// A `Float` buffer with a stable address that grows on demand and keeps its memory between
/// uses: the per-call scratch of layers (held by an object in `CallRecord.scratch`), so that
/// steady-state training and inference do not allocate.
///
/// Not thread safe: one call record, on one thread at a time, owns it (threads that split a
/// call's work write disjoint parts).
public final class FloatBuffer {
  /// The first element. Valid until the next `reserve` that grows the buffer.
  public private(set) var pointer: UnsafeMutablePointer<Float>
  /// The number of elements the buffer holds.
  public private(set) var capacity: Int

  /// An empty buffer.
  public init() {
    capacity = 0
    pointer = UnsafeMutablePointer<Float>.allocate(capacity: 1)
  }

  /// The buffer, grown to at least `count` elements. Contents are unspecified: kept when the
  /// buffer did not grow, uninitialized memory otherwise.
  @discardableResult
  public func reserve(_ count: Int) -> UnsafeMutablePointer<Float> {
    if count > capacity {
      pointer.deallocate()
      pointer = UnsafeMutablePointer<Float>.allocate(capacity: count)
      capacity = count
    }
    return pointer
  }

  deinit { pointer.deallocate() }
}
