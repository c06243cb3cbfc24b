import Foundation
import Plexus
import PlexusInterop

/// Keras files in `plexus convert`, `plexus inspect` and `plexus predict`: `.keras` (Keras 3),
/// legacy `.h5` models and `.weights.h5` weights.
public enum KerasConversion {
  /// Whether `path` names a Keras file by its extension (`.keras`, `.h5`).
  static func isKerasFile(_ path: String) -> Bool {
    ["keras", "h5"].contains(URL(fileURLWithPath: path).pathExtension.lowercased())
  }

  /// Whether `path` ends in `.weights.h5`.
  static func isWeightsFile(_ path: String) -> Bool {
    path.lowercased().hasSuffix(".weights.h5")
  }

  /// The model of a `.keras` or legacy `.h5` file, converted.
  ///
  /// - Throws: `KerasError` or `HDF5Error` for a file Plexus cannot convert.
  static func loadModel(path: String, registry: LayerRegistry) throws -> any ModelProtocol {
    try KerasFile(contentsOf: URL(fileURLWithPath: path)).loadModel(registry: registry).model
  }

  /// Converts between `.plexus` and a Keras file.
  static func convert(_ settings: ConvertSettings, console: any Console) throws {
    let (input, output) = (settings.inputPath, settings.outputPath)
    switch (isKerasFile(input), isKerasFile(output)) {
    case (true, false) where URL(fileURLWithPath: output).pathExtension.lowercased() == "plexus":
      try importModel(settings, console: console)
    case (false, true) where URL(fileURLWithPath: input).pathExtension.lowercased() == "plexus":
      try export(settings, console: console)
    default:
      throw PlexusError.invalidArgument(
        "Keras files convert to and from .plexus: plexus convert model.keras model.plexus, or "
          + "plexus convert model.plexus model.keras (or model.weights.h5)")
    }
  }

  private static func importModel(_ settings: ConvertSettings, console: any Console) throws {
    if settings.codec != nil || settings.compressionLevel != nil || settings.dtype != nil {
      throw PlexusError.invalidArgument(
        "--codec, --dtype and --level apply to .plexus input; convert the result again to change them"
      )
    }
    let file = try KerasFile(contentsOf: URL(fileURLWithPath: settings.inputPath))
    let registry = LayerRegistry.standard()
    let model: any ModelProtocol
    let assignments: [KerasWeightAssignment]
    if file.architecture != nil {
      if settings.architecturePath != nil {
        throw PlexusError.invalidArgument(
          "\(settings.inputPath) carries its architecture; --architecture applies to weights files")
      }
      (model, assignments) = try file.loadModel(registry: registry)
    } else {
      guard let path = settings.architecturePath else {
        throw PlexusError.invalidArgument(
          "\(settings.inputPath) holds weights only; give the architecture with --architecture "
            + "(a .plexus file, a .keras file or a training spec)")
      }
      model = try architecture(path, registry: registry)
      var description = try LayerDescription(model)
      description.name = ""
      assignments = try file.assignWeights(to: model, architecture: description)
    }
    try model.save(to: URL(fileURLWithPath: settings.outputPath))
    console.line(
      "Wrote \(settings.outputPath): \(file.format.rawValue)"
        + (file.modelClass.map { " \($0) model" } ?? "") + ", \(assignments.count) tensors:")
    let width = assignments.map(\.datasetPath.count).max() ?? 0
    for assignment in assignments {
      console.line(
        "  " + assignment.datasetPath.padding(toLength: width, withPad: " ", startingAt: 0)
          + "  \(assignment.shape) -> \(assignment.plexusPath)")
    }
  }

  /// The model an `--architecture` file describes: a `.plexus` model, the model of a Keras file,
  /// or a training spec with an input shape.
  private static func architecture(_ path: String, registry: LayerRegistry) throws
    -> any ModelProtocol
  {
    let url = URL(fileURLWithPath: path)
    switch url.pathExtension.lowercased() {
    case "json":
      let spec = try TrainingSpec.load(contentsOf: url)
      guard let shape = spec.inputShape else {
        throw PlexusError.invalidArgument(
          "\(path): the spec needs an inputShape to build the architecture without its data")
      }
      return try spec.buildModel(registry: registry, inputShape: shape)
    case "keras", "h5":
      return try loadModel(path: path, registry: registry)
    default:
      return try PlexusFile(contentsOf: url).loadModel(registry: registry)
    }
  }

  private static func export(_ settings: ConvertSettings, console: any Console) throws {
    if settings.codec != nil || settings.compressionLevel != nil || settings.dtype != nil {
      throw PlexusError.invalidArgument(
        "--codec, --dtype and --level apply to .plexus output; Keras files store float32")
    }
    if settings.architecturePath != nil {
      throw PlexusError.invalidArgument("--architecture applies to a Keras weights input only")
    }
    let output = settings.outputPath
    let weightsOnly = isWeightsFile(output)
    guard weightsOnly || URL(fileURLWithPath: output).pathExtension.lowercased() == "keras" else {
      throw PlexusError.invalidArgument(
        "\(output): Plexus writes Keras 3 files, .keras or .weights.h5, not legacy .h5 models")
    }
    let file = try PlexusFile(contentsOf: URL(fileURLWithPath: settings.inputPath))
    let model = try file.loadModel(registry: .standard())
    var architecture = file.architecture
    architecture.name = ""
    let parameters = try model.builtGraph().namedParameters(prefix: "")
    let bytes =
      weightsOnly
      ? try KerasExport.weightsFile(architecture: architecture, parameters: parameters)
      : try KerasExport.kerasArchive(architecture: architecture, parameters: parameters)
    do {
      try bytes.write(to: URL(fileURLWithPath: output), options: .atomic)
    } catch {
      throw PlexusError.io("cannot write '\(output)': \(error.localizedDescription)")
    }
    console.line(
      "Wrote \(output): "
        + (weightsOnly ? "Keras 3 weights" : "Keras 3 model") + ", \(parameters.count) tensors, "
        + "\(bytes.count) bytes")
  }

  /// Prints a Keras file's kind, Keras version, converted layers and datasets (as JSON with
  /// sorted keys with `json`).
  ///
  /// - Throws: `KerasError` or `HDF5Error` for a malformed file.
  public static func inspect(path: String, json: Bool, console: any Console) throws {
    let file = try KerasFile(contentsOf: URL(fileURLWithPath: path))
    let datasets = try file.datasets()
    let layers = try file.architecture.map(layerList) ?? []
    if json {
      var report: [String: JSONValue] = [
        "format": .string(file.format.rawValue),
        "datasets": .array(
          datasets.map {
            .object([
              "path": .string($0.path), "dtype": .string($0.elementType.description),
              "shape": .array($0.shape.map { .number(Double($0)) }),
            ])
          }),
        "layers": .array(
          layers.map { .object(["name": .string($0.name), "type": .string($0.type)]) }),
      ]
      if let version = file.kerasVersion { report["kerasVersion"] = .string(version) }
      if let modelClass = file.modelClass { report["model"] = .string(modelClass) }
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
      console.write(
        String(decoding: try encoder.encode(JSONValue.object(report)), as: UTF8.self) + "\n")
      return
    }
    console.line(
      "\(path): \(file.format.rawValue)" + (file.kerasVersion.map { ", Keras \($0)" } ?? "")
        + (file.modelClass.map { ", \($0) model" } ?? ""))
    if !layers.isEmpty {
      console.line("layers (as Plexus converts them):")
      let width = layers.map(\.name.count).max() ?? 0
      for layer in layers {
        console.line(
          "  " + layer.name.padding(toLength: width, withPad: " ", startingAt: 0)
            + "  \(layer.type)")
      }
    }
    console.line("datasets: \(datasets.count)")
    let width = datasets.map(\.path.count).max() ?? 0
    for dataset in datasets {
      console.line(
        "  " + dataset.path.padding(toLength: width, withPad: " ", startingAt: 0) + "  "
          + dataset.elementType.description.padding(toLength: 7, withPad: " ", startingAt: 0)
          + "  \(dataset.shape)")
    }
  }

  /// The layers of an architecture, nested models' layers under their model's name.
  private static func layerList(_ description: LayerDescription) throws -> [(
    name: String, type: String
  )] {
    guard let items = description.config.objectMembers?["layers"]?.arrayItems,
      ["plexus.sequential", "plexus.model"].contains(description.type)
    else { return [] }
    return try items.flatMap { item -> [(name: String, type: String)] in
      let layer = try item.decode(LayerDescription.self, context: "a layer")
      let inner = try layerList(layer).map { (name: layer.name + "." + $0.name, type: $0.type) }
      return [(layer.name, layer.type)] + inner
    }
  }
}

extension JSONValue {
  fileprivate var objectMembers: [String: JSONValue]? {
    if case .object(let members) = self { return members }
    return nil
  }

  fileprivate var arrayItems: [JSONValue]? {
    if case .array(let items) = self { return items }
    return nil
  }
}
