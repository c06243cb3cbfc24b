import Foundation
import PlexusCore

// An optimizer, a loss and a metric defined outside Plexus, as a third party writes them: one
// type each plus one registration line (`ThirdPartyComponents.register()`).

/// Lion (Chen et al. 2023): the sign of an interpolated momentum.
///
/// ```
/// c = beta1 * m + (1 - beta1) * g
/// w = w - learningRate * (sign(c) + weightDecay * w)
/// m = beta2 * m + (1 - beta2) * g
/// ```
final class Lion: ConfiguredOptimizer {
  struct Configuration: OptimizerHyperparameters {
    var learningRate: Float = 0.0001
    var beta1: Float = 0.9
    var beta2: Float = 0.99
    var weightDecay: Float = 0

    static var defaults: Configuration { Configuration() }
    static var fields: [ConfigField<Configuration>] {
      [
        .init("learningRate", \.learningRate), .init("beta1", \.beta1),
        .init("beta2", \.beta2), .init("weightDecay", \.weightDecay),
      ]
    }
    var slotNames: [String] { ["m"] }

    func validate(optimizer: String) throws {
      try OptimizerCheck.learningRate(learningRate, optimizer: optimizer)
      try OptimizerCheck.factor(beta1, name: "beta1", optimizer: optimizer)
      try OptimizerCheck.factor(beta2, name: "beta2", optimizer: optimizer)
      try OptimizerCheck.nonNegative(weightDecay, name: "weightDecay", optimizer: optimizer)
    }
  }

  static let typeName = "com.example.lion"
  let storage: OptimizerStorage<Configuration>

  init(configuration: Configuration) throws {
    storage = try OptimizerStorage(configuration: configuration, for: Self.self)
  }

  func update(_ parameters: [Parameter]) {
    let c = configuration
    for parameter in parameters where parameter.isTrainable {
      storage.withSlots(of: parameter) { value, gradient, slots in
        let m = slots[0]
        for i in value.indices {
          let interpolated = c.beta1 * m[i] + (1 - c.beta1) * gradient[i]
          let sign: Float = interpolated > 0 ? 1 : (interpolated < 0 ? -1 : 0)
          value[i] -= c.learningRate * (sign + c.weightDecay * value[i])
          m[i] = c.beta2 * m[i] + (1 - c.beta2) * gradient[i]
        }
      }
    }
  }
}

/// `weight * mean(log(cosh(p - t)))`: quadratic near 0, linear far away.
struct LogCosh: RegistrableLoss {
  struct Config: DefaultedConfiguration {
    var weight: Float = 1
    static var defaults: Config { Config() }
    static var fields: [ConfigField<Config>] { [.init("weight", \.weight)] }
  }

  static let typeName = "com.example.log_cosh"
  let config: Config
  var name: String { "log_cosh" }

  init(config: Config) throws {
    guard config.weight > 0, config.weight.isFinite else {
      throw PlexusError.invalidConfiguration(
        "log_cosh: weight must be positive, got \(config.weight)")
    }
    self.config = config
  }

  func compute(predictions: Tensor, targets: Tensor) throws -> (value: Float, gradient: Tensor) {
    try validate(targets: targets, predictionShape: predictions.shape)
    let count = predictions.count
    let scale = config.weight / Float(count)
    var total: Double = 0
    let gradient = Tensor(shape: predictions.shape) { destination in
      predictions.withUnsafeBufferPointer { p in
        targets.withUnsafeBufferPointer { t in
          for index in 0..<count {
            let error = p[index] - t[index]
            total += Double(Foundation.log(Foundation.cosh(error)))
            destination[index] = scale * Foundation.tanh(error)
          }
        }
      }
    }
    return (config.weight * Float(total / Double(count)), gradient)
  }
}

/// The fraction of outputs within `tolerance` of their targets.
struct WithinTolerance: RunningMetric {
  struct Config: DefaultedConfiguration {
    var tolerance: Float = 0.5
    static var defaults: Config { Config() }
    static var fields: [ConfigField<Config>] { [.init("tolerance", \.tolerance)] }
  }

  static let typeName = "com.example.within_tolerance"
  let config: Config
  var name: String { "within_tolerance" }
  private var hits = 0
  private var elements = 0

  init(config: Config) throws {
    guard config.tolerance >= 0, config.tolerance.isFinite else {
      throw PlexusError.invalidConfiguration(
        "within_tolerance: tolerance must be non-negative, got \(config.tolerance)")
    }
    self.config = config
  }

  mutating func accumulate(predictions: Tensor, targets: Tensor, context: MetricContext) throws {
    guard predictions.count == targets.count else {
      throw PlexusError.invalidShape(
        "within_tolerance: targets \(targets.shape) do not match predictions \(predictions.shape)")
    }
    for (p, t) in zip(predictions.scalars, targets.scalars) where abs(p - t) <= config.tolerance {
      hits += 1
    }
    elements += predictions.count
  }

  var result: Float { elements == 0 ? 0 : Float(hits) / Float(elements) }
}

enum ThirdPartyComponents {
  /// Registers the components in the shared registries (again is harmless).
  static func register() throws {
    try OptimizerRegistry.shared.register(Lion.self, module: "ExampleOptimizers")
    try LossRegistry.shared.register(LogCosh.self, module: "ExampleLosses")
    try MetricRegistry.shared.register(WithinTolerance.self, module: "ExampleMetrics")
  }
}
