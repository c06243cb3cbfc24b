/// AdaGrad, following PyTorch's `torch.optim.Adagrad`. At step `t` (1-based), for each
/// trainable parameter `w`:
///
/// ```
/// d = g + weightDecay * w
/// s = s + d²                                 (s starts at initialAccumulatorValue)
/// w = w - (learningRate / (1 + (t - 1) * learningRateDecay)) * d / (sqrt(s) + epsilon)
/// ```
///
/// PyTorch's defaults: learning rate 0.01, epsilon 1e-10, accumulator 0.
/// Slot: `"<index>.sum"`.
public final class AdaGrad: ConfiguredOptimizer {
  /// The hyperparameters of AdaGrad (JSON keys as the property names).
  public struct Configuration: OptimizerHyperparameters {
    /// The step size (default 0.01).
    public var learningRate: Float
    /// The decay of the step size per step (default 0).
    public var learningRateDecay: Float
    /// The starting value of the squared-gradient sum (default 0).
    public var initialAccumulatorValue: Float
    /// Added to the root for stability (default 1e-10).
    public var epsilon: Float
    /// The L2 penalty added to the gradient (default 0).
    public var weightDecay: Float

    /// Creates a configuration.
    public init(
      learningRate: Float = 0.01, learningRateDecay: Float = 0, initialAccumulatorValue: Float = 0,
      epsilon: Float = 1e-10, weightDecay: Float = 0
    ) {
      self.learningRate = learningRate
      self.learningRateDecay = learningRateDecay
      self.initialAccumulatorValue = initialAccumulatorValue
      self.epsilon = epsilon
      self.weightDecay = weightDecay
    }

    public static var defaults: Configuration { Configuration() }

    public static var fields: [ConfigField<Configuration>] {
      [
        .init("learningRate", \.learningRate), .init("learningRateDecay", \.learningRateDecay),
        .init("initialAccumulatorValue", \.initialAccumulatorValue),
        .init("epsilon", \.epsilon), .init("weightDecay", \.weightDecay),
      ]
    }

    /// - Throws: `PlexusError.invalidConfiguration` for a value out of range.
    public func validate(optimizer: String = AdaGrad.typeName) throws {
      try OptimizerCheck.learningRate(learningRate, optimizer: optimizer)
      try OptimizerCheck.nonNegative(
        learningRateDecay, name: "learningRateDecay", optimizer: optimizer)
      try OptimizerCheck.nonNegative(
        initialAccumulatorValue, name: "initialAccumulatorValue", optimizer: optimizer)
      try OptimizerCheck.range(epsilon, name: "epsilon", optimizer: optimizer, "positive") {
        $0 > 0
      }
      try OptimizerCheck.nonNegative(weightDecay, name: "weightDecay", optimizer: optimizer)
    }

    /// `sum`, the running sum of squared gradients.
    public var slotNames: [String] { ["sum"] }

    /// The sum starts at `initialAccumulatorValue`.
    public func initialValue(ofSlot name: String) -> Float { initialAccumulatorValue }
  }

  public static let typeName = "plexus.adagrad"
  public let storage: OptimizerStorage<Configuration>

  /// Creates the optimizer from a configuration.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` for a value out of range.
  public init(configuration: Configuration) throws {
    storage = try OptimizerStorage(configuration: configuration, for: Self.self)
  }

  /// Creates the optimizer.
  ///
  /// - Precondition: the hyperparameters are in range (use `init(configuration:)` for values
  ///   read from data).
  public convenience init(
    learningRate: Float = Configuration.defaults.learningRate,
    learningRateDecay: Float = Configuration.defaults.learningRateDecay,
    initialAccumulatorValue: Float = Configuration.defaults.initialAccumulatorValue,
    epsilon: Float = Configuration.defaults.epsilon,
    weightDecay: Float = Configuration.defaults.weightDecay
  ) {
    let configuration = Configuration(
      learningRate: learningRate, learningRateDecay: learningRateDecay,
      initialAccumulatorValue: initialAccumulatorValue, epsilon: epsilon, weightDecay: weightDecay)
    do { try self.init(configuration: configuration) } catch { preconditionFailure("\(error)") }
  }

  public func update(_ parameters: [Parameter]) {
    let c = storage.configuration
    let stepSize = c.learningRate / (1 + Float(storage.stepCount - 1) * c.learningRateDecay)
    let initial = storage.initialSlotValues
    for parameter in parameters where parameter.isTrainable {
      let p = storage.slots.pointers(for: parameter, initialValues: initial)
      Parallel.forEachChunk(count: parameter.count, costPerElement: 4) { range in
        let sum = p.slots[0]
        for i in range {
          let d = p.gradient[i] + c.weightDecay * p.value[i]
          sum[i] += d * d
          p.value[i] -= stepSize * d / (sum[i].squareRoot() + c.epsilon)
        }
      }
    }
  }
}
