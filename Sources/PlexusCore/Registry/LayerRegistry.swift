import Synchronization

/// How one layer appears in a model description: its registered type, its name and its
/// configuration as JSON. A key other than `type`, `name`, `config` and `trainable` is an error
/// that suggests the nearest one.
public struct LayerDescription: DefaultedConfiguration {
  /// The registered type name (`plexus.dense`).
  public var type: String
  /// The layer's name within the model (`dense_1`).
  public var name: String
  /// The layer's configuration.
  public var config: JSONValue
  /// `false` for a frozen layer (training does not update it); omitted (`nil`) when the layer
  /// is trainable, so files of trainable models read as in format 1.0.
  public var trainable: Bool?

  /// Creates a description.
  public init(type: String, name: String, config: JSONValue, trainable: Bool? = nil) {
    self.type = type
    self.name = name
    self.config = config
    self.trainable = trainable
  }

  /// Describes an existing layer.
  public init(_ layer: any Layer) throws {
    self.type = layer.typeName
    self.name = layer.name
    self.config = try JSONValue(encoding: layer.config)
    self.trainable = layer.isTrainable ? nil : false
  }

  public static var defaults: LayerDescription {
    LayerDescription(type: "", name: "", config: .object([:]))
  }
  public static var fields: [ConfigField<LayerDescription>] {
    [
      .required("type", \.type), .required("name", \.name), .required("config", \.config),
      .init("trainable", \.trainable),
    ]
  }
}

/// Maps namespaced layer type names to the classes that implement them.
///
/// Each module exposes a `register(in:)` that registers its layers; a model file stores the
/// type names and configs, and loading asks the registry to create the layers. The registry is
/// safe to use from any thread.
///
/// ```swift
/// let registry = LayerRegistry()          // core layers only
/// PerceptronLayers.register(in: registry) // adds plexus.dense, plexus.perceptron
/// try registry.register(MyGatedLayer.self, module: "MyLayers")
/// ```
public final class LayerRegistry: Sendable {
  /// Hints for error messages: which module provides a type that is not registered here
  /// (`addProviderHints`). Each module declares its own type names (`CoreLayers.typeNames`,
  /// `PerceptronLayers.typeNames`, ...); the umbrella `Plexus` adds every bundled module's.
  private let providerHints = Mutex<[String: String]>([:])

  /// Tells the registry which module provides each of `typeNames`, so that loading a model
  /// with one of them, unregistered, says what to import.
  public func addProviderHints(_ typeNames: [String], module: String) {
    providerHints.withLock { hints in
      for name in typeNames { hints[name] = module }
    }
  }

  /// A function that creates a layer from its JSON config.
  public typealias Factory = @Sendable (JSONValue, LayerRegistry) throws -> any Layer

  struct Entry: Sendable {
    let module: String
    let typeIdentifier: ObjectIdentifier
    let layerType: any Layer.Type
    let factory: Factory
    /// The file of the layer plugin that registered the type (`nil` for a type registered in
    /// code).
    var plugin: String? = nil
  }

  private let entries = Mutex<[String: Entry]>([:])

  /// Creates a registry holding the core layers (Sequential, Activation, Dropout, Flatten,
  /// Reshape).
  public init() {
    CoreLayers.register(in: self)
  }

  /// Registers a layer class under its `typeName`.
  ///
  /// Registering the same class again is harmless.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` when the name is malformed (it must contain a
  ///   namespace dot) or already taken by another class.
  public func register<L: Layer>(_ layerType: L.Type, module: String) throws {
    let name = L.typeName
    let parts = name.split(separator: ".", omittingEmptySubsequences: false)
    guard parts.count >= 2, parts.allSatisfy({ !$0.isEmpty }) else {
      throw PlexusError.invalidConfiguration(
        "layer type name '\(name)' must be namespaced, such as 'com.example.\(name)'")
    }
    let entry = Entry(
      module: module, typeIdentifier: ObjectIdentifier(layerType), layerType: layerType
    ) {
      config, registry in
      let decoded = try config.decode(L.Config.self, context: "config of layer type '\(name)'")
      return try L.make(config: decoded, registry: registry)
    }
    try entries.withLock { entries in
      if let existing = entries[name], existing.typeIdentifier != entry.typeIdentifier {
        throw PlexusError.invalidConfiguration(
          "layer type name '\(name)' is already registered by module \(existing.module)")
      }
      entries[name] = entry
    }
  }

  /// Registers a first-party layer; first-party names are namespaced and unique by
  /// construction, so this cannot fail.
  public func registerBuiltIn<L: Layer>(_ layerType: L.Type, module: String) {
    do { try register(layerType, module: module) } catch {
      preconditionFailure("built-in layer registration failed: \(error)")
    }
  }

  /// Whether a type name is registered.
  public func contains(_ typeName: String) -> Bool {
    entries.withLock { $0[typeName] != nil }
  }

  /// The registered type names, sorted.
  public var typeNames: [String] {
    entries.withLock { $0.keys.sorted() }
  }

  /// The class registered under a type name.
  public func layerType(of typeName: String) -> (any Layer.Type)? {
    entries.withLock { $0[typeName]?.layerType }
  }

  /// The module that registered a type name.
  public func module(of typeName: String) -> String? {
    entries.withLock { $0[typeName]?.module }
  }

  /// The file of the layer plugin that added a type name (`LayerPlugins`), or `nil` when the
  /// type was registered in code or is not registered.
  public func plugin(of typeName: String) -> String? {
    entries.withLock { $0[typeName]?.plugin }
  }

  /// A new registry holding the same types and provider hints as this one.
  public func copy() -> LayerRegistry {
    let copy = LayerRegistry()
    copy.adopt(entries.withLock { $0 })
    copy.providerHints.withLock { $0 = providerHints.withLock { $0 } }
    return copy
  }

  /// The entries registered under `names` (the ones registered), for `LayerPlugins` to keep.
  func entries(named names: some Sequence<String>) -> [String: Entry] {
    entries.withLock { entries in
      var found: [String: Entry] = [:]
      for name in names { found[name] = entries[name] }
      return found
    }
  }

  /// Adds entries taken from another registry by `entries(named:)`, replacing any of the same
  /// name (`LayerPlugins` checked the names when the plugin was loaded).
  func adopt(_ adopted: [String: Entry]) {
    entries.withLock { entries in
      for (name, entry) in adopted { entries[name] = entry }
    }
  }

  /// Creates a layer from its description and gives it the described name.
  ///
  /// - Throws: `PlexusError.unknownLayerType` naming the type and the module that provides
  ///   it; `PlexusError.invalidConfiguration` for a malformed config.
  public func makeLayer(from description: LayerDescription) throws -> any Layer {
    guard let entry = entries.withLock({ $0[description.type] }) else {
      throw PlexusError.unknownLayerType(
        type: description.type, module: providerHints.withLock { $0[description.type] })
    }
    let layer = try entry.factory(description.config, self)
    layer.name = description.name
    if let trainable = description.trainable { layer.isTrainable = trainable }
    return layer
  }
}
