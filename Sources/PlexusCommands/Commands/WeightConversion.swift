import Foundation
import Plexus
import PlexusInterop

/// The file formats `plexus convert` reads and writes, told by the file's extension or `--to`.
enum ConvertFormat: String, CaseIterable {
  case plexus
  case safetensors
  case npz
  case pytorch

  /// The weight-file format, for every format but `.plexus`.
  var weightFormat: WeightFileFormat? {
    switch self {
    case .plexus: nil
    case .safetensors: .safetensors
    case .npz: .npz
    case .pytorch: .pytorch
    }
  }

  /// - Throws: `PlexusError.invalidArgument` for an extension that names no supported format.
  init(of path: String) throws {
    let pathExtension = URL(fileURLWithPath: path).pathExtension
    if pathExtension.lowercased() == "plexus" {
      self = .plexus
    } else if let format = WeightFileFormat(pathExtension: pathExtension) {
      self = Self(rawValue: format.rawValue)!
    } else {
      throw PlexusError.invalidArgument(
        "\(path): unknown format; plexus convert reads .plexus, .safetensors, .npz, .pt and "
          + ".pth files and writes them too")
    }
  }
}

/// `.plexus` to and from weight files (safetensors, NumPy `.npz`, PyTorch state dicts), and
/// `plexus inspect` of weight files.
public enum WeightConversion {
  /// The metadata key under which the architecture (the root layer's description) is stored.
  static let architectureKey = "plexus.architecture"
  /// The metadata key naming the layout of an exported file's tensors.
  static let layoutKey = "plexus.layout"

  /// Prints a weight file's tensors (name, dtype, shape, bytes, storage), its metadata keys (or
  /// a PyTorch file's plain values) and the architecture's root type when the file carries
  /// one; as JSON with sorted keys with `json`.
  ///
  /// - Throws: the format's error for a malformed file.
  @discardableResult
  public static func inspect(path: String, json: Bool, console: any Console) throws -> WeightFile {
    let file = try WeightFile(contentsOf: URL(fileURLWithPath: path))
    var architectureType: String?
    if let text = file.metadata[architectureKey],
      let description = try? JSONDecoder().decode(LayerDescription.self, from: Data(text.utf8))
    {
      architectureType = description.type
    }
    let isPyTorch = file.format == .pytorch
    if json {
      var report: [String: JSONValue] = [
        "format": .string(file.format.rawValue),
        "tensors": .array(
          file.tensors.map { tensor in
            var entry: [String: JSONValue] = [
              "name": .string(tensor.name), "dtype": .string(tensor.dtype.rawValue),
              "shape": .array(tensor.shape.map { .number(Double($0)) }),
              "bytes": .number(Double(tensor.shape.reduce(1, *) * tensor.dtype.size)),
            ]
            if let storage = tensor.storage { entry["storage"] = .string(storage) }
            return .object(entry)
          }),
      ]
      if isPyTorch {
        report["values"] = .object(file.metadata.mapValues { .string($0) })
      } else {
        report["metadataKeys"] = .array(file.metadata.keys.sorted().map { .string($0) })
      }
      if let architectureType { report["architecture"] = .string(architectureType) }
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
      console.write(
        String(decoding: try encoder.encode(JSONValue.object(report)), as: UTF8.self) + "\n")
      return file
    }
    console.line("\(path): \(file.format.rawValue), \(file.tensors.count) tensors")
    let width = max(file.tensors.map(\.name.count).max() ?? 0, 4)
    for tensor in file.tensors {
      console.line(
        "  " + tensor.name.padding(toLength: width, withPad: " ", startingAt: 0) + "  "
          + tensor.dtype.rawValue.padding(toLength: 5, withPad: " ", startingAt: 0)
          + "  \(tensor.shape)  \(tensor.shape.reduce(1, *) * tensor.dtype.size) bytes"
          + (tensor.storage.map { "  \($0)" } ?? ""))
    }
    if isPyTorch {
      for key in file.metadata.keys.sorted() { console.line("  \(key) = \(file.metadata[key]!)") }
    } else if !file.metadata.isEmpty {
      console.line("metadata: " + file.metadata.keys.sorted().joined(separator: ", "))
    }
    if let architectureType { console.line("architecture: \(architectureType)") }
    return file
  }

  /// Writes the model's parameters in the settings' layout (Plexus paths by default), in the
  /// model's order; safetensors files get the architecture and the layout in their metadata.
  static func export(_ settings: ConvertSettings, format: ConvertFormat, console: any Console)
    throws
  {
    if settings.codec != nil || settings.compressionLevel != nil {
      throw PlexusError.invalidArgument("--codec and --level apply to .plexus output only")
    }
    // A state dict is for torch's load_state_dict: PyTorch's layout, and no metadata.
    if format == .pytorch, let layout = settings.layout, layout != .pytorch {
      throw PlexusError.invalidArgument(
        ".pt and .pth files are written in PyTorch's layout (--layout pytorch), not "
          + "\(layout.rawValue)'s")
    }
    let dtype: WeightDType
    switch settings.dtype {
    case nil, .f32?: dtype = .f32
    case .f16? where format != .npz: dtype = .f16
    case .bf16? where format != .npz: dtype = .bf16
    case let other?:
      throw PlexusError.invalidArgument(
        format != .npz
          ? "\(format == .safetensors ? "safetensors" : "PyTorch") output is f32, f16 or bf16, not \(other.rawValue)"
          : ".npz output is f32, not \(other.rawValue)")
    }
    let layout = settings.layout ?? (format == .pytorch ? .pytorch : .plexus)
    let mapping = try settings.mappingPath.map {
      try WeightMapping(contentsOf: URL(fileURLWithPath: $0))
    }
    let file = try PlexusFile(contentsOf: URL(fileURLWithPath: settings.inputPath))
    let model = try file.loadModel(registry: .standard())
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    let architecture = String(decoding: try encoder.encode(file.architecture), as: UTF8.self)
    var metadata = [architectureKey: architecture]
    if layout == .pytorch, format != .pytorch {
      metadata[layoutKey] = layout.rawValue
      metadata["format"] = "pt"
    }
    if layout == .keras { metadata[layoutKey] = layout.rawValue }
    let tensors = try WeightExport.write(
      model, layout: layout, mapping: mapping, dtype: dtype, metadata: metadata,
      format: format.weightFormat, to: URL(fileURLWithPath: settings.outputPath))
    console.line(
      "Wrote \(settings.outputPath): \(tensors.count) tensors as \(dtype.rawValue)"
        + (layout == .pytorch ? ", PyTorch layout" : layout == .keras ? ", Keras layout" : "")
        + (format == .safetensors
          ? ", architecture '\(file.architecture.type)' in the metadata" : ""))
  }

  /// Builds the architecture (from the file's metadata or `--architecture`), assigns the
  /// tensors to its parameters in the settings' layout (PyTorch's for `.pt`, else the one the
  /// file's metadata names, else Plexus's) and saves it.
  static func `import`(_ settings: ConvertSettings, console: any Console) throws {
    if settings.codec != nil || settings.compressionLevel != nil || settings.dtype != nil {
      // The .plexus defaults apply; a second convert changes them.
      throw PlexusError.invalidArgument(
        "--codec, --dtype and --level apply to .plexus input; convert the result again to change them"
      )
    }
    let (model, report) = try loadModel(
      weightsPath: settings.inputPath, architecturePath: settings.architecturePath,
      layout: settings.layout, mappingPath: settings.mappingPath)
    try model.save(to: URL(fileURLWithPath: settings.outputPath))
    console.line(
      "Wrote \(settings.outputPath): \(report.assignments.count) tensors matched "
        + (report.isByName
          ? "by name"
          : report.method + (report.layout == .pytorch ? ", PyTorch layout" : "") + ":"))
    if !report.isByName {
      for line in report.table { console.line("  \(line)") }
    }
    for warning in report.warnings { console.line("note: \(warning)") }
  }

  /// A model built from a weight file and an architecture (`architecturePath`, or the file's
  /// metadata), its tensors matched to the parameters in `layout` (by default PyTorch's for
  /// `.pt` files, else the layout the file's metadata names, else Plexus's) or as the mapping
  /// file says.
  ///
  /// - Throws: `PlexusError.invalidArgument` when no architecture is known; the reader's and
  ///   the matching's errors.
  public static func loadModel(
    weightsPath: String, architecturePath: String?, layout: WeightLayout?, mappingPath: String?
  ) throws -> (any ModelProtocol, WeightImportReport) {
    let weights = try WeightFile(contentsOf: URL(fileURLWithPath: weightsPath))
    let model = try architecture(
      for: weights, path: weightsPath, architecturePath: architecturePath)
    // A file holding a BernoulliRBM's components_ and intercepts is scikit-learn's.
    let chosen =
      layout
      ?? (weights.format == .pytorch
        ? .pytorch
        : weights.metadata[layoutKey].flatMap(WeightLayout.init(rawValue:))
          ?? (WeightImport.isScikitLearnRBM(weights) ? .sklearn : .plexus))
    let mapping = try mappingPath.map { try WeightMapping(contentsOf: URL(fileURLWithPath: $0)) }
    let report = try WeightImport.load(weights, into: model, layout: chosen, mapping: mapping)
    return (model, report)
  }

  private static func architecture(
    for weights: WeightFile, path weightsPath: String, architecturePath: String?
  ) throws -> any ModelProtocol {
    let registry = LayerRegistry.standard()
    if let path = architecturePath {
      let url = URL(fileURLWithPath: path)
      if url.pathExtension.lowercased() == "json" {
        let spec = try TrainingSpec.load(contentsOf: url)
        guard let shape = spec.inputShape else {
          throw PlexusError.invalidArgument(
            "\(path): the spec needs an inputShape to build the architecture without its data")
        }
        return try spec.buildModel(registry: registry, inputShape: shape)
      }
      return try PlexusFile(contentsOf: url).loadModel(registry: registry)
    }
    guard let text = weights.metadata[architectureKey] else {
      throw PlexusError.invalidArgument(
        "\(weightsPath) holds weights only (no '\(architectureKey)' metadata); give the "
          + "architecture with --architecture (a .plexus file or a training spec)")
    }
    let description: LayerDescription
    do {
      description = try JSONDecoder().decode(LayerDescription.self, from: Data(text.utf8))
    } catch {
      throw PlexusError.invalidData(
        "\(weightsPath): the '\(architectureKey)' metadata is not a layer description: \(error)")
    }
    let layer = try registry.makeLayer(from: description)
    guard let model = layer as? any ModelProtocol else {
      throw PlexusError.invalidData(
        "\(weightsPath): the architecture's root '\(description.type)' is not a model")
    }
    if let sequential = model as? Sequential { try sequential.build(seed: 0) }
    return model
  }
}

/// The name `plexus inspect` of safetensors files had first.
public typealias SafeTensorsConversion = WeightConversion
