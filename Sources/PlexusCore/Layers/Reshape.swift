/// Flattens each sample to one dimension: `[N, d1, d2, ...]` becomes `[N, d1 * d2 * ...]`.
///
/// With channels-last images this is NHWC order, as Keras flattens.
public final class Flatten: Layer {
  /// Flatten has no hyperparameters.
  public struct Config: LayerConfiguration {
    /// Creates a config.
    public init() {}
  }

  public static let typeName = "plexus.flatten"
  public var name = ""
  public let config: Config
  private var sampleShape: [Int]?

  public init(config: Config = Config()) { self.config = config }

  /// Creates a flatten layer.
  public convenience init(name: String) {
    self.init()
    self.name = name
  }

  public func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    guard !inputShape.isEmpty, inputShape.allSatisfy({ $0 > 0 }) else {
      throw PlexusError.shapeMismatch(
        layer: name, expected: "a non-empty shape of positive dimensions", found: inputShape)
    }
    sampleShape = inputShape
    return [try Tensor.elementCount(of: inputShape)]
  }

  public func forward(_ input: Tensor, training: Bool) throws -> Tensor {
    try ShapeCheck.requireBatch(input, sampleShape: sampleShape, layer: name)
    return try input.reshaped([input.batchCount, input.sampleSize])
  }

  public func backward(_ outputGradient: Tensor) throws -> Tensor {
    guard let sampleShape else { throw PlexusError.notBuilt("layer '\(name)' is not built") }
    return try outputGradient.reshaped([outputGradient.batchCount] + sampleShape)
  }
}

/// Reshapes each sample to `targetShape`; one dimension may be `-1` and is inferred.
public final class Reshape: Layer {
  /// The hyperparameters of a reshape layer.
  public struct Config: LayerConfiguration {
    /// The per-sample output shape; at most one entry may be `-1`.
    public var targetShape: [Int]
    /// Creates a config.
    public init(targetShape: [Int]) { self.targetShape = targetShape }
  }

  public static let typeName = "plexus.reshape"
  public var name = ""
  public let config: Config
  private var sampleShape: [Int]?
  private var outputShape: [Int]?

  /// - Throws: `PlexusError.invalidConfiguration` for a malformed target shape.
  public init(config: Config) throws {
    let inferred = config.targetShape.filter { $0 == -1 }.count
    guard !config.targetShape.isEmpty, inferred <= 1,
      config.targetShape.allSatisfy({ $0 > 0 || $0 == -1 })
    else {
      throw PlexusError.invalidConfiguration(
        "reshape target \(config.targetShape) must have positive dimensions and at most one -1")
    }
    self.config = config
  }

  /// Creates a reshape layer.
  public convenience init(_ targetShape: [Int], name: String = "") throws {
    try self.init(config: Config(targetShape: targetShape))
    self.name = name
  }

  public func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    let count = try Tensor.elementCount(of: inputShape)
    guard !inputShape.isEmpty, count > 0 else {
      throw PlexusError.shapeMismatch(
        layer: name, expected: "a non-empty shape of positive dimensions", found: inputShape)
    }
    var target = config.targetShape
    let known = target.filter { $0 != -1 }.reduce(1, *)
    if let inferredAxis = target.firstIndex(of: -1) {
      guard count % known == 0 else {
        throw PlexusError.shapeMismatch(
          layer: name, expected: "an element count divisible by \(known) to reshape to \(target)",
          found: inputShape)
      }
      target[inferredAxis] = count / known
    }
    guard target.reduce(1, *) == count else {
      throw PlexusError.shapeMismatch(
        layer: name, expected: "\(target.reduce(1, *)) elements to reshape to \(target)",
        found: inputShape)
    }
    sampleShape = inputShape
    outputShape = target
    return target
  }

  public func forward(_ input: Tensor, training: Bool) throws -> Tensor {
    try ShapeCheck.requireBatch(input, sampleShape: sampleShape, layer: name)
    guard let outputShape else { throw PlexusError.notBuilt(name) }
    return try input.reshaped([input.batchCount] + outputShape)
  }

  public func backward(_ outputGradient: Tensor) throws -> Tensor {
    guard let sampleShape else { throw PlexusError.notBuilt("layer '\(name)' is not built") }
    return try outputGradient.reshaped([outputGradient.batchCount] + sampleShape)
  }
}

/// Registration of the layers that live in PlexusCore.
public enum CoreLayers {
  /// The module name reported in registry errors.
  public static let module = "PlexusCore"

  /// Registers Sequential, Activation, Dropout, Flatten and Reshape.
  public static func register(in registry: LayerRegistry) {
    registry.registerBuiltIn(Sequential.self, module: module)
    registry.registerBuiltIn(Activation.self, module: module)
    registry.registerBuiltIn(Dropout.self, module: module)
    registry.registerBuiltIn(Flatten.self, module: module)
    registry.registerBuiltIn(Reshape.self, module: module)
  }
}
