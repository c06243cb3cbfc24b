/// Stochastic gradient descent with optional momentum, Nesterov momentum and L2 weight decay,
/// following PyTorch's `torch.optim.SGD` (dampening 0). For each trainable parameter `w`:
///
/// ```
/// d = g + weightDecay * w
/// b = momentum * b + d                       (b starts at 0, so the first b is d)
/// d = nesterov ? d + momentum * b : b        (when momentum > 0)
/// w = w - learningRate * d
/// ```
///
/// Keras' `SGD` gives the same trajectory for the same learning rate without Nesterov.
/// Slot: `"<index>.momentum"` (the buffer `b`, present when `momentum > 0`).
public final class SGD: Optimizer {
  /// The hyperparameters of SGD (JSON keys as the property names).
  public struct Configuration: Codable, Sendable, Equatable {
    /// The step size (default 0.01).
    public var learningRate: Float
    /// The momentum factor (default 0).
    public var momentum: Float
    /// Whether to use Nesterov momentum (needs `momentum > 0`).
    public var nesterov: Bool
    /// The L2 penalty added to the gradient (default 0).
    public var weightDecay: Float

    /// Creates a configuration.
    public init(
      learningRate: Float = 0.01, momentum: Float = 0, nesterov: Bool = false,
      weightDecay: Float = 0
    ) {
      self.learningRate = learningRate
      self.momentum = momentum
      self.nesterov = nesterov
      self.weightDecay = weightDecay
    }

    static let keys: Set<String> = ["learningRate", "momentum", "nesterov", "weightDecay"]
    private enum CodingKeys: String, CodingKey {
      case learningRate, momentum, nesterov, weightDecay
    }

    public init(from decoder: Decoder) throws {
      let container = try decoder.container(keyedBy: CodingKeys.self)
      let defaults = Configuration()
      learningRate =
        try container.decodeIfPresent(Float.self, forKey: .learningRate) ?? defaults.learningRate
      momentum = try container.decodeIfPresent(Float.self, forKey: .momentum) ?? defaults.momentum
      nesterov = try container.decodeIfPresent(Bool.self, forKey: .nesterov) ?? defaults.nesterov
      weightDecay =
        try container.decodeIfPresent(Float.self, forKey: .weightDecay) ?? defaults.weightDecay
    }

    /// - Throws: `PlexusError.invalidConfiguration` for a value out of range.
    public func validate() throws {
      try OptimizerCheck.learningRate(learningRate, optimizer: "sgd")
      try OptimizerCheck.range(momentum, name: "momentum", optimizer: "sgd", "in [0, 1)") {
        $0 >= 0 && $0 < 1
      }
      try OptimizerCheck.range(weightDecay, name: "weightDecay", optimizer: "sgd", "non-negative") {
        $0 >= 0
      }
      if nesterov && momentum <= 0 {
        throw PlexusError.invalidConfiguration(
          "sgd: nesterov needs a positive momentum, got \(momentum)")
      }
    }
  }

  /// The type name in JSON and saved state.
  public let typeName = "sgd"
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
    learningRate: Float = 0.01, momentum: Float = 0, nesterov: Bool = false, weightDecay: Float = 0
  ) {
    let configuration = Configuration(
      learningRate: learningRate, momentum: momentum, nesterov: nesterov, weightDecay: weightDecay)
    do { try self.init(configuration: configuration) } catch { preconditionFailure("\(error)") }
  }

  private var slotNames: [String] { configuration.momentum > 0 ? ["momentum"] : [] }

  public func step(_ parameters: [Parameter]) {
    stepCount += 1
    let lr = configuration.learningRate
    let momentum = configuration.momentum
    let nesterov = configuration.nesterov
    let decay = configuration.weightDecay
    let initial: [Float] = slotNames.map { _ in 0 }
    for parameter in parameters where parameter.isTrainable {
      let p = slots.pointers(for: parameter, initialValues: initial)
      Parallel.forEachChunk(count: parameter.count, costPerElement: 2) { range in
        if momentum > 0 {
          let buffer = p.slots[0]
          for i in range {
            var d = p.gradient[i] + decay * p.value[i]
            buffer[i] = momentum * buffer[i] + d
            d = nesterov ? d + momentum * buffer[i] : buffer[i]
            p.value[i] -= lr * d
          }
        } else {
          for i in range { p.value[i] -= lr * (p.gradient[i] + decay * p.value[i]) }
        }
      }
    }
  }

  public func exportState(for parameters: [Parameter]) throws -> OptimizerState {
    OptimizerState(
      typeName: typeName, config: try JSONValue(encoding: OptimizerConfig.sgd(configuration)),
      step: stepCount, slots: slots.export(names: slotNames, parameters: parameters))
  }

  /// Restores the step count, the slots and (as PyTorch's `load_state_dict`) the
  /// hyperparameters, including the learning rate.
  public func importState(_ state: OptimizerState, for parameters: [Parameter]) throws {
    guard
      case .sgd(let configuration) = try OptimizerStateIO.configuration(
        of: state, expectedType: typeName)
    else { throw PlexusError.invalidData("optimizer state config is not an sgd config") }
    let names = configuration.momentum > 0 ? ["momentum"] : []
    let table = try SlotTable.importing(
      state.slots, names: names, parameters: parameters, optimizer: typeName)
    self.configuration = configuration
    self.stepCount = state.step
    self.slots = table
  }
}

/// Range checks of optimizer hyperparameters.
enum OptimizerCheck {
  static func learningRate(_ value: Float, optimizer: String) throws {
    try range(value, name: "learningRate", optimizer: optimizer, "finite and non-negative") {
      $0 >= 0
    }
  }

  static func range(
    _ value: Float, name: String, optimizer: String, _ expected: String, _ isValid: (Float) -> Bool
  ) throws {
    guard value.isFinite, isValid(value) else {
      throw PlexusError.invalidConfiguration(
        "\(optimizer): \(name) must be \(expected), got \(value)")
    }
  }
}
