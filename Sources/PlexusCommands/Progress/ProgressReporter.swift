import Foundation

/// Shows training progress on a console.
///
/// On a terminal it redraws one live line per batch (epoch, bar, batch, loss, accuracy,
/// samples/s, ETA), at most every `refreshInterval` seconds, and leaves one line per epoch.
/// Elsewhere (a log file, a pipe, CI) it prints only the per-epoch lines. When quiet it
/// prints nothing.
public final class ProgressReporter {
  /// How the reporter writes.
  public enum Mode: Sendable, Equatable {
    /// Live line plus per-epoch lines.
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
  private var lossTotal = 0.0
  private var correct = 0
  private var hasAccuracy = false
  private var samples = 0
  private var batch = 0
  private var epoch = 0
  private var drewLiveLine = false

  /// Creates a reporter; the mode follows the console (live on a terminal) unless `quiet`.
  ///
  /// - Parameters:
  ///   - clock: seconds from any fixed origin (injected by tests); a monotonic clock by default.
  ///   - refreshInterval: the least time between two redraws of the live line.
  public init(
    console: any Console, quiet: Bool = false, clock: (() -> Double)? = nil,
    refreshInterval: Double = 0.1
  ) {
    self.console = console
    self.mode = quiet ? .quiet : (console.isTerminal ? .live : .epochs)
    self.clock = clock ?? ProgressReporter.monotonicSeconds
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
    lossTotal = 0
    correct = 0
    hasAccuracy = false
    samples = 0
    batch = 0
  }

  /// Records a finished batch: its size, mean loss and (for classification) correct count.
  public func batchEnded(samples batchSamples: Int, loss: Double, correct batchCorrect: Int?) {
    batch += 1
    samples += batchSamples
    lossTotal += loss * Double(batchSamples)
    if let batchCorrect {
      correct += batchCorrect
      hasAccuracy = true
    }
    guard mode == .live else { return }
    let now = clock()
    guard now - lastDraw >= refreshInterval || batch == batches else { return }
    lastDraw = now
    let state = currentState(now: now)
    console.write("\r" + ProgressFormat.progressLine(state) + "\u{1B}[K")
    drewLiveLine = true
  }

  /// The live state now (exposed for tests and embedding).
  public func currentState(now: Double? = nil) -> ProgressState {
    let time = now ?? clock()
    return ProgressState(
      epoch: epoch, epochs: epochs, batch: batch, batches: batches,
      loss: samples > 0 ? lossTotal / Double(samples) : nil,
      accuracy: hasAccuracy && samples > 0 ? Double(correct) / Double(samples) : nil,
      epochSamples: samples, epochElapsed: time - epochStart, totalElapsed: time - trainingStart)
  }

  /// Ends the epoch with its final figures (validation figures when a split is used) and
  /// prints its line.
  @discardableResult
  public func epochEnded(
    loss: Double? = nil, accuracy: Double? = nil, validationLoss: Double? = nil,
    validationAccuracy: Double? = nil
  ) -> EpochSummary {
    let state = currentState()
    let summary = EpochSummary(
      epoch: epoch, epochs: epochs, loss: loss ?? state.loss ?? .nan,
      accuracy: accuracy ?? state.accuracy,
      validationLoss: validationLoss, validationAccuracy: validationAccuracy, samples: samples,
      elapsed: state.epochElapsed)
    switch mode {
    case .quiet: break
    case .epochs: console.line(ProgressFormat.epochLine(summary))
    case .live:
      console.write((drewLiveLine ? "\r" : "") + ProgressFormat.epochLine(summary) + "\u{1B}[K\n")
      drewLiveLine = false
    }
    return summary
  }

  /// Seconds since `trainingBegan`.
  public var totalElapsed: Double { clock() - trainingStart }
}
