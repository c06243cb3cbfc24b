import Foundation
import Plexus

/// Why a `.plexus` resource cannot be turned into Swift code; printed as a build error.
public struct CodegenError: Error, CustomStringConvertible, Equatable, Sendable {
  /// The model file.
  public var file: String
  /// What is wrong.
  public var message: String

  /// Creates an error about `file`.
  public init(file: String, message: String) {
    self.file = file
    self.message = message
  }

  /// `FILE: error: MESSAGE`, the form build logs and editors show as a diagnostic.
  public var description: String { "\(file): error: \(message)" }
}

/// What the generator knows of a model file: checked, loaded, and described.
public struct ModelSummary: Sendable, Equatable {
  /// The Swift type name (`digits-mlp.plexus` gives `DigitsMLP`).
  public var typeName: String
  /// The resource name without extension (`digits-mlp`).
  public var resourceName: String
  /// The per-sample input shape.
  public var inputShape: [Int]
  /// The per-sample output shape.
  public var outputShape: [Int]
  /// The modules whose layers the model uses, sorted (`PlexusCore`, `PlexusPerceptron`).
  public var modules: [String]
  /// The model file's description (may be empty).
  public var modelDescription: String
  /// The training metadata: producer, creation time, loss, optimizer, epochs and the file's
  /// other values, by key.
  public var metadata: [String: String]
  /// The layer summary (`Model.summary()`).
  public var layerSummary: String
  /// How the outputs are read: a classifier's class probabilities or plain values.
  public var kind: Kind

  /// How a model's outputs are read.
  public enum Kind: Sendable, Equatable {
    /// Class scores: probabilities over `classCount` classes (`logits`: softmax, or sigmoid
    /// for one output, turns the outputs into probabilities).
    case classifier(classCount: Int, logits: Bool)
    /// Plain values (a regression, an autoencoder).
    case values
  }
}

/// Checks `.plexus` files and writes a typed Swift wrapper for each: the code behind the
/// `PlexusModelCodegen` build-tool plugin.
public enum ModelCodegen {
  /// The register call of each bundled module, by module name.
  static let registrations: [String: String] = [
    CoreLayers.module: "CoreLayers", PerceptronLayers.module: "PerceptronLayers",
    ConvolutionLayers.module: "ConvolutionLayers", DBNLayers.module: "DBNLayers",
    AutoencoderLayers.module: "AutoencoderLayers", RecurrentLayers.module: "RecurrentLayers",
  ]

  /// The metadata key under which `plexus train` records the loss (`TrainingMetadata.lossKey`
  /// of PlexusCommands, which this module does not depend on).
  public static let lossKey = "plexus.loss"

  /// The largest number of input or output scalars a generated fixed-size array may have.
  public static let maximumFixedSize = 1 << 20

  /// The Swift type name for a resource file name: its words, split at anything but letters
  /// and digits, capitalized, with common abbreviations in capitals (`digits-mlp` gives
  /// `DigitsMLP`, `my_cnn_v2` gives `MyCNNV2`); a leading digit gets a `Model` prefix.
  public static func typeName(forResource name: String) -> String {
    let abbreviations: Set<String> = [
      "mlp", "cnn", "rnn", "lstm", "gru", "dbn", "rbm", "vae", "gan", "mnist", "ml", "id", "io",
    ]
    let words = name.split { !($0.isLetter || $0.isNumber) || !$0.isASCII }
    var result = ""
    for word in words {
      let lower = word.lowercased()
      result +=
        abbreviations.contains(lower)
        ? lower.uppercased()
        : lower.prefix(1).uppercased()
          + lower.dropFirst()
    }
    if result.isEmpty { return "Model" }
    if result.first!.isNumber { result = "Model" + result }
    // Names Swift reserves for itself as type names.
    if ["Self", "Type", "Protocol", "Any", "Sendable"].contains(result) { result += "Model" }
    return result
  }

  /// Reads and checks a model file: the format (every chunk and checksum), the architecture
  /// (the model is loaded through the bundled layers), that it has one input and one output of
  /// known size, and that every module it needs is among `availableModules` (the target's
  /// dependencies; `Plexus`, the umbrella, provides every bundled module).
  ///
  /// - Throws: `CodegenError` naming the file, with the format's own message (chunk and offset)
  ///   for a damaged or unsupported file, or the module a layer needs.
  public static func summarize(
    file url: URL, target: String, availableModules: Set<String>
  ) throws -> ModelSummary {
    let path = url.path
    let file: PlexusFile
    do {
      file = try PlexusFile(contentsOf: url, mapping: false)
    } catch {
      throw CodegenError(file: path, message: "\(error)")
    }
    if let problem = file.verify().first {
      throw CodegenError(file: path, message: "\(problem)")
    }
    let model: any ModelProtocol
    do {
      model = try file.loadModel(registry: .standard())
    } catch PlexusError.unknownLayerType(let type, _) {
      throw CodegenError(
        file: path,
        message: "layer type '\(type)' is provided by no bundled Plexus module; generated code "
          + "can only load bundled layers")
    } catch {
      throw CodegenError(file: path, message: "\(error)")
    }
    var modules: Set<String> = []
    let providers = PlexusModules.layerProviders
    func visit(_ layer: any Layer) throws {
      let typeName = type(of: layer).typeName
      guard let module = providers[typeName] else {
        throw CodegenError(
          file: path,
          message: "layer '\(layer.name)' has type '\(typeName)', which no bundled Plexus "
            + "module provides; generated code can only load bundled layers")
      }
      modules.insert(module)
      for sublayer in layer.sublayers { try visit(sublayer) }
    }
    for layer in model.sublayers { try visit(layer) }
    if !availableModules.contains("Plexus") {
      for module in modules.sorted() where !availableModules.contains(module) {
        let users = layerNames(in: model, fromModule: module, providers: providers)
        throw CodegenError(
          file: path,
          message: "the model's layers \(users) come from module \(module), which target "
            + "\(target) does not depend on; add .product(name: \"\(module)\", package: "
            + "\"Plexus\") (or the umbrella \"Plexus\") to its dependencies")
      }
    }
    guard model.inputSpecs.count == 1, model.outputSpecs.count == 1 else {
      throw CodegenError(
        file: path,
        message: "the model has \(model.inputSpecs.count) inputs and \(model.outputSpecs.count) "
          + "outputs; generated code supports one input and one output")
    }
    let inputShape = try fixedShape(model.inputSpecs[0].shape, role: "input", file: path)
    let outputShape = try fixedShape(model.outputSpecs[0].shape, role: "output", file: path)

    var metadata: [String: String] = [:]
    var kind = ModelSummary.Kind.values
    if let recorded = file.metadata {
      metadata["producer"] = "\(recorded.producer) \(recorded.producerVersion)"
      metadata["created"] = recorded.created
      for (key, value) in recorded.values { metadata[key] = value }
      if case .object(let history)? = recorded.history,
        case .number(let epochs)? = history["epochsCompleted"]
      {
        metadata["epochsCompleted"] = String(Int(epochs))
      }
      if let lossText = recorded.values[lossKey],
        let loss = try? JSONDecoder().decode(LossFunction.self, from: Data(lossText.utf8)),
        loss.loss.isClassification
      {
        let count = outputShape.reduce(1, *)
        kind = .classifier(classCount: count == 1 ? 2 : count, logits: loss.outputsLogits)
      }
    }
    let resource = url.deletingPathExtension().lastPathComponent
    return ModelSummary(
      typeName: typeName(forResource: resource), resourceName: resource,
      inputShape: inputShape, outputShape: outputShape, modules: modules.sorted(),
      modelDescription: file.metadata?.description ?? "", metadata: metadata,
      layerSummary: model.summary(), kind: kind)
  }

  private static func layerNames(
    in model: any ModelProtocol, fromModule module: String, providers: [String: String]
  ) -> String {
    var names: [String] = []
    func visit(_ layer: any Layer) {
      let typeName = type(of: layer).typeName
      if providers[typeName] == module { names.append("'\(layer.name)' (\(typeName))") }
      for sublayer in layer.sublayers { visit(sublayer) }
    }
    for layer in model.sublayers { visit(layer) }
    return names.joined(separator: ", ")
  }

  private static func fixedShape(_ shape: SymbolicShape, role: String, file: String) throws
    -> [Int]
  {
    var known: [Int] = []
    for dimension in shape {
      guard let dimension else {
        throw CodegenError(
          file: file,
          message: "the model's \(role) shape \(ShapeCheck.describe(shape)) has a dimension "
            + "that varies; generated code needs a fixed \(role) size")
      }
      known.append(dimension)
    }
    var count = 1
    for dimension in known {
      let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
      guard !overflow, product <= maximumFixedSize else {
        throw CodegenError(
          file: file,
          message: "the model's \(role) shape \(known) holds more than \(maximumFixedSize) "
            + "values; generated code takes at most that many")
      }
      count = product
    }
    return known
  }
}

extension ModelCodegen {
  /// A Swift string literal holding `text`.
  static func literal(_ text: String) -> String {
    var result = "\""
    for scalar in text.unicodeScalars {
      switch scalar {
      case "\\": result += "\\\\"
      case "\"": result += "\\\""
      case "\n": result += "\\n"
      case "\r": result += "\\r"
      case "\t": result += "\\t"
      default:
        if scalar.value < 0x20 || scalar.value == 0x7F {
          result += "\\u{\(String(scalar.value, radix: 16))}"
        } else {
          result.unicodeScalars.append(scalar)
        }
      }
    }
    return result + "\""
  }

  /// `text` as doc comment lines, indented by `indent`.
  static func docLines(_ text: String, indent: String = "") -> String {
    text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
      let cleaned = line.unicodeScalars.filter { $0.value >= 0x20 || $0 == "\t" }
      let body = String(String.UnicodeScalarView(cleaned))
      return body.isEmpty ? "\(indent)///" : "\(indent)/// \(body)"
    }.joined(separator: "\n")
  }

  /// The Swift source of the wrapper type for a checked model.
  ///
  /// - Parameters:
  ///   - summary: what `summarize` found.
  ///   - resourcePath: the file's path within the target's resources (`digits-mlp.plexus` or
  ///     `Models/digits-mlp.plexus`), under which `Bundle.module` holds it.
  ///   - usesUmbrella: whether the target depends on the `Plexus` umbrella (then it is
  ///     imported and `LayerRegistry.standard()` used) rather than on the modules one by one.
  public static func source(
    for summary: ModelSummary, resourcePath: String, usesUmbrella: Bool
  ) -> String {
    let name = summary.typeName
    let inputCount = summary.inputShape.reduce(1, *)
    let outputCount = summary.outputShape.reduce(1, *)
    let imports =
      usesUmbrella
      ? ["Foundation", "Plexus"] : ["Foundation"] + (Set(summary.modules + ["PlexusCore"]).sorted())
    let registryLines =
      usesUmbrella
      ? ["    let registry = LayerRegistry.standard()"]
      : ["    let registry = LayerRegistry()"]
        + summary.modules.filter { $0 != CoreLayers.module }.compactMap { module in
          registrations[module].map { "    \($0).register(in: registry)" }
        }
    let directory = (resourcePath as NSString).deletingLastPathComponent
    let fileName = (resourcePath as NSString).lastPathComponent
    let descriptionText =
      summary.modelDescription.isEmpty
      ? "The model in \(fileName)." : summary.modelDescription
    var about: [String] = [descriptionText, ""]
    about.append(
      "Input: \(inputCount) values per sample (shape \(summary.inputShape)), in row-major order.")
    switch summary.kind {
    case .classifier(let classCount, _):
      about.append(
        "Output: the probabilities of \(classCount) classes and the top class "
          + "(model output shape \(summary.outputShape)).")
    case .values:
      about.append("Output: \(outputCount) values (shape \(summary.outputShape)).")
    }
    if !summary.metadata.isEmpty {
      about.append("")
      about.append("Training metadata:")
      for key in summary.metadata.keys.sorted() {
        about.append("- \(key): \(summary.metadata[key]!)")
      }
    }
    about.append("")
    about.append("Layers:")
    about.append("```")
    about.append(contentsOf: summary.layerSummary.split(separator: "\n").map(String.init))
    about.append("```")
    about.append("")
    about.append("Generated by PlexusModelCodegen from \(fileName).")

    let metadataLiteral =
      summary.metadata.isEmpty
      ? "[:]"
      : "[\n"
        + summary.metadata.keys.sorted().map {
          "    \(literal($0)): \(literal(summary.metadata[$0]!)),"
        }.joined(separator: "\n") + "\n  ]"

    var lines: [String] = []
    lines.append("// Generated by PlexusModelCodegen from \(fileName); do not edit.")
    lines.append("")
    for module in imports { lines.append("import \(module)") }
    lines.append("")
    lines.append(docLines(about.joined(separator: "\n")))
    lines.append("public struct \(name): Sendable {")
    lines.append("  /// The description recorded in the model file.")
    lines.append(
      "  public static let modelDescription: String = \(literal(summary.modelDescription))")
    lines.append("  /// The per-sample input shape: \(summary.inputShape).")
    lines.append("  public static let inputShape: [Int] = \(summary.inputShape)")
    lines.append("  /// The per-sample output shape of the model: \(summary.outputShape).")
    lines.append("  public static let outputShape: [Int] = \(summary.outputShape)")
    lines.append(
      "  /// The training metadata recorded in the file (producer, creation, loss, ...).")
    lines.append("  public static let metadata: [String: String] = \(metadataLiteral)")
    lines.append("  /// The modules whose layers the model uses.")
    lines.append(
      "  public static let modules: [String] = [\(summary.modules.map(literal).joined(separator: ", "))]"
    )
    lines.append("")
    lines.append(
      "  /// One sample's input: \(inputCount) values of shape \(summary.inputShape), in row-major order."
    )
    lines.append("  public typealias Input = InlineArray<\(inputCount), Float>")
    lines.append("")
    switch summary.kind {
    case .classifier(let classCount, _):
      lines.append("  /// The number of classes.")
      lines.append("  public static let classCount = \(classCount)")
      lines.append("")
      lines.append("  /// A prediction: the probability of each class and the most probable one.")
      lines.append("  public struct Prediction: Sendable {")
      lines.append("    /// The probability of each class; they sum to 1.")
      lines.append("    public var probabilities: InlineArray<\(classCount), Float>")
      lines.append("    /// The most probable class (the first of equally probable ones).")
      lines.append("    public var topClass: Int")
      lines.append("  }")
    case .values:
      lines.append(
        "  /// A prediction: the model's \(outputCount) output values, in row-major order.")
      lines.append("  public struct Prediction: Sendable {")
      lines.append("    /// The output values.")
      lines.append("    public var values: InlineArray<\(outputCount), Float>")
      lines.append("  }")
    }
    lines.append("")
    lines.append("  /// The loaded model.")
    lines.append("  public let model: any ModelProtocol")
    lines.append("")
    lines.append("  /// Loads the model from the module's resources.")
    lines.append("  ///")
    lines.append(
      "  /// - Throws: `PlexusError.io` when the resource is missing; the format's errors when")
    lines.append("  ///   the bundled file cannot be read.")
    lines.append("  public init() throws {")
    let resourceLookup =
      directory.isEmpty
      ? "Bundle.module.url(forResource: \(literal(summary.resourceName)), withExtension: \"plexus\")"
      : "Bundle.module.url(forResource: \(literal(summary.resourceName)), withExtension: \"plexus\", "
        + "subdirectory: \(literal(directory)))\n      ?? Bundle.module.url(forResource: "
        + "\(literal(summary.resourceName)), withExtension: \"plexus\")"
    lines.append("    guard")
    lines.append("      let url = \(resourceLookup)")
    lines.append("    else {")
    lines.append(
      "      throw PlexusError.io(\(literal("the resource \(resourcePath) is not in the module's bundle")))"
    )
    lines.append("    }")
    lines.append(contentsOf: registryLines)
    lines.append("    try self.init(contentsOf: url, registry: registry)")
    lines.append("  }")
    lines.append("")
    lines.append("  /// Loads the model from a file of the same architecture (a retrained copy).")
    lines.append("  ///")
    lines.append(
      "  /// - Throws: the format's errors; `PlexusError.invalidShape` when the file's input or")
    lines.append("  ///   output shape differs from this type's.")
    lines.append("  public init(contentsOf url: URL, registry: LayerRegistry) throws {")
    lines.append("    let model = try loadModel(from: url, registry: registry)")
    lines.append(
      "    guard model.inputSpecs.map(\\.shape) == [Self.inputShape.map { Optional($0) }],")
    lines.append("      model.outputSpecs.map(\\.shape) == [Self.outputShape.map { Optional($0) }]")
    lines.append("    else {")
    lines.append("      throw PlexusError.invalidShape(")
    lines.append(
      "        \"\\(url.path) does not take input \\(Self.inputShape) and give output \\(Self.outputShape)\")"
    )
    lines.append("    }")
    lines.append("    self.model = model")
    lines.append("  }")
    lines.append("")
    lines.append("  /// Predicts one sample.")
    lines.append("  ///")
    lines.append("  /// - Throws: `PlexusError` when the forward pass fails.")
    lines.append("  public func predict(_ input: Input) throws -> Prediction {")
    lines.append("    var scalars = [Float](repeating: 0, count: \(inputCount))")
    lines.append("    for index in 0..<\(inputCount) { scalars[index] = input[index] }")
    lines.append("    let batch = try Tensor(shape: [1] + Self.inputShape, scalars: scalars)")
    lines.append("    let outputs = try model.predict(batch).scalars")
    switch summary.kind {
    case .classifier(let classCount, let logits):
      lines.append("    var probabilities = InlineArray<\(classCount), Float>(repeating: 0)")
      if outputCount == 1 {
        lines.append(
          logits
            ? "    let positive = 1 / (1 + Foundation.exp(-outputs[0]))"
            : "    let positive = Swift.min(Swift.max(outputs[0], 0), 1)")
        lines.append("    probabilities[0] = 1 - positive")
        lines.append("    probabilities[1] = positive")
      } else if logits {
        lines.append("    let largest = outputs.max() ?? 0")
        lines.append("    var total: Float = 0")
        lines.append("    for index in 0..<\(classCount) {")
        lines.append("      probabilities[index] = Foundation.exp(outputs[index] - largest)")
        lines.append("      total += probabilities[index]")
        lines.append("    }")
        lines.append("    for index in 0..<\(classCount) { probabilities[index] /= total }")
      } else {
        lines.append("    for index in 0..<\(classCount) { probabilities[index] = outputs[index] }")
      }
      lines.append("    var topClass = 0")
      lines.append(
        "    for index in 1..<\(classCount) where probabilities[index] > probabilities[topClass] {")
      lines.append("      topClass = index")
      lines.append("    }")
      lines.append("    return Prediction(probabilities: probabilities, topClass: topClass)")
    case .values:
      lines.append("    var values = InlineArray<\(outputCount), Float>(repeating: 0)")
      lines.append("    for index in 0..<\(outputCount) { values[index] = outputs[index] }")
      lines.append("    return Prediction(values: values)")
    }
    lines.append("  }")
    lines.append("}")
    return lines.joined(separator: "\n") + "\n"
  }
}
