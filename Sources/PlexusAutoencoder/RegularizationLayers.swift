import Foundation
import PlexusCore

/// The identity that adds an activity penalty on its input to the training objective:
/// `l1 · Σ|x| + l2 · Σx²`, summed over the features and averaged over the batch (Keras's
/// `ActivityRegularization`). Placed on the code of an autoencoder it makes a sparse
/// autoencoder. The penalty is logged as `activity`; its gradient is added in `backward`.
public final class ActivityRegularization: UnaryLayer {
  /// The hyperparameters of an activity regularization layer.
  public struct Config: DefaultedConfiguration {
    /// The weight of the L1 penalty, finite and non-negative.
    public var l1: Float
    /// The weight of the L2 penalty, finite and non-negative.
    public var l2: Float
    /// Creates a config.
    public init(l1: Float = 0, l2: Float = 0) {
      self.l1 = l1
      self.l2 = l2
    }

    public static var defaults: Config { Config() }
    public static var fields: [ConfigField<Config>] { [.init("l1", \.l1), .init("l2", \.l2)] }
  }

  public static let typeName = "plexus.activity_regularization"
  public let state = LayerState()
  public let config: Config

  /// - Throws: `PlexusError.invalidConfiguration` unless both weights are finite and
  ///   non-negative.
  public init(config: Config) throws {
    for (key, value) in [("l1", config.l1), ("l2", config.l2)] {
      guard value.isFinite, value >= 0 else {
        throw PlexusError.invalidConfiguration(
          "activity regularization \(key) must be finite and non-negative, got \(value)")
      }
    }
    self.config = config
  }

  /// Creates an activity regularization layer.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` unless both weights are finite and
  ///   non-negative.
  public convenience init(l1: Float = 0, l2: Float = 0, name: String = "") throws {
    try self.init(config: Config(l1: l1, l2: l2))
    self.name = name
  }

  public func build(for inputShape: SymbolicShape) throws -> SymbolicShape {
    try ElementwiseShape.identity(inputShape, layer: name)
  }

  /// The penalty of a batch.
  public func penalty(_ input: Tensor) -> Float {
    let (l1, l2) = (Double(config.l1), Double(config.l2))
    var total: Double = 0
    input.withUnsafeBufferPointer { x in
      for value in x { total += l1 * Double(abs(value)) + l2 * Double(value) * Double(value) }
    }
    return Float(total / Double(max(input.batchCount, 1)))
  }

  public func forward(_ input: Tensor, record: CallRecord) throws -> Tensor {
    if record.isTraining { record.addLoss(penalty(input), name: "activity") }
    return input
  }

  public func backward(_ outputGradient: Tensor, record: CallRecord, computingInputGradient: Bool)
    throws -> Tensor?
  {
    guard record.isTraining else { return outputGradient }
    var gradient = outputGradient
    let input = record.inputs[0]
    let scale = 1 / Float(max(input.batchCount, 1))
    let (l1, l2) = (config.l1 * scale, 2 * config.l2 * scale)
    gradient.withUnsafeMutableBufferPointer { g in
      input.withUnsafeBufferPointer { x in
        for index in g.indices {
          let value = x[index]
          g[index] += l1 * (value > 0 ? 1 : (value < 0 ? -1 : 0)) + l2 * value
        }
      }
    }
    return gradient
  }
}

/// The identity that adds the sparsity penalty of Ng's sparse autoencoder to the training
/// objective: `weight · Σⱼ KL(ρ ‖ ρ̂ⱼ)`, where `ρ̂ⱼ` is the mean activation of feature `j`
/// over the batch and `ρ` the `target`. Its inputs are activations in `(0, 1)` (a sigmoid
/// code); `ρ̂` is clamped to `[1e-6, 1 − 1e-6]`. Logged as `sparsity`; its gradient is added
/// in `backward`.
public final class KLDivergenceSparsity: UnaryLayer {
  /// The hyperparameters of a KL-divergence sparsity layer.
  public struct Config: DefaultedConfiguration {
    /// The target mean activation `ρ`, in `(0, 1)`.
    public var target: Float
    /// The weight `β` of the penalty, finite and non-negative.
    public var weight: Float
    /// Creates a config.
    public init(target: Float = 0.05, weight: Float = 1) {
      self.target = target
      self.weight = weight
    }

    public static var defaults: Config { Config() }
    public static var fields: [ConfigField<Config>] {
      [.init("target", \.target), .init("weight", \.weight)]
    }
  }

  public static let typeName = "plexus.kl_sparsity"
  public let state = LayerState()
  public let config: Config
  private static let clamp: Double = 1e-6

  /// - Throws: `PlexusError.invalidConfiguration` unless `0 < target < 1` and the weight is
  ///   finite and non-negative.
  public init(config: Config) throws {
    guard config.target > 0, config.target < 1 else {
      throw PlexusError.invalidConfiguration(
        "kl sparsity target must be in (0, 1), got \(config.target)")
    }
    guard config.weight.isFinite, config.weight >= 0 else {
      throw PlexusError.invalidConfiguration(
        "kl sparsity weight must be finite and non-negative, got \(config.weight)")
    }
    self.config = config
  }

  /// Creates a KL-divergence sparsity layer.
  ///
  /// - Throws: as `init(config:)`.
  public convenience init(target: Float = 0.05, weight: Float = 1, name: String = "") throws {
    try self.init(config: Config(target: target, weight: weight))
    self.name = name
  }

  public func build(for inputShape: SymbolicShape) throws -> SymbolicShape {
    try ElementwiseShape.identity(inputShape, layer: name)
  }

  /// The mean activation of each feature over the batch, clamped.
  private func meanActivations(_ input: Tensor) -> [Double] {
    let batch = max(input.batchCount, 1)
    let width = input.count / batch
    var means = [Double](repeating: 0, count: width)
    input.withUnsafeBufferPointer { x in
      for sample in 0..<batch {
        for feature in 0..<width { means[feature] += Double(x[sample * width + feature]) }
      }
    }
    return means.map { min(max($0 / Double(batch), Self.clamp), 1 - Self.clamp) }
  }

  /// The penalty of a batch.
  public func penalty(_ input: Tensor) -> Float {
    let rho = Double(config.target)
    let total = meanActivations(input).reduce(0.0) { sum, mean in
      sum + rho * log(rho / mean) + (1 - rho) * log((1 - rho) / (1 - mean))
    }
    return Float(Double(config.weight) * total)
  }

  public func forward(_ input: Tensor, record: CallRecord) throws -> Tensor {
    if record.isTraining { record.addLoss(penalty(input), name: "sparsity") }
    return input
  }

  public func backward(_ outputGradient: Tensor, record: CallRecord, computingInputGradient: Bool)
    throws -> Tensor?
  {
    guard record.isTraining else { return outputGradient }
    let input = record.inputs[0]
    let batch = max(input.batchCount, 1)
    let width = input.count / batch
    let rho = Double(config.target)
    let scale = Double(config.weight) / Double(batch)
    let perFeature = meanActivations(input).map { mean in
      Float(scale * (-rho / mean + (1 - rho) / (1 - mean)))
    }
    var gradient = outputGradient
    gradient.withUnsafeMutableBufferPointer { g in
      for sample in 0..<batch {
        for feature in 0..<width { g[sample * width + feature] += perFeature[feature] }
      }
    }
    return gradient
  }
}
