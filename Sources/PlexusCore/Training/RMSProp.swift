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
public final class RMSProp: ConfiguredOptimizer {
  /// The hyperparameters of RMSProp (JSON keys as the property names).
  public struct Configuration: OptimizerHyperparameters {
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

    public static var defaults: Configuration { Configuration() }

    public static var fields: [ConfigField<Configuration>] {
      [
        .init("learningRate", \.learningRate), .init("alpha", \.alpha),
        .init("epsilon", \.epsilon), .init("momentum", \.momentum),
        .init("centered", \.centered), .init("weightDecay", \.weightDecay),
      ]
    }

    /// - Throws: `PlexusError.invalidConfiguration` for a value out of range.
    public func validate(optimizer: String = RMSProp.typeName) throws {
      try OptimizerCheck.learningRate(learningRate, optimizer: optimizer)
      try OptimizerCheck.factor(alpha, name: "alpha", optimizer: optimizer)
      try OptimizerCheck.range(epsilon, name: "epsilon", optimizer: optimizer, "positive") {
        $0 > 0
      }
      try OptimizerCheck.factor(momentum, name: "momentum", optimizer: optimizer)
      try OptimizerCheck.nonNegative(weightDecay, name: "weightDecay", optimizer: optimizer)
    }

    /// `square_avg`, then `momentum` (when `momentum > 0`) and `grad_avg` (when centered).
    public var slotNames: [String] {
      ["square_avg"] + (momentum > 0 ? ["momentum"] : []) + (centered ? ["grad_avg"] : [])
    }
  }

  public static let typeName = "plexus.rmsprop"
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
    alpha: Float = Configuration.defaults.alpha, epsilon: Float = Configuration.defaults.epsilon,
    momentum: Float = Configuration.defaults.momentum,
    centered: Bool = Configuration.defaults.centered,
    weightDecay: Float = Configuration.defaults.weightDecay
  ) {
    let configuration = Configuration(
      learningRate: learningRate, alpha: alpha, epsilon: epsilon, momentum: momentum,
      centered: centered, weightDecay: weightDecay)
    do { try self.init(configuration: configuration) } catch { preconditionFailure("\(error)") }
  }

  public func update(_ parameters: [Parameter]) {
    let c = storage.configuration
    let initial = storage.initialSlotValues
    let momentumSlot = c.momentum > 0 ? 1 : nil
    let averageSlot = c.centered ? (c.momentum > 0 ? 2 : 1) : nil
    for parameter in parameters where parameter.isTrainable {
      let p = storage.slots.pointers(for: parameter, initialValues: initial)
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
}
