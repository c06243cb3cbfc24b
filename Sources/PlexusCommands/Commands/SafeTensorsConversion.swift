import Foundation
import Plexus
import PlexusInterop

/// The file formats `plexus convert` reads and writes, told by the file's extension.
enum ConvertFormat {
  case plexus
  case safetensors

  /// - Throws: `PlexusError.invalidArgument` for an extension that names no supported format.
  init(of path: String) throws {
    switch URL(fileURLWithPath: path).pathExtension.lowercased() {
    case "plexus": self = .plexus
    case "safetensors": self = .safetensors
    default:
      throw PlexusError.invalidArgument(
        "\(path): unknown format; plexus convert reads and writes .plexus and .safetensors files")
    }
  }
}

/// `.plexus` to and from safetensors, and `plexus inspect` of safetensors files.
public enum SafeTensorsConversion {
  /// The metadata key under which the architecture (the root layer's description) is stored.
  static let architectureKey = "plexus.architecture"

  /// Prints a safetensors file's tensors (name, dtype, shape, bytes), its metadata keys and the
  /// architecture's root type when the file carries one; as JSON with sorted keys with `json`.
  ///
  /// - Throws: `SafeTensorsError` for a malformed file.
  @discardableResult
  public static func inspect(path: String, json: Bool, console: any Console) throws
    -> SafeTensorsFile
  {
    let file = try SafeTensorsFile(contentsOf: URL(fileURLWithPath: path))
    var architectureType: String?
    if let text = file.metadata[architectureKey],
      let description = try? JSONDecoder().decode(LayerDescription.self, from: Data(text.utf8))
    {
      architectureType = description.type
    }
    if json {
      var report: [String: JSONValue] = [
        "format": .string("safetensors"),
        "tensors": .array(
          file.entries.map { entry in
            .object([
              "name": .string(entry.name), "dtype": .string(entry.dtype.rawValue),
              "shape": .array(entry.shape.map { .number(Double($0)) }),
              "bytes": .number(Double(entry.byteRange.count)),
            ])
          }),
        "metadataKeys": .array(file.metadata.keys.sorted().map { .string($0) }),
      ]
      if let architectureType { report["architecture"] = .string(architectureType) }
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
      console.write(
        String(decoding: try encoder.encode(JSONValue.object(report)), as: UTF8.self) + "\n")
      return file
    }
    console.line("\(path): safetensors, \(file.entries.count) tensors")
    let width = max(file.entries.map(\.name.count).max() ?? 0, 4)
    for entry in file.entries {
      console.line(
        "  " + entry.name.padding(toLength: width, withPad: " ", startingAt: 0) + "  "
          + entry.dtype.rawValue.padding(toLength: 5, withPad: " ", startingAt: 0)
          + "  \(entry.shape)  \(entry.byteRange.count) bytes")
    }
    if !file.metadata.isEmpty {
      console.line("metadata: " + file.metadata.keys.sorted().joined(separator: ", "))
    }
    if let architectureType { console.line("architecture: \(architectureType)") }
    return file
  }

  /// Writes the model's parameters under their Plexus paths, in the model's order, with the
  /// architecture in the metadata.
  static func export(_ settings: ConvertSettings, console: any Console) throws {
    if settings.codec != nil || settings.compressionLevel != nil {
      throw PlexusError.invalidArgument("--codec and --level apply to .plexus output only")
    }
    let dtype: SafeTensorsDType
    switch settings.dtype {
    case nil, .f32?: dtype = .f32
    case .f16?: dtype = .f16
    case .bf16?: dtype = .bf16
    case let other?:
      throw PlexusError.invalidArgument(
        "safetensors output is f32, f16 or bf16, not \(other.rawValue)")
    }
    let file = try PlexusFile(contentsOf: URL(fileURLWithPath: settings.inputPath))
    let model = try file.loadModel(registry: .standard())
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    let architecture = String(decoding: try encoder.encode(file.architecture), as: UTF8.self)
    // The paths of the .plexus file: without the root model's own name.
    let tensors = try model.builtGraph().namedParameters(prefix: "").map {
      ($0.path, $0.parameter.value)
    }
    try SafeTensorsFile.write(
      tensors, metadata: [architectureKey: architecture], dtype: dtype,
      to: URL(fileURLWithPath: settings.outputPath))
    console.line(
      "Wrote \(settings.outputPath): \(tensors.count) tensors as \(dtype.rawValue), architecture "
        + "'\(file.architecture.type)' in the metadata")
  }

  /// Builds the architecture (from the file's metadata or `--architecture`), assigns the
  /// tensors to its parameters and saves it.
  static func `import`(_ settings: ConvertSettings, console: any Console) throws {
    if settings.codec != nil || settings.compressionLevel != nil || settings.dtype != nil {
      // The .plexus defaults apply; a second convert changes them.
      throw PlexusError.invalidArgument(
        "--codec, --dtype and --level apply to .plexus input; convert the result again to change them"
      )
    }
    let weights = try SafeTensorsFile(contentsOf: URL(fileURLWithPath: settings.inputPath))
    let model = try architecture(for: weights, settings: settings)
    let parameters = try model.builtGraph().namedParameters(prefix: "")
    let mapping = try match(weights: weights, parameters: parameters, source: settings.inputPath)
    for (entry, parameter) in mapping {
      try parameter.parameter.assign(try weights.tensor(entry))
    }
    try model.save(to: URL(fileURLWithPath: settings.outputPath))
    let byName = zip(mapping, parameters).allSatisfy { $0.0.0.name == $0.1.path }
    console.line(
      "Wrote \(settings.outputPath): \(mapping.count) tensors matched "
        + (byName ? "by name" : "by order and shape:"))
    if !byName {
      for (entry, parameter) in mapping {
        console.line("  \(entry.name) \(entry.shape) -> \(parameter.path)")
      }
    }
  }

  private static func architecture(for weights: SafeTensorsFile, settings: ConvertSettings)
    throws -> any ModelProtocol
  {
    let registry = LayerRegistry.standard()
    if let path = settings.architecturePath {
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
        "\(settings.inputPath) holds weights only (no '\(architectureKey)' metadata); give the "
          + "architecture with --architecture (a .plexus file or a training spec)")
    }
    let description: LayerDescription
    do {
      description = try JSONDecoder().decode(LayerDescription.self, from: Data(text.utf8))
    } catch {
      throw PlexusError.invalidData(
        "\(settings.inputPath): the '\(architectureKey)' metadata is not a layer description: "
          + "\(error)")
    }
    let layer = try registry.makeLayer(from: description)
    guard let model = layer as? any ModelProtocol else {
      throw PlexusError.invalidData(
        "\(settings.inputPath): the architecture's root '\(description.type)' is not a model")
    }
    if let sequential = model as? Sequential { try sequential.build(seed: 0) }
    return model
  }

  /// Pairs each parameter with a tensor: by exact name when every parameter's path is in the
  /// file, else by order when the counts and every shape agree.
  static func match(
    weights: SafeTensorsFile, parameters: [(path: String, parameter: Parameter)], source: String
  ) throws -> [(SafeTensorsEntry, (path: String, parameter: Parameter))] {
    func shape(_ parameter: Parameter) -> [Int] { parameter.value.shape }
    let byName = Dictionary(weights.entries.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
    if parameters.allSatisfy({ byName[$0.path] != nil }) {
      guard weights.entries.count == parameters.count else {
        let extra = weights.entries.map(\.name).filter { name in
          !parameters.contains { $0.path == name }
        }
        throw PlexusError.invalidData(
          "\(source): tensors \(extra) match no parameter of the architecture")
      }
      return try parameters.map { parameter in
        let entry = byName[parameter.path]!
        guard entry.shape == shape(parameter.parameter) else {
          throw PlexusError.invalidData(
            "\(source): tensor '\(entry.name)' has shape \(entry.shape) but parameter "
              + "'\(parameter.path)' has shape \(shape(parameter.parameter))")
        }
        return (entry, parameter)
      }
    }
    guard weights.entries.count == parameters.count else {
      throw PlexusError.invalidData(
        "\(source): \(weights.entries.count) tensors for \(parameters.count) parameters, and the "
          + "names do not match; the parameters are \(parameters.map(\.path))")
    }
    return try zip(weights.entries, parameters).map { entry, parameter in
      guard entry.shape == shape(parameter.parameter) else {
        throw PlexusError.invalidData(
          "\(source): matching by order, tensor '\(entry.name)' has shape \(entry.shape) but "
            + "parameter '\(parameter.path)' has shape \(shape(parameter.parameter))")
      }
      return (entry, parameter)
    }
  }
}
