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
