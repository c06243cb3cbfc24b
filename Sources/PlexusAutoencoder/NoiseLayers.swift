import PlexusCore

/// Adds zero-mean Gaussian noise of standard deviation `stddev` to its input while training
/// (the corruption of a denoising autoencoder); the identity in inference.
///
/// The noise is drawn from the layer's random stream, seeded by `seed` (or, without one, by
/// the model's build seed), so training runs are reproducible. The gradient is the identity.
public final class GaussianNoise: UnaryLayer {
  /// The hyperparameters of a Gaussian noise layer.
  public struct Config: DefaultedConfiguration {
    /// The standard deviation of the noise, finite and non-negative.
    public var stddev: Float
    /// The seed of the noise generator; `nil` derives it from the model's build seed.
    public var seed: UInt64?
    /// Creates a config.
    public init(stddev: Float, seed: UInt64? = nil) {
      self.stddev = stddev
      self.seed = seed
    }

    public static var defaults: Config { Config(stddev: 0) }
    public static var fields: [ConfigField<Config>] {
      [.required("stddev", \.stddev), .init("seed", \.seed)]
    }
  }

  public static let typeName = "plexus.gaussian_noise"
  public let state = LayerState()
  public let config: Config

  /// - Throws: `PlexusError.invalidConfiguration` unless `stddev` is finite and non-negative.
  public init(config: Config) throws {
    guard config.stddev.isFinite, config.stddev >= 0 else {
      throw PlexusError.invalidConfiguration(
        "gaussian noise stddev must be finite and non-negative, got \(config.stddev)")
    }
    self.config = config
  }

  /// Creates a Gaussian noise layer.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` unless `stddev` is finite and non-negative.
  public convenience init(stddev: Float, seed: UInt64? = nil, name: String = "") throws {
    try self.init(config: Config(stddev: stddev, seed: seed))
    self.name = name
  }

  public func build(for inputShape: SymbolicShape) throws -> SymbolicShape {
    try ElementwiseShape.identity(inputShape, layer: name)
  }

  public func initialize(using generator: inout SeededGenerator) throws {
    state.seedRandomStream(seed: config.seed, from: &generator)
  }

  public func forward(_ input: Tensor, record: CallRecord) throws -> Tensor {
    guard record.isTraining, config.stddev > 0 else { return input }
    let stddev = config.stddev
    var output = input
    state.transformElements(of: &output) { value, generator in
      value + stddev * generator.nextNormal()
    }
    return output
  }

  public func backward(_ outputGradient: Tensor, record: CallRecord, computingInputGradient: Bool)
    throws -> Tensor?
  {
    outputGradient
  }
}

/// Masking noise: while training, sets each input to zero with probability `rate` (without
/// rescaling the others, unlike dropout), the corruption of Vincent et al.'s denoising
/// autoencoders; the identity in inference.
///
/// The mask is drawn from the layer's random stream, seeded by `seed` (or the model's build
/// seed), and kept in the call's record for the backward pass.
public final class MaskingNoise: UnaryLayer {
  /// The hyperparameters of a masking noise layer.
  public struct Config: DefaultedConfiguration {
    /// The probability of zeroing an input, in `[0, 1)`.
    public var rate: Float
    /// The seed of the mask generator; `nil` derives it from the model's build seed.
    public var seed: UInt64?
    /// Creates a config.
    public init(rate: Float, seed: UInt64? = nil) {
      self.rate = rate
      self.seed = seed
    }

    public static var defaults: Config { Config(rate: 0) }
    public static var fields: [ConfigField<Config>] {
      [.required("rate", \.rate), .init("seed", \.seed)]
    }
  }

  public static let typeName = "plexus.masking_noise"
  public let state = LayerState()
  public let config: Config

  /// - Throws: `PlexusError.invalidConfiguration` unless `0 <= rate < 1`.
  public init(config: Config) throws {
    guard config.rate >= 0, config.rate < 1 else {
      throw PlexusError.invalidConfiguration(
        "masking noise rate must be in [0, 1), got \(config.rate)")
    }
    self.config = config
  }

  /// Creates a masking noise layer.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` unless `0 <= rate < 1`.
  public convenience init(rate: Float, seed: UInt64? = nil, name: String = "") throws {
    try self.init(config: Config(rate: rate, seed: seed))
    self.name = name
  }

  public func build(for inputShape: SymbolicShape) throws -> SymbolicShape {
    try ElementwiseShape.identity(inputShape, layer: name)
  }

  public func initialize(using generator: inout SeededGenerator) throws {
    state.seedRandomStream(seed: config.seed, from: &generator)
  }

  public func forward(_ input: Tensor, record: CallRecord) throws -> Tensor {
    guard record.isTraining, config.rate > 0 else { return input }
    let rate = config.rate
    var mask = Tensor.zeros(input.shape)
    state.transformElements(of: &mask) { _, generator in
      generator.nextUnitFloat() < rate ? 0 : 1
    }
    record.saved = [mask]
    return try input * mask
  }

  public func backward(_ outputGradient: Tensor, record: CallRecord, computingInputGradient: Bool)
    throws -> Tensor?
  {
    guard let mask = record.saved.first else { return outputGradient }
    return try outputGradient * mask
  }
}
