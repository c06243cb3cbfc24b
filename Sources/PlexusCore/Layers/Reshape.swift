/// Flattens each sample to one dimension: `[N, d1, d2, ...]` becomes `[N, d1 * d2 * ...]`.
///
/// With channels-last images this is NHWC order, as Keras flattens.
public final class Flatten: UnaryLayer {
  /// Flatten has no hyperparameters.
  public struct Config: DefaultedConfiguration {
    /// Creates a config.
    public init() {}

    public static var defaults: Config { Config() }
    public static var fields: [ConfigField<Config>] { [] }
  }

  public static let typeName = "plexus.flatten"
  public let state = LayerState()
  public let config: Config

  public init(config: Config = Config()) { self.config = config }

  /// Creates a flatten layer.
  public convenience init(name: String) {
    self.init()
    self.name = name
  }

  public func build(for inputShape: SymbolicShape) throws -> SymbolicShape {
    let shape = try ShapeCheck.fixed(
      inputShape, layer: name, expected: "a non-empty shape of positive dimensions")
    guard !shape.isEmpty else {
      throw PlexusError.shapeMismatch(
        layer: name, expected: "a non-empty shape of positive dimensions", found: shape)
    }
    return [try Tensor.elementCount(of: shape)]
  }

  public func forward(_ input: Tensor, record: CallRecord) throws -> Tensor {
    try input.reshaped([input.batchCount, input.sampleSize])
  }

  public func backward(_ outputGradient: Tensor, record: CallRecord, computingInputGradient: Bool)
    throws -> Tensor?
  {
    try outputGradient.reshaped(record.inputs[0].shape)
  }
}

/// Reshapes each sample to `targetShape`; one dimension may be `-1` and is inferred.
public final class Reshape: UnaryLayer {
  /// The hyperparameters of a reshape layer.
  public struct Config: DefaultedConfiguration {
    /// The per-sample output shape; at most one entry may be `-1`.
    public var targetShape: [Int]
    /// Creates a config.
    public init(targetShape: [Int]) { self.targetShape = targetShape }

    public static var defaults: Config { Config(targetShape: [-1]) }
    public static var fields: [ConfigField<Config>] { [.required("targetShape", \.targetShape)] }
  }

  public static let typeName = "plexus.reshape"
  public let state = LayerState()
  public let config: Config
  private let outputShape = BuildValue<[Int]>()

  /// - Throws: `PlexusError.invalidConfiguration` for a malformed target shape.
  public init(config: Config) throws {
    let inferred = config.targetShape.filter { $0 == -1 }.count
    guard !config.targetShape.isEmpty, inferred <= 1,
      config.targetShape.allSatisfy({ $0 > 0 || $0 == -1 })
    else {
      throw PlexusError.invalidConfiguration(
        "reshape target \(config.targetShape) must have positive dimensions and at most one -1")
    }
    _ = try Tensor.elementCount(of: config.targetShape.map { Swift.max($0, 1) })
    self.config = config
  }

  /// Creates a reshape layer.
  public convenience init(_ targetShape: [Int], name: String = "") throws {
    try self.init(config: Config(targetShape: targetShape))
    self.name = name
  }

  public func build(for inputShape: SymbolicShape) throws -> SymbolicShape {
    let shape = try ShapeCheck.fixed(
      inputShape, layer: name, expected: "a non-empty shape of positive dimensions")
    let count = try Tensor.elementCount(of: shape)
    guard !shape.isEmpty, count > 0 else {
      throw PlexusError.shapeMismatch(
        layer: name, expected: "a non-empty shape of positive dimensions", found: shape)
    }
    var target = config.targetShape
    let known = try Tensor.elementCount(of: target.filter { $0 != -1 })
    if let inferredAxis = target.firstIndex(of: -1) {
      guard count % known == 0 else {
        throw PlexusError.shapeMismatch(
          layer: name, expected: "an element count divisible by \(known) to reshape to \(target)",
          found: shape)
      }
      target[inferredAxis] = count / known
    }
    guard try Tensor.elementCount(of: target) == count else {
      throw PlexusError.shapeMismatch(
        layer: name, expected: "\(known) elements to reshape to \(target)", found: shape)
    }
    outputShape.value = target
    return target.map { $0 }
  }

  public func forward(_ input: Tensor, record: CallRecord) throws -> Tensor {
    try input.reshaped([input.batchCount] + outputShape.get(layer: name))
  }

  public func backward(_ outputGradient: Tensor, record: CallRecord, computingInputGradient: Bool)
    throws -> Tensor?
  {
    try outputGradient.reshaped(record.inputs[0].shape)
  }
}
