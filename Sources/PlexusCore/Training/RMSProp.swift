/// RMSProp, following PyTorch's `torch.optim.RMSprop`. For each trainable parameter `w`:
///
/// ```
/// d = g + weightDecay * w
/// s = alpha * s + (1 - alpha) * d²
/// a = alpha * a + (1 - alpha) * d            (centered only)
/// r = sqrt(centered ? s - a² : s) + epsilon
/// b = momentum * b + d / r; w = w - learningRate * b     (momentum > 0)
/// w = w - learningRate * d / r                           (momentum = 0)
/// ```
///
/// PyTorch's defaults: learning rate 0.01, alpha 0.99, epsilon 1e-8. (Keras calls alpha `rho`,
/// defaults it to 0.9 and puts epsilon inside the root.)
/// Slots: `"<index>.square_avg"`, `"<index>.momentum"` (momentum > 0), `"<index>.grad_avg"`
/// (centered).
public final class RMSProp: Optimizer {
  /// The hyperparameters of RMSProp (JSON keys as the property names).
  public struct Configuration: Codable, Sendable, Equatable {
    /// The step size (default 0.01).
    public var learningRate: Float
    /// The decay of the squared-gradient average (default 0.99).
    public var alpha: Float
    /// Added to the root for stability (default 1e-8).
    public var epsilon: Float
    /// The momentum factor (default 0).
    public var momentum: Float
    /// Whether to normalize by the variance estimate instead of the second moment.
    public var centered: Bool
    /// The L2 penalty added to the gradient (default 0).
    public var weightDecay: Float

    /// Creates a configuration.
    public init(
      learningRate: Float = 0.01, alpha: Float = 0.99, epsilon: Float = 1e-8, momentum: Float = 0,
      centered: Bool = false, weightDecay: Float = 0
    ) {
      self.learningRate = learningRate
      self.alpha = alpha
      self.epsilon = epsilon
      self.momentum = momentum
      self.centered = centered
      self.weightDecay = weightDecay
    }

    static let keys: Set<String> = [
      "learningRate", "alpha", "epsilon", "momentum", "centered", "weightDecay",
    ]
    private enum CodingKeys: String, CodingKey {
      case learningRate, alpha, epsilon, momentum, centered, weightDecay
    }

    public init(from decoder: Decoder) throws {
      let container = try decoder.container(keyedBy: CodingKeys.self)
      let defaults = Configuration()
      learningRate =
        try container.decodeIfPresent(Float.self, forKey: .learningRate) ?? defaults.learningRate
      alpha = try container.decodeIfPresent(Float.self, forKey: .alpha) ?? defaults.alpha
      epsilon = try container.decodeIfPresent(Float.self, forKey: .epsilon) ?? defaults.epsilon
      momentum = try container.decodeIfPresent(Float.self, forKey: .momentum) ?? defaults.momentum
      centered = try container.decodeIfPresent(Bool.self, forKey: .centered) ?? defaults.centered
      weightDecay =
        try container.decodeIfPresent(Float.self, forKey: .weightDecay) ?? defaults.weightDecay
    }

    /// - Throws: `PlexusError.invalidConfiguration` for a value out of range.
    public func validate() throws {
      try OptimizerCheck.learningRate(learningRate, optimizer: "rmsprop")
      try OptimizerCheck.range(alpha, name: "alpha", optimizer: "rmsprop", "in [0, 1)") {
        $0 >= 0 && $0 < 1
      }
      try OptimizerCheck.range(epsilon, name: "epsilon", optimizer: "rmsprop", "non-negative") {
        $0 >= 0
      }
      try OptimizerCheck.range(momentum, name: "momentum", optimizer: "rmsprop", "in [0, 1)") {
        $0 >= 0 && $0 < 1
      }
      try OptimizerCheck.range(
        weightDecay, name: "weightDecay", optimizer: "rmsprop", "non-negative"
      ) { $0 >= 0 }
    }

    var slotNames: [String] {
      ["square_avg"] + (momentum > 0 ? ["momentum"] : []) + (centered ? ["grad_avg"] : [])
    }
  }

  /// The type name in JSON and saved state.
  public let typeName = "rmsprop"
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
    learningRate: Float = 0.01, alpha: Float = 0.99, epsilon: Float = 1e-8, momentum: Float = 0,
    centered: Bool = false, weightDecay: Float = 0
  ) {
    let configuration = Configuration(
      learningRate: learningRate, alpha: alpha, epsilon: epsilon, momentum: momentum,
      centered: centered,
      weightDecay: weightDecay)
    do { try self.init(configuration: configuration) } catch { preconditionFailure("\(error)") }
  }

  public func step(_ parameters: [Parameter]) {
    stepCount += 1
    let c = configuration
    let initial = c.slotNames.map { _ -> Float in 0 }
    let momentumSlot = c.momentum > 0 ? 1 : nil
    let averageSlot = c.centered ? (c.momentum > 0 ? 2 : 1) : nil
    for parameter in parameters where parameter.isTrainable {
      let p = slots.pointers(for: parameter, initialValues: initial)
      Parallel.forEachChunk(count: parameter.count, costPerElement: 4) { range in
        let square = p.slots[0]
        let buffer = momentumSlot.map { p.slots[$0] }
        let average = averageSlot.map { p.slots[$0] }
        for i in range {
          let d = p.gradient[i] + c.weightDecay * p.value[i]
          square[i] = c.alpha * square[i] + (1 - c.alpha) * d * d
          var variance = square[i]
          if let average {
            average[i] = c.alpha * average[i] + (1 - c.alpha) * d
            variance -= average[i] * average[i]
          }
          let root = variance.squareRoot() + c.epsilon
          if let buffer {
            buffer[i] = c.momentum * buffer[i] + d / root
            p.value[i] -= c.learningRate * buffer[i]
          } else {
            p.value[i] -= c.learningRate * d / root
          }
        }
      }
    }
  }

  public func exportState(for parameters: [Parameter]) throws -> OptimizerState {
    OptimizerState(
      typeName: typeName, config: try JSONValue(encoding: OptimizerConfig.rmsProp(configuration)),
      step: stepCount, slots: slots.export(names: configuration.slotNames, parameters: parameters))
  }

  /// Restores the step count, the slots and (as PyTorch's `load_state_dict`) the
  /// hyperparameters, including the learning rate.
  public func importState(_ state: OptimizerState, for parameters: [Parameter]) throws {
    guard
      case .rmsProp(let configuration) = try OptimizerStateIO.configuration(
        of: state, expectedType: typeName)
    else { throw PlexusError.invalidData("optimizer state config is not an rmsprop config") }
    let table = try SlotTable.importing(
      state.slots, names: configuration.slotNames, parameters: parameters, optimizer: typeName)
    self.configuration = configuration
    self.stepCount = state.step
    self.slots = table
  }
}
