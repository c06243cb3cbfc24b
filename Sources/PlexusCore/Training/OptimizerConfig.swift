/// An optimizer named in a model spec or in training metadata: its registered type and its
/// hyperparameters, encoded as a flat JSON object:
///
/// ```json
/// {"type": "plexus.adam", "learningRate": 0.001, "beta1": 0.9, "beta2": 0.999}
/// {"type": "sgd", "learningRate": 0.1, "momentum": 0.9, "nesterov": true}
/// ```
///
/// Any optimizer registered in `OptimizerRegistry.shared` decodes; the built-in short names
/// (`sgd`, `adam`, `adamw`, `rmsprop`, `adagrad`) are aliases of `plexus.sgd`, ... A bare name
/// (`"adam"`) takes every default. Missing keys take the optimizer's defaults (PyTorch's for
/// the built-ins); unknown keys are rejected with the nearest known key as a suggestion.
/// Encoding writes the registered name and every hyperparameter.
public struct OptimizerConfig: Sendable, Equatable, CustomStringConvertible {
  /// The registered type name (`plexus.adam`).
  public let typeName: String
  /// The hyperparameters.
  public let configuration: any OptimizerHyperparameters
  private let optimizerType: any Optimizer.Type

  /// Describes an optimizer type with its hyperparameters (checked when the optimizer is
  /// made).
  public init<O: Optimizer>(_ optimizerType: O.Type, configuration: O.Configuration) {
    typeName = O.typeName
    self.configuration = configuration
    self.optimizerType = optimizerType
  }

  /// Describes an existing optimizer: its type and current hyperparameters.
  public init(_ optimizer: some Optimizer) {
    self.init(type(of: optimizer), configuration: optimizer.configuration)
  }

  /// Reads a name (`"adam"`) or a flat object (`{"type": "adam", "learningRate": 0.001}`)
  /// through `registry`.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` for an unknown type (listing the registered
  ///   ones), an unknown key or a value out of range.
  public init(json: JSONValue, registry: OptimizerRegistry = .shared) throws {
    self = try registry.config(from: json)
  }

  /// Stochastic gradient descent.
  public static func sgd(_ configuration: SGD.Configuration) -> OptimizerConfig {
    OptimizerConfig(SGD.self, configuration: configuration)
  }

  /// Adam (L2 weight decay).
  public static func adam(_ configuration: Adam.Configuration) -> OptimizerConfig {
    OptimizerConfig(Adam.self, configuration: configuration)
  }

  /// AdamW (decoupled weight decay).
  public static func adamW(_ configuration: Adam.Configuration) -> OptimizerConfig {
    OptimizerConfig(AdamW.self, configuration: configuration)
  }

  /// RMSProp.
  public static func rmsProp(_ configuration: RMSProp.Configuration) -> OptimizerConfig {
    OptimizerConfig(RMSProp.self, configuration: configuration)
  }

  /// AdaGrad.
  public static func adaGrad(_ configuration: AdaGrad.Configuration) -> OptimizerConfig {
    OptimizerConfig(AdaGrad.self, configuration: configuration)
  }

  /// The learning rate of the configuration.
  public var learningRate: Float { configuration.learningRate }

  /// Checks every hyperparameter.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` naming the first value out of range.
  public func validate() throws {
    try configuration.validate(optimizer: typeName)
  }

  /// Creates a fresh optimizer.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` for a hyperparameter out of range.
  public func makeOptimizer() throws -> any Optimizer {
    try Self.make(optimizerType, configuration)
  }

  private static func make<O: Optimizer>(
    _ optimizerType: O.Type, _ configuration: any OptimizerHyperparameters
  ) throws -> any Optimizer {
    guard let configuration = configuration as? O.Configuration else {
      throw PlexusError.invalidConfiguration(
        "optimizer '\(O.typeName)' takes a \(O.Configuration.self), got a \(type(of: configuration))"
      )
    }
    return try O(configuration: configuration)
  }

  /// Creates the optimizer a saved state names and restores the state into it, to resume
  /// training of `parameters` (the same list, in the same order, that was exported).
  ///
  /// - Throws: as `OptimizerRegistry.restore(_:for:)`.
  public static func restore(
    _ state: OptimizerState, for parameters: [Parameter], registry: OptimizerRegistry = .shared
  ) throws -> any Optimizer {
    try registry.restore(state, for: parameters)
  }

  public static func == (lhs: OptimizerConfig, rhs: OptimizerConfig) -> Bool {
    lhs.typeName == rhs.typeName
      && ObjectIdentifier(lhs.optimizerType) == ObjectIdentifier(rhs.optimizerType)
      && lhs.configuration.isEqual(to: rhs.configuration)
  }

  /// The flat JSON form, or the type name when it cannot be encoded.
  public var description: String {
    (try? ComponentJSON.text(of: self)) ?? typeName
  }
}

extension OptimizerConfig: Codable {
  /// Decodes through `OptimizerRegistry.shared`.
  ///
  /// - Throws: as `init(json:registry:)`.
  public init(from decoder: any Decoder) throws {
    try self.init(json: try JSONValue(from: decoder))
  }

  /// Encodes `{"type": typeName, <every hyperparameter>}`.
  public func encode(to encoder: any Encoder) throws {
    try ComponentJSON.encode(typeName: typeName, config: configuration, to: encoder)
  }
}
