/// Maps namespaced loss type names to the loss types that implement them, so that specs and
/// training metadata can name losses.
///
/// The built-in losses are registered as `plexus.mse`, `plexus.mae`, `plexus.huber`,
/// `plexus.binary_crossentropy`, `plexus.categorical_crossentropy` and `plexus.hinge`. Keras'
/// names are accepted as aliases everywhere (`builtInAliases`): `mse`, `mean_squared_error`,
/// `mae`, `mean_absolute_error`, `huber`, `binary_crossentropy`, `categorical_crossentropy`,
/// `sparse_categorical_crossentropy`, `hinge`, and `softmax_cross_entropy`, which is
/// `plexus.categorical_crossentropy` with `fromLogits` fixed to `true`. The registry is safe to
/// use from any thread; `shared` is the one that `LossFunction` decoding uses.
///
/// ```swift
/// try LossRegistry.shared.register(Focal.self, module: "FocalLoss")
/// let loss = try LossRegistry.shared.makeLoss(type: "com.example.focal")
/// ```
public final class LossRegistry: Sendable {
  /// The registry used where none is given.
  public static let shared = LossRegistry()

  /// The built-in short names and the registered names they stand for.
  public static let builtInAliases: [String: String] = [
    "mse": "plexus.mse", "mean_squared_error": "plexus.mse",
    "mae": "plexus.mae", "mean_absolute_error": "plexus.mae",
    "huber": "plexus.huber", "binary_crossentropy": "plexus.binary_crossentropy",
    "categorical_crossentropy": "plexus.categorical_crossentropy",
    "sparse_categorical_crossentropy": "plexus.categorical_crossentropy",
    "softmax_cross_entropy": "plexus.categorical_crossentropy", "hinge": "plexus.hinge",
  ]

  /// The config values that built-in aliases fix.
  static let fixedAliasConfig: [String: [String: JSONValue]] = [
    "softmax_cross_entropy": ["fromLogits": .bool(true)]
  ]

  /// The modules that provide first-party losses (by registered name and alias).
  public static let firstPartyModules: [String: String] = Dictionary(
    (Array(builtInAliases.keys) + Array(builtInAliases.values)).map { ($0, "PlexusCore") },
    uniquingKeysWith: { first, _ in first })

  /// Decodes a config into a loss description.
  typealias Factory = @Sendable (_ config: JSONValue, _ context: String) throws -> LossFunction

  private let core = ComponentRegistry<Factory>(
    kind: "loss", firstPartyModules: LossRegistry.firstPartyModules,
    registrationHint: "create the registry with LossRegistry() to have the built-in losses")

  /// Creates a registry holding the built-in losses, or none.
  public init(registeringBuiltIns: Bool = true) {
    guard registeringBuiltIns else { return }
    registerBuiltIn(MeanSquaredError.self)
    registerBuiltIn(MeanAbsoluteError.self)
    registerBuiltIn(Huber.self)
    registerBuiltIn(BinaryCrossEntropy.self)
    registerBuiltIn(CategoricalCrossEntropy.self)
    registerBuiltIn(Hinge.self)
    for (alias, name) in Self.builtInAliases {
      core.addAlias(alias, for: name, fixing: Self.fixedAliasConfig[alias] ?? [:])
    }
  }

  /// Registers a loss type under its `typeName`. Registering the same type again is harmless.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` when the name is not namespaced, is taken by
  ///   another type, or its config has a `type` key (which the flat JSON form uses).
  public func register<L: RegistrableLoss>(_ lossType: L.Type, module: String) throws {
    let name = L.typeName
    guard !L.Config.keys.contains("type") else {
      throw PlexusError.invalidConfiguration(
        "loss '\(name)': its config cannot have a key 'type', which names the loss in JSON")
    }
    try core.register(name: name, module: module, typeIdentifier: ObjectIdentifier(lossType)) {
      config, context in
      LossFunction(try L(config: try L.Config.decode(config, context: context)))
    }
  }

  private func registerBuiltIn<L: RegistrableLoss>(_ lossType: L.Type) {
    do { try register(lossType, module: "PlexusCore") } catch {
      preconditionFailure("built-in loss registration failed: \(error)")
    }
  }

  /// Whether a type name or an alias is registered.
  public func contains(_ typeName: String) -> Bool { core.contains(typeName) }

  /// The registered type names, sorted (aliases not included).
  public var typeNames: [String] { core.typeNames }

  /// The registered name a type name or an alias stands for, or `nil` when not registered.
  public func canonicalName(of typeName: String) -> String? { core.canonicalName(of: typeName) }

  /// The module that registered a type name.
  public func module(of typeName: String) -> String? { core.module(of: typeName) }

  /// The loss description for a type name (or alias) and its config object.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` for an unknown type (listing the registered
  ///   ones), an unknown key (suggesting the nearest), a value out of range or a value that
  ///   contradicts the alias.
  public func function(type typeName: String, config: JSONValue = .object([:])) throws
    -> LossFunction
  {
    let resolution = try core.resolve(typeName)
    let merged = try core.applying(resolution, requestedName: typeName, to: config)
    return try resolution.entry.factory(merged, "loss '\(typeName)'")
  }

  /// The loss description of a JSON value: a name (`"mse"`) or a flat object
  /// (`{"type": "huber", "delta": 2}`).
  ///
  /// - Throws: as `function(type:config:)`, and for JSON of another shape.
  public func function(from json: JSONValue) throws -> LossFunction {
    let (type, config) = try ComponentJSON.split(
      json, kind: "loss", example: "\"mse\" or {\"type\": \"huber\", \"delta\": 1}")
    return try function(type: type, config: config)
  }

  /// Creates a loss from a type name (or alias) and its config object.
  ///
  /// - Throws: as `function(type:config:)`.
  public func makeLoss(type typeName: String, config: JSONValue = .object([:])) throws
    -> any Loss
  {
    try function(type: typeName, config: config).makeLoss()
  }
}
