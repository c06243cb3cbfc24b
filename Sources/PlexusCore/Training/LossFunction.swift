/// A loss named in a model spec, encoded as JSON with Keras' names.
///
/// | JSON | loss |
/// |---|---|
/// | `"mse"`, `"mean_squared_error"` | `MeanSquaredError` |
/// | `"mae"`, `"mean_absolute_error"` | `MeanAbsoluteError` |
/// | `{"type": "huber", "delta": 1.0}` (or `"huber"`, delta 1) | `Huber` |
/// | `{"type": "binary_crossentropy", "fromLogits": true}` | `BinaryCrossEntropy` |
/// | `"softmax_cross_entropy"` | `CategoricalCrossEntropy(fromLogits: true)` |
/// | `{"type": "categorical_crossentropy", "fromLogits": false}` | `CategoricalCrossEntropy` |
/// | `"hinge"` | `Hinge` |
///
/// `from_logits` semantics: `"softmax_cross_entropy"` always reads logits (a model whose last
/// layer has no softmax). `"binary_crossentropy"`, `"categorical_crossentropy"` and its alias
/// `"sparse_categorical_crossentropy"` follow Keras: `fromLogits` defaults to `false`, so they
/// expect probabilities (a model ending in sigmoid or softmax) unless `"fromLogits": true` is
/// given. Both categorical names accept class-index and one-hot targets. A string form such as
/// `"binary_crossentropy"` takes the defaults.
public enum LossFunction: Sendable, Equatable {
  /// Mean squared error.
  case meanSquaredError
  /// Mean absolute error.
  case meanAbsoluteError
  /// Huber loss with the given delta.
  case huber(delta: Float)
  /// Binary cross-entropy from logits or probabilities.
  case binaryCrossEntropy(fromLogits: Bool)
  /// Categorical cross-entropy from logits (the softmax cross-entropy) or probabilities.
  case categoricalCrossEntropy(fromLogits: Bool)
  /// Hinge loss.
  case hinge

  /// The JSON type names accepted when decoding.
  public static let allNames = [
    "mse", "mean_squared_error", "mae", "mean_absolute_error", "huber", "binary_crossentropy",
    "softmax_cross_entropy", "categorical_crossentropy", "sparse_categorical_crossentropy", "hinge",
  ]

  /// The canonical JSON type name.
  public var name: String {
    switch self {
    case .meanSquaredError: return "mse"
    case .meanAbsoluteError: return "mae"
    case .huber: return "huber"
    case .binaryCrossEntropy: return "binary_crossentropy"
    case .categoricalCrossEntropy(let fromLogits):
      return fromLogits ? "softmax_cross_entropy" : "categorical_crossentropy"
    case .hinge: return "hinge"
    }
  }

  /// Looks a loss up by name with optional parameters.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` for an unknown name (listing the accepted
  ///   ones) or a parameter the loss does not take or that is out of range.
  public init(name: String, delta: Float? = nil, fromLogits: Bool? = nil) throws {
    func reject(_ parameter: String) -> PlexusError {
      PlexusError.invalidConfiguration("loss '\(name)' takes no parameter '\(parameter)'")
    }
    switch name {
    case "mse", "mean_squared_error", "mae", "mean_absolute_error", "hinge":
      if delta != nil { throw reject("delta") }
      if fromLogits != nil { throw reject("fromLogits") }
      switch name {
      case "mse", "mean_squared_error": self = .meanSquaredError
      case "mae", "mean_absolute_error": self = .meanAbsoluteError
      default: self = .hinge
      }
    case "huber":
      if fromLogits != nil { throw reject("fromLogits") }
      let value = delta ?? 1
      guard value > 0, value.isFinite else {
        throw PlexusError.invalidConfiguration(
          "loss 'huber': delta must be positive and finite, got \(value)")
      }
      self = .huber(delta: value)
    case "binary_crossentropy":
      if delta != nil { throw reject("delta") }
      self = .binaryCrossEntropy(fromLogits: fromLogits ?? false)
    case "softmax_cross_entropy":
      if delta != nil { throw reject("delta") }
      guard fromLogits ?? true else {
        throw PlexusError.invalidConfiguration(
          "loss 'softmax_cross_entropy' always reads logits; use 'categorical_crossentropy' with "
            + "\"fromLogits\": false for probabilities")
      }
      self = .categoricalCrossEntropy(fromLogits: true)
    case "categorical_crossentropy", "sparse_categorical_crossentropy":
      if delta != nil { throw reject("delta") }
      self = .categoricalCrossEntropy(fromLogits: fromLogits ?? false)
    default:
      throw PlexusError.invalidConfiguration(
        "unknown loss '\(name)'; expected one of \(LossFunction.allNames.joined(separator: ", "))")
    }
  }

  /// Creates the loss.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` when a parameter is out of range.
  public func makeLoss() throws -> any Loss {
    switch self {
    case .meanSquaredError: return MeanSquaredError()
    case .meanAbsoluteError: return MeanAbsoluteError()
    case .huber(let delta):
      guard delta > 0, delta.isFinite else {
        throw PlexusError.invalidConfiguration(
          "loss 'huber': delta must be positive and finite, got \(delta)")
      }
      return Huber(delta: delta)
    case .binaryCrossEntropy(let fromLogits): return BinaryCrossEntropy(fromLogits: fromLogits)
    case .categoricalCrossEntropy(let fromLogits):
      return CategoricalCrossEntropy(fromLogits: fromLogits)
    case .hinge: return Hinge()
    }
  }
}

extension LossFunction: Codable {
  private enum CodingKeys: String, CodingKey { case type, delta, fromLogits }

  public init(from decoder: Decoder) throws {
    if let container = try? decoder.singleValueContainer(),
      let name = try? container.decode(String.self)
    {
      self = try LossFunction(name: name)
      return
    }
    let object = try JSONValue(from: decoder)
    guard case .object(let members) = object else {
      throw PlexusError.invalidConfiguration(
        "a loss must be a name such as \"mse\" or an object such as {\"type\": \"huber\", \"delta\": 1}"
      )
    }
    let allowed: Set<String> = ["type", "delta", "fromLogits"]
    if let unknown = members.keys.sorted().first(where: { !allowed.contains($0) }) {
      throw PlexusError.invalidConfiguration(
        "loss has an unknown key '\(unknown)'; expected \(allowed.sorted().joined(separator: ", "))"
      )
    }
    let container = try decoder.container(keyedBy: CodingKeys.self)
    let name = try container.decode(String.self, forKey: .type)
    self = try LossFunction(
      name: name, delta: try container.decodeIfPresent(Float.self, forKey: .delta),
      fromLogits: try container.decodeIfPresent(Bool.self, forKey: .fromLogits))
  }

  public func encode(to encoder: Encoder) throws {
    switch self {
    case .meanSquaredError, .meanAbsoluteError, .hinge, .categoricalCrossEntropy(fromLogits: true):
      var container = encoder.singleValueContainer()
      try container.encode(name)
    case .huber(let delta):
      var container = encoder.container(keyedBy: CodingKeys.self)
      try container.encode(name, forKey: .type)
      try container.encode(delta, forKey: .delta)
    case .binaryCrossEntropy(let fromLogits), .categoricalCrossEntropy(let fromLogits):
      var container = encoder.container(keyedBy: CodingKeys.self)
      try container.encode(name, forKey: .type)
      try container.encode(fromLogits, forKey: .fromLogits)
    }
  }
}
