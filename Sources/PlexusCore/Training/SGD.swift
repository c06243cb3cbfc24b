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
public final class SGD: ConfiguredOptimizer {
  /// The hyperparameters of SGD (JSON keys as the property names).
  public struct Configuration: OptimizerHyperparameters {
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

    public static var defaults: Configuration { Configuration() }

    public static var fields: [ConfigField<Configuration>] {
      [
        .init("learningRate", \.learningRate), .init("momentum", \.momentum),
        .init("nesterov", \.nesterov), .init("weightDecay", \.weightDecay),
      ]
    }

    /// - Throws: `PlexusError.invalidConfiguration` for a value out of range.
    public func validate(optimizer: String = SGD.typeName) throws {
      try OptimizerCheck.learningRate(learningRate, optimizer: optimizer)
      try OptimizerCheck.factor(momentum, name: "momentum", optimizer: optimizer)
      try OptimizerCheck.nonNegative(weightDecay, name: "weightDecay", optimizer: optimizer)
      if nesterov && momentum <= 0 {
        throw PlexusError.invalidConfiguration(
          "\(optimizer): nesterov needs a positive momentum, got \(momentum)")
      }
    }

    /// `["momentum"]` (the buffer) when `momentum > 0`, else none.
    public var slotNames: [String] { momentum > 0 ? ["momentum"] : [] }
  }

  public static let typeName = "plexus.sgd"
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
    momentum: Float = Configuration.defaults.momentum,
    nesterov: Bool = Configuration.defaults.nesterov,
    weightDecay: Float = Configuration.defaults.weightDecay
  ) {
    let configuration = Configuration(
      learningRate: learningRate, momentum: momentum, nesterov: nesterov, weightDecay: weightDecay)
    do { try self.init(configuration: configuration) } catch { preconditionFailure("\(error)") }
  }

  public func update(_ parameters: [Parameter]) {
    let c = storage.configuration
    let lr = c.learningRate
    let momentum = c.momentum
    let nesterov = c.nesterov
    let decay = c.weightDecay
    let initial = storage.initialSlotValues
    for parameter in parameters where parameter.isTrainable {
      let p = storage.slots.pointers(for: parameter, initialValues: initial)
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
}
