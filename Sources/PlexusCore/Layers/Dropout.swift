/// Inverted dropout: in training, zeroes each input with probability `rate` and scales the
/// rest by `1 / (1 - rate)`; in inference, the identity.
///
/// The mask is drawn from the layer's random stream, seeded by `seed` (or, without one, by the
/// model's build seed), so training runs are reproducible. The mask of each call is kept in
/// that call's record.
public final class Dropout: UnaryLayer {
  /// The hyperparameters of a dropout layer.
  public struct Config: DefaultedConfiguration {
    /// The probability of dropping an input, in `[0, 1)`.
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

  public static let typeName = "plexus.dropout"
  public let state = LayerState()
  /// `true`: each step's output depends on that step alone, so a sequence mask holds.
  public var propagatesSequenceMask: Bool { true }
  public let config: Config

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

  public func build(for inputShape: SymbolicShape) throws -> SymbolicShape {
    guard !inputShape.isEmpty else {
      throw PlexusError.shapeMismatch(
        layer: name, expected: "a non-empty shape of positive dimensions", found: [])
    }
    return inputShape
  }

  public func initialize(using generator: inout SeededGenerator) throws {
    state.seedRandomStream(seed: config.seed, from: &generator)
  }

  public func forward(_ input: Tensor, record: CallRecord) throws -> Tensor {
    guard record.isTraining, config.rate > 0 else { return input }
    let keep = 1 - config.rate
    let scale = 1 / keep
    var mask = Tensor(unsafeUninitializedShape: input.shape) { _ in }
    state.withRandomStream { generator in
      mask.withUnsafeMutableBufferPointer { buffer in
        for index in buffer.indices {
          buffer[index] = generator.nextUnitFloat() < keep ? scale : 0
        }
      }
    }
    record.saved = [mask]
    return Dropout.product(input, mask)
  }

  public func backward(_ outputGradient: Tensor, record: CallRecord, computingInputGradient: Bool)
    throws -> Tensor?
  {
    guard let mask = record.saved.first else { return outputGradient }
    return Dropout.product(outputGradient, mask)
  }

  /// The elementwise product of a tensor and a mask of the same shape (made by `forward`).
  private static func product(_ values: Tensor, _ mask: Tensor) -> Tensor {
    precondition(values.shape == mask.shape, "a dropout mask has the shape of its input")
    var result = values
    result.withUnsafeMutableBufferPointer { destination in
      mask.withUnsafeBufferPointer { scale in
        for index in destination.indices { destination[index] *= scale[index] }
      }
    }
    return result
  }
}
