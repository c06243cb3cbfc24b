/// How `Sequential.fit` trains, with Keras' names and defaults where they exist.
///
/// ```swift
/// var options = TrainingOptions(epochs: 20, batchSize: 32, seed: 7)
/// options.validationSplit = 0.2
/// options.metrics = [.accuracy]
/// options.clipGlobalNorm = 1
/// options.schedule = CosineDecay(epochs: 20)
/// ```
public struct TrainingOptions: Sendable {
  /// The last epoch to run (Keras `epochs`); 0 runs nothing. Must be at least `initialEpoch`.
  public var epochs: Int
  /// Samples per batch (positive); the last batch of an epoch may be smaller.
  public var batchSize: Int
  /// Whether to shuffle the training samples before each epoch.
  public var shuffle: Bool
  /// The seed of the shuffling and, when `fit` builds the model, of its initialization. The
  /// same seed on the same data gives bit-identical training.
  public var seed: UInt64
  /// Data to evaluate after each epoch (logged as `val_loss`, `val_accuracy`, ...).
  public var validationData: (x: Tensor, y: Tensor)?
  /// The fraction of the samples held out for validation, in `[0, 1)`: the last samples of `x`
  /// and `y`, taken before any shuffling (Keras semantics). Cannot be combined with
  /// `validationData`.
  public var validationSplit: Float
  /// Metrics logged besides the loss.
  public var metrics: [Metric]
  /// Clamps each gradient element to `[-clipValue, clipValue]` before the optimizer step.
  public var clipValue: Float?
  /// Scales all gradients together so that their global norm is at most `clipGlobalNorm`
  /// (applied after `clipValue`).
  public var clipGlobalNorm: Float?
  /// A learning-rate schedule applied before each epoch, relative to `baseLearningRate`.
  public var schedule: (any LearningRateSchedule)?
  /// The base rate of `schedule`; `nil` takes the optimizer's learning rate when `fit` starts.
  public var baseLearningRate: Float?
  /// The number of epochs already run (Keras `initial_epoch`), to resume training: `fit` runs
  /// epochs `initialEpoch + 1 ... epochs`, and schedules see the true epoch numbers.
  public var initialEpoch: Int
  /// The batches of epoch `initialEpoch + 1` already run, to resume a run interrupted within
  /// an epoch: `fit` starts that epoch at batch `initialBatch + 1`, with the epoch's shuffled
  /// order and learning rate as before, so the weights follow the uninterrupted run bit for
  /// bit. That epoch's logged training loss and metrics cover only the batches run after
  /// resuming. Must be at most the number of batches per epoch.
  public var initialBatch: Int = 0
  /// The batch size used to evaluate validation data.
  public var validationBatchSize: Int
  /// Weights of the classes in the training loss (Keras' `class_weight`), indexed by class:
  /// each sample's loss counts as many times as its class's weight, the batch loss staying a
  /// mean over the batch. A sample's class is its target's class index, the argmax of its
  /// one-hot target, or for a binary output 1 when its target is above 0.5, else 0. For a
  /// model whose loss reads one output; the validation loss and `evaluate` are not weighted.
  /// `nil` weighs every class 1.
  public var classWeights: [Float]?

  /// Creates options.
  public init(
    epochs: Int = 1, batchSize: Int = 32, shuffle: Bool = true, seed: UInt64 = 0,
    validationData: (x: Tensor, y: Tensor)? = nil, validationSplit: Float = 0,
    metrics: [Metric] = [],
    clipValue: Float? = nil, clipGlobalNorm: Float? = nil,
    schedule: (any LearningRateSchedule)? = nil,
    baseLearningRate: Float? = nil, initialEpoch: Int = 0, validationBatchSize: Int = 256
  ) {
    self.epochs = epochs
    self.batchSize = batchSize
    self.shuffle = shuffle
    self.seed = seed
    self.validationData = validationData
    self.validationSplit = validationSplit
    self.metrics = metrics
    self.clipValue = clipValue
    self.clipGlobalNorm = clipGlobalNorm
    self.schedule = schedule
    self.baseLearningRate = baseLearningRate
    self.initialEpoch = initialEpoch
    self.validationBatchSize = validationBatchSize
  }

  /// Checks every option.
  ///
  /// - Throws: `PlexusError.invalidArgument` naming the first option out of range.
  public func validate() throws {
    func require(_ condition: Bool, _ message: @autoclosure () -> String) throws {
      if !condition { throw PlexusError.invalidArgument(message()) }
    }
    try require(epochs >= 0, "epochs must be non-negative, got \(epochs)")
    try require(
      initialEpoch >= 0 && initialEpoch <= epochs,
      "initialEpoch must be in 0...epochs (\(epochs)), got \(initialEpoch)")
    try require(
      initialBatch >= 0 && (initialBatch == 0 || initialEpoch < epochs),
      "initialBatch must be 0, or non-negative with an epoch left to run, got \(initialBatch)")
    try require(batchSize > 0, "batch size must be positive, got \(batchSize)")
    try require(
      validationBatchSize > 0, "validation batch size must be positive, got \(validationBatchSize)")
    try require(
      validationSplit >= 0 && validationSplit < 1,
      "validation split must be in [0, 1), got \(validationSplit)")
    try require(
      validationSplit == 0 || validationData == nil,
      "give either validationData or validationSplit, not both")
    if let clipValue {
      try require(
        clipValue > 0 && clipValue.isFinite,
        "clip value must be positive and finite, got \(clipValue)")
    }
    if let clipGlobalNorm {
      try require(
        clipGlobalNorm > 0 && clipGlobalNorm.isFinite,
        "clip global norm must be positive and finite, got \(clipGlobalNorm)")
    }
    if let classWeights {
      try require(
        (1...65_536).contains(classWeights.count),
        "class weights must give 1...65536 weights, got \(classWeights.count)")
      if let bad = classWeights.firstIndex(where: { !($0.isFinite && $0 >= 0) }) {
        try require(
          false,
          "the weight of class \(bad) is \(classWeights[bad]); expected a finite, non-negative number"
        )
      }
    }
    if let baseLearningRate {
      try require(
        baseLearningRate >= 0 && baseLearningRate.isFinite,
        "base learning rate must be finite and non-negative, got \(baseLearningRate)")
    }
  }
}
