import Synchronization

/// How one layer appears in a model description: its registered type, its name and its
/// configuration as JSON.
public struct LayerDescription: Codable, Sendable, Equatable {
  /// The registered type name (`plexus.dense`).
  public var type: String
  /// The layer's name within the model (`dense_1`).
  public var name: String
  /// The layer's configuration.
  public var config: JSONValue

  /// Creates a description.
  public init(type: String, name: String, config: JSONValue) {
    self.type = type
    self.name = name
    self.config = config
  }

  /// Describes an existing layer.
  public init(_ layer: any Layer) throws {
    self.type = layer.typeName
    self.name = layer.name
    self.config = try JSONValue(encoding: layer.config)
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
  /// The modules that provide first-party layer types, for error messages that tell the user
  /// what to import.
  public static let firstPartyModules: [String: String] = [
    "plexus.sequential": "PlexusCore", "plexus.activation": "PlexusCore",
    "plexus.dropout": "PlexusCore", "plexus.flatten": "PlexusCore", "plexus.reshape": "PlexusCore",
    "plexus.dense": "PlexusPerceptron", "plexus.perceptron": "PlexusPerceptron",
    "plexus.conv1d": "PlexusConvolution", "plexus.conv2d": "PlexusConvolution",
    "plexus.conv2d_transpose": "PlexusConvolution", "plexus.max_pool2d": "PlexusConvolution",
    "plexus.average_pool2d": "PlexusConvolution",
    "plexus.global_average_pool2d": "PlexusConvolution",
    "plexus.global_max_pool2d": "PlexusConvolution",
    "plexus.batch_normalization": "PlexusConvolution",
    "plexus.zero_padding2d": "PlexusConvolution", "plexus.up_sampling2d": "PlexusConvolution",
    "plexus.simple_rnn": "PlexusRecurrent", "plexus.lstm": "PlexusRecurrent",
    "plexus.gru": "PlexusRecurrent", "plexus.embedding": "PlexusRecurrent",
    "plexus.bidirectional": "PlexusRecurrent", "plexus.rbm": "PlexusDBN",
  ]

  /// A function that creates a layer from its JSON config.
  public typealias Factory = @Sendable (JSONValue, LayerRegistry) throws -> any Layer

  private struct Entry: Sendable {
    let module: String
    let typeIdentifier: ObjectIdentifier
    let factory: Factory
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
    let entry = Entry(module: module, typeIdentifier: ObjectIdentifier(layerType)) {
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

  /// The module that registered a type name.
  public func module(of typeName: String) -> String? {
    entries.withLock { $0[typeName]?.module }
  }

  /// Creates a layer from its description and gives it the described name.
  ///
  /// - Throws: `PlexusError.unknownLayerType` naming the type and the module that provides
  ///   it; `PlexusError.invalidConfiguration` for a malformed config.
  public func makeLayer(from description: LayerDescription) throws -> any Layer {
    guard let entry = entries.withLock({ $0[description.type] }) else {
      throw PlexusError.unknownLayerType(
        type: description.type, module: Self.firstPartyModules[description.type])
    }
    let layer = try entry.factory(description.config, self)
    layer.name = description.name
    return layer
  }
}
