/// What callbacks see of a running `fit`: the model, the optimizer, the history so far, and a
/// way to stop.
public final class TrainingContext {
  /// The model being trained.
  public let model: any ModelProtocol
  /// The optimizer (callbacks may change its learning rate).
  public let optimizer: any Optimizer
  /// The last epoch number of the run (1-based, as `TrainingOptions.epochs`).
  public let epochs: Int
  /// The number of batches in each epoch.
  public let batchesPerEpoch: Int
  /// The number of training samples (after a validation split).
  public let trainingSamples: Int
  /// The number of validation samples (0 without validation).
  public let validationSamples: Int
  /// The epochs completed so far.
  public internal(set) var history: History
  /// Whether a callback asked to stop after the current epoch.
  public private(set) var stopRequested = false

  init(
    model: any ModelProtocol, optimizer: any Optimizer, epochs: Int, batchesPerEpoch: Int,
    trainingSamples: Int, validationSamples: Int
  ) {
    self.model = model
    self.optimizer = optimizer
    self.epochs = epochs
    self.batchesPerEpoch = batchesPerEpoch
    self.trainingSamples = trainingSamples
    self.validationSamples = validationSamples
    self.history = History()
  }

  /// Asks `fit` to stop once the current epoch has ended (its logs are still recorded), as
  /// Keras' `model.stop_training = True`.
  public func requestStop() { stopRequested = true }
}

/// Hooks into `fit`. Every method has a default that does nothing.
///
/// Epochs and batches are numbered from 1: epoch `e` of `epochs`, batch `b` of `batches`, the
/// same numbers `PlexusError.nonFiniteLoss` reports. A callback that throws stops training
/// with its error.
public protocol TrainingCallback: AnyObject {
  /// Called once before the first epoch.
  func trainingWillBegin(context: TrainingContext) throws
  /// Called before each epoch, after the options' learning-rate schedule has been applied.
  func epochWillBegin(epoch: Int, epochs: Int, batchesPerEpoch: Int, context: TrainingContext)
    throws
  /// Called after each batch with the running means of the epoch so far (`"loss"` and the
  /// training metrics).
  func batchDidEnd(
    epoch: Int, batch: Int, batches: Int, logs: [String: Float], context: TrainingContext) throws
  /// Called after each epoch with all its logs (`"loss"`, metrics, `"val_*"`, `"lr"`). Call
  /// `context.requestStop()` to end training after this epoch.
  func epochDidEnd(epoch: Int, logs: [String: Float], context: TrainingContext) throws
  /// Called once when training ends normally (after the last epoch or a stop request).
  func trainingDidEnd(history: History, context: TrainingContext) throws
}

extension TrainingCallback {
  public func trainingWillBegin(context: TrainingContext) throws {}
  public func epochWillBegin(
    epoch: Int, epochs: Int, batchesPerEpoch: Int, context: TrainingContext
  ) throws {}
  public func batchDidEnd(
    epoch: Int, batch: Int, batches: Int, logs: [String: Float], context: TrainingContext
  ) throws {}
  public func epochDidEnd(epoch: Int, logs: [String: Float], context: TrainingContext) throws {}
  public func trainingDidEnd(history: History, context: TrainingContext) throws {}
}

/// An event of a training run, for progress displays.
public enum TrainingProgress: Sendable, Equatable {
  /// Training is about to start.
  case trainingBegan(
    epochs: Int, trainingSamples: Int, validationSamples: Int, batchesPerEpoch: Int)
  /// An epoch (1-based) is about to start.
  case epochBegan(epoch: Int, epochs: Int, batches: Int)
  /// A batch (1-based) ended; `logs` hold the epoch's running `"loss"` and metrics.
  case batchEnded(epoch: Int, epochs: Int, batch: Int, batches: Int, logs: [String: Float])
  /// An epoch ended with all its logs (`"loss"`, metrics, `"val_*"`, `"lr"`).
  case epochEnded(epoch: Int, epochs: Int, logs: [String: Float])
  /// Training ended.
  case trainingEnded(History)
}

/// Receives training progress, for example to draw a progress bar. The library never prints.
public protocol ProgressReporter: AnyObject {
  /// Handles one event.
  func report(_ progress: TrainingProgress)
}

/// A callback that forwards every training event to a `ProgressReporter` or a closure.
///
/// ```swift
/// let progress = ProgressCallback { event in
///   if case .epochEnded(let epoch, let epochs, let logs) = event {
///     print("epoch \(epoch)/\(epochs): loss \(logs["loss"] ?? .nan)")
///   }
/// }
/// try model.fit(x, y, loss: loss, optimizer: optimizer, callbacks: [progress])
/// ```
public final class ProgressCallback: TrainingCallback {
  private let handler: (TrainingProgress) -> Void

  /// Forwards events to `reporter` (held strongly for the duration of training).
  public init(_ reporter: any ProgressReporter) {
    self.handler = { reporter.report($0) }
  }

  /// Forwards events to a closure.
  public init(_ handler: @escaping (TrainingProgress) -> Void) {
    self.handler = handler
  }

  public func trainingWillBegin(context: TrainingContext) throws {
    handler(
      .trainingBegan(
        epochs: context.epochs, trainingSamples: context.trainingSamples,
        validationSamples: context.validationSamples, batchesPerEpoch: context.batchesPerEpoch))
  }

  public func epochWillBegin(
    epoch: Int, epochs: Int, batchesPerEpoch: Int, context: TrainingContext
  ) throws {
    handler(.epochBegan(epoch: epoch, epochs: epochs, batches: batchesPerEpoch))
  }

  public func batchDidEnd(
    epoch: Int, batch: Int, batches: Int, logs: [String: Float], context: TrainingContext
  ) throws {
    handler(
      .batchEnded(epoch: epoch, epochs: context.epochs, batch: batch, batches: batches, logs: logs))
  }

  public func epochDidEnd(epoch: Int, logs: [String: Float], context: TrainingContext) throws {
    handler(.epochEnded(epoch: epoch, epochs: context.epochs, logs: logs))
  }

  public func trainingDidEnd(history: History, context: TrainingContext) throws {
    handler(.trainingEnded(history))
  }
}

/// Sets the optimizer's learning rate before each epoch, as Keras' `LearningRateScheduler`.
///
/// ```swift
/// LearningRateScheduler(CosineDecay(epochs: 20))
/// LearningRateScheduler { completedEpochs, rate in completedEpochs < 5 ? rate : rate * 0.9 }
/// ```
public final class LearningRateScheduler: TrainingCallback {
  private enum Rule {
    case schedule(any LearningRateSchedule)
    case function((Int, Float) -> Float)
  }

  private let rule: Rule
  private var baseRate: Float?

  /// Follows a schedule relative to the optimizer's learning rate when training begins.
  public init(_ schedule: any LearningRateSchedule) {
    rule = .schedule(schedule)
  }

  /// Calls `function(completedEpochs, currentRate)` before each epoch (the first epoch sees
  /// `completedEpochs == 0`) and sets the rate it returns.
  public init(_ function: @escaping (_ completedEpochs: Int, _ currentRate: Float) -> Float) {
    rule = .function(function)
  }

  public func trainingWillBegin(context: TrainingContext) throws {
    baseRate = context.optimizer.learningRate
  }

  public func epochWillBegin(
    epoch: Int, epochs: Int, batchesPerEpoch: Int, context: TrainingContext
  ) throws {
    let rate: Float
    switch rule {
    case .schedule(let schedule):
      rate = schedule.learningRate(
        completedEpochs: epoch - 1, baseRate: baseRate ?? context.optimizer.learningRate)
    case .function(let function):
      rate = function(epoch - 1, context.optimizer.learningRate)
    }
    guard rate.isFinite, rate >= 0 else {
      throw PlexusError.invalidArgument(
        "learning-rate scheduler returned \(rate) for epoch \(epoch); expected a finite, non-negative rate"
      )
    }
    context.optimizer.learningRate = rate
  }
}

/// Stops training when a monitored log value stops improving, as Keras' `EarlyStopping`.
///
/// After each epoch the value of `monitor` is compared with the best so far: it improves when
/// it is lower by more than `minDelta` (mode `.min`) or higher by more than `minDelta` (mode
/// `.max`; `.auto` picks `.max` for keys containing `acc` and `.min` otherwise). After
/// `patience` epochs in a row without improvement, training stops.
///
/// With `restoreBestWeights`, the values of all parameters (non-trainable ones included) at
/// the end of the best epoch are restored bit for bit when training ends — whether it stopped
/// early or ran all its epochs (Keras restores only when it stops early).
///
/// In a spec: `{"monitor": "val_loss", "patience": 3, "minDelta": 0.001, "mode": "min",
/// "restoreBestWeights": true}` (`Config`). A run resumed from a file continues the count
/// after ``resume(after:)``.
public final class EarlyStopping: TrainingCallback {
  /// The parameters of an early stop, as JSON gives them; every key is optional.
  public struct Config: DefaultedConfiguration {
    /// The log key watched.
    public var monitor: String
    /// Epochs without improvement before stopping (0...1000000).
    public var patience: Int
    /// The smallest change that counts as an improvement (finite, at least 0).
    public var minDelta: Float
    /// The direction of improvement.
    public var mode: Mode
    /// Whether to restore the best epoch's weights when training ends.
    public var restoreBestWeights: Bool

    /// Creates a config.
    public init(
      monitor: String = "val_loss", patience: Int = 0, minDelta: Float = 0, mode: Mode = .auto,
      restoreBestWeights: Bool = false
    ) {
      self.monitor = monitor
      self.patience = patience
      self.minDelta = minDelta
      self.mode = mode
      self.restoreBestWeights = restoreBestWeights
    }

    public static var defaults: Config { Config() }
    public static var fields: [ConfigField<Config>] {
      [
        .init("monitor", \.monitor), .init("patience", \.patience), .init("minDelta", \.minDelta),
        .init("mode", \.mode), .init("restoreBestWeights", \.restoreBestWeights),
      ]
    }
  }

  /// Whether the monitored value should decrease or increase.
  public enum Mode: String, Codable, Sendable {
    /// `.max` for accuracy-like keys (containing `acc`), `.min` otherwise.
    case auto
    /// Lower is better.
    case min
    /// Higher is better.
    case max
  }

  /// The log key watched (`"val_loss"`, `"loss"`, `"val_accuracy"`, ...).
  public let monitor: String
  /// Epochs without improvement before stopping.
  public let patience: Int
  /// The smallest change that counts as an improvement.
  public let minDelta: Float
  /// The direction of improvement.
  public let mode: Mode
  /// Whether to restore the best epoch's weights when training ends.
  public let restoreBestWeights: Bool
  /// The best value seen so far.
  public private(set) var bestValue: Float?
  /// The epoch (1-based) of the best value.
  public private(set) var bestEpoch: Int?
  /// The epoch (1-based) at which training was stopped, if it was.
  public private(set) var stoppedEpoch: Int?
  private var wait = 0
  private var bestWeights: [Tensor]?
  private var lastEpoch: Int?

  /// Creates the callback from a config, checking every value.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` naming a value out of range.
  public convenience init(config: Config) throws {
    guard !config.monitor.isEmpty else {
      throw PlexusError.invalidConfiguration("early stopping: monitor must name a log key")
    }
    guard (0...1_000_000).contains(config.patience) else {
      throw PlexusError.invalidConfiguration(
        "early stopping: patience must be in 0...1000000, got \(config.patience)")
    }
    guard config.minDelta.isFinite, config.minDelta >= 0 else {
      throw PlexusError.invalidConfiguration(
        "early stopping: minDelta must be finite and at least 0, got \(config.minDelta)")
    }
    self.init(
      monitor: config.monitor, patience: config.patience, minDelta: config.minDelta,
      mode: config.mode, restoreBestWeights: config.restoreBestWeights)
  }

  /// Creates the callback.
  ///
  /// - Precondition: `patience >= 0` and `minDelta >= 0`.
  public init(
    monitor: String = "val_loss", patience: Int = 0, minDelta: Float = 0, mode: Mode = .auto,
    restoreBestWeights: Bool = false
  ) {
    precondition(patience >= 0, "early stopping patience must be non-negative, got \(patience)")
    precondition(minDelta >= 0, "early stopping minDelta must be non-negative, got \(minDelta)")
    self.monitor = monitor
    self.patience = patience
    self.minDelta = minDelta
    self.mode = mode
    self.restoreBestWeights = restoreBestWeights
  }

  private var maximizes: Bool {
    switch mode {
    case .min: return false
    case .max: return true
    case .auto: return monitor.contains("acc")
    }
  }

  private var resumed = false

  /// Continues the count of a run resumed from a file: the best value, its epoch and the
  /// epochs since, as `history` (the epochs already run) leaves them, so the next `fit` (with
  /// `initialEpoch` after them) stops where the uninterrupted run would. The weights of a best
  /// epoch among those are not known here; give them to
  /// ``resume(after:bestWeights:ofEpoch:)``, else `restoreBestWeights` restores only a best
  /// epoch of the resumed run.
  ///
  /// - Throws: `PlexusError.invalidArgument` when the history lacks the monitored key.
  public func resume(after history: History) throws {
    guard history.epochsCompleted == 0 || history[monitor] != nil else {
      throw PlexusError.invalidArgument(
        "early stopping monitors '\(monitor)', which the saved history does not hold; it holds "
          + history.keys.joined(separator: ", "))
    }
    reset()
    for (index, value) in (history[monitor] ?? []).enumerated() {
      _ = observe(value, epoch: index + 1)
    }
    resumed = true
  }

  /// Continues a resumed run as ``resume(after:)`` does and, with `bestWeights` (the values of
  /// `model.parameters` at the end of epoch `epoch`, saved by the interrupted run), restores
  /// them at the end as an uninterrupted run would.
  ///
  /// - Throws: as ``resume(after:)``; `PlexusError.invalidArgument` when `epoch` is not the best
  ///   epoch the history gives.
  public func resume(after history: History, bestWeights: [Tensor]?, ofEpoch epoch: Int?) throws {
    try resume(after: history)
    guard let bestWeights else { return }
    guard let epoch, epoch == bestEpoch else {
      throw PlexusError.invalidArgument(
        "early stopping: the saved best weights are of epoch \(epoch.map(String.init) ?? "none"), "
          + "but the history's best '\(monitor)' is at epoch "
          + (bestEpoch.map(String.init) ?? "none"))
    }
    self.bestWeights = bestWeights
  }

  /// The values of `model.parameters` at the end of the best epoch (``bestEpoch``), kept with
  /// `restoreBestWeights`; `nil` otherwise or before a first epoch.
  public var bestWeightsSnapshot: [Tensor]? { bestWeights }

  /// The values of `model.parameters` at the end of the last epoch when training ended and
  /// ``trainingDidEnd(history:context:)`` replaced them by the best epoch's: what a resumed run
  /// continues from. `nil` when nothing was restored.
  public private(set) var weightsBeforeRestore: [Tensor]?

  private func reset() {
    weightsBeforeRestore = nil
    bestValue = nil
    bestEpoch = nil
    stoppedEpoch = nil
    wait = 0
    bestWeights = nil
    lastEpoch = nil
  }

  public func trainingWillBegin(context: TrainingContext) throws {
    if resumed {
      resumed = false
    } else {
      reset()
    }
  }

  /// Counts one epoch's value; returns whether it improved and whether to stop.
  private func observe(_ current: Float, epoch: Int) -> (improved: Bool, stop: Bool) {
    lastEpoch = epoch
    let improved: Bool
    if let best = bestValue {
      improved = maximizes ? current - minDelta > best : current + minDelta < best
    } else {
      improved = !current.isNaN
    }
    if improved {
      bestValue = current
      bestEpoch = epoch
      wait = 0
      return (true, false)
    }
    wait += 1
    return (false, wait >= patience)
  }

  public func epochDidEnd(epoch: Int, logs: [String: Float], context: TrainingContext) throws {
    guard let current = logs[monitor] else {
      throw PlexusError.invalidArgument(
        "early stopping monitors '\(monitor)', but the epoch logs hold only "
          + logs.keys.sorted().joined(separator: ", ")
          + (monitor.hasPrefix("val_") ? "; pass validation data or a validation split" : ""))
    }
    let (improved, stop) = observe(current, epoch: epoch)
    if improved, restoreBestWeights { bestWeights = context.model.parameters.map(\.value) }
    if stop {
      stoppedEpoch = epoch
      context.requestStop()
    }
  }

  public func trainingDidEnd(history: History, context: TrainingContext) throws {
    guard restoreBestWeights, let bestWeights, let bestEpoch, bestEpoch != lastEpoch else { return }
    let parameters = context.model.parameters
    guard parameters.count == bestWeights.count else {
      throw PlexusError.invalidArgument(
        "early stopping cannot restore weights: the model now has \(parameters.count) parameters, "
          + "it had \(bestWeights.count)")
    }
    weightsBeforeRestore = parameters.map(\.value)
    for (parameter, value) in zip(parameters, bestWeights) { try parameter.assign(value) }
  }
}
