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
public final class AdaGrad: Optimizer {
  /// The hyperparameters of AdaGrad (JSON keys as the property names).
  public struct Configuration: Codable, Sendable, Equatable {
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

    static let keys: Set<String> = [
      "learningRate", "learningRateDecay", "initialAccumulatorValue", "epsilon", "weightDecay",
    ]
    private enum CodingKeys: String, CodingKey {
      case learningRate, learningRateDecay, initialAccumulatorValue, epsilon, weightDecay
    }

    public init(from decoder: Decoder) throws {
      let container = try decoder.container(keyedBy: CodingKeys.self)
      let defaults = Configuration()
      learningRate =
        try container.decodeIfPresent(Float.self, forKey: .learningRate) ?? defaults.learningRate
      learningRateDecay =
        try container.decodeIfPresent(Float.self, forKey: .learningRateDecay)
        ?? defaults.learningRateDecay
      initialAccumulatorValue =
        try container.decodeIfPresent(Float.self, forKey: .initialAccumulatorValue)
        ?? defaults.initialAccumulatorValue
      epsilon = try container.decodeIfPresent(Float.self, forKey: .epsilon) ?? defaults.epsilon
      weightDecay =
        try container.decodeIfPresent(Float.self, forKey: .weightDecay) ?? defaults.weightDecay
    }

    /// - Throws: `PlexusError.invalidConfiguration` for a value out of range.
    public func validate() throws {
      try OptimizerCheck.learningRate(learningRate, optimizer: "adagrad")
      try OptimizerCheck.range(
        learningRateDecay, name: "learningRateDecay", optimizer: "adagrad", "non-negative"
      ) {
        $0 >= 0
      }
      try OptimizerCheck.range(
        initialAccumulatorValue, name: "initialAccumulatorValue", optimizer: "adagrad",
        "non-negative"
      ) { $0 >= 0 }
      try OptimizerCheck.range(epsilon, name: "epsilon", optimizer: "adagrad", "non-negative") {
        $0 >= 0
      }
      try OptimizerCheck.range(
        weightDecay, name: "weightDecay", optimizer: "adagrad", "non-negative"
      ) { $0 >= 0 }
    }
  }

  /// The type name in JSON and saved state.
  public let typeName = "adagrad"
  /// The hyperparameters.
  public private(set) var configuration: Configuration
  /// The number of steps taken.
  public private(set) var stepCount = 0
  private var slots = SlotTable()

  public var learningRate: Float {
    get { configuration.learningRate }
    set { configuration.learningRate = newValue }
  }

  /// Creates the optimizer from a configuration.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` for a value out of range.
  public init(configuration: Configuration) throws {
    try configuration.validate()
    self.configuration = configuration
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

  public func step(_ parameters: [Parameter]) {
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

  public func exportState(for parameters: [Parameter]) throws -> OptimizerState {
    OptimizerState(
      typeName: typeName, config: try JSONValue(encoding: OptimizerConfig.adaGrad(configuration)),
      step: stepCount, slots: slots.export(names: ["sum"], parameters: parameters))
  }

  /// Restores the step count, the slots and (as PyTorch's `load_state_dict`) the
  /// hyperparameters, including the learning rate.
  public func importState(_ state: OptimizerState, for parameters: [Parameter]) throws {
    guard
      case .adaGrad(let configuration) = try OptimizerStateIO.configuration(
        of: state, expectedType: typeName)
    else { throw PlexusError.invalidData("optimizer state config is not an adagrad config") }
    let table = try SlotTable.importing(
      state.slots, names: ["sum"], parameters: parameters, optimizer: typeName)
    self.configuration = configuration
    self.stepCount = state.step
    self.slots = table
  }
}
