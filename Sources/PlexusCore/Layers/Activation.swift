/// Applies an activation function elementwise (softmax: over the last dimension).
///
/// ```swift
/// let layer = Activation(.relu)
/// ```
public final class Activation: Layer {
  /// The hyperparameters of an activation layer.
  public struct Config: LayerConfiguration {
    /// The function applied.
    public var activation: ActivationFunction
    /// Creates a config.
    public init(activation: ActivationFunction) { self.activation = activation }
  }

  public static let typeName = "plexus.activation"
  public var name = ""
  public let config: Config
  private var sampleShape: [Int]?
  private var cachedInput: Tensor?
  private var cachedOutput: Tensor?

  public init(config: Config) { self.config = config }

  /// Creates an activation layer.
  public convenience init(_ activation: ActivationFunction, name: String = "") {
    self.init(config: Config(activation: activation))
    self.name = name
  }

  public func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    guard !inputShape.isEmpty, inputShape.allSatisfy({ $0 > 0 }) else {
      throw PlexusError.shapeMismatch(
        layer: name, expected: "a non-empty shape of positive dimensions", found: inputShape)
    }
    sampleShape = inputShape
    return inputShape
  }

  public func forward(_ input: Tensor, training: Bool) throws -> Tensor {
    try ShapeCheck.requireBatch(input, sampleShape: sampleShape, layer: name)
    let output = config.activation.apply(input)
    cachedInput = input
    cachedOutput = output
    return output
  }

  public func backward(_ outputGradient: Tensor) throws -> Tensor {
    try ShapeCheck.requireGradient(outputGradient, matches: cachedOutput?.shape, layer: name)
    guard let cachedInput, let cachedOutput else { throw PlexusError.notBuilt(name) }
    return config.activation.backward(
      input: cachedInput, output: cachedOutput, outputGradient: outputGradient)
  }
}
