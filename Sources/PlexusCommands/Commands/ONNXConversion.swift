import Foundation
import Plexus
import PlexusONNX

/// ONNX files in `plexus convert`, `plexus inspect` and `plexus predict`.
public enum ONNXConversion {
  /// Whether `path` names an ONNX file by its extension (`.onnx`).
  static func isONNXFile(_ path: String) -> Bool {
    URL(fileURLWithPath: path).pathExtension.lowercased() == "onnx"
  }

  /// The model of an `.onnx` file, imported.
  ///
  /// - Throws: `ONNXError` for a file Plexus cannot import.
  static func loadModel(
    path: String, registry: LayerRegistry, inputLayout: ONNXInputLayout? = nil
  ) throws -> (model: any ModelProtocol, imported: ONNXImportedModel) {
    try ONNXModelFile(contentsOf: URL(fileURLWithPath: path)).importModel(
      registry: registry, inputLayout: inputLayout)
  }

  /// Converts between `.plexus` and `.onnx`.
  static func convert(_ settings: ConvertSettings, console: any Console) throws {
    let (input, output) = (settings.inputPath, settings.outputPath)
    let plexus = { (path: String) in
      URL(fileURLWithPath: path).pathExtension.lowercased() == "plexus"
    }
    if settings.codec != nil || settings.compressionLevel != nil || settings.dtype != nil
      || settings.architecturePath != nil || settings.mappingPath != nil || settings.layout != nil
    {
      throw PlexusError.invalidArgument(
        "ONNX conversions take --input-layout only (ONNX files store float32 weights)")
    }
    switch (isONNXFile(input), isONNXFile(output)) {
    case (true, false) where plexus(output):
      let (model, imported) = try loadModel(
        path: input, registry: .standard(), inputLayout: settings.inputLayout)
      try model.save(to: URL(fileURLWithPath: output))
      console.line(
        "Wrote \(output): \(imported.layerSources.count) layers, "
          + "\(imported.parameters.count) tensors from \(input)")
      let width = imported.layerSources.map(\.layer.count).max() ?? 0
      for (layer, nodes) in imported.layerSources {
        console.line(
          "  " + layer.padding(toLength: width, withPad: " ", startingAt: 0) + "  <- "
            + nodes.map { $0.isEmpty ? "(unnamed)" : $0 }.joined(separator: ", "))
      }
      for note in imported.layoutNotes { console.line("note: \(note)") }
    case (false, true) where plexus(input):
      let file = try PlexusFile(contentsOf: URL(fileURLWithPath: input))
      let model = try file.loadModel(registry: .standard())
      let exporter = ONNXExporter(model: model, inputLayout: settings.inputLayout ?? .nchw)
      let data = try exporter.modelData()
      try AtomicFile.write(data, to: URL(fileURLWithPath: output))
      console.line(
        "Wrote \(output): ONNX opset \(ONNXExporter.opset), dynamic batch, images "
          + (exporter.inputLayout == .nchw ? "channels first (NCHW)" : "channels last (NHWC)")
          + ", \(data.count) bytes")
    default:
      throw PlexusError.invalidArgument(
        "ONNX files convert to and from .plexus: plexus convert model.onnx model.plexus, or "
          + "plexus convert model.plexus model.onnx [--input-layout nchw|nhwc]")
    }
  }

  /// Prints an ONNX file's producer, opsets, inputs, outputs, operators and initializers, and
  /// whether (and how) Plexus imports it; as JSON with sorted keys with `json`.
  ///
  /// - Throws: `ONNXError` for a file that is not a well-formed ONNX model.
  public static func inspect(path: String, json: Bool, console: any Console) throws {
    let file = try ONNXModelFile(contentsOf: URL(fileURLWithPath: path))
    func shape(_ value: ONNXValueInfo) -> String {
      value.shape.map { "[" + $0.map(\.description).joined(separator: ", ") + "]" } ?? "(no shape)"
    }
    var importResult: String
    var layerCount = 0
    do {
      let imported = try file.translate()
      layerCount = imported.layerSources.count
      importResult = "imports as \(layerCount) Plexus layers"
    } catch {
      importResult = "does not import: \(error)"
    }
    let initializers = file.initializers
    if json {
      func values(_ list: [ONNXValueInfo]) -> JSONValue {
        .array(
          list.map {
            .object([
              "name": .string($0.name), "type": .string($0.elementType),
              "shape": .string(shape($0)),
            ])
          })
      }
      let report: [String: JSONValue] = [
        "format": .string("ONNX"), "irVersion": .number(Double(file.irVersion)),
        "opset": file.opsetVersion.map { .number(Double($0)) } ?? .null,
        "producer": .string(file.producer), "inputs": values(file.inputs),
        "outputs": values(file.outputs),
        "operators": .object(
          Dictionary(
            uniqueKeysWithValues: file.operatorCounts.map { ($0.op, .number(Double($0.count))) })),
        "nodes": .number(Double(file.nodes.count)),
        "initializers": .array(
          initializers.map {
            .object([
              "name": .string($0.name), "type": .string($0.elementType),
              "shape": .array($0.shape.map { .number(Double($0)) }),
              "external": $0.externalLocation.map(JSONValue.string) ?? .null,
            ])
          }),
        "plexusImport": .string(importResult),
      ]
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
      console.write(
        String(decoding: try encoder.encode(JSONValue.object(report)), as: UTF8.self) + "\n")
      return
    }
    console.line(
      "\(path): ONNX IR \(file.irVersion), opset \(file.opsetVersion.map(String.init) ?? "none")"
        + (file.producer.isEmpty ? "" : ", made by \(file.producer)"))
    for (domain, version) in file.otherOpsets { console.line("  also opset \(domain) \(version)") }
    console.line("inputs:")
    for input in file.inputs {
      console.line("  \(input.name)  \(input.elementType) \(shape(input))")
    }
    console.line("outputs:")
    for output in file.outputs {
      console.line("  \(output.name)  \(output.elementType) \(shape(output))")
    }
    console.line(
      "nodes: \(file.nodes.count) ("
        + file.operatorCounts.map { "\($0.op) \($0.count)" }.joined(separator: ", ") + ")")
    let external = initializers.filter { $0.externalLocation != nil }.count
    console.line(
      "initializers: \(initializers.count), \(file.initializerElementCount) values"
        + (external > 0 ? ", \(external) in external files" : ""))
    let width = min(initializers.map(\.name.count).max() ?? 0, 48)
    for initializer in initializers.prefix(200) {
      console.line(
        "  " + initializer.name.padding(toLength: width, withPad: " ", startingAt: 0) + "  "
          + initializer.elementType.padding(toLength: 7, withPad: " ", startingAt: 0)
          + "  \(initializer.shape)"
          + (initializer.externalLocation.map { "  (in \($0))" } ?? ""))
    }
    if initializers.count > 200 { console.line("  ... \(initializers.count - 200) more") }
    console.line("Plexus: \(importResult)")
  }
}
