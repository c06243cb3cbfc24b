/// Maps namespaced metric type names to the metric types that implement them, so that JSON can
/// name metrics.
///
/// The built-in metrics are registered as `plexus.accuracy`, `plexus.mse` and `plexus.mae`,
/// with the short names `accuracy`, `mse` and `mae` (their log keys) as aliases. The registry
/// is safe to use from any thread; `shared` is the one that `Metric` decoding uses.
///
/// ```swift
/// try MetricRegistry.shared.register(MaxAbsoluteError.self, module: "MyMetrics")
/// let options = TrainingOptions(metrics: [.accuracy, Metric(MaxAbsoluteError())])
/// ```
public final class MetricRegistry: Sendable {
  /// The registry used where none is given.
  public static let shared = MetricRegistry()

  /// The built-in short names and the registered names they stand for.
  public static let builtInAliases: [String: String] = [
    "accuracy": "plexus.accuracy", "mse": "plexus.mse", "mae": "plexus.mae",
    "top_k_accuracy": "plexus.top_k_accuracy", "precision": "plexus.precision",
    "recall": "plexus.recall", "f1": "plexus.f1",
  ]

  /// The modules that provide first-party metrics (by registered name and alias).
  public static let firstPartyModules: [String: String] = Dictionary(
    uniqueKeysWithValues: (Array(builtInAliases.keys) + Array(builtInAliases.values)).map {
      ($0, "PlexusCore")
    })

  /// Decodes a config into a metric.
  typealias Factory = @Sendable (_ config: JSONValue, _ context: String) throws -> Metric

  private let core = ComponentRegistry<Factory>(
    kind: "metric", firstPartyModules: MetricRegistry.firstPartyModules,
    registrationHint: "create the registry with MetricRegistry() to have the built-in metrics")

  /// Creates a registry holding the built-in metrics, or none.
  public init(registeringBuiltIns: Bool = true) {
    guard registeringBuiltIns else { return }
    registerBuiltIn(AccuracyMetric.self)
    registerBuiltIn(MeanSquaredErrorMetric.self)
    registerBuiltIn(MeanAbsoluteErrorMetric.self)
    registerBuiltIn(TopKAccuracyMetric.self)
    registerBuiltIn(PrecisionMetric.self)
    registerBuiltIn(RecallMetric.self)
    registerBuiltIn(F1Metric.self)
    for (alias, name) in Self.builtInAliases { core.addAlias(alias, for: name) }
  }

  /// Registers a metric type under its `typeName`. Registering the same type again is
  /// harmless.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` when the name is not namespaced, is taken by
  ///   another type, or its config has a `type` key (which the flat JSON form uses).
  public func register<M: RunningMetric>(_ metricType: M.Type, module: String) throws {
    let name = M.typeName
    guard !M.Config.keys.contains("type") else {
      throw PlexusError.invalidConfiguration(
        "metric '\(name)': its config cannot have a key 'type', which names the metric in JSON")
    }
    try core.register(name: name, module: module, typeIdentifier: ObjectIdentifier(metricType)) {
      config, context in
      Metric(try M(config: try M.Config.decode(config, context: context)))
    }
  }

  private func registerBuiltIn<M: RunningMetric>(_ metricType: M.Type) {
    do { try register(metricType, module: "PlexusCore") } catch {
      preconditionFailure("built-in metric registration failed: \(error)")
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

  /// The metric for a type name (or alias) and its config object.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` for an unknown type (listing the registered
  ///   ones), an unknown key (suggesting the nearest) or a value out of range.
  public func metric(type typeName: String, config: JSONValue = .object([:])) throws -> Metric {
    let resolution = try core.resolve(typeName)
    let merged = try core.applying(resolution, requestedName: typeName, to: config)
    return try resolution.entry.factory(merged, "metric '\(typeName)'")
  }

  /// The metric of a JSON value: a name (`"accuracy"`) or a flat object.
  ///
  /// - Throws: as `metric(type:config:)`, and for JSON of another shape.
  public func metric(from json: JSONValue) throws -> Metric {
    let (type, config) = try ComponentJSON.split(
      json, kind: "metric", example: "\"accuracy\" or {\"type\": \"com.example.top_k\", \"k\": 5}")
    return try metric(type: type, config: config)
  }
}
