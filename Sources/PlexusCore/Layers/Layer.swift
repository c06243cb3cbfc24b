/// The configuration of a layer: hyperparameters only, no tensors. It encodes to JSON and is
/// what a model file stores as the layer's architecture.
public typealias LayerConfiguration = Codable & Sendable & Equatable

/// A layer of a neural network with a hand-written forward and backward pass.
///
/// The life of a layer:
/// 1. `init(config:)` takes hyperparameters only.
/// 2. `build(inputShape:generator:)` validates the per-sample input shape (without the batch
///    dimension), creates parameters and returns the per-sample output shape.
/// 3. `forward(_:training:)` computes the output for a batch and caches what `backward` needs.
/// 4. `backward(_:)` takes the gradient of the loss with respect to the output, accumulates
///    parameter gradients into `Parameter.gradient` and returns the gradient with respect to
///    the input. `backward(_:computingInputGradient:)` does the same but may skip the input
///    gradient when the caller does not need it (a model's first layer in training): layers
///    whose input gradient is a large product of its own (`Dense`, the convolutions)
///    implement it, and the parameter gradients are the same either way. The default calls
///    `backward(_:)`.
///
/// Layers are registered under a namespaced `typeName` (`plexus.dense`; third parties use
/// their own prefix such as `com.example.gated`) so that models can be saved and loaded.
public protocol Layer: AnyObject, SendableMetatype {
  /// The layer's hyperparameters.
  associatedtype Config: LayerConfiguration

  /// The namespaced, stable type name under which the layer is registered.
  static var typeName: String { get }

  /// The base of automatic layer names (`dense` gives `dense_1`, `dense_2`, ...).
  static var defaultNamePrefix: String { get }

  /// The layer's name, unique within a model (`dense_1`). Empty until a model names it.
  var name: String { get set }

  /// The hyperparameters this layer was created with.
  var config: Config { get }

  /// Creates an unbuilt layer from its configuration.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` when a hyperparameter is out of range.
  init(config: Config) throws

  /// Creates a layer from its configuration when loading a model; containers use `registry`
  /// to create their children. The default calls `init(config:)`.
  static func make(config: Config, registry: LayerRegistry) throws -> Self

  /// Validates the per-sample input shape, creates parameters and returns the per-sample
  /// output shape.
  ///
  /// - Throws: `PlexusError.shapeMismatch` (or another `PlexusError`) for an input shape the
  ///   layer cannot accept.
  func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int]

  /// Computes the output for a batch (`[N] + inputShape`).
  func forward(_ input: Tensor, training: Bool) throws -> Tensor

  /// Propagates the output gradient back: accumulates parameter gradients and returns the
  /// input gradient.
  func backward(_ outputGradient: Tensor) throws -> Tensor

  /// Propagates the output gradient back like `backward(_:)`; when `computingInputGradient`
  /// is false the caller does not need the input gradient, and the layer may return `nil`
  /// instead of computing it. Parameter gradients accumulate exactly as in `backward(_:)`.
  /// The default calls `backward(_:)`.
  func backward(_ outputGradient: Tensor, computingInputGradient: Bool) throws -> Tensor?

  /// The layer's parameters (for containers, all nested parameters in order).
  var parameters: [Parameter] { get }

  /// The parameters with their full paths (`dense_1.kernel`). Containers prefix their
  /// children's paths with their own name.
  var namedParameters: [(path: String, parameter: Parameter)] { get }
}

extension Layer {
  public static func make(config: Config, registry: LayerRegistry) throws -> Self {
    try Self(config: config)
  }

  public static var defaultNamePrefix: String {
    let base = typeName.split(separator: ".").last.map(String.init) ?? typeName
    return base.isEmpty ? "layer" : base
  }

  public var parameters: [Parameter] { [] }

  public func backward(_ outputGradient: Tensor, computingInputGradient: Bool) throws -> Tensor? {
    try backward(outputGradient)
  }

  public var namedParameters: [(path: String, parameter: Parameter)] {
    parameters.map { (path: "\(name).\($0.name)", parameter: $0) }
  }

  /// The registered type name of this layer's class.
  public var typeName: String { Self.typeName }

  /// The total number of scalars in the parameters.
  public var parameterCount: Int { parameters.reduce(0) { $0 + $1.count } }

  /// Resets all parameter gradients to zero.
  public func zeroGradients() {
    for parameter in parameters { parameter.zeroGradient() }
  }
}

/// Shape checks shared by layers.
public enum ShapeCheck {
  /// Throws unless the per-sample shape has `rank` dimensions, each positive.
  public static func require(
    _ shape: [Int], rank: Int, layer: String, expected: String
  ) throws {
    guard shape.count == rank, shape.allSatisfy({ $0 > 0 }) else {
      throw PlexusError.shapeMismatch(layer: layer, expected: expected, found: shape)
    }
  }

  /// Throws unless a batch tensor has the per-sample shape `sampleShape`.
  public static func requireBatch(_ input: Tensor, sampleShape: [Int]?, layer: String) throws {
    guard let sampleShape else {
      throw PlexusError.notBuilt("layer '\(layer)' must be built before it is run")
    }
    guard input.rank == sampleShape.count + 1, input.sampleShape == sampleShape else {
      throw PlexusError.shapeMismatch(
        layer: layer, expected: "[N] + \(sampleShape)", found: input.shape)
    }
  }

  /// Throws unless a gradient has the shape of the cached forward output.
  public static func requireGradient(_ gradient: Tensor, matches shape: [Int]?, layer: String)
    throws
  {
    guard let shape else {
      throw PlexusError.notBuilt("layer '\(layer)': backward called before forward")
    }
    guard gradient.shape == shape else {
      throw PlexusError.shapeMismatch(
        layer: layer, expected: "gradient of shape \(shape)", found: gradient.shape)
    }
  }
}
