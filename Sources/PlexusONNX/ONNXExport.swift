import Foundation
import PlexusCore
import SwiftProtobuf

/// How images cross an exported model's boundary.
public enum ONNXInputLayout: String, Sendable, CaseIterable {
  /// Channels first, `[N, C, H, W]`, as ONNX's operators and most ONNX consumers expect: image
  /// inputs and outputs need no transpose next to the first and last convolutions.
  case nchw
  /// Channels last, `[N, H, W, C]`, as Plexus computes: the model takes and gives the same
  /// arrays as the Plexus model, and transposes around its convolutions.
  case nhwc
}

/// Writes a Plexus model as an ONNX model (opset `ONNXExporter.opset`, IR version 8) with a
/// dynamic batch dimension named `N`.
///
/// Inside the graph, tensors read by ONNX's channels-first operators (convolutions, pooling,
/// batch normalization, padding, up-sampling) stay channels-first from one such operator to
/// the next; a `Transpose` goes in only where a channels-last view is needed (a `Flatten`, a
/// `Reshape`, a dense layer over the last axis). Dropout is left out (inference graphs).
/// `Formats/onnx.md` lists every layer's operators.
///
/// ```swift
/// let bytes = try ONNXExporter(model: model, inputLayout: .nchw).modelData()
/// ```
public struct ONNXExporter {
  /// The opset of the default domain the exporter writes.
  public static let opset = 17

  /// The model.
  public let model: any ModelProtocol
  /// How image inputs and outputs are laid out.
  public let inputLayout: ONNXInputLayout

  /// Prepares the export of `model` (which must be built).
  public init(model: any ModelProtocol, inputLayout: ONNXInputLayout = .nchw) {
    self.model = model
    self.inputLayout = inputLayout
  }

  /// The serialized `ModelProto`.
  ///
  /// - Throws: `ONNXError` naming a layer that has no ONNX equivalent in Plexus's export, or
  ///   an option of a layer that ONNX's operator cannot express.
  public func modelData() throws -> Data {
    var builder = ONNXGraphBuilder(graph: try model.builtGraph(), inputLayout: inputLayout)
    let graph = try builder.build()
    var proto = Onnx_ModelProto()
    proto.irVersion = 8
    proto.producerName = "Plexus"
    proto.graph = graph
    var opset = Onnx_OperatorSetIdProto()
    opset.domain = ""
    opset.version = Int64(Self.opset)
    proto.opsetImport = [opset]
    return try proto.serializedBytes()
  }

  /// Writes the model to `url` atomically (the previous file stays until the new one is
  /// complete).
  ///
  /// - Throws: as `modelData()`, and `PlexusError.io` when the file cannot be written.
  public func write(to url: URL) throws {
    try AtomicFile.write(try modelData(), to: url)
  }
}

/// How a Plexus tensor is held in the ONNX graph.
private enum ExportLayout {
  /// In Plexus's axis order.
  case plain
  /// Channels first: Plexus `[N, ..., C]` as ONNX `[N, C, ...]`.
  case channelsFirst
}

private struct ONNXGraphBuilder {
  let graph: Graph
  let inputLayout: ONNXInputLayout
  private var nodes: [Onnx_NodeProto] = []
  private var initializers: [Onnx_TensorProto] = []
  /// Per slot, the ONNX names of its tensor in each layout made so far.
  private var names: [Int: [String: String]] = [:]
  private var usedNames: Set<String> = []

  init(graph: Graph, inputLayout: ONNXInputLayout) {
    self.graph = graph
    self.inputLayout = inputLayout
  }

  private static func key(_ layout: ExportLayout) -> String {
    layout == .plain ? "plain" : "channelsFirst"
  }

  private mutating func unique(_ base: String) -> String {
    var name = base
    var suffix = 1
    while usedNames.contains(name) {
      suffix += 1
      name = "\(base)_\(suffix)"
    }
    usedNames.insert(name)
    return name
  }

  private func rank(_ slot: Int) -> Int { graph.slotShapes[slot].count + 1 }

  private func sample(_ slot: Int, layer: String) throws -> [Int] {
    try graph.slotShapes[slot].map {
      guard let size = $0 else {
        throw ONNXError(
          "layer '\(layer)': a dimension of its input varies; Plexus exports fixed per-sample "
            + "shapes (the batch is dynamic)")
      }
      return size
    }
  }

  /// The layout the tensor of `slot` exists in (the first one made).
  private func existingLayout(_ slot: Int) -> ExportLayout {
    names[slot]?["plain"] != nil ? .plain : .channelsFirst
  }

  /// The ONNX name of `slot`'s tensor in `layout`, adding a Transpose when needed.
  private mutating func value(_ slot: Int, _ layout: ExportLayout) throws -> String {
    if let name = names[slot]?[Self.key(layout)] { return name }
    let rank = self.rank(slot)
    guard let (other, otherName) = names[slot]?.first else {
      throw ONNXError("slot \(slot) has no value")
    }
    _ = other
    guard rank >= 3 else {
      names[slot, default: [:]][Self.key(layout)] = otherName
      return otherName
    }
    let permutation =
      layout == .channelsFirst
      ? [0, rank - 1] + Array(1..<(rank - 1)) : [0] + Array(2..<rank) + [1]
    let name = unique(otherName + (layout == .plain ? "_nhwc" : "_nchw"))
    add("Transpose", inputs: [otherName], outputs: [name], attributes: [ints("perm", permutation)])
    names[slot, default: [:]][Self.key(layout)] = name
    return name
  }

  private mutating func setOutput(_ slot: Int, _ name: String, _ layout: ExportLayout) {
    names[slot] = [Self.key(layout): name]
  }

  // MARK: Protobuf helpers

  private mutating func add(
    _ op: String, inputs: [String], outputs: [String], attributes: [Onnx_AttributeProto] = []
  ) {
    var node = Onnx_NodeProto()
    node.opType = op
    node.name = unique("node_" + (outputs.first ?? op))
    node.input = inputs
    node.output = outputs
    node.attribute = attributes
    nodes.append(node)
  }

  private func ints(_ name: String, _ values: [Int]) -> Onnx_AttributeProto {
    var attribute = Onnx_AttributeProto()
    attribute.name = name
    attribute.type = .ints
    attribute.ints = values.map { Int64($0) }
    return attribute
  }

  private func int(_ name: String, _ value: Int) -> Onnx_AttributeProto {
    var attribute = Onnx_AttributeProto()
    attribute.name = name
    attribute.type = .int
    attribute.i = Int64(value)
    return attribute
  }

  private func float(_ name: String, _ value: Float) -> Onnx_AttributeProto {
    var attribute = Onnx_AttributeProto()
    attribute.name = name
    attribute.type = .float
    attribute.f = value
    return attribute
  }

  private func string(_ name: String, _ value: String) -> Onnx_AttributeProto {
    var attribute = Onnx_AttributeProto()
    attribute.name = name
    attribute.type = .string
    attribute.s = Data(value.utf8)
    return attribute
  }

  /// Adds a float initializer and returns its name.
  private mutating func constant(_ name: String, _ tensor: Tensor) -> String {
    var proto = Onnx_TensorProto()
    let unique = unique(name)
    proto.name = unique
    proto.dataType = 1
    proto.dims = tensor.shape.map { Int64($0) }
    #if _endian(little)
      proto.rawData = tensor.withUnsafeBufferPointer { Data(buffer: $0) }
    #else
      var bytes = Data(capacity: tensor.count * 4)
      for value in tensor.scalars {
        withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
      }
      proto.rawData = bytes
    #endif
    initializers.append(proto)
    return unique
  }

  private mutating func integerConstant(_ name: String, _ values: [Int]) -> String {
    var proto = Onnx_TensorProto()
    let unique = unique(name)
    proto.name = unique
    proto.dataType = 7
    proto.dims = [Int64(values.count)]
    proto.int64Data = values.map { Int64($0) }
    initializers.append(proto)
    return unique
  }

  private func valueInfo(_ name: String, sample: [Int?], type: Int32 = 1) -> Onnx_ValueInfoProto {
    var info = Onnx_ValueInfoProto()
    info.name = name
    var tensor = Onnx_TypeProto.Tensor()
    tensor.elemType = type
    var shape = Onnx_TensorShapeProto()
    var batch = Onnx_TensorShapeProto.Dimension()
    batch.dimParam = "N"
    shape.dim = [batch]
    for size in sample {
      var dim = Onnx_TensorShapeProto.Dimension()
      if let size { dim.dimValue = Int64(size) } else { dim.dimParam = "" }
      shape.dim.append(dim)
    }
    tensor.shape = shape
    info.type.tensorType = tensor
    return info
  }

  // MARK: The walk

  mutating func build() throws -> Onnx_GraphProto {
    var proto = Onnx_GraphProto()
    proto.name = "plexus"
    for (slot, input) in graph.inputs.enumerated() {
      let name = unique(input.name)
      let image = input.shape.count == 3 && inputLayout == .nchw
      let layout: ExportLayout = image ? .channelsFirst : .plain
      setOutput(slot, name, layout)
      let sample = image ? [input.shape[2], input.shape[0], input.shape[1]] : input.shape
      proto.input.append(valueInfo(name, sample: sample))
    }
    for node in graph.nodes {
      try export(node)
    }
    for output in graph.outputs {
      let sample = graph.slotShapes[output.slot]
      let image = sample.count == 3 && inputLayout == .nchw
      let source = try value(output.slot, image ? .channelsFirst : .plain)
      let name = unique(output.name)
      add("Identity", inputs: [source], outputs: [name])
      proto.output.append(
        valueInfo(name, sample: image ? [sample[2], sample[0], sample[1]] : sample))
    }
    proto.node = nodes
    proto.initializer = initializers
    return proto
  }

  private func parameter(_ layer: any Layer, _ name: String) throws -> Tensor {
    guard let parameter = layer.parameters.first(where: { $0.name == name }) else {
      throw ONNXError("layer '\(layer.name)' has no parameter '\(name)'")
    }
    return parameter.value
  }

  private func optionalParameter(_ layer: any Layer, _ name: String) -> Tensor? {
    layer.parameters.first { $0.name == name }?.value
  }

  private mutating func export(_ node: Graph.Node) throws {
    let layer = node.layer
    let name = layer.name
    let type = layer.typeName
    guard case .object(let config) = try JSONValue(encoding: layer.config) else {
      throw ONNXError("layer '\(name)': its config is not an object")
    }
    func fail(_ message: String) -> ONNXError {
      ONNXError("layer '\(name)' (\(type)): \(message)")
    }
    guard node.outputSlots.count == 1 || type == "plexus.split" else {
      throw fail("layers with several outputs are not exported")
    }
    let output = node.outputSlots[0]
    let outputName = unique(name)
    let inputs = node.inputSlots
    switch type {
    case "plexus.dropout":
      let source = existingLayout(inputs[0])
      names[output] = [Self.key(source): try value(inputs[0], source)]

    case "plexus.dense":
      let x = try value(inputs[0], .plain)
      let kernel = constant(name + ".kernel", try parameter(layer, "kernel"))
      let bias = optionalParameter(layer, "bias").map { constant(name + ".bias", $0) }
      let linear = unique(name + "_linear")
      if rank(inputs[0]) == 2 {
        add("Gemm", inputs: [x, kernel] + (bias.map { [$0] } ?? []), outputs: [linear])
      } else if let bias {
        let product = unique(name + "_matmul")
        add("MatMul", inputs: [x, kernel], outputs: [product])
        add("Add", inputs: [product, bias], outputs: [linear])
      } else {
        add("MatMul", inputs: [x, kernel], outputs: [linear])
      }
      try activation(
        config["activation"], input: linear, output: outputName, layout: .plain, rank: rank(output),
        layer: name)
      setOutput(output, outputName, .plain)

    case "plexus.conv2d", "plexus.conv1d", "plexus.conv2d_transpose":
      let spatial = type == "plexus.conv1d" ? 1 : 2
      guard rank(inputs[0]) == spatial + 2 else { throw fail("unexpected input rank") }
      let x = try value(inputs[0], .channelsFirst)
      let inputSample = try sample(inputs[0], layer: name)
      let outputSample = try sample(output, layer: name)
      let kernelValue = try parameter(layer, "kernel")
      let kernelSize = Array(kernelValue.shape.prefix(spatial))
      let strides = try extent(config["strides"], count: spatial, default: 1, layer: name)
      let dilation = try extent(config["dilation"], count: spatial, default: 1, layer: name)
      let groups = Int(config["groups"]?.number ?? 1)
      let weights: Tensor
      var attributes = [
        ints("kernel_shape", kernelSize), ints("strides", strides), ints("dilations", dilation),
      ]
      let op: String
      if type == "plexus.conv2d_transpose" {
        op = "ConvTranspose"
        weights = try kernelValue.transposed(permutation: [3, 2, 0, 1])
        var pads: [Int] = []
        var extra: [Int] = []
        for axis in 0..<2 {
          let effective = dilation[axis] * (kernelSize[axis] - 1) + 1
          let total = (inputSample[axis] - 1) * strides[axis] + effective - outputSample[axis]
          let before =
            try explicitBefore(config["padding"], axis: axis, spatial: 2)
            ?? max(total, 0) / 2
          pads.append(before)
          extra.append(max(-total, 0))
        }
        let after = (0..<2).map { axis -> Int in
          let effective = dilation[axis] * (kernelSize[axis] - 1) + 1
          let total = (inputSample[axis] - 1) * strides[axis] + effective - outputSample[axis]
          return max(total, 0) - pads[axis]
        }
        attributes.append(ints("pads", pads + after))
        if extra.contains(where: { $0 > 0 }) { attributes.append(ints("output_padding", extra)) }
      } else {
        op = "Conv"
        weights = try kernelValue.transposed(permutation: spatial == 1 ? [2, 1, 0] : [3, 2, 0, 1])
        attributes.append(
          ints(
            "pads",
            try forwardPads(
              config["padding"], input: inputSample, output: outputSample, kernel: kernelSize,
              strides: strides, dilation: dilation, layer: name)))
      }
      if groups > 1 { attributes.append(int("group", groups)) }
      let w = constant(name + ".kernel", weights)
      let bias = optionalParameter(layer, "bias").map { constant(name + ".bias", $0) }
      let linear = unique(name + "_linear")
      add(
        op, inputs: [x, w] + (bias.map { [$0] } ?? []), outputs: [linear], attributes: attributes)
      try activation(
        config["activation"], input: linear, output: outputName, layout: .channelsFirst,
        rank: rank(output), layer: name)
      setOutput(output, outputName, .channelsFirst)

    case "plexus.depthwise_conv2d", "plexus.separable_conv2d":
      let x = try value(inputs[0], .channelsFirst)
      let separable = type == "plexus.separable_conv2d"
      let depthwiseKernel = try parameter(layer, separable ? "depthwise_kernel" : "kernel")
      let kernelSize = Array(depthwiseKernel.shape.prefix(2))
      let (channels, multiplier) = (depthwiseKernel.shape[2], depthwiseKernel.shape[3])
      let strides = try extent(config["strides"], count: 2, default: 1, layer: name)
      let dilation = try extent(config["dilation"], count: 2, default: 1, layer: name)
      // [KH, KW, C, M] -> [C * M, 1, KH, KW]: output channel c * M + m, as ONNX's groups.
      let weights = try depthwiseKernel.transposed(permutation: [2, 3, 0, 1]).reshaped(
        [channels * multiplier, 1] + kernelSize)
      let inputSample = try sample(inputs[0], layer: name)
      // The depthwise output's spatial size (for a separable layer the pointwise part keeps it).
      let outputSample = try sample(output, layer: name)
      let pads = try forwardPads(
        config["padding"], input: inputSample, output: Array(outputSample.prefix(2)),
        kernel: kernelSize, strides: strides, dilation: dilation, layer: name)
      let bias = optionalParameter(layer, "bias").map { constant(name + ".bias", $0) }
      let depthwiseOutput = unique(name + (separable ? "_depthwise" : "_linear"))
      let depthwiseBias = separable ? [] : bias.map { [$0] } ?? []
      add(
        "Conv", inputs: [x, constant(name + ".depthwise", weights)] + depthwiseBias,
        outputs: [depthwiseOutput],
        attributes: [
          ints("kernel_shape", kernelSize), ints("strides", strides), ints("dilations", dilation),
          ints("pads", pads), int("group", channels),
        ])
      var linear = depthwiseOutput
      if separable {
        let pointwise = try parameter(layer, "pointwise_kernel").transposed(
          permutation: [3, 2, 0, 1])
        linear = unique(name + "_linear")
        add(
          "Conv",
          inputs: [depthwiseOutput, constant(name + ".pointwise", pointwise)]
            + (bias.map { [$0] } ?? []),
          outputs: [linear], attributes: [ints("kernel_shape", [1, 1])])
      }
      try activation(
        config["activation"], input: linear, output: outputName, layout: .channelsFirst,
        rank: rank(output), layer: name)
      setOutput(output, outputName, .channelsFirst)

    case "plexus.pad2d":
      let x = try value(inputs[0], .channelsFirst)
      guard case .array(let rows)? = config["padding"], rows.count == 2,
        case .array(let vertical) = rows[0], case .array(let horizontal) = rows[1],
        vertical.count == 2, horizontal.count == 2
      else { throw fail("padding is not [[top, bottom], [left, right]]") }
      let amounts = (vertical + horizontal).map { Int($0.number ?? 0) }
      let pads = integerConstant(
        name + "_pads", [0, 0, amounts[0], amounts[2], 0, 0, amounts[1], amounts[3]])
      let mode = config["mode"]?.string ?? "constant"
      var operands = [x, pads]
      if mode == "constant" {
        let fill = Float(config["value"]?.number ?? 0)
        operands.append(constant(name + "_value", Tensor(shape: [], repeating: fill)))
      }
      add("Pad", inputs: operands, outputs: [outputName], attributes: [string("mode", mode)])
      setOutput(output, outputName, .channelsFirst)

    case "plexus.max_pool2d", "plexus.average_pool2d":
      let x = try value(inputs[0], .channelsFirst)
      let pool = try extent(config["poolSize"], count: 2, default: 2, layer: name)
      let strides =
        config["strides"] == nil || config["strides"] == .null
        ? pool : try extent(config["strides"], count: 2, default: 1, layer: name)
      let pads = try forwardPads(
        config["padding"], input: try sample(inputs[0], layer: name),
        output: try sample(output, layer: name), kernel: pool, strides: strides,
        dilation: [1, 1], layer: name)
      var attributes = [ints("kernel_shape", pool), ints("strides", strides), ints("pads", pads)]
      if type == "plexus.average_pool2d" { attributes.append(int("count_include_pad", 0)) }
      add(
        type == "plexus.max_pool2d" ? "MaxPool" : "AveragePool", inputs: [x],
        outputs: [outputName], attributes: attributes)
      setOutput(output, outputName, .channelsFirst)

    case "plexus.global_average_pool2d", "plexus.global_max_pool2d":
      let x = try value(inputs[0], .channelsFirst)
      let op = type == "plexus.global_max_pool2d" ? "GlobalMaxPool" : "GlobalAveragePool"
      if config["keepDims"] == .bool(true) {
        add(op, inputs: [x], outputs: [outputName])
        setOutput(output, outputName, .channelsFirst)
      } else {
        let pooled = unique(name + "_pooled")
        add(op, inputs: [x], outputs: [pooled])
        add("Flatten", inputs: [pooled], outputs: [outputName], attributes: [int("axis", 1)])
        setOutput(output, outputName, .plain)
      }

    case "plexus.batch_normalization":
      let inputRank = rank(inputs[0])
      let layout: ExportLayout = inputRank >= 3 ? .channelsFirst : .plain
      let x = try value(inputs[0], layout)
      let mean = try parameter(layer, "moving_mean")
      let channels = mean.count
      let gamma = optionalParameter(layer, "gamma") ?? Tensor(shape: [channels], repeating: 1)
      let beta = optionalParameter(layer, "beta") ?? Tensor.zeros([channels])
      let epsilon = Float(config["epsilon"]?.number ?? 1e-3)
      let momentum = Float(config["momentum"]?.number ?? 0.99)
      add(
        "BatchNormalization",
        inputs: [
          x, constant(name + ".gamma", gamma), constant(name + ".beta", beta),
          constant(name + ".moving_mean", mean),
          constant(name + ".moving_variance", try parameter(layer, "moving_variance")),
        ], outputs: [outputName],
        attributes: [float("epsilon", epsilon), float("momentum", momentum)])
      setOutput(output, outputName, layout)

    case "plexus.activation":
      let layout = existingLayout(inputs[0])
      let x = try value(inputs[0], layout)
      try activation(
        config["activation"], input: x, output: outputName, layout: layout, rank: rank(output),
        layer: name)
      setOutput(output, outputName, layout)

    case "plexus.prelu":
      let layout = existingLayout(inputs[0])
      let x = try value(inputs[0], layout)
      var alpha = try parameter(layer, "alpha")
      let sampleRank = alpha.shape.count
      if layout == .channelsFirst, sampleRank >= 2 {
        alpha = try alpha.transposed(permutation: [sampleRank - 1] + Array(0..<(sampleRank - 1)))
      }
      add("PRelu", inputs: [x, constant(name + ".alpha", alpha)], outputs: [outputName])
      setOutput(output, outputName, layout)

    case "plexus.flatten":
      let x = try value(inputs[0], .plain)
      add("Flatten", inputs: [x], outputs: [outputName], attributes: [int("axis", 1)])
      setOutput(output, outputName, .plain)

    case "plexus.reshape":
      let x = try value(inputs[0], .plain)
      let target = try sample(output, layer: name)
      let shape = integerConstant(name + "_shape", [-1] + target)
      add("Reshape", inputs: [x, shape], outputs: [outputName])
      setOutput(output, outputName, .plain)

    case "plexus.add", "plexus.subtract", "plexus.multiply", "plexus.maximum", "plexus.minimum",
      "plexus.average":
      let layout = existingLayout(inputs[0])
      let operands = try inputs.map { try value($0, layout) }
      let op = [
        "plexus.add": "Sum", "plexus.subtract": "Sub", "plexus.multiply": "Mul",
        "plexus.maximum": "Max", "plexus.minimum": "Min", "plexus.average": "Mean",
      ][type]!
      if op == "Mul", operands.count > 2 {
        var running = operands[0]
        for (index, operand) in operands.dropFirst().enumerated() {
          let next = index == operands.count - 2 ? outputName : unique(name + "_product")
          add("Mul", inputs: [running, operand], outputs: [next])
          running = next
        }
      } else {
        add(op, inputs: operands, outputs: [outputName])
      }
      setOutput(output, outputName, layout)

    case "plexus.concatenate":
      let layout = existingLayout(inputs[0])
      let operands = try inputs.map { try value($0, layout) }
      let fullRank = rank(output)
      let given = Int(config["axis"]?.number ?? -1)
      let axis = given < 0 ? given + fullRank : given
      guard axis >= 1, axis < fullRank else { throw fail("axis \(given)") }
      let onnxAxis =
        layout == .channelsFirst && fullRank >= 3
        ? (axis == fullRank - 1 ? 1 : axis + 1) : axis
      add("Concat", inputs: operands, outputs: [outputName], attributes: [int("axis", onnxAxis)])
      setOutput(output, outputName, layout)

    case "plexus.zero_padding2d":
      let x = try value(inputs[0], .channelsFirst)
      let amount = { (key: String) in Int(config[key]?.number ?? 0) }
      let pads = integerConstant(
        name + "_pads",
        [0, 0, amount("top"), amount("left"), 0, 0, amount("bottom"), amount("right")])
      add(
        "Pad", inputs: [x, pads], outputs: [outputName], attributes: [string("mode", "constant")])
      setOutput(output, outputName, .channelsFirst)

    case "plexus.up_sampling2d":
      let x = try value(inputs[0], .channelsFirst)
      let size = try extent(config["size"], count: 2, default: 2, layer: name)
      let scales = constant(name + "_scales", Tensor([1, 1, Float(size[0]), Float(size[1])]))
      add(
        "Resize", inputs: [x, "", scales], outputs: [outputName],
        attributes: [
          string("mode", "nearest"), string("coordinate_transformation_mode", "asymmetric"),
          string("nearest_mode", "floor"),
        ])
      setOutput(output, outputName, .channelsFirst)

    case "plexus.embedding":
      if config["maskZero"] == .bool(true) {
        throw fail("maskZero makes a sequence mask, which ONNX graphs do not carry")
      }
      let x = try value(inputs[0], .plain)
      let indices = unique(name + "_indices")
      add("Cast", inputs: [x], outputs: [indices], attributes: [int("to", 7)])
      let table = constant(name + ".embeddings", try parameter(layer, "embeddings"))
      add("Gather", inputs: [table, indices], outputs: [outputName], attributes: [int("axis", 0)])
      setOutput(output, outputName, .plain)

    case "plexus.lstm", "plexus.gru", "plexus.simple_rnn":
      guard inputs.count == 1 else { throw fail("initial states are not exported") }
      try recurrent(layer, config: config, input: inputs[0], output: output, name: outputName)

    default:
      throw fail("has no ONNX equivalent in Plexus's export")
    }
  }

  // MARK: Layer pieces

  private func extent(_ value: JSONValue?, count: Int, default fallback: Int, layer: String) throws
    -> [Int]
  {
    switch value {
    case nil, .null?: return Array(repeating: fallback, count: count)
    case .number(let number)?: return Array(repeating: Int(number), count: count)
    case .array(let items)? where items.count == count:
      return try items.map {
        guard let number = $0.number else { throw ONNXError("layer '\(layer)': bad extent") }
        return Int(number)
      }
    default: throw ONNXError("layer '\(layer)': bad extent \(String(describing: value))")
    }
  }

  private func explicitBefore(_ padding: JSONValue?, axis: Int, spatial: Int) throws -> Int? {
    guard case .object(let amounts)? = padding else {
      return padding == .string("valid") || padding == nil ? 0 : nil
    }
    let key = spatial == 1 ? "left" : axis == 0 ? "top" : "left"
    return Int(amounts[key]?.number ?? 0)
  }

  /// ONNX `pads` (all befores, then all afters) of a forward window.
  private func forwardPads(
    _ padding: JSONValue?, input: [Int], output: [Int], kernel: [Int], strides: [Int],
    dilation: [Int], layer: String
  ) throws -> [Int] {
    let spatial = kernel.count
    if case .object(let amounts)? = padding {
      let value = { (key: String) in Int(amounts[key]?.number ?? 0) }
      return spatial == 1
        ? [value("left"), value("right")]
        : [value("top"), value("left"), value("bottom"), value("right")]
    }
    if padding == .string("same") {
      var before: [Int] = []
      var after: [Int] = []
      for axis in 0..<spatial {
        let effective = dilation[axis] * (kernel[axis] - 1) + 1
        let total = max((output[axis] - 1) * strides[axis] + effective - input[axis], 0)
        before.append(total / 2)
        after.append(total - total / 2)
      }
      return before + after
    }
    return Array(repeating: 0, count: 2 * spatial)
  }

  /// Adds `activation` from `input` to `output` (an `Identity` for linear).
  private mutating func activation(
    _ value: JSONValue?, input: String, output: String, layout: ExportLayout, rank: Int,
    layer: String
  ) throws {
    var name = "linear"
    var parameters: [String: Double] = [:]
    switch value {
    case nil, .null?: break
    case .string(let text)?: name = text
    case .object(let members)?:
      name = members["name"]?.string ?? ""
      for (key, entry) in members where key != "name" {
        guard let number = entry.number else {
          throw ONNXError("layer '\(layer)': activation parameter '\(key)' is not a number")
        }
        parameters[key] = number
      }
    default: throw ONNXError("layer '\(layer)': unreadable activation")
    }
    name = ActivationRegistry.aliases[name] ?? name
    let parameter = { (key: String, fallback: Double) in Float(parameters[key] ?? fallback) }
    switch name {
    case "linear": add("Identity", inputs: [input], outputs: [output])
    case "sigmoid": add("Sigmoid", inputs: [input], outputs: [output])
    case "tanh": add("Tanh", inputs: [input], outputs: [output])
    case "relu": add("Relu", inputs: [input], outputs: [output])
    case "softplus": add("Softplus", inputs: [input], outputs: [output])
    case "softsign": add("Softsign", inputs: [input], outputs: [output])
    case "exponential": add("Exp", inputs: [input], outputs: [output])
    case "selu": add("Selu", inputs: [input], outputs: [output])
    case "elu":
      add(
        "Elu", inputs: [input], outputs: [output],
        attributes: [float("alpha", parameter("alpha", 1))])
    case "leaky_relu":
      add(
        "LeakyRelu", inputs: [input], outputs: [output],
        attributes: [
          float("alpha", parameter("alpha", Double(ActivationFunction.defaultLeakyAlpha)))
        ])
    case "thresholded_relu":
      add(
        "ThresholdedRelu", inputs: [input], outputs: [output],
        attributes: [float("alpha", parameter("theta", 1))])
    case "hard_sigmoid":
      add(
        "HardSigmoid", inputs: [input], outputs: [output],
        attributes: [float("alpha", 1 / 6), float("beta", 0.5)])
    case "relu6":
      let low = constant(output + "_min", Tensor(shape: [], repeating: 0))
      let high = constant(output + "_max", Tensor(shape: [], repeating: 6))
      add("Clip", inputs: [input, low, high], outputs: [output])
    case "softmax", "log_softmax":
      let axis = layout == .channelsFirst && rank >= 3 ? 1 : -1
      add(
        name == "softmax" ? "Softmax" : "LogSoftmax", inputs: [input], outputs: [output],
        attributes: [int("axis", axis)])
    case "silu":
      let gate = unique(output + "_sigmoid")
      add("Sigmoid", inputs: [input], outputs: [gate])
      add("Mul", inputs: [input, gate], outputs: [output])
    case "mish":
      let softplus = unique(output + "_softplus")
      let tanh = unique(output + "_tanh")
      add("Softplus", inputs: [input], outputs: [softplus])
      add("Tanh", inputs: [softplus], outputs: [tanh])
      add("Mul", inputs: [input, tanh], outputs: [output])
    case "gelu":
      // x * (1 + erf(x / sqrt 2)) / 2: Gelu is an operator from opset 20 only.
      let root = constant(output + "_sqrt2", Tensor(shape: [], repeating: Float(2).squareRoot()))
      let one = constant(output + "_one", Tensor(shape: [], repeating: 1))
      let half = constant(output + "_half", Tensor(shape: [], repeating: 0.5))
      let scaled = unique(output + "_scaled")
      let erf = unique(output + "_erf")
      let shifted = unique(output + "_shifted")
      let product = unique(output + "_product")
      add("Div", inputs: [input, root], outputs: [scaled])
      add("Erf", inputs: [scaled], outputs: [erf])
      add("Add", inputs: [erf, one], outputs: [shifted])
      add("Mul", inputs: [input, shifted], outputs: [product])
      add("Mul", inputs: [product, half], outputs: [output])
    case "step":
      let zero = constant(output + "_zero", Tensor(shape: [], repeating: 0))
      let test = unique(output + "_test")
      add("GreaterOrEqual", inputs: [input, zero], outputs: [test])
      add("Cast", inputs: [test], outputs: [output], attributes: [int("to", 1)])
    default:
      throw ONNXError(
        "layer '\(layer)': activation '\(name)' has no ONNX equivalent in Plexus's export")
    }
  }

  /// LSTM, GRU and SimpleRNN as ONNX's recurrent operators, time-first between two
  /// transposes.
  private mutating func recurrent(
    _ layer: any Layer, config: [String: JSONValue], input: Int, output: Int, name: String
  ) throws {
    let type = layer.typeName
    func fail(_ message: String) -> ONNXError {
      ONNXError("layer '\(layer.name)' (\(type)): \(message)")
    }
    for key in ["goBackwards", "returnState", "stateful"] where config[key] == .bool(true) {
      throw fail("\(key) is not exported")
    }
    if let mask = config["maskValue"], mask != .null { throw fail("maskValue is not exported") }
    let kernel = try parameter(layer, "kernel")
    let recurrentKernel = try parameter(layer, "recurrent_kernel")
    let units = recurrentKernel.shape[0]
    let features = kernel.shape[0]
    let gates = kernel.shape[1] / units
    let bias = optionalParameter(layer, "bias")
    // Column blocks of Plexus's gate order, in ONNX's.
    let order: [Int]
    switch type {
    case "plexus.lstm": order = [0, 3, 1, 2]  // i, f, c, o -> i, o, f, c
    default: order = Array(0..<gates)  // GRU z, r, h; RNN one block
    }
    func onnxMatrix(_ matrix: Tensor, rows: Int) throws -> Tensor {
      let transposed = try matrix.transposed().scalars  // [gates * H, rows]
      var reordered: [Float] = []
      reordered.reserveCapacity(transposed.count)
      for block in order {
        reordered += transposed[(block * units * rows)..<((block + 1) * units * rows)]
      }
      return try Tensor(shape: [1, gates * units, rows], scalars: reordered)
    }
    func reorderVector(_ values: [Float]) -> [Float] {
      order.flatMap { values[($0 * units)..<(($0 + 1) * units)] }
    }
    var attributes = [int("hidden_size", units)]
    var inputBias = [Float](repeating: 0, count: gates * units)
    var recurrentBias = [Float](repeating: 0, count: gates * units)
    var op = "RNN"
    switch type {
    case "plexus.lstm":
      op = "LSTM"
      if let bias { inputBias = reorderVector(bias.scalars) }
      try checkActivation(config["activation"], "tanh", layer: layer.name)
      try checkActivation(config["recurrentActivation"], "sigmoid", layer: layer.name)
    case "plexus.gru":
      op = "GRU"
      let resetAfter = config["resetAfter"] != .bool(false)
      attributes.append(int("linear_before_reset", resetAfter ? 1 : 0))
      if let bias {
        let values = bias.scalars
        if resetAfter {
          inputBias = Array(values[0..<(gates * units)])
          recurrentBias = Array(values[(gates * units)...])
        } else {
          inputBias = values
        }
      }
      try checkActivation(config["activation"], "tanh", layer: layer.name)
      try checkActivation(config["recurrentActivation"], "sigmoid", layer: layer.name)
    default:
      if let bias { inputBias = bias.scalars }
      var activation = "tanh"
      if case .string(let text)? = config["activation"] { activation = text }
      guard activation == "tanh" || activation == "relu" else {
        throw fail("activation \(activation) is not exported")
      }
      attributes.append(
        Onnx_AttributeProto.with {
          $0.name = "activations"
          $0.type = .strings
          $0.strings = [Data((activation == "relu" ? "Relu" : "Tanh").utf8)]
        })
    }
    // onnxruntime runs time-first recurrences only (layout 0): [N, T, F] -> [T, N, F].
    let batchFirst = try value(input, .plain)
    let x = unique(name + "_time_first")
    add("Transpose", inputs: [batchFirst], outputs: [x], attributes: [ints("perm", [1, 0, 2])])
    let w = constant(layer.name + ".kernel", try onnxMatrix(kernel, rows: features))
    let r = constant(layer.name + ".recurrent_kernel", try onnxMatrix(recurrentKernel, rows: units))
    let b = constant(
      layer.name + ".bias",
      try Tensor(shape: [1, 2 * gates * units], scalars: inputBias + recurrentBias))
    let sequences = config["returnSequences"] == .bool(true)
    let all = unique(name + "_sequence")
    let last = unique(name + "_last")
    add(op, inputs: [x, w, r, b], outputs: [all, last], attributes: attributes)
    if sequences {
      // Y is [T, directions, N, H].
      let squeezed = unique(name + "_squeezed")
      add("Squeeze", inputs: [all, integerConstant(name + "_axes", [1])], outputs: [squeezed])
      add("Transpose", inputs: [squeezed], outputs: [name], attributes: [ints("perm", [1, 0, 2])])
    } else {
      // Y_h is [directions, N, H].
      add("Squeeze", inputs: [last, integerConstant(name + "_axes", [0])], outputs: [name])
    }
    setOutput(output, name, .plain)
  }

  private func checkActivation(_ value: JSONValue?, _ expected: String, layer: String) throws {
    guard let value, value != .null else { return }
    guard value == .string(expected) else {
      throw ONNXError(
        "layer '\(layer)': activation \(value) differs from ONNX's default \(expected), which "
          + "Plexus exports")
    }
  }
}

extension JSONValue {
  fileprivate var number: Double? {
    if case .number(let value) = self { return value }
    return nil
  }

  fileprivate var string: String? {
    if case .string(let value) = self { return value }
    return nil
  }
}
