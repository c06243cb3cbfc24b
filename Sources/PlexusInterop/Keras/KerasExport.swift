import Foundation
import PlexusCore

/// Writes Plexus models as Keras 3 files: the architecture as a Keras 3 `config.json`
/// (`Sequential` or `Functional`), the parameters as `model.weights.h5` in Keras 3's layout.
///
/// The exported config is read back by the importer to place the weights, so export and
/// import share one table of names (`Formats/conversions.md`). A Plexus layer or option
/// without a Keras equivalent is an error naming the layer and the option.
public enum KerasExport {
  /// The Keras 3 config of a Plexus architecture (the root layer's description).
  ///
  /// - Throws: `KerasError` naming a layer or option Keras has no equivalent for.
  public static func kerasConfig(_ architecture: LayerDescription) throws -> JSONValue {
    try modelEntry(architecture)
  }

  /// Each parameter path of a Plexus architecture with its Keras 3 dataset path
  /// (`dense_1.kernel` -> `layers/dense_1/vars/0`), in Keras's order: the names a Keras
  /// layout of a weights export uses.
  ///
  /// - Throws: `KerasError` for a layer Keras has no equivalent for.
  public static func weightNames(_ architecture: LayerDescription) throws -> [(
    plexusPath: String, kerasPath: String
  )] {
    try importPlan(architecture).variables.map { ($0.plexusPath, $0.keras3Path) }
  }

  /// Where the parameters of a Plexus architecture live in the equivalent Keras model's
  /// weights files (Keras 3 and legacy layouts).
  static func importPlan(_ architecture: LayerDescription) throws -> ImportedModel {
    let config = try kerasConfig(architecture)
    return try KerasModelImporter(modelConfig: config, kerasMajorVersion: 3)
      .translateModel(config, context: "the architecture exported to Keras")
  }

  /// The `.keras` bytes of a model: its config, metadata and weights.
  ///
  /// - Throws: `KerasError` for an architecture Keras cannot express or parameters that do
  ///   not match it; `HDF5Error` when libhdf5 fails.
  public static func kerasArchive(
    architecture: LayerDescription, parameters: [(path: String, parameter: Parameter)]
  ) throws -> Data {
    let config = try kerasConfig(architecture)
    let weights = try weightsFile(architecture: architecture, parameters: parameters)
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "en_US_POSIX")
    formatter.dateFormat = "yyyy-MM-dd@HH:mm:ss"
    let metadata: JSONValue = .object([
      "keras_version": .string("3.0.0"), "date_saved": .string(formatter.string(from: Date())),
    ])
    return try KerasArchive.write(
      config: try encoder.encode(config), metadata: try encoder.encode(metadata),
      weights: weights)
  }

  /// The bytes of a Keras 3 weights file (`model.weights.h5`, or a `.weights.h5` file that
  /// `model.load_weights` reads) for a model's parameters.
  ///
  /// - Throws: as `kerasArchive`.
  public static func weightsFile(
    architecture: LayerDescription, parameters: [(path: String, parameter: Parameter)]
  ) throws -> Data {
    let plan = try importPlan(architecture)
    let values = Dictionary(
      parameters.map { ($0.path, $0.parameter.value) }, uniquingKeysWith: { a, _ in a })
    let zeroRowZero = Set(embeddingsWithMaskZero(architecture, prefix: ""))
    guard values.count == plan.variables.count else {
      let planned = Set(plan.variables.map(\.plexusPath))
      let extra = values.keys.sorted().filter { !planned.contains($0) }
      throw KerasError(
        "the model has \(values.count) parameters but its Keras form \(plan.variables.count)"
          + (extra.isEmpty ? "" : "; without a Keras variable: \(extra)"))
    }
    let file = try HDF5File.create(source: "model.weights.h5")
    try file.createGroup("vars")
    try file.setStringAttribute("name", ["model"], list: false, of: "vars")
    for variable in plan.variables {
      guard var value = values[variable.plexusPath] else {
        throw KerasError("the model has no parameter '\(variable.plexusPath)'")
      }
      if zeroRowZero.contains(variable.plexusPath), value.rank == 2, value.shape[0] > 0 {
        // Plexus maps a padding id to zeros; Keras looks row 0 up: make it zeros.
        let width = value.shape[1]
        value.withUnsafeMutableBufferPointer { buffer in
          for index in 0..<width { buffer[index] = 0 }
        }
      }
      let group = variable.keras3Path.split(separator: "/").dropLast().joined(separator: "/")
      if try file.kind(of: group) == nil {
        try file.createGroup(group)
        let parts = group.split(separator: "/")
        if parts.count == 3, parts[2] == "vars" {
          let layer = variable.plexusPath.split(separator: ".").dropLast().joined(separator: ".")
          try file.setStringAttribute("name", [layer], list: false, of: group)
        }
      }
      try file.writeDataset(variable.keras3Path, tensor: value)
    }
    return try file.image()
  }

  /// The parameter paths of embeddings with `maskZero`.
  private static func embeddingsWithMaskZero(_ description: LayerDescription, prefix: String)
    -> [String]
  {
    let members = description.config.objectMembers ?? [:]
    switch description.type {
    case "plexus.embedding" where members["maskZero"] == .bool(true):
      return [prefix + description.name + ".embeddings"]
    case "plexus.sequential", "plexus.model":
      let inner = prefix.isEmpty && description.name.isEmpty ? "" : prefix + description.name + "."
      let layers = (members["layers"]?.arrayItems ?? []).compactMap {
        try? $0.decode(LayerDescription.self, context: "layer")
      }
      return layers.flatMap { embeddingsWithMaskZero($0, prefix: inner) }
    default:
      return []
    }
  }

  // MARK: - Models

  private static func inputEntry(name: String, shape: SymbolicShape) -> JSONValue {
    .object([
      "module": .string("keras.layers"), "class_name": .string("InputLayer"),
      "config": .object([
        "batch_shape": .array([.null] + shape.map { $0.map { .number(Double($0)) } ?? .null }),
        "dtype": .string("float32"), "sparse": .bool(false), "name": .string(name),
      ]), "registered_name": .null, "name": .string(name), "inbound_nodes": .array([]),
    ])
  }

  private static func modelEntry(_ description: LayerDescription) throws -> JSONValue {
    switch description.type {
    case "plexus.sequential":
      let config = try description.config.decode(
        Sequential.Config.self, context: "model '\(description.name)'")
      guard let shape = config.inputShape else {
        throw KerasError(
          "Sequential model '\(description.name)' records no input shape; build it first")
      }
      let name = description.name.isEmpty ? "sequential" : description.name
      let entries = try config.layers.map { try layerJSON($0) }
      return .object([
        "module": .string("keras"), "class_name": .string("Sequential"),
        "config": .object([
          "name": .string(name), "trainable": .bool(description.trainable ?? true),
          "layers": .array([inputEntry(name: name + "_input", shape: shape)] + entries),
        ]), "registered_name": .null,
        "build_config": .object([
          "input_shape": .array([.null] + shape.map { $0.map { .number(Double($0)) } ?? .null })
        ]),
      ])
    case "plexus.model":
      return try functionalEntry(description)
    default:
      throw KerasError(
        "the root layer is a '\(description.type)', not a Sequential or graph model")
    }
  }

  /// One layer as a Keras 3 entry (a nested model included).
  private static func layerJSON(_ description: LayerDescription) throws -> JSONValue {
    if description.type == "plexus.sequential" || description.type == "plexus.model" {
      var entry = try modelEntry(description).objectMembers ?? [:]
      entry["name"] = nil
      return .object(entry)
    }
    return .object(try KerasLayerExport.entry(description))
  }

  // MARK: - Functional models

  /// A node of the graph being exported: an input or a layer call.
  private struct GraphNode: Hashable {
    var source: String
    var call: Int
  }

  private static func functionalEntry(_ description: LayerDescription) throws -> JSONValue {
    let config = try description.config.decode(
      Model.Config.self, context: "model '\(description.name)'")
    let name = description.name.isEmpty ? "functional" : description.name
    let inputNames = Set(config.inputs.map(\.name))
    var layerCalls: [String: [[Model.TensorReference]]] = [:]
    for node in config.nodes { layerCalls[node.layer, default: []].append(node.inputs) }
    let layersByName = Dictionary(
      config.layers.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
    for (layer, calls) in layerCalls {
      guard let described = layersByName[layer] else {
        throw KerasError("model '\(name)': a node calls '\(layer)', which is not among its layers")
      }
      let merges = [
        "plexus.add", "plexus.subtract", "plexus.multiply", "plexus.average", "plexus.maximum",
        "plexus.minimum", "plexus.concatenate",
      ]
      if !merges.contains(described.type), calls.contains(where: { $0.count != 1 }) {
        throw KerasError(
          "layer '\(layer)' (\(described.type)) is called on several tensors (initial states); "
            + "the Keras export supports that for merge layers only")
      }
    }
    // Keras orders a functional model's layers as its `map_graph` does: by depth from the
    // outputs (deepest first), ties by first visit in a depth-first walk from the outputs.
    // The weights file names layers in that order, so the config lists them in it too.
    func node(of reference: Model.TensorReference) -> GraphNode {
      inputNames.contains(reference.source)
        ? GraphNode(source: reference.source, call: 0)
        : GraphNode(source: reference.source, call: reference.call)
    }
    func parents(_ graphNode: GraphNode) -> [GraphNode] {
      if inputNames.contains(graphNode.source) { return [] }
      return (layerCalls[graphNode.source]?[graphNode.call] ?? []).map(node)
    }
    var finished = Set<GraphNode>()
    var inProgress = Set<GraphNode>()
    var ordered: [GraphNode] = []
    var firstVisit: [String: Int] = [:]
    func visit(_ graphNode: GraphNode) throws {
      if finished.contains(graphNode) { return }
      guard !inProgress.contains(graphNode) else {
        throw KerasError("model '\(name)': the graph has a cycle at '\(graphNode.source)'")
      }
      if firstVisit[graphNode.source] == nil { firstVisit[graphNode.source] = firstVisit.count }
      inProgress.insert(graphNode)
      for parent in parents(graphNode) { try visit(parent) }
      finished.insert(graphNode)
      inProgress.remove(graphNode)
      ordered.append(graphNode)
    }
    for output in config.outputs { try visit(node(of: output.tensor)) }
    var nodeDepth: [GraphNode: Int] = [:]
    var layerDepth: [String: Int] = [:]
    for graphNode in ordered.reversed() {
      let depth = max(nodeDepth[graphNode, default: 0], layerDepth[graphNode.source, default: 0])
      nodeDepth[graphNode] = depth
      layerDepth[graphNode.source] = depth
      for parent in parents(graphNode) {
        nodeDepth[parent] = max(depth + 1, nodeDepth[parent, default: 0])
      }
    }
    for input in config.inputs where layerDepth[input.name] == nil {
      layerDepth[input.name] = 0
      firstVisit[input.name] = -1
    }
    let operations = layerDepth.keys.sorted {
      let (a, b) = (layerDepth[$0]!, layerDepth[$1]!)
      return a != b ? a > b : firstVisit[$0, default: 0] < firstVisit[$1, default: 0]
    }
    func referenceJSON(_ reference: Model.TensorReference) -> JSONValue {
      .array([
        .string(reference.source), .number(Double(reference.call)),
        .number(Double(reference.output)),
      ])
    }
    var entries: [JSONValue] = []
    for operation in operations {
      if let input = config.inputs.first(where: { $0.name == operation }) {
        entries.append(inputEntry(name: input.name, shape: input.shape))
        continue
      }
      guard let described = layersByName[operation] else { continue }
      var entry = try layerJSON(described).objectMembers ?? [:]
      entry["name"] = .string(operation)
      // The Keras 2 node form, which Keras 3 reads: each call's input tensors.
      entry["inbound_nodes"] = .array(
        (layerCalls[operation] ?? []).map { call in .array(call.map(referenceJSON)) })
      entries.append(.object(entry))
    }
    let unused = config.layers.map(\.name).filter { layerDepth[$0] == nil }
    guard unused.isEmpty else {
      throw KerasError("model '\(name)': layers \(unused) do not lead to an output")
    }
    return .object([
      "module": .string("keras.src.models.functional"), "class_name": .string("Functional"),
      "config": .object([
        "name": .string(name), "trainable": .bool(description.trainable ?? true),
        "layers": .array(entries),
        "input_layers": .array(
          config.inputs.map { referenceJSON(Model.TensorReference(source: $0.name)) }),
        "output_layers": .array(config.outputs.map { referenceJSON($0.tensor) }),
      ]), "registered_name": .string("Functional"),
    ])
  }
}
