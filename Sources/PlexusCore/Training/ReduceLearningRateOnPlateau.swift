/// Lowers the learning rate when a monitored log value stops improving, as Keras'
/// `ReduceLROnPlateau` and PyTorch's `ReduceLROnPlateau` (absolute threshold).
///
/// After each epoch the value of `monitor` is compared with the best so far (lower is better
/// in mode `.min`, higher in `.max`; `.auto` picks `.max` for keys containing `acc`); it
/// improves when it beats the best by more than `minDelta`. After `patience` epochs in a row
/// without improvement the rate becomes `max(rate * factor, minimumLearningRate)` for the
/// next epoch, and `cooldown` epochs follow in which no epoch counts as a failure.
///
/// In a spec (`"learningRateSchedule"`):
/// `{"type": "reduce_on_plateau", "monitor": "val_loss", "factor": 0.5, "patience": 2}`.
public final class ReduceLearningRateOnPlateau: TrainingCallback {
  /// The parameters, as JSON gives them; every key is optional.
  public struct Config: DefaultedConfiguration {
    /// The log key watched.
    public var monitor: String
    /// The factor applied to the rate, in (0, 1).
    public var factor: Float
    /// Epochs without improvement before the rate is lowered (0...1000000).
    public var patience: Int
    /// The smallest change that counts as an improvement (finite, at least 0).
    public var minDelta: Float
    /// Epochs after a reduction in which failures are not counted (0...1000000).
    public var cooldown: Int
    /// The rate is never lowered below this (finite, at least 0).
    public var minimumLearningRate: Float
    /// The direction of improvement.
    public var mode: EarlyStopping.Mode

    /// Creates a config with Keras' defaults.
    public init(
      monitor: String = "val_loss", factor: Float = 0.1, patience: Int = 10,
      minDelta: Float = 1e-4, cooldown: Int = 0, minimumLearningRate: Float = 0,
      mode: EarlyStopping.Mode = .auto
    ) {
      self.monitor = monitor
      self.factor = factor
      self.patience = patience
      self.minDelta = minDelta
      self.cooldown = cooldown
      self.minimumLearningRate = minimumLearningRate
      self.mode = mode
    }

    public static var defaults: Config { Config() }
    public static var fields: [ConfigField<Config>] {
      [
        .init("monitor", \.monitor), .init("factor", \.factor), .init("patience", \.patience),
        .init("minDelta", \.minDelta), .init("cooldown", \.cooldown),
        .init("minimumLearningRate", \.minimumLearningRate), .init("mode", \.mode),
      ]
    }
  }

  /// The parameters.
  public let config: Config
  /// The best value seen so far.
  public private(set) var bestValue: Float?
  /// The epochs (1-based) after which the rate was lowered, in this run.
  public private(set) var reductionEpochs: [Int] = []
  private var wait = 0
  private var cooldownLeft = 0
  private var resumed = false

  /// Creates the callback, checking every value.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` naming a value out of range.
  public init(config: Config = Config()) throws {
    func require(_ condition: Bool, _ message: String) throws {
      if !condition {
        throw PlexusError.invalidConfiguration("reduce learning rate on plateau: \(message)")
      }
    }
    try require(!config.monitor.isEmpty, "monitor must name a log key")
    try require(
      config.factor > 0 && config.factor < 1, "factor must be in (0, 1), got \(config.factor)")
    try require(
      (0...1_000_000).contains(config.patience),
      "patience must be in 0...1000000, got \(config.patience)")
    try require(
      (0...1_000_000).contains(config.cooldown),
      "cooldown must be in 0...1000000, got \(config.cooldown)")
    try require(
      config.minDelta.isFinite && config.minDelta >= 0,
      "minDelta must be finite and at least 0, got \(config.minDelta)")
    try require(
      config.minimumLearningRate.isFinite && config.minimumLearningRate >= 0,
      "minimumLearningRate must be finite and at least 0, got \(config.minimumLearningRate)")
    self.config = config
  }

  private var maximizes: Bool {
    switch config.mode {
    case .min: return false
    case .max: return true
    case .auto: return config.monitor.contains("acc")
    }
  }

  /// Continues from a run resumed from a file: replays `history` (the best value, the
  /// epochs without improvement, the cooldown), taking each epoch's rate from its `lr` log,
  /// so the next `fit` lowers the rate when the uninterrupted run would. The optimizer's rate
  /// itself comes from the saved optimizer state.
  ///
  /// - Throws: `PlexusError.invalidArgument` when the history lacks the monitored key.
  public func resume(after history: History) throws {
    guard history.epochsCompleted == 0 || history[config.monitor] != nil else {
      throw PlexusError.invalidArgument(
        "reduce learning rate on plateau monitors '\(config.monitor)', which the saved history "
          + "does not hold; it holds " + history.keys.joined(separator: ", "))
    }
    reset()
    let rates = history["lr"] ?? []
    for (index, value) in (history[config.monitor] ?? []).enumerated() {
      let rate = index < rates.count ? rates[index] : .infinity
      _ = observe(value, rate: rate)
    }
    reductionEpochs = []
    resumed = true
  }

  private func reset() {
    bestValue = nil
    reductionEpochs = []
    wait = 0
    cooldownLeft = 0
  }

  public func trainingWillBegin(context: TrainingContext) throws {
    if resumed {
      resumed = false
    } else {
      reset()
    }
  }

  /// Counts one epoch's value at learning rate `rate`; returns the new rate when it is to be
  /// lowered.
  private func observe(_ current: Float, rate: Float) -> Float? {
    if cooldownLeft > 0 {
      cooldownLeft -= 1
      wait = 0
    }
    let improved: Bool
    if let best = bestValue {
      improved =
        maximizes ? current - config.minDelta > best : current + config.minDelta < best
    } else {
      improved = !current.isNaN
    }
    if improved {
      bestValue = current
      wait = 0
      return nil
    }
    guard cooldownLeft == 0 else { return nil }
    wait += 1
    guard wait >= config.patience, rate > config.minimumLearningRate else { return nil }
    cooldownLeft = config.cooldown
    wait = 0
    return Swift.max(rate * config.factor, config.minimumLearningRate)
  }

  public func epochDidEnd(epoch: Int, logs: [String: Float], context: TrainingContext) throws {
    guard let current = logs[config.monitor] else {
      throw PlexusError.invalidArgument(
        "reduce learning rate on plateau monitors '\(config.monitor)', but the epoch logs hold "
          + "only " + logs.keys.sorted().joined(separator: ", ")
          + (config.monitor.hasPrefix("val_")
            ? "; pass validation data or a validation split" : ""))
    }
    if let rate = observe(current, rate: context.optimizer.learningRate) {
      context.optimizer.learningRate = rate
      reductionEpochs.append(epoch)
    }
  }
}
