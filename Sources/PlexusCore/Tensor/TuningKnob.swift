import Synchronization

/// A performance setting that changes how fast Plexus runs, never what it computes: a thread
/// count, a work threshold below which a loop stays on one thread, a tile size.
///
/// Every knob has a *process default*, which any thread may change at any time
/// (`setDefault(_:)`, thread safe), and *task-local overrides* (`withValue(_:operation:)`),
/// which apply only to the code they run and the tasks it creates, so one test or one request
/// can change a knob without touching others running at the same time. `current` is the
/// value in effect: the innermost override, or else the process default.
///
/// ```swift
/// try Parallel.maximumThreads.setDefault(4)                  // the whole process
/// let output = try Parallel.maximumThreads.withValue(1) {   // this call only
///   try model.predict(batch)
/// }
/// ```
///
/// Values outside a knob's `validValues` are refused with `PlexusError.invalidArgument`,
/// both as a default and as an override.
///
/// Overrides follow Swift tasks: child tasks, `async let`, task groups and `Task {}` inherit
/// them; `Task.detached` does not, and neither do other threads: the chunks of a split loop
/// that run on Plexus's worker threads read the process default. An override is therefore
/// seen by the code that decides how to split an operation, not always by work nested
/// inside one of its chunks (a matrix product inside one convolution thread).
///
/// The knobs of the bundled modules (thresholds accept `1...Int.max` unless stated):
///
/// - `Parallel.maximumThreads` (default: the active core count; `1...1024`): the most
///   threads one operation uses — matrix products, convolution and pooling batches,
///   activations, optimizer updates, and the default `threads` of model-file compression
///   and decoding.
/// - `Parallel.minimumElementsPerThread` (default 2^16): the elements of cheap work (times
///   a per-element cost) each thread must get before `Parallel.forEachChunk` splits a loop:
///   activations, optimizer updates, PReLU, and pooling passes above their own threshold.
/// - `BLAS.minimumParallelWork` (default 2^22): the multiply-adds of one matrix product from
///   which `BLAS.gemm` splits it into row or column blocks across threads.
/// - `ConvolutionLayers.columnTileElements` (default 2^16; `1...2^26`): the elements of the
///   unrolled column matrix (im2col) a convolution builds at once per thread.
/// - `ConvolutionLayers.minimumParallelWork` (default 2^25): the multiply-adds of one
///   convolution pass from which its batch is split across threads.
/// - `ConvolutionLayers.minimumParallelPoolingVisits` (default 2^22): the window element
///   visits of one pooling pass from which its batch is split across threads.
///
/// Declare a knob of your own as a `static let`: like a task-local value, a knob must outlive
/// the tasks that use it.
public final class TuningKnob<Value: Comparable & Sendable>: Sendable {
  /// The knob's name in error messages (`Parallel.maximumThreads`).
  public let name: String
  /// The values the knob accepts.
  public let validValues: ClosedRange<Value>
  /// The process default the knob starts with (and `resetDefault()` restores).
  public let initialDefault: Value

  private let processDefault: Mutex<Value>
  private let override: TaskLocal<Value?>

  /// Creates a knob. An `initialDefault` outside `validValues` is clamped into it (so that a
  /// default computed at run time, such as a core count, can never make the knob invalid).
  public init(name: String, initialDefault: Value, validValues: ClosedRange<Value>) {
    let clamped = Swift.min(
      Swift.max(initialDefault, validValues.lowerBound), validValues.upperBound)
    self.name = name
    self.validValues = validValues
    self.initialDefault = clamped
    processDefault = Mutex(clamped)
    override = TaskLocal(wrappedValue: nil)
  }

  /// The value in effect for the calling code: the innermost task-local override, or the
  /// process default.
  public var current: Value { override.get() ?? processDefault.withLock { $0 } }

  /// The process default: the value wherever no override applies.
  public var defaultValue: Value { processDefault.withLock { $0 } }

  /// Throws unless the knob accepts `value`.
  ///
  /// - Throws: `PlexusError.invalidArgument` naming the knob and its valid values.
  public func check(_ value: Value) throws {
    guard validValues.contains(value) else {
      throw PlexusError.invalidArgument(
        "\(name) must be in \(validValues.lowerBound)...\(validValues.upperBound), got \(value)")
    }
  }

  /// Changes the process default (seen at once by every thread without an override).
  ///
  /// - Throws: `PlexusError.invalidArgument` for a value outside `validValues`; the default
  ///   is then unchanged.
  public func setDefault(_ value: Value) throws {
    try check(value)
    processDefault.withLock { $0 = value }
  }

  /// Restores the process default to `initialDefault`.
  public func resetDefault() {
    processDefault.withLock { $0 = initialDefault }
  }

  /// Runs `operation` with the knob set to `value` for the calling task (or thread) and the
  /// tasks it creates; the previous value applies again when it returns or throws.
  ///
  /// - Throws: `PlexusError.invalidArgument` for a value outside `validValues` (before
  ///   running `operation`); whatever `operation` throws.
  public func withValue<Result>(_ value: Value, operation: () throws -> Result) throws -> Result {
    try check(value)
    return try override.withValue(value, operation: operation)
  }

  /// Runs the asynchronous `operation` with the knob set to `value` for the current task and
  /// the tasks it creates; the previous value applies again when it returns or throws.
  ///
  /// - Throws: `PlexusError.invalidArgument` for a value outside `validValues` (before
  ///   running `operation`); whatever `operation` throws.
  public func withValue<Result>(
    _ value: Value, isolation: isolated (any Actor)? = #isolation,
    operation: () async throws -> Result
  ) async throws -> Result {
    try check(value)
    return try await override.withValue(value, operation: operation, isolation: isolation)
  }
}
