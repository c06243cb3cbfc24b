import Dispatch
import Synchronization

/// Runs independent jobs (tensor blocks) on up to `threads` threads, each thread taking the
/// next job as it finishes one, and returns the results in job order.
enum BlockJobs {
  /// Runs `body(0) ... body(count - 1)`; throws the error of the lowest-numbered failed job.
  static func run<Result: Sendable>(
    count: Int, threads: Int, _ body: @Sendable (Int, ScratchBuffer) throws -> Result
  ) throws -> [Result] {
    let results = Mutex<[Result?]>(Array(repeating: nil, count: count))
    let failure = Mutex<(index: Int, error: any Error)?>(nil)
    let next = Atomic<Int>(0)
    let workers = Swift.max(1, Swift.min(threads, count))
    @Sendable func work() {
      let scratch = ScratchBuffer()
      while true {
        let index = next.add(1, ordering: .relaxed).oldValue
        guard index < count else { return }
        if failure.withLock({ $0 != nil }) { return }
        do {
          let result = try body(index, scratch)
          results.withLock { $0[index] = result }
        } catch {
          failure.withLock { current in
            if let existing = current, existing.index < index { return }
            current = (index, error)
          }
        }
      }
    }
    if workers == 1 {
      work()
    } else {
      DispatchQueue.concurrentPerform(iterations: workers) { _ in work() }
    }
    if let failed = failure.withLock({ $0 }) { throw failed.error }
    let finished = results.withLock { $0.compactMap { $0 } }
    precondition(finished.count == count, "every job either finished or failed")
    return finished
  }
}

/// A worker's reusable scratch memory, so blocks do not each allocate (and fault in) fresh
/// pages. Used by one thread at a time.
final class ScratchBuffer {
  private var storage = UnsafeMutableRawBufferPointer(start: nil, count: 0)

  deinit { storage.deallocate() }

  /// At least `count` bytes, 64-byte aligned, valid until the next call; contents undefined.
  func bytes(_ count: Int) -> UnsafeMutableRawBufferPointer {
    if storage.count < count {
      storage.deallocate()
      storage = .allocate(byteCount: count, alignment: 64)
    }
    return UnsafeMutableRawBufferPointer(rebasing: storage[0..<count])
  }
}
