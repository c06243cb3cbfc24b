/// An optimizer named in a model spec or a saved state, encoded as a flat JSON object:
///
/// ```json
/// {"type": "adam", "learningRate": 0.001, "beta1": 0.9, "beta2": 0.999}
/// {"type": "sgd", "learningRate": 0.1, "momentum": 0.9, "nesterov": true}
/// ```
///
/// Types: `sgd`, `adam`, `adamw`, `rmsprop`, `adagrad`. Missing keys take PyTorch's defaults
/// (see each optimizer); unknown keys are rejected so that typos do not pass silently.
public enum OptimizerConfig: Sendable, Equatable {
  /// Stochastic gradient descent.
  case sgd(SGD.Configuration)
  /// Adam (L2 weight decay).
  case adam(Adam.Configuration)
  /// AdamW (decoupled weight decay).
  case adamW(Adam.Configuration)
  /// RMSProp.
  case rmsProp(RMSProp.Configuration)
  /// AdaGrad.
  case adaGrad(AdaGrad.Configuration)

  /// The type names accepted in JSON.
  public static let allTypeNames = ["sgd", "adam", "adamw", "rmsprop", "adagrad"]

  /// The JSON type name.
  public var typeName: String {
    switch self {
    case .sgd: return "sgd"
    case .adam: return "adam"
    case .adamW: return "adamw"
    case .rmsProp: return "rmsprop"
    case .adaGrad: return "adagrad"
    }
  }

  /// The learning rate of the configuration.
  public var learningRate: Float {
    switch self {
    case .sgd(let c): return c.learningRate
    case .adam(let c), .adamW(let c): return c.learningRate
    case .rmsProp(let c): return c.learningRate
    case .adaGrad(let c): return c.learningRate
    }
  }

  /// Checks every hyperparameter.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` naming the first value out of range.
  public func validate() throws {
    switch self {
    case .sgd(let c): try c.validate()
    case .adam(let c): try c.validate(optimizer: "adam")
    case .adamW(let c): try c.validate(optimizer: "adamw")
    case .rmsProp(let c): try c.validate()
    case .adaGrad(let c): try c.validate()
    }
  }

  /// Creates a fresh optimizer.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` for a hyperparameter out of range.
  public func makeOptimizer() throws -> any Optimizer {
    switch self {
    case .sgd(let c): return try SGD(configuration: c)
    case .adam(let c): return try Adam(configuration: c)
    case .adamW(let c): return try AdamW(configuration: c)
    case .rmsProp(let c): return try RMSProp(configuration: c)
    case .adaGrad(let c): return try AdaGrad(configuration: c)
    }
  }

  /// Creates an optimizer from a saved state and restores the state into it, to resume
  /// training of `parameters` (the same list, in the same order, that was exported).
  ///
  /// - Throws: `PlexusError.invalidData` or `.invalidConfiguration` when the state is
  ///   malformed or does not fit the parameters.
  public static func restore(_ state: OptimizerState, for parameters: [Parameter]) throws
    -> any Optimizer
  {
    let config = try state.config.decode(OptimizerConfig.self, context: "optimizer state config")
    let optimizer = try config.makeOptimizer()
    try optimizer.importState(state, for: parameters)
    return optimizer
  }
}

extension OptimizerConfig: Codable {
  private enum TypeKey: String, CodingKey { case type }

  public init(from decoder: Decoder) throws {
    let object = try JSONValue(from: decoder)
    guard case .object(let members) = object else {
      throw PlexusError.invalidConfiguration(
        "an optimizer must be an object such as {\"type\": \"adam\", \"learningRate\": 0.001}")
    }
    guard case .string(let type)? = members["type"] else {
      throw PlexusError.invalidConfiguration(
        "the optimizer has no \"type\"; expected one of \(Self.allTypeNames.joined(separator: ", "))"
      )
    }
    let allowed: Set<String>
    switch type {
    case "sgd": allowed = SGD.Configuration.keys
    case "adam", "adamw": allowed = Adam.Configuration.keys
    case "rmsprop": allowed = RMSProp.Configuration.keys
    case "adagrad": allowed = AdaGrad.Configuration.keys
    default:
      throw PlexusError.invalidConfiguration(
        "unknown optimizer type '\(type)'; expected one of \(Self.allTypeNames.joined(separator: ", "))"
      )
    }
    if let unknown = members.keys.sorted().first(where: { $0 != "type" && !allowed.contains($0) }) {
      throw PlexusError.invalidConfiguration(
        "optimizer '\(type)' has an unknown key '\(unknown)'; expected \(allowed.sorted().joined(separator: ", "))"
      )
    }
    switch type {
    case "sgd": self = .sgd(try SGD.Configuration(from: decoder))
    case "adam": self = .adam(try Adam.Configuration(from: decoder, defaultWeightDecay: 0))
    case "adamw": self = .adamW(try Adam.Configuration(from: decoder, defaultWeightDecay: 0.01))
    case "rmsprop": self = .rmsProp(try RMSProp.Configuration(from: decoder))
    default: self = .adaGrad(try AdaGrad.Configuration(from: decoder))
    }
  }

  public func encode(to encoder: Encoder) throws {
    var container = encoder.container(keyedBy: TypeKey.self)
    try container.encode(typeName, forKey: .type)
    switch self {
    case .sgd(let c): try c.encode(to: encoder)
    case .adam(let c), .adamW(let c): try c.encode(to: encoder)
    case .rmsProp(let c): try c.encode(to: encoder)
    case .adaGrad(let c): try c.encode(to: encoder)
    }
  }
}
