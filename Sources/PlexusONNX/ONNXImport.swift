import Foundation
import PlexusCore

/// An ONNX graph converted to a Plexus graph model.
public struct ONNXImportedModel: Sendable {
  /// The architecture: a `plexus.model` description (unnamed, so parameter paths are those of
  /// a `.plexus` file).
  public var architecture: LayerDescription
  /// The parameter values by Plexus path (`conv_1.kernel`), in Plexus's layouts.
  public var parameters: [(path: String, value: Tensor)]
  /// Per Plexus layer, the ONNX nodes it came from.
  public var layerSources: [(layer: String, nodes: [String])]
  /// How the model's inputs and outputs are laid out compared with the ONNX graph's
  /// (a channels-first image input is read channels-last).
  public var layoutNotes: [String]
}

/// Where a flattened tensor's features come from when Plexus's order differs from ONNX's: the
/// ONNX per-sample shape that was flattened and, per ONNX sample axis, the Plexus sample axis.
struct FlattenOrigin: Equatable {
  var onnxSampleShape: [Int]
  var plexusAxisOfOnnxAxis: [Int]

  /// For each ONNX feature index, the Plexus feature index holding it.
  func plexusIndices() -> [Int] {
    let rank = onnxSampleShape.count
    var plexusShape = Array(repeating: 0, count: rank)
    for axis in 0..<rank { plexusShape[plexusAxisOfOnnxAxis[axis]] = onnxSampleShape[axis] }
    var plexusStrides = Array(repeating: 1, count: rank)
    for axis in stride(from: rank - 2, through: 0, by: -1) {
      plexusStrides[axis] = plexusStrides[axis + 1] * plexusShape[axis + 1]
    }
    let total = onnxSampleShape.reduce(1, *)
    var result = [Int](repeating: 0, count: total)
    var index = Array(repeating: 0, count: rank)
    for flat in 0..<total {
      var target = 0
      for axis in 0..<rank { target += index[axis] * plexusStrides[plexusAxisOfOnnxAxis[axis]] }
      result[flat] = target
      var axis = rank - 1
      while axis >= 0 {
        index[axis] += 1
        if index[axis] < onnxSampleShape[axis] { break }
        index[axis] = 0
        axis -= 1
      }
    }
    return result
  }
}

/// A tensor of the Plexus graph being built, seen as an ONNX value.
struct SymbolicValue {
  /// The Plexus tensor.
  var reference: Model.TensorReference
  /// Its Plexus shape, batch first (`nil`).
  var plexusShape: [Int?]
  /// ONNX axis `i` is Plexus axis `permutation[i]` (identity but for channels-first images).
  var permutation: [Int]
  /// Set when the ONNX value is a flattening whose feature order Plexus does not share.
  var flattened: FlattenOrigin?
  /// The layer that produced the tensor when nothing else reads it (so the importer may fold
  /// a bias or an activation into that layer).
  var ownerLayer: String?
  /// Whether the ONNX value holds integers (indices for an embedding).
  var isInteger = false

  var rank: Int { flattened == nil ? permutation.count : 2 }

  /// The ONNX shape (`nil` for the batch).
  var onnxShape: [Int?] {
    if let flattened { return [nil, flattened.onnxSampleShape.reduce(1, *)] }
    return permutation.map { plexusShape[$0] }
  }

  /// Whether ONNX and Plexus agree on the axis order.
  var isPlain: Bool { flattened == nil && permutation == Array(0..<permutation.count) }

  /// Whether ONNX sees this value channels-first over Plexus's channels-last tensor.
  var isChannelsFirst: Bool {
    flattened == nil && permutation.count >= 3
      && permutation == SymbolicValue.channelsFirst(rank: permutation.count)
  }

  /// The permutation of a channels-first ONNX view of a channels-last tensor.
  static func channelsFirst(rank: Int) -> [Int] { [0, rank - 1] + Array(1..<(rank - 1)) }
}

enum ImportedValue {
  case constant(ONNXConstant)
  case tensor(SymbolicValue)
}

/// Converts an ONNX graph to a Plexus `plexus.model` description and parameter values.
///
/// ONNX images are channels-first (`NCHW`), Plexus's channels-last: each value keeps a
/// permutation between the two, convolution weights are transposed to Plexus's `HWIO`, and a
/// dense layer after a flattening permutes its kernel rows. Shape computations (`Shape`,
/// `Gather`, `Unsqueeze`, `Concat`, `Slice`, `Cast` on constants) are evaluated with the batch
/// size as an unknown, so the `Reshape` they feed is resolved; `Constant`, `Identity` and
/// `Dropout` are folded. `Formats/onnx.md` lists every operator and its limits.
struct ONNXGraphImporter {
  let file: ONNXModelFile
  var graph: Onnx_GraphProto { file.model.graph }
  var source: String { file.source }
  let decoder: ONNXTensorDecoder
  let opset: Int
  /// How the graph's image inputs are laid out: `nil` guesses (channels first, unless every
  /// reader transposes the input to channels first).
  let inputLayout: ONNXInputLayout?

  private(set) var values: [String: ImportedValue] = [:]
  private var layers: [LayerDescription] = []
  private var layerIndex: [String: Int] = [:]
  private var nodes: [Model.NodeDescription] = []
  private var parameters: [(path: String, value: Tensor)] = []
  private var parameterIndex: [String: Int] = [:]
  private var sources: [(layer: String, nodes: [String])] = []
  private var usedNames: Set<String> = []
  private var consumers: [String: Int] = [:]
  private var graphOutputs: Set<String> = []
  private var notes: [String] = []
  private var inputDescriptions: [Model.InputDescription] = []

  /// The layers a following bias or activation folds into.
  static let foldingTypes: Set<String> = [
    "plexus.dense", "plexus.conv2d", "plexus.conv1d", "plexus.conv2d_transpose",
    "plexus.depthwise_conv2d",
  ]

  /// The operators the importer converts.
  static let supportedOps: Set<String> = [
    "Add", "AveragePool", "BatchNormalization", "Cast", "Clip", "Concat", "Constant", "Conv",
    "ConvTranspose", "Div", "Dropout", "Elu", "Exp", "Flatten", "Gather", "Gemm", "Gelu",
    "GlobalAveragePool", "GlobalMaxPool", "HardSigmoid", "Identity", "LeakyRelu", "LogSoftmax",
    "MatMul", "Max", "MaxPool", "Mean", "Min", "Mul", "Pad", "PRelu", "ReduceMax", "ReduceMean",
    "Relu", "Resize", "Reshape", "Selu",
    "Shape", "Sigmoid", "Slice", "Softmax", "Softplus", "Softsign", "Squeeze", "Sub", "Sum",
    "Tanh", "ThresholdedRelu", "Transpose", "Unsqueeze",
  ]

  init(file: ONNXModelFile, inputLayout: ONNXInputLayout? = nil) throws {
    self.file = file
    self.inputLayout = inputLayout
    decoder = ONNXTensorDecoder(source: file.source, folder: file.folder)
    guard let opset = file.opsetVersion else {
      throw ONNXError("\(file.source): the model imports no opset of the default domain")
    }
    guard ONNXModelFile.supportedOpsets.contains(opset) else {
      throw ONNXError(
        "\(file.source): opset \(opset); Plexus imports opsets "
          + "\(ONNXModelFile.supportedOpsets.lowerBound) to \(ONNXModelFile.supportedOpsets.upperBound)"
          + " (convert older models with onnx.version_converter)")
    }
    self.opset = opset
  }

  // MARK: - The walk

  mutating func translate() throws -> ONNXImportedModel {
    let graph = self.graph
    guard !graph.node.isEmpty else { throw ONNXError("\(source): the graph has no nodes") }
    guard graph.sparseInitializer.isEmpty else {
      throw ONNXError("\(source): sparse initializers are not supported")
    }
    let unsupported = graph.node.filter {
      !($0.domain.isEmpty || $0.domain == "ai.onnx") || !Self.supportedOps.contains($0.opType)
    }
    if !unsupported.isEmpty {
      throw ONNXError(
        "\(source): \(unsupported.count) node" + (unsupported.count == 1 ? "" : "s")
          + " with operators Plexus does not import: "
          + unsupported.map { "\(ONNXModelFile.opName($0)) (node '\($0.name)')" }.joined(
            separator: ", "))
    }
    for node in graph.node {
      for input in node.input where !input.isEmpty { consumers[input, default: 0] += 1 }
    }
    graphOutputs = Set(graph.output.map(\.name))
    for output in graph.output { consumers[output.name, default: 0] += 1 }

    for tensor in graph.initializer {
      guard !tensor.name.isEmpty else { throw ONNXError("\(source): an initializer has no name") }
      guard values[tensor.name] == nil else {
        throw ONNXError("\(source): two initializers are named '\(tensor.name)'")
      }
      values[tensor.name] = .constant(
        try decoder.decode(tensor, what: "initializer '\(tensor.name)'"))
    }
    let initializerNames = Set(graph.initializer.map(\.name))
    for input in graph.input where !initializerNames.contains(input.name) {
      try addInput(input)
    }
    guard !inputDescriptions.isEmpty else {
      throw ONNXError("\(source): the graph has no inputs besides its initializers")
    }

    for node in try orderedNodes() {
      let context = "\(source): node '\(node.name)' (\(node.opType))"
      try translate(node, context: context)
    }

    var outputs: [Model.OutputDescription] = []
    for output in graph.output {
      guard let value = values[output.name] else {
        throw ONNXError("\(source): graph output '\(output.name)' is never computed")
      }
      guard case .tensor(var tensor) = value else {
        throw ONNXError(
          "\(source): graph output '\(output.name)' is a constant; Plexus models compute "
            + "their outputs from their inputs")
      }
      if tensor.flattened != nil {
        tensor = try reorderFlattened(tensor, name: output.name)
      }
      if !tensor.isPlain {
        notes.append(
          "output '\(output.name)': ONNX \(Self.render(tensor.onnxShape)) is Plexus "
            + "\(Self.render(tensor.plexusShape)) (channels last)")
      }
      outputs.append(
        Model.OutputDescription(name: Self.layerName(output.name), tensor: tensor.reference))
    }
    let config = Model.Config(
      inputs: inputDescriptions, layers: layers, nodes: nodes, outputs: outputs)
    return ONNXImportedModel(
      architecture: LayerDescription(
        type: "plexus.model", name: "", config: try JSONValue(encoding: config)),
      parameters: parameters, layerSources: sources, layoutNotes: notes)
  }

  /// The nodes in an order where each follows the nodes whose outputs it reads.
  private func orderedNodes() throws -> [Onnx_NodeProto] {
    var available = Set(values.keys)
    var producer: [String: Int] = [:]
    for (index, node) in graph.node.enumerated() {
      for output in node.output where !output.isEmpty {
        guard producer.updateValue(index, forKey: output) == nil, !available.contains(output)
        else {
          throw ONNXError(
            "\(source): value '\(output)' is written twice (node '\(node.name)'); ONNX graphs "
              + "assign each value once")
        }
      }
    }
    for node in graph.node {
      for input in node.input
      where !input.isEmpty && producer[input] == nil
        && !available.contains(input)
      {
        throw ONNXError(
          "\(source): node '\(node.name)' (\(node.opType)) reads '\(input)', which no node, "
            + "input or initializer provides")
      }
    }
    var remaining = Array(graph.node.indices)
    var ordered: [Onnx_NodeProto] = []
    while !remaining.isEmpty {
      var next: [Int] = []
      for index in remaining {
        let node = graph.node[index]
        if node.input.allSatisfy({ $0.isEmpty || available.contains($0) }) {
          ordered.append(node)
          available.formUnion(node.output.filter { !$0.isEmpty })
        } else {
          next.append(index)
        }
      }
      guard next.count < remaining.count else {
        throw ONNXError(
          "\(source): the graph has a cycle through nodes "
            + next.prefix(8).map { "'\(graph.node[$0].name)' (\(graph.node[$0].opType))" }.joined(
              separator: ", ") + (next.count > 8 ? ", ..." : ""))
      }
      remaining = next
    }
    return ordered
  }

  private mutating func addInput(_ input: Onnx_ValueInfoProto) throws {
    let context = "\(source): input '\(input.name)'"
    guard case .tensorType(let type)? = input.type.value, type.hasShape else {
      throw ONNXError("\(context) declares no tensor shape; Plexus needs one")
    }
    let isInteger: Bool
    switch type.elemType {
    case 1: isInteger = false
    case 6, 7: isInteger = true
    default:
      throw ONNXError(
        "\(context) is \(ONNXTensorDecoder.typeName(type.elemType)); Plexus reads float inputs "
          + "(and integer indices)")
    }
    let dims = type.shape.dim
    guard dims.count >= 2, dims.count <= 5 else {
      throw ONNXError(
        "\(context) has rank \(dims.count); Plexus needs a batch axis and 1 to 4 more")
    }
    var sample: [Int] = []
    for (axis, dim) in dims.enumerated().dropFirst() {
      guard case .dimValue(let size)? = dim.value, size > 0, size <= Int64(Int32.max) else {
        throw ONNXError(
          "\(context): dimension \(axis) is not a fixed positive size; Plexus imports "
            + "graphs whose only varying dimension is the batch")
      }
      sample.append(Int(size))
    }
    if case .dimValue(let batch)? = dims[0].value, batch != 1 {
      notes.append("input '\(input.name)': the fixed batch size \(batch) is made dynamic")
    }
    let rank = dims.count
    // An image input read by convolutions is channels-first in ONNX; unless its readers
    // transpose it to channels-last first.
    let readers = graph.node.filter { $0.input.contains(input.name) }
    let transposedToChannelsFirst =
      !readers.isEmpty
      && readers.allSatisfy { node in
        node.opType == "Transpose"
          && node.attribute.first { $0.name == "perm" }?.ints.map { Int($0) }
            == SymbolicValue.channelsFirst(rank: rank)
      }
    let spatial =
      rank >= 3 && !isInteger
      && (inputLayout == .nchw || (inputLayout == nil && !transposedToChannelsFirst))
    let permutation = spatial ? SymbolicValue.channelsFirst(rank: rank) : Array(0..<rank)
    var plexusShape: [Int?] = Array(repeating: nil, count: rank)
    for axis in 1..<rank { plexusShape[permutation[axis]] = sample[axis - 1] }
    let name = try uniqueName(Self.layerName(input.name))
    inputDescriptions.append(
      Model.InputDescription(name: name, shape: Array(plexusShape.dropFirst())))
    if spatial {
      notes.append(
        "input '\(input.name)': ONNX \(Self.render([nil] + sample.map { $0 })) is read "
          + "channels last as \(Self.render(plexusShape))")
    }
    values[input.name] = .tensor(
      SymbolicValue(
        reference: Model.TensorReference(source: name), plexusShape: plexusShape,
        permutation: permutation, flattened: nil, ownerLayer: nil, isInteger: isInteger))
  }

  // MARK: - Helpers

  static func render(_ shape: [Int?]) -> String {
    "[" + shape.map { $0.map(String.init) ?? "N" }.joined(separator: ", ") + "]"
  }

  /// A Plexus layer name from an ONNX name: letters, digits and `_` only.
  static func layerName(_ onnxName: String) -> String {
    var result = String(
      onnxName.map { $0.isLetter || $0.isNumber || $0 == "_" ? $0 : "_" }.prefix(64))
    while result.hasPrefix("_") { result.removeFirst() }
    while result.contains("__") { result = result.replacingOccurrences(of: "__", with: "_") }
    while result.hasSuffix("_") { result.removeLast() }
    return result.isEmpty ? "value" : result
  }

  private mutating func uniqueName(_ base: String) throws -> String {
    var name = base
    var suffix = 1
    while usedNames.contains(name) {
      suffix += 1
      name = "\(base)_\(suffix)"
    }
    usedNames.insert(name)
    return name
  }

  private func input(_ node: Onnx_NodeProto, _ index: Int, context: String) throws
    -> ImportedValue?
  {
    guard index < node.input.count, !node.input[index].isEmpty else { return nil }
    guard let value = values[node.input[index]] else {
      throw ONNXError("\(context): input '\(node.input[index])' is not computed")
    }
    return value
  }

  private func tensorInput(_ node: Onnx_NodeProto, _ index: Int, context: String) throws
    -> SymbolicValue
  {
    guard case .tensor(let value)? = try input(node, index, context: context) else {
      throw ONNXError(
        "\(context): input \(index) must be computed from the model's inputs, not a constant")
    }
    return value
  }

  private func constantInput(_ node: Onnx_NodeProto, _ index: Int, context: String) throws
    -> ONNXConstant?
  {
    switch try input(node, index, context: context) {
    case nil: return nil
    case .constant(let constant)?: return constant
    case .tensor?:
      throw ONNXError(
        "\(context): input \(index) ('\(node.input[index])') must be a constant (an "
          + "initializer or a value computable before the model runs)")
    }
  }

  private func floatTensor(_ constant: ONNXConstant, context: String) throws -> Tensor {
    guard let floats = constant.floats else {
      throw ONNXError("\(context): a constant holds values known only when the model runs")
    }
    if let bad = floats.firstIndex(where: { !$0.isFinite }) {
      throw ONNXError("\(context): a weight holds \(floats[bad]) at index \(bad)")
    }
    return try Tensor(shape: constant.shape, scalars: floats)
  }

  private func knownIntegers(_ constant: ONNXConstant, context: String) throws -> [Int] {
    guard let integers = constant.integers else {
      throw ONNXError("\(context): expected integers, found floats")
    }
    return try integers.map {
      guard let value = $0, abs(value) <= Int64(Int32.max) else {
        throw ONNXError(
          "\(context): expected known integers, found \($0.map(String.init) ?? "the batch size")")
      }
      return Int(value)
    }
  }

  private func onlyReader(_ node: Onnx_NodeProto, index: Int, value: SymbolicValue) -> String? {
    let name = node.input[index]
    guard let owner = value.ownerLayer, consumers[name] == 1, !graphOutputs.contains(name) else {
      return nil
    }
    return owner
  }

  /// The value after node `node` aliases its input `index` (Identity, Dropout, Transpose).
  private func alias(_ value: SymbolicValue, of node: Onnx_NodeProto, index: Int) -> SymbolicValue {
    var result = value
    result.ownerLayer = onlyReader(node, index: index, value: value)
    return result
  }

  /// Adds a layer called once on `inputs`; returns its output.
  private mutating func emit(
    type: String, node: Onnx_NodeProto, config: [String: JSONValue], inputs: [SymbolicValue],
    parameters layerParameters: [(String, Tensor)] = [], plexusShape: [Int?],
    permutation: [Int]
  ) throws -> SymbolicValue {
    let base =
      node.name.isEmpty ? String(type.dropFirst("plexus.".count)) : Self.layerName(node.name)
    let name = try uniqueName(base)
    layerIndex[name] = layers.count
    layers.append(LayerDescription(type: type, name: name, config: .object(config)))
    nodes.append(Model.NodeDescription(layer: name, inputs: inputs.map(\.reference)))
    for (suffix, value) in layerParameters { setParameter("\(name).\(suffix)", value) }
    sources.append((name, [node.name]))
    return SymbolicValue(
      reference: Model.TensorReference(source: name), plexusShape: plexusShape,
      permutation: permutation, flattened: nil, ownerLayer: name)
  }

  private mutating func setParameter(_ path: String, _ value: Tensor) {
    if let index = parameterIndex[path] {
      parameters[index].value = value
    } else {
      parameterIndex[path] = parameters.count
      parameters.append((path, value))
    }
  }

  private mutating func updateConfig(of layer: String, _ changes: [String: JSONValue], node: String)
  {
    guard let index = layerIndex[layer], case .object(var config) = layers[index].config else {
      return
    }
    config.merge(changes) { $1 }
    layers[index].config = .object(config)
    if let sourceIndex = sources.firstIndex(where: { $0.layer == layer }) {
      sources[sourceIndex].nodes.append(node)
    }
  }

  private func layerConfig(_ layer: String) -> (type: String, config: [String: JSONValue])? {
    guard let index = layerIndex[layer], case .object(let config) = layers[index].config else {
      return nil
    }
    return (layers[index].type, config)
  }

  /// A flattened value in Plexus's feature order, through a dense layer whose kernel is the
  /// permutation (exact: each output is one input times 1).
  private mutating func reorderFlattened(_ value: SymbolicValue, name: String) throws
    -> SymbolicValue
  {
    guard let origin = value.flattened else { return value }
    let features = origin.onnxSampleShape.reduce(1, *)
    guard features <= 4096 else {
      throw ONNXError(
        "\(source): value '\(name)' flattens a channels-first tensor of \(features) features "
          + "and is not read by a dense layer (Gemm, MatMul), which could absorb the reordering")
    }
    let indices = origin.plexusIndices()
    var kernel = [Float](repeating: 0, count: features * features)
    for (onnxIndex, plexusIndex) in indices.enumerated() {
      kernel[plexusIndex * features + onnxIndex] = 1
    }
    var node = Onnx_NodeProto()
    node.name = name + "_reorder"
    var result = try emit(
      type: "plexus.dense", node: node,
      config: [
        "units": .number(Double(features)), "activation": .string("linear"),
        "useBias": .bool(false),
      ], inputs: [value],
      parameters: [("kernel", try Tensor(shape: [features, features], scalars: kernel))],
      plexusShape: [nil, features], permutation: [0, 1])
    result.ownerLayer = nil
    return result
  }

  // MARK: - Operators

  private mutating func translate(_ node: Onnx_NodeProto, context: String) throws {
    var attributes = try ONNXAttributes(node, context: context)
    let outputs: [ImportedValue]
    switch node.opType {
    case "Identity":
      outputs = [try passThrough(node, context: context)]
    case "Dropout":
      attributes.ignore("seed")
      if node.input.count > 2, !node.input[2].isEmpty,
        let training = try constantInput(node, 2, context: context),
        try knownIntegers(training, context: context).contains(where: { $0 != 0 })
      {
        throw ONNXError("\(context): dropout in training mode is not an inference graph")
      }
      if node.output.count > 1, !node.output[1].isEmpty, consumers[node.output[1]] != nil {
        throw ONNXError("\(context): the dropout mask is read; Plexus drops Dropout at import")
      }
      outputs = [try passThrough(node, context: context)]
    case "Constant":
      outputs = [.constant(try constantNode(node, attributes: &attributes, context: context))]
    case "Shape", "Gather", "Unsqueeze", "Squeeze", "Concat", "Slice", "Cast":
      outputs = [try shapeOperation(node, attributes: &attributes, context: context)]
    case "Reshape", "Flatten", "Transpose":
      outputs = [.tensor(try reshaping(node, attributes: &attributes, context: context))]
    case "Conv", "ConvTranspose":
      outputs = [.tensor(try convolution(node, attributes: &attributes, context: context))]
    case "ReduceMean", "ReduceMax":
      outputs = [.tensor(try spatialReduction(node, attributes: &attributes, context: context))]
    case "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool":
      outputs = [.tensor(try pooling(node, attributes: &attributes, context: context))]
    case "BatchNormalization":
      outputs = [.tensor(try batchNormalization(node, attributes: &attributes, context: context))]
    case "Gemm", "MatMul":
      outputs = [.tensor(try dense(node, attributes: &attributes, context: context))]
    case "Add", "Sub", "Mul", "Div", "Max", "Min", "Sum", "Mean":
      outputs = [try arithmetic(node, context: context)]
    case "PRelu":
      outputs = [.tensor(try prelu(node, context: context))]
    case "Pad":
      outputs = [.tensor(try pad(node, attributes: &attributes, context: context))]
    case "Resize":
      outputs = [.tensor(try resize(node, attributes: &attributes, context: context))]
    default:
      outputs = [.tensor(try activation(node, attributes: &attributes, context: context))]
    }
    try attributes.finish()
    let written = node.output.enumerated().filter { !$0.element.isEmpty }
    for (index, name) in written where index < outputs.count {
      values[name] = outputs[index]
    }
    if let extra = written.first(where: {
      $0.offset >= outputs.count && consumers[$0.element] != nil
    }) {
      throw ONNXError(
        "\(context): output \(extra.offset) ('\(extra.element)') is read, but Plexus computes "
          + "only the first output of \(node.opType)")
    }
  }

  private func passThrough(_ node: Onnx_NodeProto, context: String) throws -> ImportedValue {
    switch try input(node, 0, context: context) {
    case .constant(let constant)?: return .constant(constant)
    case .tensor(let value)?: return .tensor(alias(value, of: node, index: 0))
    case nil: throw ONNXError("\(context): the input is missing")
    }
  }

  private func constantNode(
    _ node: Onnx_NodeProto, attributes: inout ONNXAttributes, context: String
  ) throws -> ONNXConstant {
    if let tensor = try attributes.tensor("value") {
      return try decoder.decode(tensor, what: "the value of node '\(node.name)'")
    }
    if attributes.has("value_float") {
      return ONNXConstant(
        shape: [], values: .floats([try attributes.float("value_float", default: 0)]))
    }
    if let floats = try attributes.floats("value_floats") {
      return ONNXConstant(shape: [floats.count], values: .floats(floats))
    }
    if let value = try attributes.int("value_int") {
      return ONNXConstant(shape: [], values: .integers([Int64(value)]))
    }
    if let ints = try attributes.ints("value_ints") {
      return ONNXConstant(shape: [ints.count], values: .integers(ints.map { Int64($0) }))
    }
    throw ONNXError("\(context): a Constant without a tensor, float(s) or int(s) value")
  }

  /// Shape computations on constants (with the batch size unknown), and `Concat` and `Gather`
  /// of computed tensors (a concatenation layer, an embedding).
  private mutating func shapeOperation(
    _ node: Onnx_NodeProto, attributes: inout ONNXAttributes, context: String
  ) throws -> ImportedValue {
    switch node.opType {
    case "Shape":
      let start = try attributes.int("start", default: 0)
      let end = try attributes.int("end")
      let dims: [Int64?]
      switch try input(node, 0, context: context) {
      case .tensor(let value)?: dims = value.onnxShape.map { $0.map { Int64($0) } }
      case .constant(let constant)?: dims = constant.shape.map { Int64($0) }
      case nil: throw ONNXError("\(context): the input is missing")
      }
      let rank = dims.count
      func clamp(_ axis: Int) -> Int { min(max(axis < 0 ? axis + rank : axis, 0), rank) }
      let lower = clamp(start)
      let upper = max(clamp(end ?? rank), lower)
      let slice = Array(dims[lower..<upper])
      return .constant(ONNXConstant(shape: [slice.count], values: .integers(slice)))

    case "Cast":
      let to = try attributes.int("to", default: 1)
      attributes.ignore("saturate", "round_mode")
      guard case .constant(let constant)? = try input(node, 0, context: context) else {
        return try passThroughCast(node, to: to, context: context)
      }
      if ONNXTensorDecoder.elementSize(Int32(to))?.isFloat == true {
        guard let floats = constant.floats else {
          throw ONNXError("\(context): casts the batch size to a float")
        }
        return .constant(ONNXConstant(shape: constant.shape, values: .floats(floats)))
      }
      switch constant.values {
      case .integers: return .constant(constant)
      case .floats(let floats):
        return .constant(
          ONNXConstant(
            shape: constant.shape,
            values: .integers(
              floats.map { $0.isFinite && abs($0) < 9e18 ? Int64($0.rounded(.towardZero)) : 0 })))
      }

    case "Unsqueeze", "Squeeze":
      var axes = try attributes.ints("axes")
      if axes == nil, let given = try constantInput(node, 1, context: context) {
        axes = try knownIntegers(given, context: context)
      }
      guard case .constant(var constant)? = try input(node, 0, context: context) else {
        throw ONNXError(
          "\(context): \(node.opType) of a computed tensor is not supported (only of constants)")
      }
      if node.opType == "Unsqueeze" {
        guard let axes else { throw ONNXError("\(context): Unsqueeze needs axes") }
        let rank = constant.shape.count + axes.count
        let normalized = Set(axes.map { $0 < 0 ? $0 + rank : $0 })
        guard normalized.count == axes.count, normalized.allSatisfy({ (0..<rank).contains($0) })
        else { throw ONNXError("\(context): axes \(axes) are out of range") }
        var shape: [Int] = []
        var rest = constant.shape.makeIterator()
        for axis in 0..<rank { shape.append(normalized.contains(axis) ? 1 : rest.next() ?? 1) }
        constant.shape = shape
      } else {
        let rank = constant.shape.count
        let normalized = Set(
          (axes ?? constant.shape.indices.filter { constant.shape[$0] == 1 }).map {
            $0 < 0 ? $0 + rank : $0
          })
        guard normalized.allSatisfy({ (0..<rank).contains($0) && constant.shape[$0] == 1 }) else {
          throw ONNXError("\(context): squeezes an axis that is not of size 1")
        }
        constant.shape = constant.shape.indices.filter { !normalized.contains($0) }.map {
          constant.shape[$0]
        }
      }
      return .constant(constant)

    case "Gather":
      let axis = try attributes.int("axis", default: 0)
      let data = try input(node, 0, context: context)
      let indicesValue = try input(node, 1, context: context)
      if case .constant(let table)? = data, case .tensor(let indices)? = indicesValue {
        return .tensor(
          try embedding(node, table: table, indices: indices, axis: axis, context: context))
      }
      guard case .constant(let constant)? = data, case .constant(let indexConstant)? = indicesValue
      else {
        throw ONNXError(
          "\(context): Gather of a computed tensor is supported as an embedding lookup only "
            + "(a constant table indexed by the model's integer input)")
      }
      guard constant.shape.count == 1, axis == 0 || axis == -1, indexConstant.shape.count <= 1
      else {
        throw ONNXError(
          "\(context): Gather of constants is supported on vectors (shape computations)")
      }
      let indices = try knownIntegers(indexConstant, context: context)
      let length = constant.shape[0]
      let picked = try indices.map { index -> Int in
        let position = index < 0 ? index + length : index
        guard (0..<length).contains(position) else {
          throw ONNXError("\(context): index \(index) is out of range for \(length) values")
        }
        return position
      }
      let shape = indexConstant.shape
      switch constant.values {
      case .floats(let floats):
        return .constant(ONNXConstant(shape: shape, values: .floats(picked.map { floats[$0] })))
      case .integers(let integers):
        return .constant(ONNXConstant(shape: shape, values: .integers(picked.map { integers[$0] })))
      }

    case "Slice":
      guard case .constant(let constant)? = try input(node, 0, context: context),
        constant.shape.count == 1
      else {
        throw ONNXError("\(context): Slice is supported on constant vectors (shape computations)")
      }
      func list(_ index: Int) throws -> [Int]? {
        try constantInput(node, index, context: context).map {
          try knownIntegers($0, context: context)
        }
      }
      guard let starts = try list(1), let ends = try list(2), starts.count == 1, ends.count == 1
      else { throw ONNXError("\(context): Slice needs one start and one end") }
      if let axes = try list(3), axes != [0], axes != [-1] {
        throw ONNXError("\(context): Slice of a vector along axes \(axes)")
      }
      let step = try list(4)?.first ?? 1
      guard step == 1 else { throw ONNXError("\(context): Slice with step \(step)") }
      let length = constant.shape[0]
      func clamp(_ value: Int) -> Int { min(max(value < 0 ? value + length : value, 0), length) }
      let lower = clamp(starts[0])
      let upper = max(clamp(ends[0]), lower)
      switch constant.values {
      case .floats(let floats):
        return .constant(
          ONNXConstant(shape: [upper - lower], values: .floats(Array(floats[lower..<upper]))))
      case .integers(let integers):
        return .constant(
          ONNXConstant(shape: [upper - lower], values: .integers(Array(integers[lower..<upper]))))
      }

    default:  // Concat
      let axis = try attributes.int("axis", default: 0)
      let inputs = try node.input.indices.map { index -> ImportedValue in
        guard let value = try input(node, index, context: context) else {
          throw ONNXError("\(context): input \(index) is missing")
        }
        return value
      }
      let constants = inputs.compactMap { value -> ONNXConstant? in
        if case .constant(let constant) = value { return constant }
        return nil
      }
      if constants.count == inputs.count {
        guard constants.allSatisfy({ $0.shape.count == 1 }) else {
          throw ONNXError("\(context): Concat of constants is supported on vectors")
        }
        if constants.allSatisfy({ $0.integers != nil }) {
          let joined = constants.flatMap { $0.integers ?? [] }
          return .constant(ONNXConstant(shape: [joined.count], values: .integers(joined)))
        }
        let joined = try constants.flatMap { constant -> [Float] in
          guard let floats = constant.floats else {
            throw ONNXError("\(context): joins floats with the batch size")
          }
          return floats
        }
        return .constant(ONNXConstant(shape: [joined.count], values: .floats(joined)))
      }
      guard constants.isEmpty else {
        throw ONNXError(
          "\(context): Concat of computed tensors and constants is not supported")
      }
      let tensors = inputs.compactMap { value -> SymbolicValue? in
        if case .tensor(let tensor) = value { return tensor }
        return nil
      }
      var prepared: [SymbolicValue] = []
      for (index, tensor) in tensors.enumerated() {
        prepared.append(
          tensor.flattened != nil
            ? try reorderFlattened(tensor, name: node.input[index]) : tensor)
      }
      let first = prepared[0]
      let rank = first.rank
      let onnxAxis = axis < 0 ? axis + rank : axis
      guard onnxAxis >= 1, onnxAxis < rank else {
        throw ONNXError("\(context): Concat along axis \(axis) (the batch or out of range)")
      }
      guard prepared.allSatisfy({ $0.permutation == first.permutation }) else {
        throw ONNXError("\(context): Concat of tensors laid out differently")
      }
      let plexusAxis = first.permutation[onnxAxis]
      var shape = first.plexusShape
      var total = 0
      for tensor in prepared {
        guard tensor.plexusShape.count == shape.count,
          tensor.plexusShape.indices.allSatisfy({
            $0 == plexusAxis || $0 == 0 || tensor.plexusShape[$0] == shape[$0]
          }), let size = tensor.plexusShape[plexusAxis]
        else {
          throw ONNXError("\(context): Concat of tensors whose other dimensions differ")
        }
        total += size
      }
      shape[plexusAxis] = total
      return .tensor(
        try emit(
          type: "plexus.concatenate", node: node, config: ["axis": .number(Double(plexusAxis))],
          inputs: prepared, plexusShape: shape, permutation: first.permutation))
    }
  }

  private func passThroughCast(_ node: Onnx_NodeProto, to: Int, context: String) throws
    -> ImportedValue
  {
    guard case .tensor(var value)? = try input(node, 0, context: context) else {
      throw ONNXError("\(context): the input is missing")
    }
    if to == 1 || (value.isInteger && (to == 6 || to == 7)) {
      value = alias(value, of: node, index: 0)
      value.isInteger = to != 1
      return .tensor(value)
    }
    throw ONNXError(
      "\(context): casts a computed tensor to \(ONNXTensorDecoder.typeName(Int32(to))); Plexus "
        + "computes in float32")
  }

  private mutating func embedding(
    _ node: Onnx_NodeProto, table: ONNXConstant, indices: SymbolicValue, axis: Int,
    context: String
  ) throws -> SymbolicValue {
    guard axis == 0, table.shape.count == 2 else {
      throw ONNXError("\(context): an embedding lookup reads rows (axis 0) of a matrix")
    }
    guard indices.isInteger, indices.isPlain else {
      throw ONNXError("\(context): an embedding lookup needs the model's integer input")
    }
    let weights = try floatTensor(table, context: context)
    return try emit(
      type: "plexus.embedding", node: node,
      config: [
        "inputDim": .number(Double(table.shape[0])), "outputDim": .number(Double(table.shape[1])),
      ], inputs: [indices], parameters: [("embeddings", weights)],
      plexusShape: indices.plexusShape + [table.shape[1]],
      permutation: Array(0...indices.plexusShape.count))
  }

  // MARK: Reshaping

  private mutating func reshaping(
    _ node: Onnx_NodeProto, attributes: inout ONNXAttributes, context: String
  ) throws -> SymbolicValue {
    let value = try tensorInput(node, 0, context: context)
    switch node.opType {
    case "Transpose":
      let rank = value.rank
      let order = try attributes.ints("perm") ?? Array((0..<rank).reversed())
      guard order.sorted() == Array(0..<rank), order.first == 0 else {
        throw ONNXError(
          "\(context): perm \(order) must keep the batch first and permute all \(rank) axes")
      }
      guard value.flattened == nil || order == [0, 1] else {
        throw ONNXError("\(context): transposes a flattened tensor")
      }
      var result = alias(value, of: node, index: 0)
      result.permutation = order.map { value.permutation[$0] }
      return result
    case "Flatten":
      let axis = try attributes.int("axis", default: 1)
      guard axis == 1 || axis == 1 - value.rank else {
        throw ONNXError("\(context): Flatten at axis \(axis); Plexus flattens after the batch")
      }
      return try flatten(value, node: node, context: context)
    default:  // Reshape
      let allowZero = try attributes.int("allowzero", default: 0)
      guard let shapeConstant = try constantInput(node, 1, context: context),
        let requested = shapeConstant.integers
      else {
        throw ONNXError("\(context): the target shape must be computable before the model runs")
      }
      let current = value.onnxShape
      var target: [Int?] = []
      for (index, entry) in requested.enumerated() {
        guard let entry else {
          target.append(nil)
          continue
        }
        if entry == 0, allowZero == 0 {
          guard index < current.count else {
            throw ONNXError("\(context): target shape copies dimension \(index), beyond the input")
          }
          target.append(current[index])
        } else if entry == -1 {
          target.append(-1)
        } else {
          guard entry > 0, entry <= Int64(Int32.max) else {
            throw ONNXError("\(context): target shape holds \(entry)")
          }
          target.append(Int(entry))
        }
      }
      let features = current.dropFirst().reduce(1) { $0 * ($1 ?? 1) }
      guard target.first.map({ $0 == nil || $0 == -1 }) == true,
        target.dropFirst().allSatisfy({ $0 != nil })
      else {
        throw ONNXError(
          "\(context): reshapes to \(Self.render(target)); Plexus keeps the batch as the first "
            + "dimension")
      }
      var sample = target.dropFirst().map { $0! }
      if let unknown = sample.firstIndex(of: -1) {
        let known = sample.enumerated().filter { $0.offset != unknown }.reduce(1) {
          $0 * $1.element
        }
        guard known > 0, features % known == 0 else {
          throw ONNXError(
            "\(context): cannot reshape \(features) features to \(Self.render(target))")
        }
        sample[unknown] = features / known
      }
      guard sample.reduce(1, *) == features, sample.allSatisfy({ $0 > 0 }) else {
        throw ONNXError(
          "\(context): cannot reshape \(Self.render(current)) to \(Self.render(target))")
      }
      if sample.count == 1 { return try flatten(value, node: node, context: context) }
      if sample == current.dropFirst().map({ $0 ?? 0 }) {
        return alias(value, of: node, index: 0)
      }
      var plain = value
      if !value.isPlain {
        if value.flattened != nil {
          plain = try reorderFlattened(value, name: node.input[0])
        } else if value.onnxShape.dropFirst().filter({ $0 != 1 }).count <= 1 {
          // At most one axis longer than 1: the orders agree.
        } else {
          throw ONNXError(
            "\(context): reshapes a channels-first tensor \(Self.render(current)) to "
              + "\(Self.render(target)); Plexus imports reshapes of channels-first images "
              + "only as flattening")
        }
      }
      return try emit(
        type: "plexus.reshape", node: node,
        config: ["targetShape": .array(sample.map { .number(Double($0)) })], inputs: [plain],
        plexusShape: [nil] + sample.map { $0 }, permutation: Array(0...sample.count))
    }
  }

  private mutating func flatten(_ value: SymbolicValue, node: Onnx_NodeProto, context: String)
    throws -> SymbolicValue
  {
    if value.flattened != nil || value.rank == 2 { return alias(value, of: node, index: 0) }
    let onnxSample = value.onnxShape.dropFirst().map { $0 ?? 0 }
    guard onnxSample.allSatisfy({ $0 > 0 }) else {
      throw ONNXError("\(context): flattens a tensor whose size varies")
    }
    var result = try emit(
      type: "plexus.flatten", node: node, config: [:], inputs: [value],
      plexusShape: [nil, onnxSample.reduce(1, *)], permutation: [0, 1])
    // Plexus flattens its own order; when at most one axis is longer than 1 the orders agree.
    if !value.isPlain, onnxSample.filter({ $0 != 1 }).count > 1 {
      result.flattened = FlattenOrigin(
        onnxSampleShape: onnxSample,
        plexusAxisOfOnnxAxis: value.permutation.dropFirst().map { $0 - 1 })
    }
    return result
  }

  // MARK: Convolution and pooling

  /// Padding from ONNX's `auto_pad` and `pads` as a Plexus padding value for `spatial` axes.
  private func padding(
    _ attributes: inout ONNXAttributes, spatial: Int, context: String, transpose: Bool = false
  ) throws -> JSONValue {
    let autoPad = try attributes.string("auto_pad") ?? "NOTSET"
    let pads = try attributes.ints("pads")
    switch autoPad {
    case "NOTSET":
      let amounts = pads ?? Array(repeating: 0, count: 2 * spatial)
      guard amounts.count == 2 * spatial, amounts.allSatisfy({ $0 >= 0 }) else {
        throw ONNXError("\(context): pads \(amounts) for \(spatial) spatial axes")
      }
      if amounts.allSatisfy({ $0 == 0 }) { return .string("valid") }
      if spatial == 1 {
        return .object(["left": .number(Double(amounts[0])), "right": .number(Double(amounts[1]))])
      }
      return .object([
        "top": .number(Double(amounts[0])), "left": .number(Double(amounts[1])),
        "bottom": .number(Double(amounts[2])), "right": .number(Double(amounts[3])),
      ])
    case "VALID": return .string("valid")
    case "SAME_UPPER" where !transpose: return .string("same")
    default:
      throw ONNXError(
        "\(context): auto_pad \(autoPad) is not supported (NOTSET with pads, VALID, SAME_UPPER)")
    }
  }

  /// The output extent of a window of `kernel` over `input` with the padding of `padding`.
  private static func outputExtent(
    input: Int, kernel: Int, stride: Int, dilation: Int, padding: JSONValue, axis: Int,
    spatial: Int
  ) -> Int? {
    let effective = dilation * (kernel - 1) + 1
    var before = 0
    var after = 0
    switch padding {
    case .string("same"): return (input + stride - 1) / stride
    case .object(let amounts):
      let keys =
        spatial == 1 ? ("left", "right") : axis == 0 ? ("top", "bottom") : ("left", "right")
      before = Int(amounts[keys.0]?.numberValue ?? 0)
      after = Int(amounts[keys.1]?.numberValue ?? 0)
    default: break
    }
    let padded = input + before + after
    guard padded >= effective else { return nil }
    return (padded - effective) / stride + 1
  }

  private mutating func convolution(
    _ node: Onnx_NodeProto, attributes: inout ONNXAttributes, context: String
  ) throws -> SymbolicValue {
    let value = try tensorInput(node, 0, context: context)
    guard let weightConstant = try constantInput(node, 1, context: context) else {
      throw ONNXError("\(context): the weights are missing")
    }
    let weights = try floatTensor(weightConstant, context: context)
    let rank = value.rank
    let spatial = rank - 2
    guard spatial == 1 || spatial == 2, value.isChannelsFirst else {
      throw ONNXError(
        "\(context): Plexus imports 1-D and 2-D convolutions of channels-first tensors")
    }
    guard weights.shape.count == rank else {
      throw ONNXError("\(context): weights of shape \(weights.shape) for a rank-\(rank) input")
    }
    let transpose = node.opType == "ConvTranspose"
    guard !(transpose && spatial == 1) else {
      throw ONNXError("\(context): 1-D transposed convolutions are not supported")
    }
    let group = try attributes.int("group", default: 1)
    guard group >= 1 else { throw ONNXError("\(context): group \(group)") }
    let kernelSize = try attributes.ints("kernel_shape") ?? Array(weights.shape.dropFirst(2))
    guard kernelSize == Array(weights.shape.dropFirst(2)) else {
      throw ONNXError(
        "\(context): kernel_shape \(kernelSize) differs from the weights' \(weights.shape)")
    }
    let strides = try attributes.ints("strides") ?? Array(repeating: 1, count: spatial)
    let dilations = try attributes.ints("dilations") ?? Array(repeating: 1, count: spatial)
    guard strides.count == spatial, dilations.count == spatial,
      (strides + dilations).allSatisfy({ $0 >= 1 && $0 <= 1 << 16 })
    else {
      throw ONNXError("\(context): strides \(strides) and dilations \(dilations)")
    }
    if transpose {
      let outputPadding = try attributes.ints("output_padding") ?? []
      guard outputPadding.allSatisfy({ $0 == 0 }), !attributes.has("output_shape") else {
        throw ONNXError("\(context): output_padding and output_shape are not supported")
      }
    }
    let padding = try padding(&attributes, spatial: spatial, context: context, transpose: transpose)
    let channels = value.plexusShape[rank - 1] ?? 0
    // Per group: Conv weights [F, C / group, ...], ConvTranspose [C, F / group, ...].
    let inputChannels = transpose ? weights.shape[0] : weights.shape[1] * group
    guard inputChannels == channels, channels % group == 0 else {
      throw ONNXError(
        "\(context): weights of shape \(weights.shape) in \(group) groups for an input of "
          + "\(channels) channels")
    }
    let filters = transpose ? weights.shape[1] * group : weights.shape[0]
    guard filters % group == 0 else {
      throw ONNXError("\(context): \(filters) filters do not split into \(group) groups")
    }
    // One group per input channel of a 2-D convolution: Plexus's depthwise layer, whose
    // kernel [KH, KW, C, multiplier] holds output channel c * multiplier + m at [.., c, m].
    let depthwise = !transpose && spatial == 2 && group > 1 && group == channels
    var layerParameters: [(String, Tensor)] = [
      (
        "kernel",
        depthwise
          ? try weights.reshaped([channels, filters / channels] + kernelSize).transposed(
            permutation: [2, 3, 0, 1])
          : try weights.transposed(permutation: spatial == 1 ? [2, 1, 0] : [2, 3, 1, 0])
      )
    ]
    if let biasConstant = try constantInput(node, 2, context: context) {
      let bias = try floatTensor(biasConstant, context: context)
      guard bias.shape == [filters] else {
        throw ONNXError("\(context): bias of shape \(bias.shape) for \(filters) filters")
      }
      layerParameters.append(("bias", bias))
    }
    var shape: [Int?] = [nil]
    for axis in 0..<spatial {
      guard let size = value.plexusShape[axis + 1] else {
        throw ONNXError("\(context): a spatial dimension varies")
      }
      let extent: Int?
      if transpose {
        var before = 0
        var after = 0
        if case .object(let amounts) = padding {
          before = Int(amounts[axis == 0 ? "top" : "left"]?.numberValue ?? 0)
          after = Int(amounts[axis == 0 ? "bottom" : "right"]?.numberValue ?? 0)
        }
        let full = (size - 1) * strides[axis] + dilations[axis] * (kernelSize[axis] - 1) + 1
        extent = full - before - after > 0 ? full - before - after : nil
      } else {
        extent = Self.outputExtent(
          input: size, kernel: kernelSize[axis], stride: strides[axis], dilation: dilations[axis],
          padding: padding, axis: axis, spatial: spatial)
      }
      guard let extent else { throw ONNXError("\(context): the output would be empty") }
      shape.append(extent)
    }
    shape.append(filters)
    func extent(_ values: [Int]) -> JSONValue {
      spatial == 1 ? .number(Double(values[0])) : .array(values.map { .number(Double($0)) })
    }
    if depthwise {
      return try emit(
        type: "plexus.depthwise_conv2d", node: node,
        config: [
          "depthMultiplier": .number(Double(filters / channels)),
          "kernelSize": extent(kernelSize), "strides": extent(strides),
          "dilation": extent(dilations), "padding": padding, "activation": .string("linear"),
          "useBias": .bool(layerParameters.count == 2),
        ], inputs: [value], parameters: layerParameters, plexusShape: shape,
        permutation: value.permutation)
    }
    let type =
      transpose ? "plexus.conv2d_transpose" : spatial == 1 ? "plexus.conv1d" : "plexus.conv2d"
    var config: [String: JSONValue] = [
      "filters": .number(Double(filters)), "kernelSize": extent(kernelSize),
      "strides": extent(strides), "dilation": extent(dilations), "padding": padding,
      "activation": .string("linear"), "useBias": .bool(layerParameters.count == 2),
    ]
    if group > 1 { config["groups"] = .number(Double(group)) }
    return try emit(
      type: type, node: node, config: config, inputs: [value], parameters: layerParameters,
      plexusShape: shape, permutation: value.permutation)
  }

  private mutating func pooling(
    _ node: Onnx_NodeProto, attributes: inout ONNXAttributes, context: String
  ) throws -> SymbolicValue {
    let value = try tensorInput(node, 0, context: context)
    guard value.rank == 4, value.isChannelsFirst else {
      throw ONNXError("\(context): Plexus imports 2-D pooling of channels-first images")
    }
    let channels = value.plexusShape[3]
    if node.opType.hasPrefix("Global") {
      return try emit(
        type: node.opType == "GlobalMaxPool"
          ? "plexus.global_max_pool2d" : "plexus.global_average_pool2d",
        node: node, config: ["keepDims": .bool(true)], inputs: [value],
        plexusShape: [nil, 1, 1, channels], permutation: value.permutation)
    }
    guard let kernel = try attributes.ints("kernel_shape"), kernel.count == 2,
      kernel.allSatisfy({ $0 >= 1 })
    else { throw ONNXError("\(context): kernel_shape must give 2 positive sizes") }
    let strides = try attributes.ints("strides") ?? [1, 1]
    guard strides.count == 2, strides.allSatisfy({ $0 >= 1 }) else {
      throw ONNXError("\(context): strides \(strides)")
    }
    guard try attributes.int("ceil_mode", default: 0) == 0 else {
      throw ONNXError("\(context): ceil_mode 1 is not supported")
    }
    if let dilations = try attributes.ints("dilations"), dilations.contains(where: { $0 != 1 }) {
      throw ONNXError("\(context): dilated pooling is not supported")
    }
    let padding = try padding(&attributes, spatial: 2, context: context)
    if node.opType == "MaxPool" {
      guard try attributes.int("storage_order", default: 0) == 0 else {
        throw ONNXError("\(context): storage_order 1 is not supported")
      }
    } else {
      let includesPadding = try attributes.int("count_include_pad", default: 0)
      guard includesPadding == 0 || padding == .string("valid") else {
        throw ONNXError(
          "\(context): count_include_pad 1 with padding; Plexus averages over the input only")
      }
    }
    var shape: [Int?] = [nil]
    for axis in 0..<2 {
      guard let size = value.plexusShape[axis + 1],
        let extent = Self.outputExtent(
          input: size, kernel: kernel[axis], stride: strides[axis], dilation: 1, padding: padding,
          axis: axis, spatial: 2)
      else { throw ONNXError("\(context): the output would be empty") }
      shape.append(extent)
    }
    shape.append(channels)
    return try emit(
      type: node.opType == "MaxPool" ? "plexus.max_pool2d" : "plexus.average_pool2d", node: node,
      config: [
        "poolSize": .array(kernel.map { .number(Double($0)) }),
        "strides": .array(strides.map { .number(Double($0)) }), "padding": padding,
      ], inputs: [value], plexusShape: shape, permutation: value.permutation)
  }

  /// `ReduceMean` and `ReduceMax` over the spatial axes of a channels-first image: global
  /// pooling.
  private mutating func spatialReduction(
    _ node: Onnx_NodeProto, attributes: inout ONNXAttributes, context: String
  ) throws -> SymbolicValue {
    let value = try tensorInput(node, 0, context: context)
    var axes = try attributes.ints("axes")
    if axes == nil, let given = try constantInput(node, 1, context: context) {
      axes = try knownIntegers(given, context: context)
    }
    let keep = try attributes.int("keepdims", default: 1) != 0
    guard try attributes.int("noop_with_empty_axes", default: 0) == 0 else {
      throw ONNXError("\(context): noop_with_empty_axes is not supported")
    }
    let normalized = Set((axes ?? []).map { $0 < 0 ? $0 + value.rank : $0 })
    guard value.rank == 4, value.isChannelsFirst, normalized == [2, 3] else {
      throw ONNXError(
        "\(context): Plexus imports \(node.opType) over the spatial axes of channels-first "
          + "images (global pooling)")
    }
    let channels = value.plexusShape[3]
    return try emit(
      type: node.opType == "ReduceMax"
        ? "plexus.global_max_pool2d" : "plexus.global_average_pool2d",
      node: node, config: ["keepDims": .bool(keep)], inputs: [value],
      plexusShape: keep ? [nil, 1, 1, channels] : [nil, channels],
      permutation: keep ? value.permutation : [0, 1])
  }

  private mutating func batchNormalization(
    _ node: Onnx_NodeProto, attributes: inout ONNXAttributes, context: String
  ) throws -> SymbolicValue {
    let value = try tensorInput(node, 0, context: context)
    guard value.flattened == nil, value.rank == 2 || value.isChannelsFirst else {
      throw ONNXError(
        "\(context): Plexus normalizes the channel axis of [N, C] or channels-first tensors")
    }
    let epsilon = try attributes.float("epsilon", default: 1e-5)
    let momentum = try attributes.float("momentum", default: 0.9)
    guard try attributes.int("training_mode", default: 0) == 0 else {
      throw ONNXError("\(context): training_mode 1 is not an inference graph")
    }
    attributes.ignore("spatial")
    let channels = value.plexusShape.last.flatMap { $0 } ?? 0
    var tensors: [Tensor] = []
    for index in 1...4 {
      guard let constant = try constantInput(node, index, context: context) else {
        throw ONNXError("\(context): input \(index) is missing")
      }
      let tensor = try floatTensor(constant, context: context)
      guard tensor.shape == [channels] else {
        throw ONNXError("\(context): input \(index) has shape \(tensor.shape), not [\(channels)]")
      }
      tensors.append(tensor)
    }
    guard epsilon > 0, (0...1).contains(momentum) else {
      throw ONNXError("\(context): epsilon \(epsilon), momentum \(momentum)")
    }
    return try emit(
      type: "plexus.batch_normalization", node: node,
      config: [
        "epsilon": .number(Double(epsilon)), "momentum": .number(Double(momentum)),
        "center": .bool(true), "scale": .bool(true),
      ], inputs: [value],
      parameters: [
        ("gamma", tensors[0]), ("beta", tensors[1]), ("moving_mean", tensors[2]),
        ("moving_variance", tensors[3]),
      ], plexusShape: value.plexusShape, permutation: value.permutation)
  }

  // MARK: Dense, arithmetic, activations

  private mutating func dense(
    _ node: Onnx_NodeProto, attributes: inout ONNXAttributes, context: String
  ) throws -> SymbolicValue {
    let value = try tensorInput(node, 0, context: context)
    guard let weightConstant = try constantInput(node, 1, context: context) else {
      throw ONNXError("\(context): the weight input is missing")
    }
    var kernel = try floatTensor(weightConstant, context: context)
    var bias: Tensor?
    if node.opType == "Gemm" {
      guard try attributes.int("transA", default: 0) == 0 else {
        throw ONNXError("\(context): transA 1 is not supported")
      }
      let transB = try attributes.int("transB", default: 0)
      let alpha = try attributes.float("alpha", default: 1)
      let beta = try attributes.float("beta", default: 1)
      guard value.rank == 2, kernel.shape.count == 2 else {
        throw ONNXError("\(context): Gemm of rank-\(value.rank) input")
      }
      if transB != 0 { kernel = try kernel.transposed() }
      if alpha != 1 { kernel = kernel * alpha }
      if let constant = try constantInput(node, 2, context: context) {
        var values = try floatTensor(constant, context: context)
        guard values.count == kernel.shape[1], values.shape.filter({ $0 != 1 }).count <= 1 else {
          throw ONNXError(
            "\(context): C of shape \(values.shape) is not a bias of \(kernel.shape[1]) units")
        }
        values = try values.reshaped([kernel.shape[1]])
        bias = beta != 1 ? values * beta : values
      }
    } else {
      guard kernel.shape.count == 2, value.rank >= 2, value.isPlain || value.flattened != nil
      else {
        throw ONNXError(
          "\(context): MatMul of a computed tensor by a constant matrix is imported as a dense "
            + "layer over the last axis; here the shapes or layouts do not allow it")
      }
    }
    let inputs = value.onnxShape.last.flatMap { $0 }
    guard kernel.shape[0] == inputs else {
      throw ONNXError(
        "\(context): weights of shape \(kernel.shape) for \(inputs.map(String.init) ?? "?") features"
      )
    }
    if let origin = value.flattened {
      let indices = origin.plexusIndices()
      let units = kernel.shape[1]
      let rows = kernel.scalars
      var permuted = [Float](repeating: 0, count: rows.count)
      for (onnxRow, plexusRow) in indices.enumerated() {
        permuted[(plexusRow * units)..<(plexusRow * units + units)] =
          rows[(onnxRow * units)..<(onnxRow * units + units)]
      }
      kernel = try Tensor(shape: kernel.shape, scalars: permuted)
    }
    let units = kernel.shape[1]
    var layerParameters: [(String, Tensor)] = [("kernel", kernel)]
    if let bias { layerParameters.append(("bias", bias)) }
    var input = value
    input.flattened = nil
    return try emit(
      type: "plexus.dense", node: node,
      config: [
        "units": .number(Double(units)), "activation": .string("linear"),
        "useBias": .bool(bias != nil),
      ], inputs: [input], parameters: layerParameters,
      plexusShape: Array(value.flattened == nil ? value.plexusShape.dropLast() : [nil]) + [units],
      permutation: value.flattened == nil ? value.permutation : [0, 1])
  }

  private mutating func arithmetic(_ node: Onnx_NodeProto, context: String) throws
    -> ImportedValue
  {
    let inputs = try node.input.indices.map { index -> ImportedValue in
      guard let value = try input(node, index, context: context) else {
        throw ONNXError("\(context): input \(index) is missing")
      }
      return value
    }
    guard !inputs.isEmpty else { throw ONNXError("\(context): no inputs") }
    var tensors: [(Int, SymbolicValue)] = []
    var constants: [(Int, ONNXConstant)] = []
    for (index, value) in inputs.enumerated() {
      switch value {
      case .tensor(let tensor): tensors.append((index, tensor))
      case .constant(let constant): constants.append((index, constant))
      }
    }
    if tensors.isEmpty {
      return .constant(try foldArithmetic(node.opType, constants, context: context))
    }
    if constants.isEmpty {
      if tensors.count == 1 { return .tensor(alias(tensors[0].1, of: node, index: 0)) }
      let types = [
        "Add": "plexus.add", "Sum": "plexus.add", "Sub": "plexus.subtract",
        "Mul": "plexus.multiply", "Max": "plexus.maximum", "Min": "plexus.minimum",
        "Mean": "plexus.average",
      ]
      guard let type = types[node.opType] else {
        throw ONNXError("\(context): \(node.opType) of two computed tensors is not supported")
      }
      guard node.opType != "Sub" || tensors.count == 2 else {
        throw ONNXError("\(context): Sub of \(tensors.count) tensors")
      }
      var prepared: [SymbolicValue] = []
      for (index, tensor) in tensors {
        prepared.append(
          tensor.flattened != nil ? try reorderFlattened(tensor, name: node.input[index]) : tensor)
      }
      let first = prepared[0]
      guard
        prepared.allSatisfy({
          $0.permutation == first.permutation && $0.plexusShape == first.plexusShape
        })
      else {
        throw ONNXError(
          "\(context): \(node.opType) of tensors of different shapes or layouts (Plexus merges "
            + "equal shapes without broadcasting)")
      }
      return .tensor(
        try emit(
          type: type, node: node, config: [:], inputs: prepared, plexusShape: first.plexusShape,
          permutation: first.permutation))
    }
    // A computed tensor plus a constant: the bias of the layer that computed it.
    guard node.opType == "Add", tensors.count == 1, constants.count == 1 else {
      throw ONNXError(
        "\(context): \(node.opType) of a computed tensor and a constant is not supported "
          + "(Plexus folds only an Add of a bias into the dense or convolution layer before it)")
    }
    let (tensorIndex, value) = tensors[0]
    let constant = constants[0].1
    guard let owner = onlyReader(node, index: tensorIndex, value: value),
      let (type, config) = layerConfig(owner),
      Self.foldingTypes.contains(type),
      config["useBias"] == .bool(false), config["activation"] == .string("linear"),
      value.flattened == nil
    else {
      throw ONNXError(
        "\(context): Add of a constant is imported as the bias of a dense or convolution layer "
          + "whose only reader it is; '\(node.input[tensorIndex])' is not such a layer's output")
    }
    let shape = value.onnxShape
    let channelAxis = value.permutation.firstIndex(of: value.plexusShape.count - 1) ?? 0
    let units = value.plexusShape.last.flatMap { $0 } ?? 0
    let aligned =
      Array(repeating: 1, count: max(shape.count - constant.shape.count, 0)) + constant.shape
    guard constant.shape.count <= shape.count, constant.count == units,
      aligned.enumerated().allSatisfy({ $0.element == 1 || $0.offset == channelAxis })
    else {
      throw ONNXError(
        "\(context): the constant of shape \(constant.shape) is not a bias of \(units) units")
    }
    let bias = try floatTensor(constant, context: context).reshaped([units])
    updateConfig(of: owner, ["useBias": .bool(true)], node: node.name)
    setParameter("\(owner).bias", bias)
    return .tensor(alias(value, of: node, index: tensorIndex))
  }

  private func foldArithmetic(_ op: String, _ constants: [(Int, ONNXConstant)], context: String)
    throws -> ONNXConstant
  {
    guard constants.count == 2, let left = constants[0].1.integers,
      let right = constants[1].1.integers,
      left.count == right.count || left.count == 1 || right.count == 1
    else {
      throw ONNXError("\(context): \(op) of constants is supported on integer vectors")
    }
    let count = max(left.count, right.count)
    let shape = left.count >= right.count ? constants[0].1.shape : constants[1].1.shape
    let result = try (0..<count).map { index -> Int64? in
      guard let a = left[left.count == 1 ? 0 : index], let b = right[right.count == 1 ? 0 : index]
      else { return nil }
      switch op {
      case "Add": return a &+ b
      case "Sub": return a &- b
      case "Mul": return a &* b
      case "Div":
        guard b != 0 else { throw ONNXError("\(context): divides by zero") }
        return a / b
      case "Max": return max(a, b)
      case "Min": return min(a, b)
      default: throw ONNXError("\(context): \(op) of constants")
      }
    }
    return ONNXConstant(shape: shape, values: .integers(result))
  }

  private mutating func prelu(_ node: Onnx_NodeProto, context: String) throws -> SymbolicValue {
    var value = try tensorInput(node, 0, context: context)
    if value.flattened != nil { value = try reorderFlattened(value, name: node.input[0]) }
    guard let slopeConstant = try constantInput(node, 1, context: context) else {
      throw ONNXError("\(context): the slope is missing")
    }
    let slope = try floatTensor(slopeConstant, context: context)
    let onnxSample = value.onnxShape.dropFirst().map { $0 ?? 1 }
    let rank = onnxSample.count
    var reduced = Array(repeating: 1, count: max(rank - slope.shape.count, 0)) + slope.shape
    if reduced.count == rank + 1, reduced.first == 1 { reduced.removeFirst() }
    guard reduced.count == rank,
      zip(reduced, onnxSample).allSatisfy({ $0.0 == 1 || $0.0 == $0.1 })
    else {
      throw ONNXError(
        "\(context): slope of shape \(slope.shape) does not broadcast to \(onnxSample)")
    }
    // Plexus sample axis of each ONNX sample axis, and the ONNX sample axis of each Plexus one.
    let plexusAxis = value.permutation.dropFirst().map { $0 - 1 }
    var onnxAxis = Array(repeating: 0, count: rank)
    for (axis, target) in plexusAxis.enumerated() { onnxAxis[target] = axis }
    let alpha = try slope.reshaped(reduced).transposed(permutation: onnxAxis)
    let shared = (0..<rank).filter { reduced[onnxAxis[$0]] == 1 && onnxSample[onnxAxis[$0]] != 1 }
    var config: [String: JSONValue] = [:]
    if !shared.isEmpty { config["sharedAxes"] = .array(shared.map { .number(Double($0 + 1)) }) }
    return try emit(
      type: "plexus.prelu", node: node, config: config, inputs: [value],
      parameters: [("alpha", alpha)], plexusShape: value.plexusShape,
      permutation: value.permutation)
  }

  private mutating func pad(
    _ node: Onnx_NodeProto, attributes: inout ONNXAttributes, context: String
  ) throws -> SymbolicValue {
    let value = try tensorInput(node, 0, context: context)
    let mode = try attributes.string("mode") ?? "constant"
    guard let padsConstant = try constantInput(node, 1, context: context) else {
      throw ONNXError("\(context): the pads input is missing")
    }
    let pads = try knownIntegers(padsConstant, context: context)
    var fill: Float = 0
    if let constant = try constantInput(node, 2, context: context) {
      fill = try floatTensor(constant, context: context).scalars.first ?? 0
    }
    if try constantInput(node, 3, context: context) != nil {
      throw ONNXError("\(context): Pad with axes is not supported")
    }
    guard value.rank == 4, value.isChannelsFirst, pads.count == 8,
      pads[0] == 0, pads[1] == 0, pads[4] == 0, pads[5] == 0, pads.allSatisfy({ $0 >= 0 })
    else {
      throw ONNXError(
        "\(context): Plexus imports Pad of the spatial axes of channels-first images")
    }
    let (top, left, bottom, right) = (pads[2], pads[3], pads[6], pads[7])
    let shape: [Int?] = [
      nil, value.plexusShape[1].map { $0 + top + bottom },
      value.plexusShape[2].map { $0 + left + right }, value.plexusShape[3],
    ]
    guard ["constant", "reflect", "edge"].contains(mode) else {
      throw ONNXError("\(context): Pad mode '\(mode)'; Plexus pads constant, reflect and edge")
    }
    if mode == "constant", fill == 0 {
      return try emit(
        type: "plexus.zero_padding2d", node: node,
        config: [
          "top": .number(Double(top)), "bottom": .number(Double(bottom)),
          "left": .number(Double(left)), "right": .number(Double(right)),
        ], inputs: [value], plexusShape: shape, permutation: value.permutation)
    }
    var config: [String: JSONValue] = [
      "padding": .array([
        .array([.number(Double(top)), .number(Double(bottom))]),
        .array([.number(Double(left)), .number(Double(right))]),
      ]), "mode": .string(mode),
    ]
    if mode == "constant" { config["value"] = .number(Double(fill)) }
    return try emit(
      type: "plexus.pad2d", node: node, config: config, inputs: [value], plexusShape: shape,
      permutation: value.permutation)
  }

  /// Nearest-neighbour up-sampling by whole factors of a channels-first image.
  private mutating func resize(
    _ node: Onnx_NodeProto, attributes: inout ONNXAttributes, context: String
  ) throws -> SymbolicValue {
    let value = try tensorInput(node, 0, context: context)
    let mode = try attributes.string("mode") ?? "nearest"
    let transform = try attributes.string("coordinate_transformation_mode") ?? "half_pixel"
    let nearest = try attributes.string("nearest_mode") ?? "round_prefer_floor"
    attributes.ignore("cubic_coeff_a", "exclude_outside", "extrapolation_value")
    if try attributes.int("antialias", default: 0) != 0 || attributes.has("axes") {
      throw ONNXError("\(context): antialias and axes are not supported")
    }
    attributes.ignore("keep_aspect_ratio_policy", "antialias", "axes")
    guard value.rank == 4, value.isChannelsFirst, mode == "nearest" else {
      throw ONNXError(
        "\(context): Plexus imports nearest-neighbour Resize of channels-first images")
    }
    var factors: [Int] = []
    if let scales = try constantInput(node, 2, context: context), scales.count > 0 {
      factors = try (scales.floats ?? []).map { scale -> Int in
        guard scale >= 1, scale == scale.rounded(), scale <= 1024 else {
          throw ONNXError("\(context): scale \(scale) is not a whole factor")
        }
        return Int(scale)
      }
    } else if let sizes = try constantInput(node, 3, context: context) {
      let target = try knownIntegers(sizes, context: context)
      let current = value.onnxShape
      factors = try target.enumerated().map { axis, size in
        guard axis < current.count else { throw ONNXError("\(context): sizes \(target)") }
        guard axis >= 1, let from = current[axis] else { return 1 }
        guard size % from == 0 else {
          throw ONNXError("\(context): size \(size) is not a multiple of \(from)")
        }
        return size / from
      }
    }
    guard factors.count == 4, factors[0] == 1, factors[1] == 1 else {
      throw ONNXError("\(context): Resize needs scales or sizes of the spatial axes only")
    }
    // Whole factors replicate pixels under these conventions.
    let exact =
      (transform == "asymmetric"
        && ["floor", "round_prefer_ceil", "round_prefer_floor"].contains(nearest))
      || (transform == "half_pixel" || transform == "pytorch_half_pixel") && nearest != "ceil"
      || factors.dropFirst(2).allSatisfy { $0 == 1 }
    guard exact else {
      throw ONNXError(
        "\(context): coordinate_transformation_mode \(transform) with nearest_mode \(nearest)")
    }
    return try emit(
      type: "plexus.up_sampling2d", node: node,
      config: ["size": .array([.number(Double(factors[2])), .number(Double(factors[3]))])],
      inputs: [value],
      plexusShape: [
        nil, value.plexusShape[1].map { $0 * factors[2] },
        value.plexusShape[2].map { $0 * factors[3] },
        value.plexusShape[3],
      ], permutation: value.permutation)
  }

  private mutating func activation(
    _ node: Onnx_NodeProto, attributes: inout ONNXAttributes, context: String
  ) throws -> SymbolicValue {
    var value = try tensorInput(node, 0, context: context)
    let function: JSONValue
    switch node.opType {
    case "Relu": function = .string("relu")
    case "Sigmoid": function = .string("sigmoid")
    case "Tanh": function = .string("tanh")
    case "Softplus": function = .string("softplus")
    case "Softsign": function = .string("softsign")
    case "Exp": function = .string("exponential")
    case "LeakyRelu":
      let alpha = try attributes.float("alpha", default: 0.01)
      function = .object(["name": .string("leaky_relu"), "alpha": .number(Double(alpha))])
    case "Elu":
      let alpha = try attributes.float("alpha", default: 1)
      function = .object(["name": .string("elu"), "alpha": .number(Double(alpha))])
    case "ThresholdedRelu":
      let alpha = try attributes.float("alpha", default: 1)
      function = .object(["name": .string("thresholded_relu"), "theta": .number(Double(alpha))])
    case "Selu":
      let alpha = try attributes.float("alpha", default: 1.67326319217681884765625)
      let gamma = try attributes.float("gamma", default: 1.05070102214813232421875)
      guard abs(alpha - 1.6732632) < 1e-6, abs(gamma - 1.050701) < 1e-6 else {
        throw ONNXError(
          "\(context): Selu with alpha \(alpha), gamma \(gamma); Plexus's selu has ONNX's defaults")
      }
      function = .string("selu")
    case "HardSigmoid":
      let alpha = try attributes.float("alpha", default: 0.2)
      let beta = try attributes.float("beta", default: 0.5)
      guard abs(alpha - 1 / 6) < 1e-6, abs(beta - 0.5) < 1e-6 else {
        throw ONNXError(
          "\(context): HardSigmoid with alpha \(alpha), beta \(beta); Plexus's hard_sigmoid is "
            + "alpha 1/6, beta 0.5 (PyTorch's Hardsigmoid)")
      }
      function = .string("hard_sigmoid")
    case "Gelu":
      let approximate = try attributes.string("approximate") ?? "none"
      guard approximate == "none" else {
        throw ONNXError(
          "\(context): Gelu with approximate '\(approximate)'; Plexus's gelu is exact")
      }
      function = .string("gelu")
    case "Clip":
      var bounds: [Float?] = [nil, nil]
      for index in 1...2 {
        if let constant = try constantInput(node, index, context: context) {
          bounds[index - 1] = try floatTensor(constant, context: context).scalars.first
        }
      }
      switch (bounds[0], bounds[1]) {
      case (0?, nil): function = .string("relu")
      case (0?, 6?): function = .string("relu6")
      default:
        throw ONNXError(
          "\(context): Clip to \(bounds); Plexus imports Clip(0) as relu and Clip(0, 6) as relu6")
      }
    case "Softmax", "LogSoftmax":
      let axis = try attributes.int("axis", default: -1)
      let rank = value.rank
      let onnxAxis = axis < 0 ? axis + rank : axis
      guard value.flattened == nil || onnxAxis == 1 else {
        throw ONNXError("\(context): softmax of a flattened tensor")
      }
      guard onnxAxis >= 1, onnxAxis < rank,
        value.flattened != nil || value.permutation[onnxAxis] == value.permutation.count - 1
      else {
        throw ONNXError(
          "\(context): softmax along ONNX axis \(axis) is not Plexus's last axis")
      }
      if value.flattened != nil { value = try reorderFlattened(value, name: node.input[0]) }
      function = .string(node.opType == "Softmax" ? "softmax" : "log_softmax")
    default:
      throw ONNXError("\(context): operator \(node.opType) is not supported")
    }
    // Folded into the layer before when nothing else reads that layer's output.
    if let owner = onlyReader(node, index: 0, value: value),
      let (type, config) = layerConfig(owner),
      Self.foldingTypes.contains(type),
      config["activation"] == .string("linear"), value.flattened == nil
    {
      updateConfig(of: owner, ["activation": function], node: node.name)
      return alias(value, of: node, index: 0)
    }
    let elementwise = value.flattened
    var result = try emit(
      type: "plexus.activation", node: node, config: ["activation": function], inputs: [value],
      plexusShape: value.plexusShape, permutation: value.permutation)
    result.flattened = elementwise
    return result
  }
}

extension JSONValue {
  fileprivate var numberValue: Double? {
    if case .number(let value) = self { return value }
    return nil
  }
}
