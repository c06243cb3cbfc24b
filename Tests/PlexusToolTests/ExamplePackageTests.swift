import Foundation
import Plexus
import Testing

/// The example package's use of the SwiftPM plugins: the generated model type, the build
/// failing on a corrupt model, incremental regeneration and the command plugins.
@Suite(.serialized) struct ExamplePackageTests {
  private var modelFile: URL {
    ExamplePackage.packageFolder.appendingPathComponent(
      "Sources/DigitsClassifier/digits-mlp.plexus")
  }

  /// The source the build-tool plugin generated for the bundled model.
  private func generatedSource() throws -> URL {
    let outputs = ExamplePackage.scratchFolder.appendingPathComponent("plugins/outputs")
    let found = FileManager.default.enumerator(at: outputs, includingPropertiesForKeys: nil)?
      .compactMap { $0 as? URL }
      .first { $0.lastPathComponent == "digits-mlp.plexus.swift" }
    return try #require(found, "no generated source under \(outputs.path)")
  }

  private func modificationDate(_ url: URL) throws -> Date {
    try #require(
      try FileManager.default.attributesOfItem(atPath: url.path)[.modificationDate] as? Date)
  }

  @Test func theDemoClassifiesDigitsWithTheGeneratedType() throws {
    let demo = try ExamplePackage.products.get().appendingPathComponent("digits-demo")
    let run = try runProcess(demo, [])
    #expect(run.status == 0, "\(run.stderr)")
    let summary = try #require(run.stdout.split(separator: "\n").last.map(String.init))
    let correct = Int(summary.prefix { $0.isNumber }) ?? 0
    #expect(summary.hasSuffix("of 20 correct; model: digits-mlp"), "\(summary)")
    #expect(correct >= 16)
  }

  @Test func aCorruptModelFailsTheBuildAndChangesRegenerateOnlyThen() throws {
    _ = try ExamplePackage.products.get()
    let original = try Data(contentsOf: modelFile)
    defer { try? original.write(to: modelFile) }
    let generated = try generatedSource()

    // Nothing changed since the last build: the generator does not run. (SwiftPM itself reruns
    // it after `swift test` or `swift package` relinked the generator, so settle first.)
    let settled = try ExamplePackage.swift("build", ["--build-tests"])
    #expect(settled.status == 0, "\(settled.stdout)\(settled.stderr)")
    let before = try modificationDate(generated)
    let idle = try ExamplePackage.swift("build", ["--build-tests"])
    #expect(idle.status == 0, "\(idle.stdout)\(idle.stderr)")
    #expect(!idle.stdout.contains("Generating digits-mlp.plexus.swift"), "\(idle.stdout)")
    #expect(try modificationDate(generated) == before)

    // A damaged architecture chunk fails the build with the format's error.
    let architecture = try #require(
      try PlexusFile(contentsOf: modelFile).chunks.first { $0.type == "ARCH" })
    var damaged = original
    damaged[Int(architecture.offset) + PlexusFormat.chunkHeaderSize + 3] ^= 0x20
    try damaged.write(to: modelFile)
    let failed = try ExamplePackage.swift("build", ["--build-tests"])
    let failure = failed.stdout + failed.stderr
    #expect(failed.status != 0)
    #expect(
      failure.contains(
        "\(modelFile.path): error: plexus format error (checksum mismatch) in chunk 'ARCH'"),
      "\(failure)")

    // The repaired model regenerates the type, which compiles without a warning.
    try original.write(to: modelFile)
    let rebuilt = try ExamplePackage.swift("build", ["--build-tests"])
    #expect(rebuilt.status == 0, "\(rebuilt.stdout)\(rebuilt.stderr)")
    #expect(rebuilt.stdout.contains("Generating digits-mlp.plexus.swift from digits-mlp.plexus"))
    #expect(rebuilt.stdout.contains("Compiling DigitsClassifier"), "\(rebuilt.stdout)")
    #expect(!(rebuilt.stdout + rebuilt.stderr).contains("warning:"), "\(rebuilt.stdout)")
    #expect(try modificationDate(generated) > before)
  }

  @Test func aModelNeedingAModuleTheTargetLacksFailsTheBuildNamingIt() throws {
    _ = try ExamplePackage.products.get()
    // The example adds its MissingModuleCheck target (PlexusCore only) when this is set.
    let environment = ProcessInfo.processInfo.environment.merging([
      "PLEXUS_EXAMPLE_MISSING_MODULE": "1"
    ]) { $1 }
    let failed = try ExamplePackage.swift("build", ["--build-tests"], environment: environment)
    let output = failed.stdout + failed.stderr
    #expect(failed.status != 0)
    let model = ExamplePackage.packageFolder.appendingPathComponent(
      "Sources/MissingModuleCheck/digits-mlp.plexus")
    #expect(
      output.contains(
        "\(model.path): error: the model's layers 'hidden' (plexus.dense), 'logits' "
          + "(plexus.dense) come from module PlexusPerceptron, which target MissingModuleCheck "
          + "does not depend on"), "\(output)")
  }

  @Test func theCommandPluginsRunThePackagesTool() throws {
    _ = try ExamplePackage.products.get()
    let inspected = try ExamplePackage.swift(
      "package", ["plexus-inspect", "Sources/DigitsClassifier/digits-mlp.plexus"])
    #expect(inspected.status == 0, "\(inspected.stdout)\(inspected.stderr)")
    #expect(inspected.stdout.contains("Plexus model file, format 1."))

    // Outputs go to an ignored folder inside the example package (.build-*).
    let outputs = ExamplePackage.packageFolder.appendingPathComponent(".build-plugin-outputs")
    try? FileManager.default.removeItem(at: outputs)
    try FileManager.default.createDirectory(at: outputs, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: outputs) }
    let converted = try ExamplePackage.swift(
      "package",
      [
        "--allow-writing-to-package-directory", "plexus-convert",
        "Sources/DigitsClassifier/digits-mlp.plexus", ".build-plugin-outputs/digits.safetensors",
      ])
    #expect(converted.status == 0, "\(converted.stdout)\(converted.stderr)")
    #expect(
      FileManager.default.fileExists(
        atPath: outputs.appendingPathComponent("digits.safetensors").path))

    let trainArguments = [
      "plexus-train", "digits-mlp.json", "-o", ".build-plugin-outputs/trained.plexus",
      "--epochs", "1", "-q",
    ]
    let refused = try ExamplePackage.swift("package", trainArguments)
    #expect(refused.status != 0)
    #expect(
      (refused.stdout + refused.stderr).contains(
        "plexus-train saves the trained model into the package"),
      "\(refused.stdout)\(refused.stderr)")
    let trained = try ExamplePackage.swift(
      "package", ["--allow-writing-to-package-directory"] + trainArguments)
    #expect(trained.status == 0, "\(trained.stdout)\(trained.stderr)")
    let history = try #require(
      try PlexusFile(contentsOf: outputs.appendingPathComponent("trained.plexus"))
        .trainingHistory())
    #expect(history.epochsCompleted == 1)

    let failing = try ExamplePackage.swift("package", ["plexus-inspect", "missing.plexus"])
    #expect(failing.status != 0)
    #expect((failing.stdout + failing.stderr).contains("missing.plexus"))
  }
}
