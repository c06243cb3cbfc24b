/// Maps namespaced optimizer type names to the optimizer types that implement them, so that
/// specs can name optimizers and model files can save and restore their state.
///
/// The built-in optimizers are registered as `plexus.sgd`, `plexus.adam`, `plexus.adamw`,
/// `plexus.rmsprop` and `plexus.adagrad`; their short names (`sgd`, `adam`, ...) are accepted as
/// aliases everywhere, so specs and files written with them keep working. New files store the
/// namespaced names. The registry is safe to use from any thread; `shared` is the one that
/// `OptimizerConfig` decoding and `PlexusFile.restoreOptimizer(for:)` use.
///
/// ```swift
/// try OptimizerRegistry.shared.register(Lion.self, module: "LionOptimizer")
/// let optimizer = try OptimizerRegistry.shared.makeOptimizer(
///   type: "com.example.lion", config: .object(["learningRate": .number(0.0001)]))
/// ```
public final class OptimizerRegistry: Sendable {
  /// The registry used where none is given.
  public static let shared = OptimizerRegistry()

  /// The built-in short names and the registered names they stand for.
  public static let builtInAliases: [String: String] = [
    "sgd": "plexus.sgd", "adam": "plexus.adam", "adamw": "plexus.adamw",
    "rmsprop": "plexus.rmsprop", "adagrad": "plexus.adagrad",
  ]

  /// The modules that provide first-party optimizers (by registered name and alias).
  public static let firstPartyModules: [String: String] = Dictionary(
    uniqueKeysWithValues: (Array(builtInAliases.keys) + Array(builtInAliases.values)).map {
      ($0, "PlexusCore")
    })

  /// Decodes a config into an optimizer description.
  typealias Factory = @Sendable (_ config: JSONValue, _ context: String) throws -> OptimizerConfig

  private let core = ComponentRegistry<Factory>(
    kind: "optimizer", firstPartyModules: OptimizerRegistry.firstPartyModules,
    registrationHint: "create the registry with OptimizerRegistry() to have the built-in optimizers"
  )

  /// Creates a registry holding the built-in optimizers, or none.
  public init(registeringBuiltIns: Bool = true) {
    guard registeringBuiltIns else { return }
    registerBuiltIn(SGD.self)
    registerBuiltIn(Adam.self)
    registerBuiltIn(AdamW.self)
    registerBuiltIn(RMSProp.self)
    registerBuiltIn(AdaGrad.self)
    for (alias, name) in Self.builtInAliases { core.addAlias(alias, for: name) }
  }

  /// Registers an optimizer type under its `typeName`. Registering the same type again is
  /// harmless.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` when the name is not namespaced, is taken by
  ///   another type, or its configuration has a `type` key (which the flat JSON form uses).
  public func register<O: Optimizer>(_ optimizerType: O.Type, module: String) throws {
    let name = O.typeName
    guard !O.Configuration.keys.contains("type") else {
      throw PlexusError.invalidConfiguration(
        "optimizer '\(name)': its configuration cannot have a key 'type', which names the optimizer in JSON"
      )
    }
    try core.register(name: name, module: module, typeIdentifier: ObjectIdentifier(optimizerType)) {
      config, context in
      let configuration = try O.Configuration.decode(
        config, defaults: O.defaultConfiguration, context: context)
      try configuration.validate(optimizer: name)
      return OptimizerConfig(O.self, configuration: configuration)
    }
  }

  private func registerBuiltIn<O: Optimizer>(_ optimizerType: O.Type) {
    do { try register(optimizerType, module: "PlexusCore") } catch {
      preconditionFailure("built-in optimizer registration failed: \(error)")
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

  /// The optimizer description for a type name (or alias) and its config object, with the
  /// defaults filled in and every value checked.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` for an unknown type (listing the
  ///   registered ones), an unknown key (suggesting the nearest) or a value out of range.
  public func config(type typeName: String, config: JSONValue = .object([:])) throws
    -> OptimizerConfig
  {
    let resolution = try core.resolve(typeName)
    let merged = try core.applying(resolution, requestedName: typeName, to: config)
    return try resolution.entry.factory(merged, "optimizer '\(typeName)'")
  }

  /// The optimizer description of a JSON value: a name (`"adam"`) or a flat object
  /// (`{"type": "adam", "learningRate": 0.001}`).
  ///
  /// - Throws: as `config(type:config:)`, and for JSON of another shape.
  public func config(from json: JSONValue) throws -> OptimizerConfig {
    let (type, config) = try ComponentJSON.split(
      json, kind: "optimizer", example: "{\"type\": \"adam\", \"learningRate\": 0.001}")
    return try self.config(type: type, config: config)
  }

  /// Creates a fresh optimizer from a type name (or alias) and its config object.
  ///
  /// - Throws: as `config(type:config:)`.
  public func makeOptimizer(type typeName: String, config: JSONValue = .object([:])) throws
    -> any Optimizer
  {
    try self.config(type: typeName, config: config).makeOptimizer()
  }

  /// Creates the optimizer a saved state names and restores the state into it, to resume
  /// training of `parameters` (the same list, in the same order, that was exported). States
  /// written before the registry (short type names, a `type` member in the config) restore
  /// too.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` for an unregistered type or a malformed
  ///   config; `PlexusError.invalidData` when the slots do not fit the parameters.
  public func restore(_ state: OptimizerState, for parameters: [Parameter]) throws
    -> any Optimizer
  {
    let resolution = try core.resolve(state.typeName)
    let config = try OptimizerStateIO.hyperparameters(of: state.config, typeName: resolution.name)
    let optimizer = try resolution.entry.factory(
      config, "optimizer state of type '\(state.typeName)'"
    )
    .makeOptimizer()
    var canonical = state
    canonical.typeName = resolution.name
    canonical.config = config
    try optimizer.importState(canonical, for: parameters)
    return optimizer
  }

  /// The registered name of a built-in alias, or `name` itself.
  static func builtInCanonicalName(_ name: String) -> String {
    builtInAliases[name] ?? name
  }
}
