/// A model defined as a graph of layer calls, as Keras's functional API: inputs, layers
/// applied to symbolic tensors, several inputs and outputs, shared layers, nested models.
///
/// ```swift
/// let image = try Input(shape: [64], name: "image")
/// let hidden = try Dense(units: 64, activation: .relu)(image)
/// let block = try Dense(units: 64, activation: .relu)(hidden)
/// let residual = try Add()([hidden, block])
/// let logits = try Dense(units: 10)(residual)
/// let model = try Model(inputs: [image], outputs: [logits], seed: 42)
/// ```
///
/// Creating the model initializes every parameter that has no value yet from `seed` (layers
/// taken from a trained model keep their weights). A model is itself a layer: apply it to
/// symbolic tensors to nest it in another model.
public final class Model: SingleGraphModel {
  /// A model input in a stored architecture.
  public struct InputDescription: DefaultedConfiguration {
    /// The input's name.
    public var name: String
    /// The per-sample shape (`null` for a dimension that varies).
    public var shape: SymbolicShape

    /// Creates a description.
    public init(name: String, shape: SymbolicShape) {
      self.name = name
      self.shape = shape
    }

    public static var defaults: InputDescription { InputDescription(name: "", shape: []) }
    public static var fields: [ConfigField<InputDescription>] {
      [.required("name", \.name), .required("shape", \.shape)]
    }
  }

  /// A reference to a tensor in a stored architecture, encoded as Keras does, as
  /// `[source, call, output]`: a model input's name with `0, 0`, or a layer's name, which of
  /// its calls (from 0) and which of that call's outputs (from 0).
  public struct TensorReference: Codable, Sendable, Equatable, Hashable,
    CustomStringConvertible
  {
    /// The input or layer name.
    public var source: String
    /// Which call of the layer (0 for inputs).
    public var call: Int
    /// Which output of the call (0 for inputs).
    public var output: Int

    /// Creates a reference.
    public init(source: String, call: Int = 0, output: Int = 0) {
      self.source = source
      self.call = call
      self.output = output
    }

    public init(from decoder: Decoder) throws {
      var container = try decoder.unkeyedContainer()
      source = try container.decode(String.self)
      call = try container.decode(Int.self)
      output = try container.decode(Int.self)
      guard container.isAtEnd else {
        throw DecodingError.dataCorruptedError(
          in: container, debugDescription: "a tensor reference has three entries")
      }
    }

    public func encode(to encoder: Encoder) throws {
      var container = encoder.unkeyedContainer()
      try container.encode(source)
      try container.encode(call)
      try container.encode(output)
    }

    public var description: String { "[\"\(source)\", \(call), \(output)]" }
  }

  /// A layer call in a stored architecture.
  public struct NodeDescription: DefaultedConfiguration {
    /// The name of the layer called.
    public var layer: String
    /// The tensors the call reads.
    public var inputs: [TensorReference]

    /// Creates a description.
    public init(layer: String, inputs: [TensorReference]) {
      self.layer = layer
      self.inputs = inputs
    }

    public static var defaults: NodeDescription { NodeDescription(layer: "", inputs: []) }
    public static var fields: [ConfigField<NodeDescription>] {
      [.required("layer", \.layer), .required("inputs", \.inputs)]
    }
  }

  /// A model output in a stored architecture.
  public struct OutputDescription: DefaultedConfiguration {
    /// The output's name.
    public var name: String
    /// The tensor it is.
    public var tensor: TensorReference

    /// Creates a description.
    public init(name: String, tensor: TensorReference) {
      self.name = name
      self.tensor = tensor
    }

    public static var defaults: OutputDescription {
      OutputDescription(name: "", tensor: TensorReference(source: ""))
    }
    public static var fields: [ConfigField<OutputDescription>] {
      [.required("name", \.name), .required("tensor", \.tensor)]
    }
  }

  /// The architecture of a graph model: its inputs, its layers (each once), the calls in
  /// order and its outputs.
  public struct Config: DefaultedConfiguration {
    /// The inputs.
    public var inputs: [InputDescription]
    /// The layers, each once, shared layers included once.
    public var layers: [LayerDescription]
    /// The layer calls, each after the calls it reads from.
    public var nodes: [NodeDescription]
    /// The outputs.
    public var outputs: [OutputDescription]

    /// Creates an architecture.
    public init(
      inputs: [InputDescription], layers: [LayerDescription], nodes: [NodeDescription],
      outputs: [OutputDescription]
    ) {
      self.inputs = inputs
      self.layers = layers
      self.nodes = nodes
      self.outputs = outputs
    }

    public static var defaults: Config { Config(inputs: [], layers: [], nodes: [], outputs: []) }
    public static var fields: [ConfigField<Config>] {
      [
        .required("inputs", \.inputs), .required("layers", \.layers),
        .required("nodes", \.nodes), .required("outputs", \.outputs),
      ]
    }
  }

  public static let typeName = "plexus.model"
  public let state: LayerState
  /// The executable graph.
  public let graph: Graph

  private init(graph: Graph, name: String) {
    self.graph = graph
    self.state = LayerState(name: name)
    state.builtShapes = (inputs: graph.inputs.map(\.shape), outputs: graph.outputs.map(\.shape))
  }

  /// Creates a model from its inputs and outputs and initializes every parameter that has no
  /// value yet from `seed`.
  ///
  /// - Parameters:
  ///   - inputs: the `Input` tensors, in the order `predict` and `fit` take them.
  ///   - outputs: tensors computed from the inputs.
  ///   - outputNames: names for the outputs (default: the producing layers' names).
  ///   - name: the model's name (empty for a root model).
  ///   - seed: the seed of the initial values of parameters that have none.
  /// - Throws: `PlexusError.invalidConfiguration` naming the offending input, layer or
  ///   output (see `Graph.init`).
  public convenience init(
    inputs: [SymbolicTensor], outputs: [SymbolicTensor], outputNames: [String]? = nil,
    name: String = "", seed: UInt64 = 0
  ) throws {
    let graph = try Graph(inputs: inputs, outputs: outputs, outputNames: outputNames)
    var generator = SeededGenerator(seed: seed)
    try graph.initialize(using: &generator)
    self.init(graph: graph, name: name)
  }

  /// Creates a model with one input and one output.
  ///
  /// - Throws: as `init(inputs:outputs:outputNames:name:seed:)`.
  public convenience init(
    input: SymbolicTensor, output: SymbolicTensor, name: String = "", seed: UInt64 = 0
  ) throws {
    try self.init(inputs: [input], outputs: [output], name: name, seed: seed)
  }

  /// Recreates a model from its architecture with the core layers only (use
  /// `make(config:registry:)` for others).
  ///
  /// - Throws: as `make(config:registry:)`.
  public convenience init(config: Config) throws {
    try self.init(config: config, registry: LayerRegistry())
  }

  /// Recreates a model from its architecture, creating the layers through `registry`, and
  /// initializes the parameters (in a model-loading context they start at zero until the
  /// file's tensors are assigned).
  ///
  /// - Throws: `PlexusError.invalidConfiguration` naming the node, layer or reference that is
  ///   wrong: duplicate names, a call of an unknown layer, a reference to a tensor no earlier
  ///   node produces (a cycle or a forward reference), a layer or node that no output uses;
  ///   the registry's errors for unknown types and malformed configs.
  public convenience init(config: Config, registry: LayerRegistry) throws {
    var layers: [String: any Layer] = [:]
    for (index, description) in config.layers.enumerated() {
      guard !description.name.isEmpty, layers[description.name] == nil else {
        throw PlexusError.invalidConfiguration(
          "layer \(index) of the model has an empty or duplicate name '\(description.name)'")
      }
      layers[description.name] = try registry.makeLayer(from: description)
    }
    try ParameterSharing.link(Array(layers.values))
    var tensors: [TensorReference: SymbolicTensor] = [:]
    var inputs: [SymbolicTensor] = []
    for description in config.inputs {
      guard layers[description.name] == nil,
        tensors[TensorReference(source: description.name)] == nil
      else {
        throw PlexusError.invalidConfiguration(
          "input name '\(description.name)' is used twice or is also a layer name")
      }
      let input = try SymbolicTensor.input(shape: description.shape, name: description.name)
      tensors[TensorReference(source: description.name)] = input
      inputs.append(input)
    }
    var callCounts: [String: Int] = [:]
    for (index, node) in config.nodes.enumerated() {
      guard let layer = layers[node.layer] else {
        throw PlexusError.invalidConfiguration(
          "node \(index) calls layer '\(node.layer)', which the model does not define")
      }
      let arguments = try node.inputs.map { reference in
        guard let tensor = tensors[reference] else {
          throw PlexusError.invalidConfiguration(
            "node \(index) ('\(node.layer)') reads \(reference), which no input or earlier node "
              + "produces (a cycle, a forward reference or a wrong index)")
        }
        return tensor
      }
      let call = callCounts[node.layer, default: 0]
      callCounts[node.layer] = call + 1
      let outputs: [SymbolicTensor]
      do {
        outputs = try layer.call(arguments)
      } catch let error as PlexusError {
        throw PlexusError.invalidConfiguration("node \(index) ('\(node.layer)'): \(error)")
      }
      for (outputIndex, output) in outputs.enumerated() {
        tensors[TensorReference(source: node.layer, call: call, output: outputIndex)] = output
      }
    }
    if let unused = config.layers.first(where: { callCounts[$0.name] == nil }) {
      throw PlexusError.invalidConfiguration(
        "layer '\(unused.name)' is defined but no node calls it")
    }
    let outputs = try config.outputs.map { output in
      guard let tensor = tensors[output.tensor] else {
        throw PlexusError.invalidConfiguration(
          "output '\(output.name)' is \(output.tensor), which no input or node produces")
      }
      return tensor
    }
    let graph = try Graph(
      inputs: inputs, outputs: outputs, outputNames: config.outputs.map(\.name))
    guard graph.nodes.count == config.nodes.count else {
      throw PlexusError.invalidConfiguration(
        "\(config.nodes.count - graph.nodes.count) of the model's nodes lead to no output")
    }
    var generator = SeededGenerator(seed: 0)
    try graph.initialize(using: &generator)
    self.init(graph: graph, name: "")
  }

  public static func make(config: Config, registry: LayerRegistry) throws -> Self {
    try Self(config: config, registry: registry)
  }

  public var config: Config {
    do {
      func reference(_ slot: Int) -> TensorReference {
        guard let producer = graph.slotProducers[slot] else {
          return TensorReference(source: graph.inputs[slot].name)
        }
        let node = graph.nodes[producer]
        return TensorReference(
          source: node.layer.name, call: node.callIndex, output: graph.slotOutputIndices[slot])
      }
      return Config(
        inputs: graph.inputs.map { InputDescription(name: $0.name, shape: $0.shape) },
        layers: try graph.layers.map(LayerDescription.init),
        nodes: graph.nodes.map {
          NodeDescription(layer: $0.layer.name, inputs: $0.inputSlots.map(reference))
        },
        outputs: graph.outputs.map {
          OutputDescription(name: $0.name, tensor: reference($0.slot))
        })
    } catch {
      // Layer initializers validate their configs, so encoding them cannot fail.
      preconditionFailure("a layer config failed to encode: \(error)")
    }
  }

  public func build(for inputShapes: [SymbolicShape]) throws -> [SymbolicShape] {
    guard inputShapes.count == graph.inputs.count,
      zip(graph.inputs, inputShapes).allSatisfy({ ShapeCheck.accepts($0.shape, $1) })
    else {
      throw PlexusError.shapeMismatch(
        layer: name,
        expected: "inputs of shapes \(graph.inputs.map { ShapeCheck.describe($0.shape) })",
        found: inputShapes.first.map(ShapeCheck.flatten) ?? [])
    }
    return graph.outputs.map(\.shape)
  }

  /// The layers, each once, in the order of their first call.
  public var layers: [any Layer] { graph.layers }
}
