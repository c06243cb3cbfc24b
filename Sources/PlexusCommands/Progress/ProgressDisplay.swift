import Foundation

/// Shows training progress on a console.
///
/// On a terminal it redraws one live line as batches end (epoch, bar, batch, loss, accuracy,
/// samples/s, ETA), at most every `refreshInterval` seconds, and leaves one line per epoch.
/// Elsewhere (a log file, a pipe, CI) it prints only the per-epoch lines. When quiet it
/// prints nothing.
public final class ProgressDisplay {
  /// How the display writes.
  public enum Mode: Sendable, Equatable {
    /// A live line plus per-epoch lines.
    case live
    /// Per-epoch lines only.
    case epochs
    /// Nothing.
    case quiet
  }

  /// The mode in use.
  public let mode: Mode
  private let console: any Console
  private let clock: () -> Double
  private let refreshInterval: Double
  private var epochs = 0
  private var batches = 0
  private var trainingStart = 0.0
  private var epochStart = 0.0
  private var lastDraw = -Double.infinity
  private var epoch = 0
  private var batch = 0
  private var samples = 0
  private var loss: Double?
  private var accuracy: Double?
  private var drewLiveLine = false

  /// Creates a display; the mode follows the console (live on a terminal) unless `quiet`.
  ///
  /// - Parameters:
  ///   - console: where the display writes.
  ///   - quiet: whether it writes nothing.
  ///   - clock: seconds from any fixed origin (tests inject one); a monotonic clock by default.
  ///   - refreshInterval: the least time between two redraws of the live line.
  public init(
    console: any Console, quiet: Bool = false, clock: (() -> Double)? = nil,
    refreshInterval: Double = 0.1
  ) {
    self.console = console
    self.mode = quiet ? .quiet : (console.isTerminal ? .live : .epochs)
    self.clock = clock ?? ProgressDisplay.monotonicSeconds
    self.refreshInterval = refreshInterval
  }

  static func monotonicSeconds() -> Double {
    Double(DispatchTime.now().uptimeNanoseconds) / 1e9
  }

  /// Starts a run of `epochs` epochs of `batchesPerEpoch` batches.
  public func trainingBegan(epochs: Int, batchesPerEpoch: Int) {
    self.epochs = epochs
    self.batches = batchesPerEpoch
    trainingStart = clock()
  }

  /// Starts epoch `epoch` (from 1).
  public func epochBegan(_ epoch: Int) {
    self.epoch = epoch
    epochStart = clock()
    lastDraw = -Double.infinity
    batch = 0
    samples = 0
    loss = nil
    accuracy = nil
  }

  /// Records that batch `batch` (from 1) of the epoch ended.
  ///
  /// - Parameters:
  ///   - batch: the batch that ended, from 1.
  ///   - samples: the samples done in this epoch so far.
  ///   - loss: the epoch's running mean loss.
  ///   - accuracy: the epoch's running accuracy (classification only).
  public func batchEnded(_ batch: Int, samples: Int, loss: Double?, accuracy: Double?) {
    self.batch = batch
    self.samples = samples
    self.loss = loss
    self.accuracy = accuracy
    guard mode == .live else { return }
    let now = clock()
    guard now - lastDraw >= refreshInterval || batch == batches else { return }
    lastDraw = now
    console.write(
      "\r" + ProgressFormat.fittedProgressLine(state(now: now), columns: console.columns)
        + "\u{1B}[K")
    drewLiveLine = true
  }

  /// The live state at time `now` (by default, the display's clock now).
  public func state(now: Double? = nil) -> ProgressState {
    let time = now ?? clock()
    return ProgressState(
      epoch: epoch, epochs: epochs, batch: batch, batches: batches, loss: loss, accuracy: accuracy,
      epochSamples: samples, epochElapsed: time - epochStart, totalElapsed: time - trainingStart)
  }

  /// Ends the epoch with its final figures and prints its line. Figures not given are the
  /// last running ones; `otherLogs` are the epoch's further figures, printed by name.
  @discardableResult
  public func epochEnded(
    loss: Double? = nil, accuracy: Double? = nil, validationLoss: Double? = nil,
    validationAccuracy: Double? = nil, otherLogs: [String: Double] = [:]
  ) -> EpochSummary {
    let now = state()
    let summary = EpochSummary(
      epoch: epoch, epochs: epochs, loss: loss ?? self.loss ?? .nan,
      accuracy: accuracy ?? self.accuracy,
      validationLoss: validationLoss, validationAccuracy: validationAccuracy,
      otherLogs: otherLogs, samples: samples, elapsed: now.epochElapsed)
    switch mode {
    case .quiet: break
    case .epochs: console.line(ProgressFormat.epochLine(summary))
    case .live:
      console.write((drewLiveLine ? "\r" : "") + ProgressFormat.epochLine(summary) + "\u{1B}[K\n")
      drewLiveLine = false
    }
    return summary
  }

  /// Ends a live line cut short by an interruption, so the next message starts on its own
  /// line.
  public func interrupted() {
    guard mode == .live, drewLiveLine else { return }
    console.write("\n")
    drewLiveLine = false
  }

  /// Seconds since `trainingBegan`.
  public var totalElapsed: Double { clock() - trainingStart }
}
