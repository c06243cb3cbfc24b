import Foundation
import PlexusCore

/// Translates one Plexus layer description into a Keras 3 layer entry
/// (`{"module", "class_name", "config", "registered_name"}`).
///
/// The Plexus config is read strictly, with Plexus's defaults for omitted keys: an option
/// Keras has no equivalent for (a recurrent layer's `maskValue`, explicit padding other than
/// causal) is an error naming the layer; initializers are dropped, since the weights come
/// with the file.
enum KerasLayerExport {
  static func entry(_ description: LayerDescription) throws -> [String: JSONValue] {
    let name = description.name
    let options = try KerasOptions(
      description.config, context: "layer '\(name)' (\(description.type))")
    let (className, translated) = try translate(description.type, options: options)
    var config = translated
    try options.finish()
    config["name"] = .string(name)
    config["trainable"] = .bool(description.trainable ?? true)
    return [
      "module": .string("keras.layers"), "class_name": .string(className),
      "config": .object(config), "registered_name": .null,
    ]
  }

  private static func numbers(_ values: [Int]) -> JSONValue {
    .array(values.map { .number(Double($0)) })
  }

  /// Plexus's `{"l1", "l2"}` penalty as Keras's `L1L2` regularizer, or null.
  private static func regularizer(_ options: KerasOptions, _ key: String) throws -> JSONValue {
    guard let value = options.value(key), value != .null else { return .null }
    let penalty = try KerasOptions(value, context: "\(options.context): \(key)")
    let l1 = try penalty.number("l1", default: 0)
    let l2 = try penalty.number("l2", default: 0)
    try penalty.finish()
    return .object([
      "module": .string("keras.regularizers"), "class_name": .string("L1L2"),
      "config": .object(["l1": .number(l1), "l2": .number(l2)]), "registered_name": .null,
    ])
  }

  /// A Plexus activation as a Keras activation string; parameters must be Keras's own.
  static func activationName(_ value: JSONValue?, context: String) throws -> String {
    guard let value, value != .null else { return "linear" }
    var name: String
    var parameters: [String: JSONValue] = [:]
    if let text = value.stringValue {
      name = text
    } else if var members = value.objectMembers, let text = members["name"]?.stringValue {
      name = text
      members["name"] = nil
      parameters = members
    } else {
      throw KerasError("\(context): activation \(KerasOptions.render(value)) is malformed")
    }
    name =
      ["identity": "linear", "none": "linear", "swish": "silu", "leakyrelu": "leaky_relu"][
        name] ?? name
    switch (name, parameters) {
    case ("linear", [:]), ("relu", [:]), ("sigmoid", [:]), ("tanh", [:]), ("softmax", [:]),
      ("softplus", [:]), ("softsign", [:]), ("selu", [:]), ("exponential", [:]), ("gelu", [:]),
      ("silu", [:]), ("mish", [:]), ("relu6", [:]), ("log_softmax", [:]),
      ("hard_sigmoid", [:]):
      return name
    case ("elu", [:]), ("elu", ["alpha": .number(1)]): return "elu"
    case ("leaky_relu", ["alpha": .number(0.2)]): return "leaky_relu"
    default:
      throw KerasError(
        "\(context): activation \(KerasOptions.render(value)) has no Keras activation string "
          + "(Keras's leaky_relu has slope 0.2 and elu alpha 1; use a LeakyReLU/ELU layer)")
    }
  }

  private static func padding(_ options: KerasOptions) throws -> String {
    let value = options.value("padding") ?? .string("valid")
    guard let text = value.stringValue, text == "valid" || text == "same" else {
      throw options.fail("padding", "is \(KerasOptions.render(value)); Keras pads valid or same")
    }
    return text
  }

  private static func extent(_ options: KerasOptions, _ key: String, rank: Int, default value: Int)
    throws -> [Int]
  {
    try options.extent(key, count: rank, default: Array(repeating: value, count: rank))
  }

  private static func translate(_ type: String, options: KerasOptions) throws -> (
    String, [String: JSONValue]
  ) {
    switch type {
    case "plexus.dense":
      options.ignore("kernelInitializer", "biasInitializer")
      return (
        "Dense",
        [
          "units": .number(Double(try options.int("units", in: 1...Int(Int32.max)))),
          "activation": .string(
            try activationName(options.value("activation"), context: options.context)),
          "use_bias": .bool(try options.bool("useBias", default: true)),
          "kernel_regularizer": try regularizer(options, "kernelRegularizer"),
          "bias_regularizer": try regularizer(options, "biasRegularizer"),
        ]
      )

    case "plexus.conv1d", "plexus.conv2d", "plexus.conv2d_transpose":
      let rank = type == "plexus.conv1d" ? 1 : 2
      options.ignore("kernelInitializer", "biasInitializer")
      let kernel = try options.extent("kernelSize", count: rank)
      let dilation = try extent(options, "dilation", rank: rank, default: 1)
      let paddingName: String
      let value = options.value("padding") ?? .string("valid")
      if let text = value.stringValue, text == "valid" || text == "same" {
        paddingName = text
      } else if rank == 1, let members = value.objectMembers,
        Set(members.keys).isSubset(of: ["left", "right", "top", "bottom"]),
        (members["top"] ?? .number(0)) == .number(0),
        (members["bottom"] ?? .number(0)) == .number(0),
        members["left"] == .number(Double(dilation[0] * (kernel[0] - 1))),
        (members["right"] ?? .number(0)) == .number(0)
      {
        paddingName = "causal"
      } else {
        throw options.fail(
          "padding",
          "is \(KerasOptions.render(value)); Keras pads valid, same or (Conv1D) causal")
      }
      func json(_ values: [Int]) -> JSONValue { numbers(values) }
      let className =
        ["plexus.conv1d": "Conv1D", "plexus.conv2d": "Conv2D"][type] ?? "Conv2DTranspose"
      let groups = try options.int("groups", default: 1, in: 1...Int(Int32.max))
      if className == "Conv2DTranspose" && groups != 1 {
        throw options.fail("groups", "is \(groups); Keras's Conv2DTranspose has no groups")
      }
      let grouping: [String: JSONValue] =
        className == "Conv2DTranspose" ? [:] : ["groups": .number(Double(groups))]
      return (
        className,
        grouping.merging([
          "filters": .number(Double(try options.int("filters", in: 1...Int(Int32.max)))),
          "kernel_size": json(kernel),
          "strides": json(try extent(options, "strides", rank: rank, default: 1)),
          "dilation_rate": json(dilation), "padding": .string(paddingName),
          "data_format": .string("channels_last"),
          "activation": .string(
            try activationName(options.value("activation"), context: options.context)),
          "use_bias": .bool(try options.bool("useBias", default: true)),
          "kernel_regularizer": try regularizer(options, "kernelRegularizer"),
          "bias_regularizer": try regularizer(options, "biasRegularizer"),
        ]) { $1 }
      )

    case "plexus.depthwise_conv2d", "plexus.separable_conv2d":
      return try depthwise(type, options: options)

    case "plexus.pad2d":
      let mode = try options.string("mode", default: "constant")
      let value = try options.number("value", default: 0)
      guard mode == "constant", value == 0 else {
        throw options.fail(
          "mode", "is \(mode) with value \(value); Keras pads with zeros only (ZeroPadding2D)")
      }
      let amounts = options.value("padding")?.arrayItems?.compactMap(\.arrayItems) ?? []
      guard amounts.count == 2, amounts.allSatisfy({ $0.count == 2 }) else {
        throw options.fail("padding", "must be [[top, bottom], [left, right]]")
      }
      return (
        "ZeroPadding2D",
        ["padding": .array(amounts.map { .array($0) }), "data_format": .string("channels_last")]
      )

    case "plexus.max_pool2d", "plexus.average_pool2d":
      let pool = try extent(options, "poolSize", rank: 2, default: 2)
      var strides: JSONValue = .null
      if let value = options.value("strides"), value != .null {
        strides = numbers(
          try KerasOptions(.object(["strides": value]), context: options.context)
            .extent("strides", count: 2))
      }
      return (
        type == "plexus.max_pool2d" ? "MaxPooling2D" : "AveragePooling2D",
        [
          "pool_size": numbers(pool), "strides": strides, "padding": .string(try padding(options)),
          "data_format": .string("channels_last"),
        ]
      )

    case "plexus.global_average_pool2d", "plexus.global_max_pool2d":
      return (
        type == "plexus.global_max_pool2d" ? "GlobalMaxPooling2D" : "GlobalAveragePooling2D",
        [
          "keepdims": .bool(try options.bool("keepDims", default: false)),
          "data_format": .string("channels_last"),
        ]
      )

    case "plexus.flatten":
      return ("Flatten", ["data_format": .string("channels_last")])

    case "plexus.reshape":
      guard let shape = options.value("targetShape") else {
        throw options.fail("targetShape", "is missing")
      }
      return ("Reshape", ["target_shape": shape])

    case "plexus.dropout":
      var config: [String: JSONValue] = ["rate": .number(try options.number("rate"))]
      if let seed = options.value("seed"), seed != .null { config["seed"] = seed }
      return ("Dropout", config)

    case "plexus.activation":
      let value = options.value("activation")
      if let members = value?.objectMembers, let name = members["name"]?.stringValue,
        members.count == 2, case .number(let alpha)? = members["alpha"]
      {
        if name == "leaky_relu" || name == "leakyrelu" {
          return ("LeakyReLU", ["negative_slope": .number(alpha)])
        }
        if name == "elu" { return ("ELU", ["alpha": .number(alpha)]) }
      }
      return (
        "Activation",
        ["activation": .string(try activationName(value, context: options.context))]
      )

    case "plexus.batch_normalization":
      return (
        "BatchNormalization",
        [
          "axis": .number(-1), "momentum": .number(try options.number("momentum", default: 0.99)),
          "epsilon": .number(try options.number("epsilon", default: 1e-3)),
          "center": .bool(try options.bool("center", default: true)),
          "scale": .bool(try options.bool("scale", default: true)),
        ]
      )

    case "plexus.embedding":
      options.ignore("embeddingsInitializer")
      return (
        "Embedding",
        [
          "input_dim": .number(Double(try options.int("inputDim", in: 1...Int(Int32.max)))),
          "output_dim": .number(Double(try options.int("outputDim", in: 1...Int(Int32.max)))),
          "mask_zero": .bool(try options.bool("maskZero", default: false)),
        ]
      )

    case "plexus.masking":
      return ("Masking", ["mask_value": .number(try options.number("maskValue", default: 0))])

    case "plexus.simple_rnn", "plexus.lstm", "plexus.gru":
      return try recurrent(type, options: options)

    case "plexus.bidirectional":
      guard let inner = options.value("layer") else { throw options.fail("layer", "is missing") }
      var layer = try inner.decode(LayerDescription.self, context: options.context)
      let modes = ["concat": "concat", "sum": "sum", "average": "ave", "multiply": "mul"]
      let mode = try options.string("mergeMode", default: "concat")
      guard let merge = modes[mode] else {
        throw options.fail("mergeMode", "is '\(mode)', unknown")
      }
      layer.name = "forward_" + (layer.name.isEmpty ? "layer" : layer.name)
      return ("Bidirectional", ["layer": .object(try entry(layer)), "merge_mode": .string(merge)])

    case "plexus.time_distributed":
      guard let inner = options.value("layer") else { throw options.fail("layer", "is missing") }
      let layer = try inner.decode(LayerDescription.self, context: options.context)
      return ("TimeDistributed", ["layer": .object(try entry(layer))])

    case "plexus.add", "plexus.subtract", "plexus.multiply", "plexus.average", "plexus.maximum",
      "plexus.minimum":
      let base = String(type.dropFirst("plexus.".count))
      return (base.prefix(1).uppercased() + base.dropFirst(), [:])

    case "plexus.concatenate":
      return ("Concatenate", ["axis": .number(Double(try options.int("axis", default: -1)))])

    case "plexus.zero_padding2d":
      let amounts = try ["top", "bottom", "left", "right"].map {
        try options.int($0, in: 0...Int(Int32.max))
      }
      return (
        "ZeroPadding2D",
        [
          "padding": .array([numbers(Array(amounts[0...1])), numbers(Array(amounts[2...3]))]),
          "data_format": .string("channels_last"),
        ]
      )

    case "plexus.up_sampling2d":
      return (
        "UpSampling2D",
        [
          "size": numbers(try extent(options, "size", rank: 2, default: 2)),
          "interpolation": .string("nearest"), "data_format": .string("channels_last"),
        ]
      )

    case "plexus.prelu":
      options.ignore("alphaInitializer")
      return (
        "PReLU",
        [
          "shared_axes": options.value("sharedAxes") ?? .null,
          "alpha_regularizer": try regularizer(options, "alphaRegularizer"),
        ]
      )

    default:
      throw KerasError(
        "\(options.context) has no Keras equivalent; the Keras export supports Dense, "
          + "convolutions, pooling, BatchNormalization, Embedding, recurrent layers, "
          + "Bidirectional, TimeDistributed, merges, reshaping, padding and activations")
    }
  }

  /// `DepthwiseConv2D` or `SeparableConv2D`, whose Keras options follow Plexus's one to one.
  private static func depthwise(_ type: String, options: KerasOptions) throws -> (
    String, [String: JSONValue]
  ) {
    let separable = type == "plexus.separable_conv2d"
    options.ignore(
      "kernelInitializer", "depthwiseInitializer", "pointwiseInitializer", "biasInitializer")
    var config: [String: JSONValue] = [
      "kernel_size": numbers(try options.extent("kernelSize", count: 2)),
      "strides": numbers(try extent(options, "strides", rank: 2, default: 1)),
      "dilation_rate": numbers(try extent(options, "dilation", rank: 2, default: 1)),
      "padding": .string(try padding(options)), "data_format": .string("channels_last"),
      "depth_multiplier": .number(
        Double(try options.int("depthMultiplier", default: 1, in: 1...Int(Int32.max)))),
      "activation": .string(
        try activationName(options.value("activation"), context: options.context)),
      "use_bias": .bool(try options.bool("useBias", default: true)),
      "bias_regularizer": try regularizer(options, "biasRegularizer"),
    ]
    if separable {
      config["filters"] = .number(Double(try options.int("filters", in: 1...Int(Int32.max))))
      config["depthwise_regularizer"] = try regularizer(options, "depthwiseRegularizer")
      config["pointwise_regularizer"] = try regularizer(options, "pointwiseRegularizer")
      return ("SeparableConv2D", config)
    }
    config["depthwise_regularizer"] = try regularizer(options, "kernelRegularizer")
    return ("DepthwiseConv2D", config)
  }

  private static func recurrent(_ type: String, options: KerasOptions) throws -> (
    String, [String: JSONValue]
  ) {
    options.ignore("kernelInitializer", "recurrentInitializer")
    try options.requireNull("maskValue")
    var config: [String: JSONValue] = [
      "units": .number(Double(try options.int("units", in: 1...Int(Int32.max)))),
      "return_sequences": .bool(try options.bool("returnSequences", default: false)),
      "return_state": .bool(try options.bool("returnState", default: false)),
      "go_backwards": .bool(try options.bool("goBackwards", default: false)),
      "use_bias": .bool(true),
      "dropout": .number(try options.number("dropout", default: 0)),
      "recurrent_dropout": .number(try options.number("recurrentDropout", default: 0)),
      "seed": options.value("seed") ?? .null,
    ]
    switch type {
    case "plexus.simple_rnn":
      config["activation"] = .string(
        options.has("activation")
          ? try activationName(options.value("activation"), context: options.context) : "tanh")
      return ("SimpleRNN", config)
    case "plexus.lstm":
      config["unit_forget_bias"] = .bool(try options.bool("unitForgetBias", default: true))
      config["activation"] = .string("tanh")
      config["recurrent_activation"] = .string("sigmoid")
      return ("LSTM", config)
    default:
      config["reset_after"] = .bool(try options.bool("resetAfter", default: true))
      config["activation"] = .string("tanh")
      config["recurrent_activation"] = .string("sigmoid")
      return ("GRU", config)
    }
  }
}
