/// A stack of layers applied in order. A `Sequential` is itself a `Layer`, so models nest.
///
/// ```swift
/// let model = Sequential([
///   Dense(64 => 128, activation: .relu),
///   Dropout(rate: 0.2),
///   Dense(128 => 10),
/// ])
/// try model.build(inputShape: [64], seed: 42)
/// print(model.summary())
/// ```
public final class Sequential: Layer {
  /// The architecture: the layers' descriptions and the per-sample input shape.
  public struct Config: LayerConfiguration {
    /// The layers in order.
    public var layers: [LayerDescription]
    /// The per-sample input shape, when the model has been built.
    public var inputShape: [Int]?

    /// Creates an architecture description.
    public init(layers: [LayerDescription], inputShape: [Int]? = nil) {
      self.layers = layers
      self.inputShape = inputShape
    }
  }

  public static let typeName = "plexus.sequential"
  public var name: String
  /// The layers in order.
  public private(set) var layers: [any Layer] = []
  /// The per-sample input shape once built.
  public private(set) var inputShape: [Int]?
  /// The per-sample output shape once built.
  public private(set) var outputShape: [Int]?
  /// Each layer's per-sample output shape once built.
  public private(set) var layerOutputShapes: [[Int]] = []

  /// Creates a model from layers; unnamed layers get names such as `dense_1`.
  public init(name: String = "", _ layers: [any Layer] = []) {
    self.name = name
    for layer in layers { add(layer) }
  }

  /// Creates an empty model from a config using only the core layers' registry.
  /// Use `make(config:registry:)` for models with layers from other modules.
  public convenience init(config: Config) throws {
    try self.init(config: config, registry: LayerRegistry())
  }

  /// Creates a model from its architecture, creating the layers through `registry`.
  ///
  /// The model is not built: call `build(inputShape:seed:)` (model files do this for you).
  public init(config: Config, registry: LayerRegistry) throws {
    self.name = ""
    var seenNames = Set<String>()
    for (index, description) in config.layers.enumerated() {
      guard !description.name.isEmpty, seenNames.insert(description.name).inserted else {
        throw PlexusError.invalidConfiguration(
          "layer \(index) of the model has an empty or duplicate name '\(description.name)'")
      }
      layers.append(try registry.makeLayer(from: description))
    }
    self.inputShape = nil
    self.pendingInputShape = config.inputShape
  }

  public static func make(config: Config, registry: LayerRegistry) throws -> Self {
    try Self(config: config, registry: registry)
  }

  /// The input shape recorded in a config this model was created from, used by `build()`.
  public private(set) var pendingInputShape: [Int]?

  public var config: Config {
    do {
      return Config(
        layers: try layers.map(LayerDescription.init), inputShape: inputShape ?? pendingInputShape)
    } catch {
      // Layer initializers validate their configs, so encoding them cannot fail.
      preconditionFailure("a layer config failed to encode: \(error)")
    }
  }

  /// Appends a layer, naming it `prefix_k` when it has no name.
  public func add(_ layer: any Layer) {
    if layer.name.isEmpty {
      let prefix = type(of: layer).defaultNamePrefix
      let taken = Set(layers.map(\.name))
      var index = 1
      while taken.contains("\(prefix)_\(index)") { index += 1 }
      layer.name = "\(prefix)_\(index)"
    }
    layers.append(layer)
    inputShape = nil
    outputShape = nil
  }

  /// Whether the model has been built.
  public var isBuilt: Bool { outputShape != nil }

  /// Builds every layer for a per-sample input shape, initializing weights from `seed`.
  ///
  /// - Throws: `PlexusError.shapeMismatch` naming the first layer that cannot accept its
  ///   input, with the expected and the found shape.
  public func build(inputShape: [Int], seed: UInt64 = 0) throws {
    var generator = SeededGenerator(seed: seed)
    _ = try build(inputShape: inputShape, generator: &generator)
  }

  /// Builds with the input shape recorded in the config this model was created from.
  public func build(seed: UInt64 = 0) throws {
    guard let shape = inputShape ?? pendingInputShape else {
      throw PlexusError.notBuilt(
        "the model has no recorded input shape; call build(inputShape:seed:)")
    }
    try build(inputShape: shape, seed: seed)
  }

  public func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    guard !inputShape.isEmpty, inputShape.allSatisfy({ $0 > 0 }) else {
      throw PlexusError.invalidShape(
        "model input shape \(inputShape) must have positive dimensions")
    }
    guard try Tensor.elementCount(of: inputShape) <= ParameterAllocation.maximumSampleElements
    else {
      throw PlexusError.invalidShape(
        "model input shape \(inputShape) holds more than \(ParameterAllocation.maximumSampleElements) values per sample"
      )
    }
    guard !layers.isEmpty else {
      throw PlexusError.invalidConfiguration("model '\(name)' has no layers")
    }
    var shape = inputShape
    var shapes: [[Int]] = []
    for layer in layers {
      var layerGenerator = generator.split()
      shape = try layer.build(inputShape: shape, generator: &layerGenerator)
      shapes.append(shape)
    }
    self.inputShape = inputShape
    self.layerOutputShapes = shapes
    self.outputShape = shape
    return shape
  }

  public func forward(_ input: Tensor, training: Bool) throws -> Tensor {
    try ShapeCheck.requireBatch(
      input, sampleShape: inputShape, layer: name.isEmpty ? "model input" : name)
    var output = input
    for layer in layers { output = try layer.forward(output, training: training) }
    return output
  }

  public func backward(_ outputGradient: Tensor) throws -> Tensor {
    var gradient = outputGradient
    for layer in layers.reversed() { gradient = try layer.backward(gradient) }
    return gradient
  }

  /// Propagates the gradient back through the layers. Without `computingInputGradient` the
  /// result is `nil`: the first layer with parameters is asked for no input gradient (a
  /// nested `Sequential` passes that on to its own layers), and the parameterless layers
  /// before it (`Flatten`, ...), whose backward would only compute input gradients, are
  /// skipped.
  public func backward(_ outputGradient: Tensor, computingInputGradient: Bool) throws -> Tensor? {
    if computingInputGradient { return try backward(outputGradient) }
    guard let first = layers.firstIndex(where: { !$0.parameters.isEmpty }) else { return nil }
    var gradient = outputGradient
    for layer in layers[(first + 1)...].reversed() { gradient = try layer.backward(gradient) }
    return try layers[first].backward(gradient, computingInputGradient: false)
  }

  public var parameters: [Parameter] { layers.flatMap(\.parameters) }

  /// The trainable parameters.
  public var trainableParameters: [Parameter] { parameters.filter(\.isTrainable) }

  public var namedParameters: [(path: String, parameter: Parameter)] {
    let prefix = name.isEmpty ? "" : "\(name)."
    return layers.flatMap { layer in
      layer.namedParameters.map { (path: prefix + $0.path, parameter: $0.parameter) }
    }
  }

  /// The layer with a given name.
  public func layer(named layerName: String) -> (any Layer)? {
    layers.first { $0.name == layerName }
  }

  /// Runs the model in inference mode over `input` in batches.
  ///
  /// - Throws: `PlexusError` when the model is not built or the input shape does not fit.
  public func predict(_ input: Tensor, batchSize: Int = 256) throws -> Tensor {
    guard batchSize > 0 else {
      throw PlexusError.invalidArgument("batch size must be positive, got \(batchSize)")
    }
    try ShapeCheck.requireBatch(
      input, sampleShape: inputShape, layer: name.isEmpty ? "model input" : name)
    let total = input.batchCount
    if total <= batchSize { return try forward(input, training: false) }
    var outputs: [Tensor] = []
    var start = 0
    while start < total {
      let end = Swift.min(total, start + batchSize)
      outputs.append(try forward(input.samples(start..<end), training: false))
      start = end
    }
    return try Tensor.concatenateSamples(outputs)
  }

  /// A Keras-style table of layers, output shapes and parameter counts.
  public func summary() -> String {
    var rows: [(String, String, String, String)] = [("Layer", "Type", "Output shape", "Params")]
    for (index, layer) in layers.enumerated() {
      let shape =
        index < layerOutputShapes.count
        ? "[N, " + layerOutputShapes[index].map(String.init).joined(separator: ", ") + "]" : "?"
      rows.append((layer.name, layer.typeName, shape, String(layer.parameterCount)))
    }
    let widths = (0..<4).map { column in
      rows.map { row in [row.0, row.1, row.2, row.3][column].count }.max() ?? 0
    }
    func line(_ row: (String, String, String, String)) -> String {
      let cells = [row.0, row.1, row.2, row.3]
      return cells.enumerated().map { column, cell in
        column == 3
          ? String(repeating: " ", count: widths[column] - cell.count) + cell
          : cell + String(repeating: " ", count: widths[column] - cell.count)
      }.joined(separator: "  ")
    }
    let ruleWidth = widths.reduce(0, +) + 6
    var text = "Model: \(name.isEmpty ? "sequential" : name)\n"
    text += String(repeating: "=", count: ruleWidth) + "\n" + line(rows[0]) + "\n"
    text += String(repeating: "-", count: ruleWidth) + "\n"
    for row in rows.dropFirst() { text += line(row) + "\n" }
    text += String(repeating: "=", count: ruleWidth) + "\n"
    let total = parameterCount
    let trainable = trainableParameters.reduce(0) { $0 + $1.count }
    text +=
      "Total params: \(total)\nTrainable params: \(trainable)\nNon-trainable params: \(total - trainable)\n"
    return text
  }
}
