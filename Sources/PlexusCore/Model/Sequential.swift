import Synchronization

/// A stack of layers applied in order: a graph whose nodes form a chain. A `Sequential` is
/// itself a layer (and a model), so models nest.
///
/// ```swift
/// let model = Sequential([
///   Dense(64 => 128, activation: .relu),
///   try Dropout(rate: 0.2),
///   Dense(128 => 10),
/// ])
/// try model.build(inputShape: [64], seed: 42)
/// print(model.summary())
/// ```
///
/// The model is built when its input shape is known: `build(inputShape:seed:)`, or the first
/// `fit`, which builds it for the training data with the options' seed. Building again — after
/// `add`, or when the model is placed in another model — builds only the layers that are not
/// built yet: trained weights are never replaced.
public final class Sequential: ModelProtocol {
  /// The architecture: the layers' descriptions and the per-sample input shape.
  public struct Config: DefaultedConfiguration {
    /// The layers in order.
    public var layers: [LayerDescription]
    /// The per-sample input shape, when the model has been built (`null` entries vary).
    public var inputShape: SymbolicShape?

    /// Creates an architecture description.
    public init(layers: [LayerDescription], inputShape: SymbolicShape? = nil) {
      self.layers = layers
      self.inputShape = inputShape
    }

    public static var defaults: Config { Config(layers: []) }
    public static var fields: [ConfigField<Config>] {
      [.required("layers", \.layers), .init("inputShape", \.inputShape)]
    }
  }

  private struct Storage {
    var layers: [any Layer] = []
    var graph: Graph?
    var pendingInputShape: SymbolicShape?
  }

  public static let typeName = "plexus.sequential"
  public let state: LayerState
  private let storage = Mutex(Storage())

  /// Creates a model from layers; unnamed layers get names such as `dense_1`.
  public init(name: String = "", _ layers: [any Layer] = []) {
    self.state = LayerState(name: name)
    for layer in layers { add(layer) }
  }

  /// Creates an empty model from a config using only the core layers' registry.
  /// Use `make(config:registry:)` for models with layers from other modules.
  public convenience init(config: Config) throws {
    try self.init(config: config, registry: LayerRegistry())
  }

  /// Creates a model from its architecture, creating the layers through `registry`.
  ///
  /// The model is not built: call `build(seed:)` (model files do this for you).
  ///
  /// - Throws: `PlexusError.invalidConfiguration` for an empty or duplicate layer name; the
  ///   registry's errors.
  public init(config: Config, registry: LayerRegistry) throws {
    self.state = LayerState()
    var seenNames = Set<String>()
    var layers: [any Layer] = []
    for (index, description) in config.layers.enumerated() {
      guard !description.name.isEmpty, seenNames.insert(description.name).inserted else {
        throw PlexusError.invalidConfiguration(
          "layer \(index) of the model has an empty or duplicate name '\(description.name)'")
      }
      layers.append(try registry.makeLayer(from: description))
    }
    try ParameterSharing.link(layers)
    storage.withLock { storage in
      storage.layers = layers
      storage.pendingInputShape = config.inputShape
    }
  }

  public static func make(config: Config, registry: LayerRegistry) throws -> Self {
    try Self(config: config, registry: registry)
  }

  public var config: Config {
    do {
      return Config(layers: try layers.map(LayerDescription.init), inputShape: inputShape)
    } catch {
      // Layer initializers validate their configs, so encoding them cannot fail.
      preconditionFailure("a layer config failed to encode: \(error)")
    }
  }

  /// The layers in order.
  public var layers: [any Layer] { storage.withLock { $0.layers } }

  /// The per-sample input shape once built (or recorded in the config it was made from).
  public var inputShape: SymbolicShape? {
    storage.withLock { $0.graph?.inputs.first?.shape ?? $0.pendingInputShape }
  }

  /// The per-sample output shape once built.
  public var outputShape: SymbolicShape? {
    storage.withLock { $0.graph?.outputs.first?.shape }
  }

  /// Each layer's per-sample output shape once built.
  public var layerOutputShapes: [SymbolicShape] {
    storage.withLock { storage in
      guard let graph = storage.graph else { return [] }
      return graph.nodes.map { graph.slotShapes[$0.outputSlots[0]] }
    }
  }

  /// Appends a layer, naming it `prefix_k` when it has no name. The model needs building
  /// again (its built layers keep their weights).
  public func add(_ layer: any Layer) {
    storage.withLock { storage in
      if layer.name.isEmpty {
        let prefix = type(of: layer).defaultNamePrefix
        let taken = Set(storage.layers.map(\.name))
        var index = 1
        while taken.contains("\(prefix)_\(index)") { index += 1 }
        layer.name = "\(prefix)_\(index)"
      }
      storage.layers.append(layer)
      if let graph = storage.graph { storage.pendingInputShape = graph.inputs.first?.shape }
      storage.graph = nil
    }
    state.builtShapes = nil
  }

  /// Builds with the input shape recorded in the config this model was created from.
  ///
  /// - Throws: `PlexusError.notBuilt` when no input shape is recorded; the layers' build
  ///   errors.
  public func build(seed: UInt64 = 0) throws {
    guard let shape = inputShape else {
      throw PlexusError.notBuilt(
        "the model has no recorded input shape; call build(inputShape:seed:)")
    }
    try build(inputShape: shape, seed: seed)
  }

  public func build(for inputShapes: [SymbolicShape]) throws -> [SymbolicShape] {
    guard inputShapes.count == 1, let inputShape = inputShapes.first else {
      throw PlexusError.invalidArgument(
        "a sequential model takes one input, got \(inputShapes.count)")
    }
    guard !inputShape.isEmpty else {
      throw PlexusError.invalidShape("model input shape [] must have at least one dimension")
    }
    let layers = self.layers
    guard !layers.isEmpty else {
      throw PlexusError.invalidConfiguration(
        "model '\(name.isEmpty ? "sequential" : name)' has no layers")
    }
    var tensor = try SymbolicTensor.input(shape: inputShape, name: "input")
    let input = tensor
    for layer in layers { tensor = try layer(tensor) }
    let graph = try Graph(inputs: [input], outputs: [tensor])
    storage.withLock { $0.graph = graph }
    return [tensor.shape]
  }

  public func initialize(using generator: inout SeededGenerator) throws {
    try builtGraph().initialize(using: &generator)
  }

  public func builtGraph() throws -> Graph {
    guard let graph = storage.withLock({ $0.graph }) else {
      throw PlexusError.notBuilt(
        "model '\(name.isEmpty ? "sequential" : name)' must be built (or trained) first")
    }
    return graph
  }

  public func graphForTraining(sampleShapes: [[Int]], seed: UInt64) throws -> Graph {
    if let graph = storage.withLock({ $0.graph }) { return graph }
    guard sampleShapes.count == 1 else {
      throw PlexusError.invalidArgument(
        "a sequential model takes one input, got \(sampleShapes.count)")
    }
    try build(inputShape: sampleShapes[0].map { $0 }, seed: seed)
    return try builtGraph()
  }

  public var parameters: [Parameter] {
    var seen = Set<ObjectIdentifier>()
    return layers.flatMap(\.parameters).filter { seen.insert(ObjectIdentifier($0)).inserted }
  }

  public var trainableParameters: [Parameter] {
    guard state.isTrainable else { return [] }
    var seen = Set<ObjectIdentifier>()
    return layers.flatMap(\.trainableParameters).filter {
      seen.insert(ObjectIdentifier($0)).inserted
    }
  }

  public var namedParameters: [(path: String, parameter: Parameter)] {
    let prefix = name.isEmpty ? "" : "\(name)."
    var seen = Set<ObjectIdentifier>()
    return layers.flatMap(\.namedParameters).compactMap { entry in
      seen.insert(ObjectIdentifier(entry.parameter)).inserted
        ? (path: prefix + entry.path, parameter: entry.parameter) : nil
    }
  }

  public var sublayers: [any Layer] { layers }
}
