import Foundation
import PlexusCore

/// A tensor of a PyTorch module's state dict, as a Plexus layer expects it.
struct TorchParameter: Equatable {
  /// The name after the module's (`weight`, `bias`, `running_mean`, `weight_ih`; recurrent
  /// names without their `_l0`).
  var suffix: String
  /// The shape PyTorch stores.
  var shape: [Int]
  /// The element type PyTorch stores.
  var dtype: WeightDType = .f32
  /// Whether a state dict may leave it out (PyTorch's `bias=False` of a recurrent layer, the
  /// batch counter of a batch normalization).
  var isOptional = false
  /// The Plexus parameter it becomes (`nil`: not kept).
  var target: String?
  /// How it becomes that parameter, for the report (`transposed`).
  var note: String
}

/// The conventions between Plexus layers and the `torch.nn` modules that compute the same
/// function (see `Formats/conversions.md`): names, layouts, gate orders, biases.
enum PyTorchLayout {
  /// The recurrent suffixes that carry a layer index (`weight_ih_l0`).
  static let recurrentSuffixes: Set<String> = ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]

  /// The state-dict tensors of the module equivalent to `layer`.
  ///
  /// - Throws: `InteropError` for a layer with no PyTorch equivalent, or a config PyTorch cannot
  ///   express.
  static func parameters(of layer: ParameterLayer) throws -> [TorchParameter] {
    func shape(_ name: String) throws -> [Int] {
      guard let parameter = layer.parameter(name) else {
        throw InteropError("layer '\(layer.path)' has no parameter '\(name)'")
      }
      return parameter.value.shape
    }
    let hasBias = layer.parameter("bias") != nil
    switch layer.typeName {
    case "plexus.dense":
      let kernel = try shape("kernel")
      let note =
        layer.flattenedSpatialShape.map {
          "transposed, rows from channels-first order (C=\($0.last!), \($0.dropLast()))"
        } ?? "transposed"
      return [
        TorchParameter(
          suffix: "weight", shape: [kernel[1], kernel[0]], target: "kernel", note: note)
      ]
        + (hasBias
          ? [TorchParameter(suffix: "bias", shape: try shape("bias"), target: "bias", note: "")]
          : [])
    case "plexus.conv2d":
      let kernel = try shape("kernel")  // [KH, KW, C, F]
      return [
        TorchParameter(
          suffix: "weight", shape: [kernel[3], kernel[2], kernel[0], kernel[1]], target: "kernel",
          note: "OIHW to HWIO")
      ]
        + (hasBias
          ? [TorchParameter(suffix: "bias", shape: try shape("bias"), target: "bias", note: "")]
          : [])
    case "plexus.conv1d":
      let kernel = try shape("kernel")  // [K, C, F]
      return [
        TorchParameter(
          suffix: "weight", shape: [kernel[2], kernel[1], kernel[0]], target: "kernel",
          note: "OIK to KIO")
      ]
        + (hasBias
          ? [TorchParameter(suffix: "bias", shape: try shape("bias"), target: "bias", note: "")]
          : [])
    case "plexus.batch_normalization":
      let gamma = layer.parameter("gamma") != nil
      let beta = layer.parameter("beta") != nil
      guard gamma == beta else {
        throw InteropError(
          "layer '\(layer.path)': PyTorch's batch normalization has both a scale and an offset "
            + "(affine=True) or neither; this one has only its "
            + (gamma ? "scale" : "offset"))
      }
      let channels = try shape("moving_mean")
      return
        (gamma
        ? [
          TorchParameter(suffix: "weight", shape: channels, target: "gamma", note: ""),
          TorchParameter(suffix: "bias", shape: channels, target: "beta", note: ""),
        ] : [])
        + [
          TorchParameter(suffix: "running_mean", shape: channels, target: "moving_mean", note: ""),
          TorchParameter(
            suffix: "running_var", shape: channels, target: "moving_variance", note: ""),
          TorchParameter(
            suffix: "num_batches_tracked", shape: [], dtype: .i64, isOptional: true, target: nil,
            note: "PyTorch's batch counter, not kept"),
        ]
    case "plexus.lstm", "plexus.gru", "plexus.simple_rnn":
      let kernel = try shape("kernel")  // [F, gates * H]
      let recurrent = try shape("recurrent_kernel")  // [H, gates * H]
      let width = kernel[1]
      try checkDirection(of: layer)
      var gateNote = ""
      if layer.typeName == "plexus.gru" {
        guard case .object(let config) = layer.config, config["resetAfter"] != .bool(false) else {
          throw InteropError(
            "layer '\(layer.path)': PyTorch's GRU applies the reset gate after the recurrent "
              + "product; set \"resetAfter\": true")
        }
        gateNote = ", gates r, z, n to z, r, h"
      }
      let summed = layer.typeName != "plexus.gru"
      return [
        TorchParameter(
          suffix: "weight_ih", shape: [width, kernel[0]], target: "kernel",
          note: "transposed" + gateNote),
        TorchParameter(
          suffix: "weight_hh", shape: [width, recurrent[0]], target: "recurrent_kernel",
          note: "transposed" + gateNote),
        TorchParameter(
          suffix: "bias_ih", shape: [width], isOptional: true, target: "bias",
          note: summed ? "summed with bias_hh" : "bias row 0" + gateNote),
        TorchParameter(
          suffix: "bias_hh", shape: [width], isOptional: true, target: "bias",
          note: summed ? "summed with bias_ih" : "bias row 1" + gateNote),
      ]
    case "plexus.embedding":
      return [
        TorchParameter(
          suffix: "weight", shape: try shape("embeddings"), target: "embeddings", note: "")
      ]
    case _ where convolutionTypes.contains(layer.typeName):
      return try convolutionParameters(of: layer)
    default:
      throw InteropError(
        "layer '\(layer.path)' (\(layer.typeName)) has no PyTorch equivalent in Plexus's "
          + "conversions")
    }
  }

  /// The Plexus parameter values from the module's tensors (by suffix), which must have the
  /// shapes `parameters(of:)` gives.
  ///
  /// - Throws: `InteropError` when a required tensor is missing.
  static func plexusValues(of layer: ParameterLayer, from tensors: [String: Tensor]) throws
    -> [String: Tensor]
  {
    func tensor(_ suffix: String) throws -> Tensor {
      guard let tensor = tensors[suffix] else {
        throw InteropError("layer '\(layer.path)' needs the PyTorch tensor '\(suffix)'")
      }
      return tensor
    }
    var values: [String: Tensor] = [:]
    switch layer.typeName {
    case "plexus.dense":
      var kernel = try tensor("weight").transposed()
      if let spatial = layer.flattenedSpatialShape {
        kernel = try channelsFirstRows(kernel, spatial: spatial, toChannelsLast: true)
      }
      values["kernel"] = kernel
      if let bias = tensors["bias"] { values["bias"] = bias }
    case "plexus.conv2d":
      values["kernel"] = try tensor("weight").transposed(permutation: [2, 3, 1, 0])
      if let bias = tensors["bias"] { values["bias"] = bias }
    case "plexus.conv1d":
      values["kernel"] = try tensor("weight").transposed(permutation: [2, 1, 0])
      if let bias = tensors["bias"] { values["bias"] = bias }
    case "plexus.batch_normalization":
      if let gamma = tensors["weight"] { values["gamma"] = gamma }
      if let beta = tensors["bias"] { values["beta"] = beta }
      values["moving_mean"] = try tensor("running_mean")
      values["moving_variance"] = try tensor("running_var")
    case "plexus.lstm", "plexus.simple_rnn":
      values["kernel"] = try tensor("weight_ih").transposed()
      values["recurrent_kernel"] = try tensor("weight_hh").transposed()
      let width = values["kernel"]!.shape[1]
      values["bias"] =
        try (tensors["bias_ih"] ?? Tensor.zeros([width]))
        + (tensors["bias_hh"] ?? Tensor.zeros([width]))
    case "plexus.gru":
      values["kernel"] = try gruBlocks(try tensor("weight_ih")).transposed()
      values["recurrent_kernel"] = try gruBlocks(try tensor("weight_hh")).transposed()
      let width = values["kernel"]!.shape[1]
      let rows = try [tensors["bias_ih"], tensors["bias_hh"]].map {
        try gruBlocks($0 ?? Tensor.zeros([width])).reshaped([1, width])
      }
      values["bias"] = try Tensor.concatenate(rows, axis: 0)
    case "plexus.embedding":
      values["embeddings"] = try tensor("weight")
    case _ where convolutionTypes.contains(layer.typeName):
      values = try convolutionPlexusValues(
        of: layer, weight: try tensor("weight"), bias: tensors["bias"])
    default:
      _ = try parameters(of: layer)
    }
    return values
  }

  /// The module's tensors (by suffix, in state-dict order) from the layer's values.
  ///
  /// - Throws: `InteropError` for a layer with no PyTorch equivalent.
  static func torchValues(of layer: ParameterLayer) throws -> [(suffix: String, tensor: Tensor)] {
    func value(_ name: String) throws -> Tensor {
      guard let parameter = layer.parameter(name) else {
        throw InteropError("layer '\(layer.path)' has no parameter '\(name)'")
      }
      return parameter.value
    }
    let specs = try parameters(of: layer)
    var values: [String: Tensor] = [:]
    switch layer.typeName {
    case "plexus.dense":
      var kernel = try value("kernel")
      if let spatial = layer.flattenedSpatialShape {
        kernel = try channelsFirstRows(kernel, spatial: spatial, toChannelsLast: false)
      }
      values["weight"] = try kernel.transposed()
      values["bias"] = layer.parameter("bias")?.value
    case "plexus.conv2d":
      values["weight"] = try value("kernel").transposed(permutation: [3, 2, 0, 1])
      values["bias"] = layer.parameter("bias")?.value
    case "plexus.conv1d":
      values["weight"] = try value("kernel").transposed(permutation: [2, 1, 0])
      values["bias"] = layer.parameter("bias")?.value
    case "plexus.batch_normalization":
      values["weight"] = layer.parameter("gamma")?.value
      values["bias"] = layer.parameter("beta")?.value
      values["running_mean"] = try value("moving_mean")
      values["running_var"] = try value("moving_variance")
      values["num_batches_tracked"] = Tensor.zeros([])
    case "plexus.lstm", "plexus.simple_rnn":
      values["weight_ih"] = try value("kernel").transposed()
      values["weight_hh"] = try value("recurrent_kernel").transposed()
      values["bias_ih"] = try value("bias")
      values["bias_hh"] = Tensor.zeros(try value("bias").shape)
    case "plexus.gru":
      values["weight_ih"] = try gruBlocks(try value("kernel").transposed())
      values["weight_hh"] = try gruBlocks(
        try value("recurrent_kernel").transposed())
      let rows = try value("bias").split(axis: 0, count: 2)
      let width = rows[0].count
      values["bias_ih"] = try gruBlocks(try rows[0].reshaped([width]))
      values["bias_hh"] = try gruBlocks(try rows[1].reshaped([width]))
    case "plexus.embedding":
      values["weight"] = try value("embeddings")
    case _ where convolutionTypes.contains(layer.typeName):
      values = try convolutionTorchValues(of: layer)
    default:
      break
    }
    return specs.compactMap { spec in values[spec.suffix].map { (spec.suffix, $0) } }
  }

  /// A dense kernel `[inputs, units]` whose rows follow a flattened channels-first tensor
  /// (`C, d1, ..., dk`), reordered to the channels-last order (`d1, ..., dk, C`), or back.
  static func channelsFirstRows(_ kernel: Tensor, spatial: [Int], toChannelsLast: Bool) throws
    -> Tensor
  {
    let units = kernel.shape[1]
    let channels = spatial.last!
    let positions = Array(spatial.dropLast())
    let k = positions.count
    if toChannelsLast {
      let split = try kernel.reshaped([channels] + positions + [units])
      return try split.transposed(permutation: Array(1...k) + [0, k + 1]).reshaped(kernel.shape)
    }
    let split = try kernel.reshaped(positions + [channels, units])
    return try split.transposed(permutation: [k] + Array(0..<k) + [k + 1]).reshaped(kernel.shape)
  }

  /// Swaps the first two of three equal blocks along axis 0: PyTorch's GRU gates r, z, n
  /// become Plexus's z, r, h, and back (the swap is its own inverse).
  static func gruBlocks(_ tensor: Tensor) throws -> Tensor {
    let blocks = try tensor.split(axis: 0, count: 3)
    return try Tensor.concatenate([blocks[1], blocks[0], blocks[2]], axis: 0)
  }
}
