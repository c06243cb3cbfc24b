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
/// calling thread. Workers never spin-wait.
public enum Parallel {
  /// Elements of cheap elementwise work below which a loop stays on one thread.
  public static let minimumElementsPerThread = 1 << 16

  /// The number of worker threads Plexus may use (defaults to the active core count).
  nonisolated(unsafe) public static var maximumThreads: Int = ProcessInfoCores.count

  /// Runs `body` over `0..<count` in contiguous chunks; chunks run concurrently when
  /// `count * costPerElement` is large enough.
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
    let chunks = Swift.min(
      maximumThreads, work.overflow ? maximumThreads : work.partialValue / minimumElementsPerThread)
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
