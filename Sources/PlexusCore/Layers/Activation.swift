/// Applies an activation function elementwise (softmax: over the last dimension).
///
/// ```swift
/// let layer = Activation(.relu)
/// ```
public final class Activation: UnaryLayer {
  /// The hyperparameters of an activation layer.
  public struct Config: DefaultedConfiguration {
    /// The function applied.
    public var activation: ActivationFunction
    /// Creates a config.
    public init(activation: ActivationFunction) { self.activation = activation }

    public static var defaults: Config { Config(activation: .linear) }
    public static var fields: [ConfigField<Config>] { [.required("activation", \.activation)] }
  }

  public static let typeName = "plexus.activation"
  public let state = LayerState()
  /// `true`: each step's output depends on that step alone, so a sequence mask holds.
  public var propagatesSequenceMask: Bool { true }
  public let config: Config

  public init(config: Config) { self.config = config }

  /// Creates an activation layer.
  public convenience init(_ activation: ActivationFunction, name: String = "") {
    self.init(config: Config(activation: activation))
    self.name = name
  }

  public func build(for inputShape: SymbolicShape) throws -> SymbolicShape {
    guard !inputShape.isEmpty else {
      throw PlexusError.shapeMismatch(
        layer: name, expected: "a non-empty shape of positive dimensions", found: [])
    }
    if config.activation == .softmax, inputShape.last! == nil {
      throw PlexusError.shapeMismatch(
        layer: name, expected: "a known last dimension for softmax",
        found: ShapeCheck.flatten(inputShape))
    }
    return inputShape
  }

  public func forward(_ input: Tensor, record: CallRecord) throws -> Tensor {
    config.activation.apply(input)
  }

  public func backward(_ outputGradient: Tensor, record: CallRecord, computingInputGradient: Bool)
    throws -> Tensor?
  {
    config.activation.backward(
      input: record.inputs[0], output: record.outputs[0], outputGradient: outputGradient)
  }
}
