import Foundation
import Plexus
import PlexusCodegen
import PlexusCommands
import Testing

/// The example's bundled model (Examples/PluginExample).
let exampleModel = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
  .deletingLastPathComponent().deletingLastPathComponent()
  .appendingPathComponent("Examples/PluginExample/Sources/DigitsClassifier/digits-mlp.plexus")

/// The generator's checks and code, run in-process.
@Suite struct ModelCodegenTests {
  @Test func typeNamesComeFromTheResourceName() {
    #expect(ModelCodegen.typeName(forResource: "digits-mlp") == "DigitsMLP")
    #expect(ModelCodegen.typeName(forResource: "my_cnn_v2") == "MyCNNV2")
    #expect(ModelCodegen.typeName(forResource: "3layer net") == "Model3layerNet")
    #expect(ModelCodegen.typeName(forResource: "--") == "Model")
    #expect(ModelCodegen.typeName(forResource: "self") == "SelfModel")
  }

  @Test func theLossKeyIsTheOnePlexusTrainWrites() {
    #expect(ModelCodegen.lossKey == TrainingMetadata.lossKey)
  }

  @Test func summarizesAClassifier() throws {
    let summary = try ModelCodegen.summarize(
      file: exampleModel, target: "App", availableModules: ["PlexusCore", "PlexusPerceptron"])
    #expect(summary.typeName == "DigitsMLP" && summary.resourceName == "digits-mlp")
    #expect(summary.inputShape == [64] && summary.outputShape == [10])
    #expect(summary.modules == ["PlexusPerceptron"])
    #expect(summary.kind == .classifier(classCount: 10, logits: true))
    #expect(summary.metadata["epochsCompleted"] == "5")
    let source = ModelCodegen.source(
      for: summary, resourcePath: "Models/digits-mlp.plexus", usesUmbrella: false)
    #expect(source.contains("public struct DigitsMLP: Sendable {"))
    #expect(source.contains("import PlexusCore\nimport PlexusPerceptron\n"))
    #expect(source.contains("    PerceptronLayers.register(in: registry)\n"))
    #expect(source.contains("subdirectory: \"Models\""))
    #expect(source.contains("public typealias Input = InlineArray<64, Float>"))
    #expect(source.contains("public var probabilities: InlineArray<10, Float>"))
    #expect(source.contains("public static let modules: [String] = [\"PlexusPerceptron\"]"))
  }

  @Test func aModuleTheTargetDoesNotDependOnIsNamed() throws {
    #expect(
      throws: CodegenError(
        file: exampleModel.path,
        message: "the model's layers 'hidden' (plexus.dense), 'logits' (plexus.dense) come from "
          + "module PlexusPerceptron, which target App does not depend on; add "
          + ".product(name: \"PlexusPerceptron\", package: \"Plexus\") (or the umbrella "
          + "\"Plexus\") to its dependencies")
    ) {
      try ModelCodegen.summarize(
        file: exampleModel, target: "App", availableModules: ["PlexusCore"])
    }
    // The umbrella provides every bundled module.
    _ = try ModelCodegen.summarize(file: exampleModel, target: "App", availableModules: ["Plexus"])
  }

  @Test func damagedFilesFailWithTheFormatsErrorNamingFileAndChunk() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let bytes = try Data(contentsOf: exampleModel)
    let architecture = try #require(
      try PlexusFile(contentsOf: exampleModel).chunks.first { $0.type == "ARCH" })
    var flipped = bytes
    let position = Int(architecture.offset) + PlexusFormat.chunkHeaderSize + 3
    flipped[position] ^= 0x20
    let damaged = folder.file("damaged.plexus")
    try flipped.write(to: damaged)
    #expect {
      try ModelCodegen.summarize(file: damaged, target: "App", availableModules: ["Plexus"])
    } throws: { error in
      let text = "\(error)"
      return text.hasPrefix("\(damaged.path): error: plexus format error (checksum mismatch)")
        && text.contains("in chunk 'ARCH'")
    }
    let truncated = folder.file("truncated.plexus")
    try bytes.prefix(bytes.count / 2).write(to: truncated)
    #expect {
      try ModelCodegen.summarize(file: truncated, target: "App", availableModules: ["Plexus"])
    } throws: { "\($0)".hasPrefix("\(truncated.path): error: plexus format error") }
    let text = try folder.write("not a model", to: "text.plexus")
    #expect {
      try ModelCodegen.summarize(file: text, target: "App", availableModules: ["Plexus"])
    } throws: { "\($0)".contains("plexus format error") }
  }

  @Test func theGeneratorExecutableReportsErrorsAsDiagnostics() throws {
    let generator = try #require(
      plexusExecutable()?.deletingLastPathComponent().appendingPathComponent(
        "PlexusModelCodegenTool"), "the generator was not built")
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let output = folder.file("out.swift")
    let ok = try runProcess(
      generator,
      [
        "--input", exampleModel.path, "--output", output.path, "--target", "App", "--module",
        "PlexusCore", "--module", "PlexusPerceptron",
      ])
    #expect(ok.status == 0, "\(ok.stderr)")
    #expect(try String(contentsOf: output, encoding: .utf8).contains("struct DigitsMLP"))
    let missing = try runProcess(
      generator,
      ["--input", exampleModel.path, "--output", output.path, "--target", "App"])
    #expect(missing.status == 1)
    #expect(missing.stderr.contains("\(exampleModel.path): error: the model's layers"))
    let unknown = try runProcess(generator, ["--frobnicate"])
    #expect(unknown.status == 1 && unknown.stderr.contains("unknown argument '--frobnicate'"))
  }
}

/// A layer of no bundled module.
private final class CodegenIdentity: UnaryLayer {
  struct Config: DefaultedConfiguration {
    static var defaults: Config { Config() }
    static var fields: [ConfigField<Config>] { [] }
  }
  static let typeName = "com.test.identity"
  let state = LayerState()
  let config: Config
  init(config: Config) throws { self.config = config }
  func build(for inputShape: SymbolicShape) throws -> SymbolicShape { inputShape }
  func forward(_ input: Tensor, record: CallRecord) throws -> Tensor { input }
  func backward(_ outputGradient: Tensor, record: CallRecord, computingInputGradient: Bool)
    throws -> Tensor?
  { outputGradient }
}

@Suite struct ModelCodegenModelKindTests {
  @Test func aLayerNoBundledModuleProvidesIsNamed() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let model = Sequential([try Dense(units: 3), try CodegenIdentity(config: .init())])
    try model.build(inputShape: [4], seed: 1)
    let url = folder.file("custom.plexus")
    try model.save(to: url)
    #expect(
      throws: CodegenError(
        file: url.path,
        message: "layer type 'com.test.identity' is provided by no bundled Plexus module; "
          + "generated code can only load bundled layers")
    ) { try ModelCodegen.summarize(file: url, target: "App", availableModules: ["Plexus"]) }
  }

  @Test func aModelWithoutAClassificationLossGivesValues() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let model = Sequential([try Reshape([2, 2]), Flatten(), try Dense(units: 2)])
    try model.build(inputShape: [4], seed: 1)
    let url = folder.file("regression_net.plexus")
    try model.save(to: url)
    let summary = try ModelCodegen.summarize(
      file: url, target: "App", availableModules: ["PlexusCore", "PlexusPerceptron"])
    #expect(summary.kind == .values && summary.typeName == "RegressionNet")
    #expect(summary.modules == ["PlexusCore", "PlexusPerceptron"])
    let source = ModelCodegen.source(
      for: summary, resourcePath: "regression_net.plexus", usesUmbrella: false)
    #expect(source.contains("public typealias Input = InlineArray<4, Float>"))
    #expect(source.contains("public var values: InlineArray<2, Float>"))
    #expect(!source.contains("CoreLayers.register"))
    #expect(source.contains("withExtension: \"plexus\")\n"))
  }
}
