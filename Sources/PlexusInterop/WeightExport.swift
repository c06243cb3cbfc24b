import Foundation
import PlexusCore

/// A model's parameters as the tensors of another layout.
public enum WeightExport {
  /// The model's parameters as named tensors in `layout`, in the model's order.
  ///
  /// With the Plexus layout each parameter is stored under its path (or the name `mapping`
  /// gives that path). With the PyTorch layout each layer becomes the state-dict tensors of its
  /// `torch.nn` module, transposed and reordered as PyTorch stores them, named
  /// `<layer path>.<tensor>` (`dense_1.weight`, `lstm_1.weight_ih_l0`), or after the module a
  /// mapping file gives the layer (the same file that imports: `fc1.weight` for `dense_1`
  /// names the module `fc1`); a batch normalization's `num_batches_tracked` is written as an
  /// int64 0.
  ///
  /// - Throws: `InteropError` for a layer with no PyTorch equivalent or a mapping that does
  ///   not name every exported tensor.
  public static func tensors(
    of model: any ModelProtocol, layout: WeightLayout, mapping: WeightMapping? = nil
  ) throws -> [TypedTensor] {
    let layers = try ParameterLayer.layers(of: model)
    switch layout {
    case .plexus:
      var names: [String: String] = [:]
      for (name, path) in mapping?.entries ?? [] {
        guard let path else { continue }
        guard names.updateValue(name, forKey: path) == nil else {
          throw InteropError("the mapping sends two tensors to '\(path)'")
        }
      }
      return try layers.flatMap { layer in
        try layer.parameters.map { entry in
          let path = "\(layer.path).\(entry.name)"
          guard mapping == nil || names[path] != nil else {
            throw InteropError("the mapping names no tensor for parameter '\(path)'")
          }
          return TypedTensor(name: names[path] ?? path, tensor: entry.parameter.value)
        }
      }
    case .keras:
      guard mapping == nil else {
        throw InteropError(
          "the Keras layout names every tensor itself; a mapping file applies to the plexus "
            + "and pytorch layouts")
      }
      return try KerasWeightLayout.tensors(of: model)
    case .sklearn:
      guard mapping == nil else {
        throw InteropError(
          "the scikit-learn layout names its three tensors itself; leave out the mapping file")
      }
      return try ScikitLearnLayout.exportTensors(layers)
    case .pytorch:
      let modules = try mapping.map { try moduleNames($0, layers: layers) } ?? [:]
      return try layers.flatMap { layer in
        // Both directions of a bidirectional RNN are one PyTorch module.
        let module = modules[layer.path] ?? (layer.bidirectionalWrapper ?? layer.path, nil)
        guard mapping == nil || modules[layer.path] != nil else {
          throw InteropError("the mapping names no tensor of layer '\(layer.path)'")
        }
        let specs = try PyTorchLayout.parameters(of: layer)
        return try PyTorchLayout.torchValues(of: layer).map { suffix, tensor in
          let direction = layer.isReverseDirection ? "_reverse" : ""
          let index =
            PyTorchLayout.recurrentSuffixes.contains(suffix)
            ? "_l\(module.layerIndex ?? 0)\(direction)" : ""
          let dtype = specs.first { $0.suffix == suffix }?.dtype ?? .f32
          return TypedTensor(
            name: "\(module.name).\(suffix)\(index)", tensor: tensor, dtype: dtype)
        }
      }
    }
  }

  /// The PyTorch module (and recurrent layer index) a mapping file names for each layer.
  private static func moduleNames(_ mapping: WeightMapping, layers: [ParameterLayer]) throws
    -> [String: (name: String, layerIndex: Int?)]
  {
    let paths = Set(layers.map(\.path))
    var result: [String: (name: String, layerIndex: Int?)] = [:]
    for (name, path) in mapping.entries {
      guard let path else { continue }
      var layer = path
      if !paths.contains(path), let dot = path.lastIndex(of: ".") { layer = String(path[..<dot]) }
      guard paths.contains(layer) else {
        throw InteropError("the mapping sends '\(name)' to '\(path)', which is no layer")
      }
      let parts = name.split(separator: ".", omittingEmptySubsequences: false)
      let module = parts.dropLast().joined(separator: ".")
      var index: Int?
      var last = String(parts.last ?? "")
      if last.hasSuffix("_reverse") { last.removeLast("_reverse".count) }
      if let range = last.range(of: "_l", options: .backwards),
        PyTorchLayout.recurrentSuffixes.contains(String(last[..<range.lowerBound]))
      {
        index = Int(last[range.upperBound...])
      }
      if let known = result[layer], known.name != module || known.layerIndex != index {
        throw InteropError(
          "the mapping gives layer '\(layer)' two PyTorch modules: '\(known.name)' and "
            + "'\(module)'")
      }
      result[layer] = (module, index)
    }
    return result
  }

  /// Writes the model's parameters in `layout` to `url` as safetensors, `.npz` or a PyTorch
  /// state dict (`format`, or the one the extension names), atomically. Safetensors files carry
  /// `metadata`; floating-point tensors are stored as `dtype` (F32, F16 or BF16; `.npz` is
  /// F32).
  ///
  /// - Throws: as `tensors(of:layout:mapping:)`; `InteropError` for another extension or
  ///   dtype; `PlexusError.io` when the file cannot be written.
  public static func write(
    _ model: any ModelProtocol, layout: WeightLayout, mapping: WeightMapping? = nil,
    dtype: WeightDType = .f32, metadata: [String: String] = [:], format: WeightFileFormat? = nil,
    to url: URL
  ) throws -> [TypedTensor] {
    guard WeightDType.writable.contains(dtype) else {
      throw InteropError("weights are written as F32, F16 or BF16, not \(dtype.rawValue)")
    }
    var tensors = try tensors(of: model, layout: layout, mapping: mapping)
    switch format ?? WeightFileFormat(pathExtension: url.pathExtension) {
    case .safetensors?:
      for index in tensors.indices where tensors[index].dtype == .f32 {
        tensors[index].dtype = dtype
      }
      try SafeTensorsFile.write(tensors, metadata: metadata, to: url)
    case .pytorch?:
      for index in tensors.indices where tensors[index].dtype == .f32 {
        tensors[index].dtype = dtype
      }
      try PyTorchWriter.write(tensors, to: url)
    case .npz?:
      guard dtype == .f32 else { throw InteropError(".npz weights are written as F32 only") }
      try NumPyArchive.write(
        try tensors.map { item in
          (name: item.name, array: try NumPyArray(item.tensor, as: item.dtype))
        }, to: url)
    default:
      throw InteropError(
        "\(url.path): weights are written as .safetensors, .npz, .pt or .pth")
    }
    return tensors
  }
}

extension NumPyArray {
  /// The tensor's values as an array of `dtype`.
  ///
  /// - Throws: `InteropError` when NumPy has no such type or a value does not fit it.
  init(_ tensor: Tensor, as dtype: WeightDType) throws {
    guard let numpy = dtype.numpy else {
      throw InteropError("NumPy has no \(dtype.rawValue) arrays")
    }
    var bytes = Data(capacity: tensor.count * dtype.size)
    try tensor.withUnsafeBufferPointer { values in
      for value in values { try ElementDecoding.append(value, as: dtype, to: &bytes) }
    }
    try self.init(shape: tensor.shape, dtype: numpy, elementBytes: bytes)
  }
}
