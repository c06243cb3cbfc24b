/// Inverted dropout: in training, zeroes each input with probability `rate` and scales the
/// rest by `1 / (1 - rate)`; in inference, the identity.
///
/// The mask is drawn from a generator seeded by `seed` (or, without one, by the model's build
/// seed), so training runs are reproducible.
public final class Dropout: Layer {
  /// The hyperparameters of a dropout layer.
  public struct Config: LayerConfiguration {
    /// The probability of dropping an input, in `[0, 1)`.
    public var rate: Float
    /// The seed of the mask generator; `nil` derives it from the model's build seed.
    public var seed: UInt64?
    /// Creates a config.
    public init(rate: Float, seed: UInt64? = nil) {
      self.rate = rate
      self.seed = seed
    }
  }

  public static let typeName = "plexus.dropout"
  public var name = ""
  public let config: Config
  private var sampleShape: [Int]?
  private var generator = SeededGenerator(seed: 0)
  private var mask: Tensor?
  private var lastOutputShape: [Int]?

  /// - Throws: `PlexusError.invalidConfiguration` unless `0 <= rate < 1`.
  public init(config: Config) throws {
    guard config.rate >= 0, config.rate < 1 else {
      throw PlexusError.invalidConfiguration("dropout rate must be in [0, 1), got \(config.rate)")
    }
    self.config = config
  }

  /// Creates a dropout layer.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` unless `0 <= rate < 1`.
  public convenience init(rate: Float, seed: UInt64? = nil, name: String = "") throws {
    try self.init(config: Config(rate: rate, seed: seed))
    self.name = name
  }

  public func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    guard !inputShape.isEmpty, inputShape.allSatisfy({ $0 > 0 }) else {
      throw PlexusError.shapeMismatch(
        layer: name, expected: "a non-empty shape of positive dimensions", found: inputShape)
    }
    sampleShape = inputShape
    self.generator = config.seed.map(SeededGenerator.init(seed:)) ?? generator.split()
    return inputShape
  }

  public func forward(_ input: Tensor, training: Bool) throws -> Tensor {
    try ShapeCheck.requireBatch(input, sampleShape: sampleShape, layer: name)
    lastOutputShape = input.shape
    guard training, config.rate > 0 else {
      mask = nil
      return input
    }
    let keep = 1 - config.rate
    let scale = 1 / keep
    var newMask = Tensor.zeros(input.shape)
    newMask.withUnsafeMutableBufferPointer { buffer in
      for index in buffer.indices {
        buffer[index] = generator.nextUnitFloat() < keep ? scale : 0
      }
    }
    mask = newMask
    return input * newMask
  }

  public func backward(_ outputGradient: Tensor) throws -> Tensor {
    try ShapeCheck.requireGradient(outputGradient, matches: lastOutputShape, layer: name)
    guard let mask else { return outputGradient }
    return outputGradient * mask
  }
}
