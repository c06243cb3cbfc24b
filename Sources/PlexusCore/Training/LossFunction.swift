/// A loss named in a model spec or in training metadata: a registered loss with its config,
/// encoded as JSON with Keras' names.
///
/// | JSON | loss |
/// |---|---|
/// | `"mse"`, `"mean_squared_error"`, `"plexus.mse"` | `MeanSquaredError` |
/// | `"mae"`, `"mean_absolute_error"`, `"plexus.mae"` | `MeanAbsoluteError` |
/// | `{"type": "huber", "delta": 1.0}` (or `"huber"`, delta 1) | `Huber` |
/// | `{"type": "binary_crossentropy", "fromLogits": true}` | `BinaryCrossEntropy` |
/// | `"softmax_cross_entropy"` | `CategoricalCrossEntropy(fromLogits: true)` |
/// | `{"type": "categorical_crossentropy", "fromLogits": false}` | `CategoricalCrossEntropy` |
/// | `"hinge"` | `Hinge` |
///
/// Any loss registered in `LossRegistry.shared` decodes, by its namespaced name or (for the
/// built-ins) a short alias; encoding writes the registered name.
///
/// `from_logits` semantics: `"softmax_cross_entropy"` always reads logits (a model whose last
/// layer has no softmax). `"binary_crossentropy"`, `"categorical_crossentropy"` and its alias
/// `"sparse_categorical_crossentropy"` follow Keras: `fromLogits` defaults to `false`, so they
/// expect probabilities (a model ending in sigmoid or softmax) unless `"fromLogits": true` is
/// given. Both categorical names accept class-index and one-hot targets. A string form such as
/// `"binary_crossentropy"` takes the defaults.
public struct LossFunction: Sendable, Equatable, CustomStringConvertible {
  /// The registered type name (`plexus.mse`).
  public let typeName: String
  /// The loss, as its config describes it.
  public let loss: any RegistrableLoss

  /// Describes a loss.
  public init(_ loss: some RegistrableLoss) {
    typeName = type(of: loss).typeName
    self.loss = loss
  }

  /// Reads a name (`"mse"`) or a flat object (`{"type": "huber", "delta": 2}`) through
  /// `registry`.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` for an unknown loss (listing the registered
  ///   ones), an unknown key or a value out of range.
  public init(json: JSONValue, registry: LossRegistry = .shared) throws {
    self = try registry.function(from: json)
  }

  /// Looks a loss up by name (or alias) with its defaults.
  ///
  /// - Throws: as `init(json:registry:)`.
  public init(name: String, registry: LossRegistry = .shared) throws {
    self = try registry.function(type: name)
  }

  /// Whether the loss reads the model's outputs as logits (a cross-entropy with `fromLogits`),
  /// so a single output's decision threshold is 0 rather than 0.5.
  public var outputsLogits: Bool {
    if let binary = loss as? BinaryCrossEntropy { return binary.fromLogits }
    if let categorical = loss as? CategoricalCrossEntropy { return categorical.fromLogits }
    return false
  }

  /// Mean squared error.
  public static let meanSquaredError = LossFunction(MeanSquaredError())
  /// Mean absolute error.
  public static let meanAbsoluteError = LossFunction(MeanAbsoluteError())
  /// Hinge loss.
  public static let hinge = LossFunction(Hinge())

  /// Huber loss with the given delta.
  public static func huber(delta: Float) -> LossFunction { LossFunction(Huber(delta: delta)) }

  /// Binary cross-entropy from logits or probabilities.
  public static func binaryCrossEntropy(fromLogits: Bool) -> LossFunction {
    LossFunction(BinaryCrossEntropy(fromLogits: fromLogits))
  }

  /// Categorical cross-entropy from logits (the softmax cross-entropy) or probabilities.
  public static func categoricalCrossEntropy(fromLogits: Bool) -> LossFunction {
    LossFunction(CategoricalCrossEntropy(fromLogits: fromLogits))
  }

  /// The loss' short name for messages (`mse`, `softmax_cross_entropy`), as `Loss.name`.
  public var name: String { loss.name }

  /// The loss' parameters.
  public var config: any DefaultedConfiguration { loss.config }

  /// Whether the loss compares classes, so that accuracy means something.
  public var isClassification: Bool { loss.isClassification }

  /// Creates the loss from its config, checking every parameter.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` when a parameter is out of range.
  public func makeLoss() throws -> any Loss {
    try Self.remake(loss)
  }

  private static func remake<L: RegistrableLoss>(_ loss: L) throws -> any Loss {
    try L(config: loss.config)
  }

  public static func == (lhs: LossFunction, rhs: LossFunction) -> Bool {
    lhs.typeName == rhs.typeName && lhs.config.isEqual(to: rhs.config)
  }

  /// The JSON form, or the type name when it cannot be encoded.
  public var description: String {
    (try? ComponentJSON.text(of: self)) ?? typeName
  }
}

extension LossFunction: Codable {
  /// Decodes through `LossRegistry.shared`.
  ///
  /// - Throws: as `init(json:registry:)`.
  public init(from decoder: any Decoder) throws {
    try self.init(json: try JSONValue(from: decoder))
  }

  /// Encodes the registered name alone when the config is empty (`"plexus.mse"`), else a
  /// flat object (`{"type": "plexus.huber", "delta": 1}`).
  public func encode(to encoder: any Encoder) throws {
    try ComponentJSON.encode(typeName: typeName, config: config, to: encoder)
  }
}
