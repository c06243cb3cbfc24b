import Foundation
import PlexusCore

/// One Keras variable of a converted layer: where it lives in a Keras weights file and which
/// Plexus parameter it becomes. Plexus stores every supported layer's parameters in Keras's
/// own layouts, so a variable is copied unchanged; only its place differs.
struct KerasVariable: Sendable, Equatable {
  /// The Plexus parameter path, relative to the layer's parent model (`dense_1.kernel`,
  /// `bidirectional.forward.kernel`).
  var plexusPath: String
  /// The Keras 3 dataset path, relative to the layer's group (`vars/0`, `cell/vars/2`,
  /// `forward_layer/cell/vars/1`).
  var keras3Path: String
  /// The variable's Keras name (`kernel`), the last part of its legacy (Keras 2) weight name.
  var kerasName: String
  /// Other names the variable has had in legacy files (tf.keras 2 called a
  /// `DepthwiseConv2D`'s kernel `depthwise_kernel`, Keras 3 calls it `kernel`).
  var kerasAliases: [String] = []

  /// The variable seen from one level up: both paths under the layer's own name and group.
  func nested(plexus prefix: String, keras group: String) -> KerasVariable {
    KerasVariable(
      plexusPath: prefix + "." + plexusPath, keras3Path: group + "/" + keras3Path,
      kerasName: kerasName, kerasAliases: kerasAliases)
  }
}

/// A Keras layer converted to its Plexus description and the variables it reads.
struct ImportedLayer {
  /// The Keras class (`Dense`).
  var kerasClass: String
  /// The Plexus layer.
  var description: LayerDescription
  /// The layer's variables in Keras order, with Plexus paths under the layer's name.
  var variables: [KerasVariable]
  /// Whether it is a recurrent layer (or `Bidirectional`), which honours sequence masks.
  var readsSequenceMask: Bool
  /// For an `Embedding` with `mask_zero`: Plexus gives padded steps a zero vector where Keras
  /// passes row 0 on, so only layers that skip masked steps may read its output.
  var masksPaddingIds: Bool
}

/// Translates Keras layer configs (Keras 3 and the Keras 2 / tf.keras dialect of legacy `.h5`
/// files) into Plexus layer descriptions.
struct KerasLayerImporter {
  /// The Keras major version that wrote the file (2 or 3): Keras 2's `hard_sigmoid` differs.
  var kerasMajorVersion: Int
  /// Whether some layer of the file makes a sequence mask (`Masking`, `Embedding` with
  /// `mask_zero`): only then do options about masked steps matter.
  var modelHasMasks: Bool

  /// The layer entry's class name and config, with the entry's own keys checked.
  static func classAndConfig(_ entry: JSONValue, context: String) throws -> (String, JSONValue) {
    guard let members = entry.objectMembers else {
      throw KerasError("\(context): a layer entry is not an object")
    }
    guard let className = members["class_name"]?.stringValue else {
      throw KerasError("\(context): a layer entry has no class_name")
    }
    let allowed: Set<String> = [
      "module", "class_name", "config", "registered_name", "build_config", "name",
      "inbound_nodes", "compile_config", "shared_object_id",
    ]
    if let unknown = members.keys.sorted().first(where: { !allowed.contains($0) }) {
      throw KerasError("\(context): layer entry of class \(className) has unknown key '\(unknown)'")
    }
    if let registered = members["registered_name"], registered != .null,
      registered != .string(className)
    {
      throw KerasError(
        "\(context): layer class \(className) is registered as \(KerasOptions.render(registered)), "
          + "a custom layer; Plexus converts Keras's built-in layers only")
    }
    if let module = members["module"]?.stringValue, !module.hasPrefix("keras") {
      throw KerasError(
        "\(context): layer class \(className) comes from module '\(module)'; Plexus converts "
          + "Keras's built-in layers only")
    }
    guard let config = members["config"] else {
      throw KerasError("\(context): layer class \(className) has no config")
    }
    return (className, config)
  }

  /// The layer's name from its config.
  static func layerName(_ config: JSONValue, className: String, context: String) throws -> String {
    guard let name = config.objectMembers?["name"]?.stringValue, !name.isEmpty else {
      throw KerasError("\(context): a \(className) layer has no name")
    }
    guard !name.contains("."), !name.contains("/") else {
      throw KerasError(
        "\(context): layer name '\(name)' contains '.' or '/', which Plexus parameter paths use")
    }
    return name
  }

  /// Converts one layer entry (`{"class_name": ..., "config": ...}`).
  ///
  /// - Throws: `KerasError` naming the layer for an unsupported class or option.
  func translate(_ entry: JSONValue, context: String) throws -> ImportedLayer {
    let (className, config) = try Self.classAndConfig(entry, context: context)
    let name = try Self.layerName(config, className: className, context: context)
    let options = try KerasOptions(config, context: "\(context): layer '\(name)' (\(className))")
    let buildShape = entry.objectMembers?["build_config"]?.objectMembers?["input_shape"]
    options.ignore("name")
    let trainable = try options.bool("trainable", default: true)
    try checkDType(options)
    var layer = try translateOptions(
      className: className, name: name, options: options, buildShape: buildShape)
    try options.finish()
    layer.description.trainable = trainable ? nil : false
    return layer
  }

  /// Accepts the float32 policy only (Plexus computes in float32); integer dtypes are accepted
  /// for inputs (ids fed to an `Embedding`).
  func checkDType(_ options: KerasOptions, allowIntegers: Bool = false) throws {
    guard let value = options.value("dtype"), value != .null else { return }
    var name: String?
    if let text = value.stringValue {
      name = text
    } else if let members = value.objectMembers,
      let policy = members["config"]?.objectMembers?["name"]?.stringValue
    {
      name = policy
    }
    let accepted = allowIntegers ? ["float32", "float64", "int32", "int64", "uint8"] : ["float32"]
    guard let name, accepted.contains(name) else {
      throw options.fail(
        "dtype", "is \(KerasOptions.render(value)); Plexus computes in float32 only")
    }
  }

  private func plain(
    _ className: String, _ name: String, type: String, config: [String: JSONValue],
    variables: [String] = []
  ) -> ImportedLayer {
    ImportedLayer(
      kerasClass: className,
      description: LayerDescription(type: type, name: name, config: .object(config)),
      variables: variables.enumerated().map {
        KerasVariable(plexusPath: "\(name).\($1)", keras3Path: "vars/\($0)", kerasName: $1)
      }, readsSequenceMask: false, masksPaddingIds: false)
  }

  private func translateOptions(
    className: String, name: String, options: KerasOptions, buildShape: JSONValue?
  ) throws -> ImportedLayer {
    switch className {
    case "Dense":
      let units = try options.int("units", in: 1...Int(Int32.max))
      let useBias = try options.bool("use_bias", default: true)
      var config: [String: JSONValue] = [
        "units": .number(Double(units)), "activation": try activation(options, "activation"),
        "useBias": .bool(useBias),
      ]
      try weightPenalties(options, into: &config, kernel: "kernel", bias: "bias")
      options.ignore("kernel_initializer", "bias_initializer")
      try options.requireNull(
        "kernel_constraint", "bias_constraint", "activity_regularizer", "quantization_config",
        "lora_rank", "lora_alpha")
      return plain(
        className, name, type: "plexus.dense", config: config,
        variables: useBias ? ["kernel", "bias"] : ["kernel"])

    case "Conv1D", "Conv2D", "Conv2DTranspose":
      let rank = className == "Conv1D" ? 1 : 2
      let filters = try options.int("filters", in: 1...Int(Int32.max))
      let kernel = try options.extent("kernel_size", count: rank)
      let strides = try options.extent(
        "strides", count: rank, default: Array(repeating: 1, count: rank))
      let dilation = try options.extent(
        "dilation_rate", count: rank, default: Array(repeating: 1, count: rank))
      let useBias = try options.bool("use_bias", default: true)
      let paddingName = try options.string("padding", default: "valid").lowercased()
      let padding: JSONValue
      switch paddingName {
      case "valid", "same": padding = .string(paddingName)
      case "causal" where className == "Conv1D":
        padding = .object([
          "left": .number(Double(dilation[0] * (kernel[0] - 1))), "right": .number(0),
        ])
      default:
        throw options.fail("padding", "is '\(paddingName)'; Plexus supports valid and same")
      }
      try options.require("data_format", in: [.null, .string("channels_last")])
      let groups =
        className == "Conv2DTranspose" ? 1 : try options.int("groups", default: 1, in: 1...filters)
      guard filters % groups == 0 else {
        throw options.fail(
          "groups", "is \(groups); the filters (\(filters)) must be divisible by it")
      }
      if className == "Conv2DTranspose" { try options.requireNull("output_padding") }
      func extentJSON(_ values: [Int]) -> JSONValue {
        rank == 1 ? .number(Double(values[0])) : .array(values.map { .number(Double($0)) })
      }
      var config: [String: JSONValue] = [
        "filters": .number(Double(filters)), "kernelSize": extentJSON(kernel),
        "strides": extentJSON(strides), "dilation": extentJSON(dilation), "padding": padding,
        "activation": try activation(options, "activation"), "useBias": .bool(useBias),
      ]
      if groups != 1 { config["groups"] = .number(Double(groups)) }
      try weightPenalties(options, into: &config, kernel: "kernel", bias: "bias")
      options.ignore("kernel_initializer", "bias_initializer")
      try options.requireNull(
        "kernel_constraint", "bias_constraint", "activity_regularizer", "lora_rank", "lora_alpha")
      let type =
        ["Conv1D": "plexus.conv1d", "Conv2D": "plexus.conv2d"][className]
        ?? "plexus.conv2d_transpose"
      return plain(
        className, name, type: type, config: config,
        variables: useBias ? ["kernel", "bias"] : ["kernel"])

    case "DepthwiseConv2D", "SeparableConv2D":
      return try depthwise(className: className, name: name, options: options)

    case "MaxPooling2D", "AveragePooling2D":
      let pool = try options.extent("pool_size", count: 2, default: [2, 2])
      var config: [String: JSONValue] = ["poolSize": .array(pool.map { .number(Double($0)) })]
      if let value = options.value("strides"), value != .null {
        let strides = try KerasOptions(.object(["strides": value]), context: options.context)
          .extent("strides", count: 2)
        config["strides"] = .array(strides.map { .number(Double($0)) })
      }
      config["padding"] = try padding(options)
      try options.require("data_format", in: [.null, .string("channels_last")])
      return plain(
        className, name,
        type: className == "MaxPooling2D" ? "plexus.max_pool2d" : "plexus.average_pool2d",
        config: config)

    case "GlobalAveragePooling2D", "GlobalMaxPooling2D":
      try options.require("data_format", in: [.null, .string("channels_last")])
      let keep = try options.bool("keepdims", default: false)
      return plain(
        className, name,
        type: className == "GlobalMaxPooling2D"
          ? "plexus.global_max_pool2d" : "plexus.global_average_pool2d",
        config: ["keepDims": .bool(keep)])

    case "Flatten":
      try options.require("data_format", in: [.null, .string("channels_last")])
      return plain(className, name, type: "plexus.flatten", config: [:])

    case "Reshape":
      guard let items = options.value("target_shape")?.arrayItems, !items.isEmpty else {
        throw options.fail("target_shape", "must be a non-empty list of integers")
      }
      let shape = try items.map { item -> Int in
        guard let value = KerasOptions.integer(item), value > 0 || value == -1 else {
          throw options.fail("target_shape", "must hold positive integers or one -1")
        }
        return value
      }
      return plain(
        className, name, type: "plexus.reshape",
        config: ["targetShape": .array(shape.map { .number(Double($0)) })])

    case "Dropout":
      let rate = try options.number("rate")
      guard rate >= 0, rate < 1 else { throw options.fail("rate", "must be in [0, 1)") }
      try options.requireNull("noise_shape")
      var config: [String: JSONValue] = ["rate": .number(rate)]
      if let seed = options.value("seed"), seed != .null {
        guard let value = KerasOptions.integer(seed), value >= 0 else {
          throw options.fail("seed", "must be a non-negative integer")
        }
        config["seed"] = .number(Double(value))
      }
      return plain(className, name, type: "plexus.dropout", config: config)

    case "Activation":
      return plain(
        className, name, type: "plexus.activation",
        config: ["activation": try activation(options, "activation")])

    case "ReLU":
      try options.require("negative_slope", in: [.number(0)])
      try options.require("threshold", in: [.number(0)])
      let maximum = options.value("max_value") ?? .null
      guard maximum == .null || maximum == .number(6) else {
        throw options.fail(
          "max_value", "is \(KerasOptions.render(maximum)); Plexus has relu and relu6")
      }
      return plain(
        className, name, type: "plexus.activation",
        config: ["activation": .string(maximum == .null ? "relu" : "relu6")])

    case "LeakyReLU":
      let key = options.has("negative_slope") ? "negative_slope" : "alpha"
      let slope = try options.number(key, default: 0.3)
      return plain(
        className, name, type: "plexus.activation",
        config: [
          "activation": .object(["name": .string("leaky_relu"), "alpha": .number(slope)])
        ])

    case "ELU":
      let alpha = try options.number("alpha", default: 1)
      return plain(
        className, name, type: "plexus.activation",
        config: ["activation": .object(["name": .string("elu"), "alpha": .number(alpha)])])

    case "Softmax":
      try options.require("axis", in: [.number(-1), .array([.number(-1)])])
      return plain(
        className, name, type: "plexus.activation", config: ["activation": .string("softmax")])

    case "PReLU":
      var config: [String: JSONValue] = [:]
      if let shared = options.value("shared_axes"), shared != .null {
        let axes = shared.arrayItems ?? [shared]
        let values = try axes.map { axis -> Int in
          guard let value = KerasOptions.integer(axis), value >= 1 else {
            throw options.fail("shared_axes", "must list axes counted from 1 (the batch is 0)")
          }
          return value
        }
        config["sharedAxes"] = .array(values.map { .number(Double($0)) })
      }
      if let penalty = try regularizer(options, "alpha_regularizer") {
        config["alphaRegularizer"] = penalty
      }
      options.ignore("alpha_initializer")
      try options.requireNull("alpha_constraint")
      return plain(className, name, type: "plexus.prelu", config: config, variables: ["alpha"])

    case "BatchNormalization":
      try batchNormalizationAxis(options, buildShape: buildShape)
      let momentum = try options.number("momentum", default: 0.99)
      let epsilon = try options.number("epsilon", default: 1e-3)
      let center = try options.bool("center", default: true)
      let scale = try options.bool("scale", default: true)
      options.ignore(
        "beta_initializer", "gamma_initializer", "moving_mean_initializer",
        "moving_variance_initializer", "renorm_momentum", "fused", "synchronized")
      try options.requireNull(
        "beta_regularizer", "gamma_regularizer", "beta_constraint", "gamma_constraint",
        "renorm_clipping", "virtual_batch_size", "adjustment")
      try options.require("renorm", in: [.bool(false)])
      let variables =
        (scale ? ["gamma"] : []) + (center ? ["beta"] : []) + ["moving_mean", "moving_variance"]
      return plain(
        className, name, type: "plexus.batch_normalization",
        config: [
          "momentum": .number(momentum), "epsilon": .number(epsilon), "center": .bool(center),
          "scale": .bool(scale),
        ], variables: variables)

    case "Embedding":
      let inputs = try options.int("input_dim", in: 1...Int(Int32.max))
      let outputs = try options.int("output_dim", in: 1...Int(Int32.max))
      let maskZero = try options.bool("mask_zero", default: false)
      options.ignore("embeddings_initializer", "input_length")
      try options.requireNull(
        "embeddings_regularizer", "embeddings_constraint", "activity_regularizer",
        "quantization_config", "lora_rank", "lora_alpha")
      try options.require("sparse", in: [.bool(false)])
      var layer = plain(
        className, name, type: "plexus.embedding",
        config: [
          "inputDim": .number(Double(inputs)), "outputDim": .number(Double(outputs)),
          "maskZero": .bool(maskZero),
        ], variables: ["embeddings"])
      layer.masksPaddingIds = maskZero
      return layer

    case "Masking":
      let value = try options.number("mask_value", default: 0)
      return plain(className, name, type: "plexus.masking", config: ["maskValue": .number(value)])

    case "SimpleRNN", "LSTM", "GRU":
      var layer = try recurrent(className: className, name: name, options: options)
      layer.readsSequenceMask = true
      return layer

    case "Bidirectional":
      return try bidirectional(name: name, options: options)

    case "TimeDistributed":
      guard let inner = options.value("layer") else { throw options.fail("layer", "is missing") }
      let wrapped = try translate(inner, context: options.context)
      guard wrapped.variables.allSatisfy({ !$0.keras3Path.contains("layers/") }),
        !["Sequential", "Functional", "Model"].contains(wrapped.kerasClass)
      else {
        throw options.fail("layer", "wraps a model; Plexus's TimeDistributed wraps one layer")
      }
      return ImportedLayer(
        kerasClass: className,
        description: LayerDescription(
          type: "plexus.time_distributed", name: name,
          config: .object(["layer": try JSONValue(encoding: wrapped.description)])),
        variables: wrapped.variables.map { $0.nested(plexus: name, keras: "layer") },
        readsSequenceMask: false, masksPaddingIds: false)

    case "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum":
      return plain(className, name, type: "plexus." + className.lowercased(), config: [:])

    case "Concatenate":
      let axis = try options.int("axis", default: -1)
      return plain(
        className, name, type: "plexus.concatenate", config: ["axis": .number(Double(axis))])

    case "ZeroPadding2D":
      try options.require("data_format", in: [.null, .string("channels_last")])
      let amounts = try zeroPadding(options)
      return plain(
        className, name, type: "plexus.zero_padding2d",
        config: [
          "top": .number(Double(amounts[0])), "bottom": .number(Double(amounts[1])),
          "left": .number(Double(amounts[2])), "right": .number(Double(amounts[3])),
        ])

    case "UpSampling2D":
      try options.require("data_format", in: [.null, .string("channels_last")])
      try options.require("interpolation", in: [.string("nearest")])
      let size = try options.extent("size", count: 2, default: [2, 2])
      return plain(
        className, name, type: "plexus.up_sampling2d",
        config: ["size": .array(size.map { .number(Double($0)) })])

    default:
      throw KerasError(
        "\(options.context): Keras layer class \(className) has no Plexus equivalent; "
          + "supported: " + Self.supportedClasses.joined(separator: ", "))
    }
  }

  /// The Keras layer classes this importer converts (besides `InputLayer`, `Sequential` and
  /// `Functional` models).
  static let supportedClasses = [
    "Activation", "Add", "Average", "AveragePooling2D", "BatchNormalization", "Bidirectional",
    "Concatenate", "Conv1D", "Conv2D", "Conv2DTranspose", "Dense", "DepthwiseConv2D", "Dropout",
    "ELU", "Embedding", "Flatten", "GRU", "GlobalAveragePooling2D", "GlobalMaxPooling2D", "LSTM",
    "LeakyReLU",
    "Masking", "MaxPooling2D", "Maximum", "Minimum", "Multiply", "PReLU", "ReLU", "Reshape",
    "SeparableConv2D", "SimpleRNN", "Softmax", "Subtract", "TimeDistributed", "UpSampling2D",
    "ZeroPadding2D",
  ]

  // MARK: - Option helpers

  /// The Plexus activation for the Keras activation under `key` (default `linear`).
  func activation(_ options: KerasOptions, _ key: String) throws -> JSONValue {
    guard let value = options.value(key), value != .null else { return .string("linear") }
    var name: String?
    if let text = value.stringValue {
      name = text
    } else if let members = value.objectMembers {
      // Keras 3 serializes a built-in function as {"class_name": "function", "config": "relu"}.
      name = members["config"]?.stringValue ?? members["class_name"]?.stringValue
    }
    guard let name else {
      throw options.fail(key, "is \(KerasOptions.render(value)), not a built-in activation")
    }
    switch name {
    case "linear", "relu", "sigmoid", "tanh", "softmax", "softplus", "softsign", "selu", "elu",
      "exponential", "gelu", "silu", "mish", "relu6", "log_softmax":
      return .string(name)
    case "swish": return .string("silu")
    case "hard_sigmoid" where kerasMajorVersion >= 3: return .string("hard_sigmoid")
    case "hard_sigmoid":
      throw options.fail(
        key,
        "is Keras 2's hard_sigmoid (0.2x + 0.5, clipped), which Plexus does not have (its "
          + "hard_sigmoid is Keras 3's relu6(x + 3) / 6)")
    case "leaky_relu":
      return .object(["name": .string("leaky_relu"), "alpha": .number(0.2)])
    default:
      throw options.fail(key, "is '\(name)', an activation Plexus does not have")
    }
  }

  /// A Keras regularizer (`L1`, `L2`, `L1L2`, or the strings `l1`, `l2`) as Plexus's
  /// `{"l1", "l2"}` penalty; `nil` when absent or null.
  func regularizer(_ options: KerasOptions, _ key: String) throws -> JSONValue? {
    guard let value = options.value(key), value != .null else { return nil }
    var l1 = 0.0
    var l2 = 0.0
    if let text = value.stringValue {
      switch text.lowercased() {
      case "l1": l1 = 0.01
      case "l2": l2 = 0.01
      case "l1_l2", "l1l2": (l1, l2) = (0.01, 0.01)
      default: throw options.fail(key, "is '\(text)', a regularizer Plexus does not have")
      }
    } else if let members = value.objectMembers, let className = members["class_name"]?.stringValue,
      ["L1", "L2", "L1L2"].contains(className)
    {
      let config = try KerasOptions(
        members["config"] ?? .object([:]), context: "\(options.context): \(key)")
      if className != "L2" { l1 = try config.number("l1", default: 0) }
      if className != "L1" { l2 = try config.number("l2", default: 0) }
      try config.finish()
    } else {
      throw options.fail(
        key, "is \(KerasOptions.render(value)), a regularizer Plexus does not have")
    }
    guard l1 >= 0, l2 >= 0 else { throw options.fail(key, "has a negative factor") }
    return .object(["l1": .number(l1), "l2": .number(l2)])
  }

  /// Reads `<kernel>_regularizer` and `<bias>_regularizer` into Plexus's config keys.
  private func weightPenalties(
    _ options: KerasOptions, into config: inout [String: JSONValue], kernel: String, bias: String
  ) throws {
    if let penalty = try regularizer(options, kernel + "_regularizer") {
      config["kernelRegularizer"] = penalty
    }
    if let penalty = try regularizer(options, bias + "_regularizer") {
      config["biasRegularizer"] = penalty
    }
  }

  private func padding(_ options: KerasOptions) throws -> JSONValue {
    let name = try options.string("padding", default: "valid").lowercased()
    guard name == "valid" || name == "same" else {
      throw options.fail("padding", "is '\(name)'; Plexus supports valid and same")
    }
    return .string(name)
  }

  /// Keras's `((top, bottom), (left, right))`, `(height, width)` or one amount.
  private func zeroPadding(_ options: KerasOptions) throws -> [Int] {
    let value = options.value("padding") ?? .number(1)
    func amount(_ item: JSONValue) throws -> Int {
      guard let number = KerasOptions.integer(item), number >= 0 else {
        throw options.fail("padding", "must hold non-negative integers")
      }
      return number
    }
    if KerasOptions.integer(value) != nil {
      let each = try amount(value)
      return [each, each, each, each]
    }
    guard let items = value.arrayItems, items.count == 2 else {
      throw options.fail("padding", "must be an integer, two integers or two pairs")
    }
    if let first = items[0].arrayItems, let second = items[1].arrayItems, first.count == 2,
      second.count == 2
    {
      return [
        try amount(first[0]), try amount(first[1]), try amount(second[0]), try amount(second[1]),
      ]
    }
    let (height, width) = (try amount(items[0]), try amount(items[1]))
    return [height, height, width, width]
  }

  /// `DepthwiseConv2D` and `SeparableConv2D`: Keras's variables are `depthwise_kernel`
  /// (Plexus's depthwise `kernel`), `pointwise_kernel` and `bias`, in Keras's layouts.
  private func depthwise(className: String, name: String, options: KerasOptions) throws
    -> ImportedLayer
  {
    let separable = className == "SeparableConv2D"
    let kernel = try options.extent("kernel_size", count: 2)
    var config: [String: JSONValue] = [
      "kernelSize": .array(kernel.map { .number(Double($0)) }),
      "strides": .array(
        try options.extent("strides", count: 2, default: [1, 1]).map { .number(Double($0)) }),
      "dilation": .array(
        try options.extent("dilation_rate", count: 2, default: [1, 1]).map {
          .number(Double($0))
        }),
      "padding": try padding(options),
      "depthMultiplier": .number(
        Double(try options.int("depth_multiplier", default: 1, in: 1...Int(Int32.max)))),
      "activation": try activation(options, "activation"),
    ]
    let useBias = try options.bool("use_bias", default: true)
    config["useBias"] = .bool(useBias)
    try options.require("data_format", in: [.null, .string("channels_last")])
    options.ignore("depthwise_initializer", "pointwise_initializer", "bias_initializer")
    try options.requireNull(
      "depthwise_constraint", "pointwise_constraint", "bias_constraint", "activity_regularizer")
    if let penalty = try regularizer(options, "bias_regularizer") {
      config["biasRegularizer"] = penalty
    }
    // Keras's variable names, and Plexus's parameter names where they differ.
    var kerasNames = separable ? ["depthwise_kernel"] : ["kernel"]
    var plexusNames = ["kernel"]
    if separable {
      config["filters"] = .number(Double(try options.int("filters", in: 1...Int(Int32.max))))
      for (keras, plexus) in [
        ("depthwise_regularizer", "depthwiseRegularizer"),
        ("pointwise_regularizer", "pointwiseRegularizer"),
      ] {
        if let penalty = try regularizer(options, keras) { config[plexus] = penalty }
      }
      kerasNames.append("pointwise_kernel")
      plexusNames = kerasNames
    } else if let penalty = try regularizer(options, "depthwise_regularizer") {
      config["kernelRegularizer"] = penalty
    }
    if useBias {
      kerasNames.append("bias")
      plexusNames.append("bias")
    }
    return ImportedLayer(
      kerasClass: className,
      description: LayerDescription(
        type: separable ? "plexus.separable_conv2d" : "plexus.depthwise_conv2d", name: name,
        config: .object(config)),
      variables: zip(plexusNames, kerasNames).enumerated().map { index, pair in
        KerasVariable(
          plexusPath: "\(name).\(pair.0)", keras3Path: "vars/\(index)", kerasName: pair.1,
          kerasAliases: !separable && index == 0 ? ["depthwise_kernel"] : [])
      }, readsSequenceMask: false, masksPaddingIds: false)
  }

  /// Batch normalization must normalize the last (channel) axis, as Plexus's does.
  private func batchNormalizationAxis(_ options: KerasOptions, buildShape: JSONValue?) throws {
    guard let value = options.value("axis") else { return }
    let axes = value.arrayItems ?? [value]
    guard axes.count == 1, let axis = KerasOptions.integer(axes[0]) else {
      throw options.fail("axis", "must be one axis, found \(KerasOptions.render(value))")
    }
    if axis == -1 { return }
    if let rank = buildShape?.arrayItems?.count, axis == rank - 1 { return }
    throw options.fail(
      "axis", "is \(axis); Plexus normalizes the last axis only (-1, channels last)")
  }

  // MARK: - Recurrent layers

  private func recurrent(className: String, name: String, options: KerasOptions) throws
    -> ImportedLayer
  {
    let units = try options.int("units", in: 1...Int(Int32.max))
    var config: [String: JSONValue] = [
      "units": .number(Double(units)),
      "returnSequences": .bool(try options.bool("return_sequences", default: false)),
      "returnState": .bool(try options.bool("return_state", default: false)),
      "goBackwards": .bool(try options.bool("go_backwards", default: false)),
    ]
    let activation = try self.activation(options, "activation")
    if className == "SimpleRNN" {
      guard activation == .string("tanh") || activation == .string("relu") else {
        throw options.fail("activation", "must be tanh or relu for a Plexus SimpleRNN")
      }
      config["activation"] = activation
    } else {
      guard activation == .string("tanh") else {
        throw options.fail("activation", "must be tanh; Plexus's \(className) uses tanh")
      }
      let gate = try self.activation(options, "recurrent_activation")
      guard gate == .string("sigmoid") else {
        throw options.fail(
          "recurrent_activation",
          "is \(KerasOptions.render(gate)); Plexus's \(className) gates use the sigmoid")
      }
    }
    if className == "LSTM" {
      config["unitForgetBias"] = .bool(try options.bool("unit_forget_bias", default: true))
    }
    if className == "GRU" {
      config["resetAfter"] = .bool(try options.bool("reset_after", default: true))
    }
    try options.require("use_bias", in: [.bool(true)])
    try options.require("stateful", in: [.bool(false)])
    try options.require("time_major", in: [.bool(false)])
    for (keras, plexus) in [("dropout", "dropout"), ("recurrent_dropout", "recurrentDropout")] {
      let rate = try options.number(keras, default: 0)
      guard rate >= 0, rate < 1 else { throw options.fail(keras, "must be in [0, 1)") }
      if rate != 0 { config[plexus] = .number(rate) }
    }
    // The seed of the dropout masks matters only with dropout.
    if config["dropout"] != nil || config["recurrentDropout"] != nil,
      let seed = options.value("seed"), seed != .null
    {
      guard let value = KerasOptions.integer(seed), value >= 0 else {
        throw options.fail("seed", "must be a non-negative integer")
      }
      config["seed"] = .number(Double(value))
    } else {
      options.ignore("seed")
    }
    let zeroOutput = try options.bool("zero_output_for_mask", default: false)
    if zeroOutput && modelHasMasks && config["returnSequences"] == .bool(true) {
      throw options.fail(
        "zero_output_for_mask",
        "is true in a model with masks; Plexus repeats the previous output at a masked step")
    }
    // Implementation choices that compute the same function.
    options.ignore("unroll", "implementation", "use_cudnn")
    options.ignore("kernel_initializer", "recurrent_initializer", "bias_initializer")
    try options.requireNull(
      "kernel_regularizer", "recurrent_regularizer", "bias_regularizer", "activity_regularizer",
      "kernel_constraint", "recurrent_constraint", "bias_constraint")
    let type = ["SimpleRNN": "plexus.simple_rnn", "LSTM": "plexus.lstm"][className] ?? "plexus.gru"
    return ImportedLayer(
      kerasClass: className,
      description: LayerDescription(type: type, name: name, config: .object(config)),
      variables: ["kernel", "recurrent_kernel", "bias"].enumerated().map {
        KerasVariable(plexusPath: "\(name).\($1)", keras3Path: "cell/vars/\($0)", kerasName: $1)
      }, readsSequenceMask: true, masksPaddingIds: false)
  }

  private func bidirectional(name: String, options: KerasOptions) throws -> ImportedLayer {
    guard let inner = options.value("layer") else { throw options.fail("layer", "is missing") }
    let forward = try translate(inner, context: options.context)
    guard ["SimpleRNN", "LSTM", "GRU"].contains(forward.kerasClass) else {
      throw options.fail("layer", "is a \(forward.kerasClass); Plexus wraps SimpleRNN, LSTM or GRU")
    }
    guard case .object(var forwardConfig) = forward.description.config else {
      throw options.fail("layer", "has no config")
    }
    guard forwardConfig["returnState"] != .bool(true) else {
      throw options.fail("layer", "returns its state; Plexus's Bidirectional does not")
    }
    if let backward = options.value("backward_layer"), backward != .null {
      // Plexus's backward direction is the forward layer's config with go_backwards flipped.
      let translated = try translate(backward, context: options.context)
      var expected = forwardConfig
      expected["goBackwards"] = .bool(forwardConfig["goBackwards"] != .bool(true))
      guard translated.kerasClass == forward.kerasClass,
        translated.description.config == .object(expected)
      else {
        throw options.fail(
          "backward_layer",
          "differs from the forward layer other than in go_backwards; Plexus's Bidirectional "
            + "runs the same layer both ways")
      }
    }
    let modes = ["concat": "concat", "sum": "sum", "ave": "average", "mul": "multiply"]
    let mode = try options.string("merge_mode", default: "concat")
    guard let merge = modes[mode] else {
      throw options.fail(
        "merge_mode", "is '\(mode)'; Plexus merges with concat, sum, ave or mul")
    }
    forwardConfig.removeValue(forKey: "name")
    let description = LayerDescription(
      type: "plexus.bidirectional", name: name,
      config: .object([
        "layer": try JSONValue(
          encoding: LayerDescription(
            type: forward.description.type, name: "forward", config: .object(forwardConfig))),
        "mergeMode": .string(merge),
      ]))
    let names = ["kernel", "recurrent_kernel", "bias"]
    let variables = ["forward", "backward"].flatMap { direction in
      names.enumerated().map { index, variable in
        KerasVariable(
          plexusPath: "\(name).\(direction).\(variable)",
          keras3Path: "\(direction)_layer/cell/vars/\(index)", kerasName: variable)
      }
    }
    return ImportedLayer(
      kerasClass: "Bidirectional", description: description, variables: variables,
      readsSequenceMask: true, masksPaddingIds: false)
  }
}
