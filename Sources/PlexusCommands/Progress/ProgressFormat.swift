import Foundation

/// Pure formatting of training progress: durations, ETA, speed, bars and lines.
public enum ProgressFormat {
  /// A duration as `m:ss` or `h:mm:ss`; `--:--` when unknown, negative or not finite.
  public static func duration(_ seconds: Double?) -> String {
    guard let seconds, seconds.isFinite, seconds >= 0, seconds < 360_000_000 else { return "--:--" }
    let total = Int(seconds.rounded())
    let hours = total / 3600
    let minutes = (total % 3600) / 60
    let secs = total % 60
    func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
    return hours > 0 ? "\(hours):\(two(minutes)):\(two(secs))" : "\(minutes):\(two(secs))"
  }

  /// A short duration for per-epoch lines: `850ms`, `12.3s`, then `m:ss`.
  public static func shortDuration(_ seconds: Double) -> String {
    guard seconds.isFinite, seconds >= 0 else { return "--" }
    if seconds < 1 { return "\(Int((seconds * 1000).rounded()))ms" }
    if seconds < 60 { return String(format: "%.1fs", seconds) }
    return duration(seconds)
  }

  /// The estimated time left, assuming the remaining work goes at the average speed so far;
  /// `nil` before any work is done or when the elapsed time is not positive.
  ///
  /// - Parameters:
  ///   - completed: units of work done (batches).
  ///   - total: units of work in all.
  ///   - elapsed: seconds spent on the completed work.
  public static func eta(completed: Int, total: Int, elapsed: Double) -> Double? {
    guard completed > 0, elapsed > 0, elapsed.isFinite, total >= completed else { return nil }
    return elapsed / Double(completed) * Double(total - completed)
  }

  /// Samples per second; `nil` when no time has passed.
  public static func speed(samples: Int, elapsed: Double) -> Double? {
    guard elapsed > 0, elapsed.isFinite, samples >= 0 else { return nil }
    return Double(samples) / elapsed
  }

  /// A speed as `850 samples/s`, `12.3k samples/s`, `4.56M samples/s`, or `-- samples/s`.
  public static func speed(_ samplesPerSecond: Double?) -> String {
    guard let value = samplesPerSecond, value.isFinite, value >= 0 else { return "-- samples/s" }
    if value < 10_000 { return "\(Int(value.rounded())) samples/s" }
    if value < 1_000_000 { return String(format: "%.1fk samples/s", value / 1000) }
    return String(format: "%.2fM samples/s", value / 1_000_000)
  }

  /// A fraction as a percentage with two decimals: `97.12%`.
  public static func percent(_ fraction: Double) -> String {
    guard fraction.isFinite else { return "--%" }
    return String(format: "%.2f%%", fraction * 100)
  }

  /// A loss with four significant decimals (scientific for tiny or huge values).
  public static func loss(_ value: Double) -> String {
    guard value.isFinite else { return "\(value)" }
    let magnitude = abs(value)
    if magnitude != 0, magnitude < 1e-3 || magnitude >= 1e5 { return String(format: "%.3e", value) }
    return String(format: "%.4f", value)
  }

  /// A progress bar of `width` cells including the brackets: `[=====>    ]`.
  public static func bar(fraction: Double, width: Int) -> String {
    let inner = max(width - 2, 1)
    let clamped = fraction.isFinite ? min(max(fraction, 0), 1) : 0
    let filled = Int((clamped * Double(inner)).rounded(.down))
    if filled >= inner { return "[" + String(repeating: "=", count: inner) + "]" }
    let head = clamped > 0 ? ">" : ""
    let used = filled + head.count
    return "[" + String(repeating: "=", count: filled) + head
      + String(repeating: " ", count: inner - used) + "]"
  }

  /// `n` right-aligned to the width of `total` (` 3/20`).
  public static func counter(_ n: Int, of total: Int) -> String {
    let width = String(total).count
    let text = String(n)
    return String(repeating: " ", count: max(width - text.count, 0)) + text + "/" + String(total)
  }

  /// The live line shown on a terminal while an epoch runs.
  public static func progressLine(_ state: ProgressState, barWidth: Int = 22) -> String {
    var parts = [
      "epoch \(counter(state.epoch, of: state.epochs))",
      bar(
        fraction: state.batches > 0 ? Double(state.batch) / Double(state.batches) : 0,
        width: barWidth)
        + " " + counter(state.batch, of: state.batches),
    ]
    if let value = state.loss { parts.append("loss \(loss(value))") }
    if let accuracy = state.accuracy { parts.append("acc \(percent(accuracy))") }
    parts.append(speed(speed(samples: state.epochSamples, elapsed: state.epochElapsed)))
    let totalBatches = state.epochs * state.batches
    let completedBatches = (state.epoch - 1) * state.batches + state.batch
    parts.append(
      "ETA \(duration(eta(completed: completedBatches, total: totalBatches, elapsed: state.totalElapsed)))"
    )
    return parts.joined(separator: "  ")
  }

  /// Evaluation figures on one line: `loss`, then `accuracy` as a percentage, then the others
  /// by name in alphabetical order (`loss 0.0619  accuracy 98.33%  elbo -22.1000`).
  public static func figures(_ logs: [String: Float]) -> String {
    var parts: [String] = []
    if let value = logs["loss"] { parts.append("loss \(loss(Double(value)))") }
    if let value = logs["accuracy"] { parts.append("accuracy \(percent(Double(value)))") }
    for (name, value) in logs.sorted(by: { $0.key < $1.key })
    where name != "loss" && name != "accuracy" {
      parts.append("\(name) \(loss(Double(value)))")
    }
    return parts.joined(separator: "  ")
  }

  /// The live line fitted to a terminal of `columns` (one column spare, so the cursor never
  /// wraps): the bar shrinks down to 5 cells, then the line is cut. Asked at each redraw, so a
  /// resized window is followed.
  public static func fittedProgressLine(_ state: ProgressState, columns: Int?) -> String {
    var line = progressLine(state)
    guard let columns, columns > 1 else { return line }
    let room = columns - 1
    var barWidth = 22
    while line.count > room, barWidth > 5 {
      barWidth -= 1
      line = progressLine(state, barWidth: barWidth)
    }
    return line.count > room ? String(line.prefix(room)) : line
  }

  /// The line printed when an epoch ends (on a terminal and in logs alike).
  public static func epochLine(_ summary: EpochSummary) -> String {
    var parts = [
      "epoch \(counter(summary.epoch, of: summary.epochs))", "loss \(loss(summary.loss))",
    ]
    if let accuracy = summary.accuracy { parts.append("accuracy \(percent(accuracy))") }
    if let validationLoss = summary.validationLoss {
      parts.append("val_loss \(loss(validationLoss))")
    }
    if let validationAccuracy = summary.validationAccuracy {
      parts.append("val_accuracy \(percent(validationAccuracy))")
    }
    for (name, value) in summary.otherLogs.sorted(by: { $0.key < $1.key }) {
      parts.append("\(name) \(loss(value))")
    }
    parts.append(speed(speed(samples: summary.samples, elapsed: summary.elapsed)))
    parts.append(shortDuration(summary.elapsed))
    return parts.joined(separator: "  ")
  }
}

/// Where training is within a run, for the live progress line.
public struct ProgressState: Sendable, Equatable {
  /// The current epoch, from 1.
  public var epoch: Int
  /// The number of epochs.
  public var epochs: Int
  /// Batches done in this epoch.
  public var batch: Int
  /// Batches per epoch.
  public var batches: Int
  /// The mean loss over this epoch's batches so far.
  public var loss: Double?
  /// The accuracy over this epoch's samples so far (classification only).
  public var accuracy: Double?
  /// Samples done in this epoch.
  public var epochSamples: Int
  /// Seconds spent in this epoch.
  public var epochElapsed: Double
  /// Seconds spent since training began.
  public var totalElapsed: Double

  /// Creates a state.
  public init(
    epoch: Int, epochs: Int, batch: Int, batches: Int, loss: Double? = nil, accuracy: Double? = nil,
    epochSamples: Int, epochElapsed: Double, totalElapsed: Double
  ) {
    self.epoch = epoch
    self.epochs = epochs
    self.batch = batch
    self.batches = batches
    self.loss = loss
    self.accuracy = accuracy
    self.epochSamples = epochSamples
    self.epochElapsed = epochElapsed
    self.totalElapsed = totalElapsed
  }
}

/// The figures of a finished epoch.
public struct EpochSummary: Sendable, Equatable {
  /// The epoch, from 1.
  public var epoch: Int
  /// The number of epochs.
  public var epochs: Int
  /// The mean training loss.
  public var loss: Double
  /// The training accuracy (classification only).
  public var accuracy: Double?
  /// The validation loss, when a validation split is used.
  public var validationLoss: Double?
  /// The validation accuracy, when a validation split is used (classification only).
  public var validationAccuracy: Double?
  /// The epoch's other logged figures (a VAE's `elbo` and `kl`, an RBM's
  /// `reconstruction_error` and `free_energy`, ...), printed by name in alphabetical order.
  public var otherLogs: [String: Double]
  /// The number of training samples seen.
  public var samples: Int
  /// Seconds the epoch took.
  public var elapsed: Double

  /// Creates a summary.
  public init(
    epoch: Int, epochs: Int, loss: Double, accuracy: Double? = nil, validationLoss: Double? = nil,
    validationAccuracy: Double? = nil, otherLogs: [String: Double] = [:], samples: Int,
    elapsed: Double
  ) {
    self.epoch = epoch
    self.epochs = epochs
    self.loss = loss
    self.accuracy = accuracy
    self.validationLoss = validationLoss
    self.validationAccuracy = validationAccuracy
    self.otherLogs = otherLogs
    self.samples = samples
    self.elapsed = elapsed
  }
}
