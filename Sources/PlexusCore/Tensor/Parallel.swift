import Dispatch
import Foundation

/// Wraps a value that is safe to share across threads because each thread touches a
/// disjoint part of it (raw buffers split by index ranges).
@usableFromInline
struct UncheckedSendable<Value>: @unchecked Sendable {
  @usableFromInline let value: Value
  @usableFromInline init(_ value: Value) { self.value = value }
}

/// Splits loops across cores only when the work is large enough to pay for it.
///
/// On a small shared machine, threads help only large work: small loops run inline on the
/// calling thread. Workers never spin-wait. How many threads, and from how much work, are
/// `TuningKnob`s: a process default and task-local overrides.
public enum Parallel {
  /// The most threads one operation uses (default: the active core count; `1...1024`):
  /// matrix products, convolution and pooling batches, split loops, and the default
  /// `threads` of model-file compression and decoding. `1` keeps every operation on its
  /// calling thread.
  public static let maximumThreads = TuningKnob(
    name: "Parallel.maximumThreads", initialDefault: ProcessInfoCores.count,
    validValues: 1...1024)

  /// The elements of cheap work (an add) each thread must get before `forEachChunk` splits
  /// a loop (default 2^16 = 65536; `1...Int.max`): a loop of `count * costPerElement` below
  /// twice this runs on its calling thread.
  public static let minimumElementsPerThread = TuningKnob(
    name: "Parallel.minimumElementsPerThread", initialDefault: 1 << 16, validValues: 1...Int.max)

  /// Runs `body` over `0..<count` in contiguous chunks; chunks run concurrently when
  /// `count * costPerElement` is at least twice `minimumElementsPerThread`, on at most
  /// `maximumThreads` threads.
  ///
  /// - Parameters:
  ///   - count: the number of elements.
  ///   - costPerElement: a rough relative cost of one element (1 for an add).
  ///   - body: called with disjoint ranges that cover `0..<count`.
  @inlinable
  public static func forEachChunk(
    count: Int, costPerElement: Int = 1, _ body: @Sendable (Range<Int>) -> Void
  ) {
    let work = count.multipliedReportingOverflow(by: Swift.max(costPerElement, 1))
    let portions =
      work.overflow ? Int.max : work.partialValue / minimumElementsPerThread.current
    let chunks = portions > 1 ? Swift.min(maximumThreads.current, portions) : 1
    if chunks <= 1 {
      if count > 0 { body(0..<count) }
      return
    }
    let chunkSize = (count + chunks - 1) / chunks
    DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
      let start = chunk * chunkSize
      let end = Swift.min(count, start + chunkSize)
      if start < end { body(start..<end) }
    }
  }
}

/// The number of active processors, read once.
public enum ProcessInfoCores {
  /// The active processor count.
  public static let count: Int = Swift.max(1, ProcessInfo.processInfo.activeProcessorCount)
}
