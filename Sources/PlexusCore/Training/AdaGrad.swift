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
public final class AdaGrad: ConfiguredOptimizer<AdaGrad.Configuration> {
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

    static let keys = Set(CodingKeys.allCases.map(\.stringValue))
    private enum CodingKeys: String, CodingKey, CaseIterable {
      case learningRate, learningRateDecay, initialAccumulatorValue, epsilon, weightDecay
    }

    public init(from decoder: Decoder) throws {
      let container = try decoder.container(keyedBy: CodingKeys.self)
      let defaults = Configuration()
      learningRate = try container.decode(.learningRate, or: defaults.learningRate)
      learningRateDecay = try container.decode(.learningRateDecay, or: defaults.learningRateDecay)
      initialAccumulatorValue = try container.decode(
        .initialAccumulatorValue, or: defaults.initialAccumulatorValue)
      epsilon = try container.decode(.epsilon, or: defaults.epsilon)
      weightDecay = try container.decode(.weightDecay, or: defaults.weightDecay)
    }

    /// - Throws: `PlexusError.invalidConfiguration` for a value out of range.
    public func validate() throws {
      try OptimizerCheck.learningRate(learningRate, optimizer: "adagrad")
      try OptimizerCheck.nonNegative(
        learningRateDecay, name: "learningRateDecay", optimizer: "adagrad")
      try OptimizerCheck.nonNegative(
        initialAccumulatorValue, name: "initialAccumulatorValue", optimizer: "adagrad")
      try OptimizerCheck.nonNegative(epsilon, name: "epsilon", optimizer: "adagrad")
      try OptimizerCheck.nonNegative(weightDecay, name: "weightDecay", optimizer: "adagrad")
    }

    /// `sum`, the running sum of squared gradients.
    public var slotNames: [String] { ["sum"] }

    public func optimizerConfig(typeName: String) -> OptimizerConfig { .adaGrad(self) }

    public init?(_ config: OptimizerConfig) {
      guard case .adaGrad(let configuration) = config else { return nil }
      self = configuration
    }
  }

  /// Creates the optimizer from a configuration.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` for a value out of range.
  public init(configuration: Configuration) throws {
    try super.init(configuration: configuration, typeName: "adagrad")
  }

  /// Creates the optimizer.
  ///
  /// - Precondition: the hyperparameters are in range (use `init(configuration:)` for values
  ///   read from data).
  public convenience init(
    learningRate: Float = 0.01, learningRateDecay: Float = 0, initialAccumulatorValue: Float = 0,
    epsilon: Float = 1e-10, weightDecay: Float = 0
  ) {
    let configuration = Configuration(
      learningRate: learningRate, learningRateDecay: learningRateDecay,
      initialAccumulatorValue: initialAccumulatorValue, epsilon: epsilon, weightDecay: weightDecay)
    do { try self.init(configuration: configuration) } catch { preconditionFailure("\(error)") }
  }

  public override func step(_ parameters: [Parameter]) {
    stepCount += 1
    let c = configuration
    let stepSize = c.learningRate / (1 + Float(stepCount - 1) * c.learningRateDecay)
    for parameter in parameters where parameter.isTrainable {
      let p = slots.pointers(for: parameter, initialValues: [c.initialAccumulatorValue])
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
