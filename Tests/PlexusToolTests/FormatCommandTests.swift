import ArgumentParser
import Foundation
import Plexus
import PlexusCommands
import Testing

@Suite struct FormatCommandTests {
  static func savedModel(in folder: TemporaryFolder) throws -> URL {
    let model = Sequential([try Dense(units: 4, activation: .relu), try Dense(units: 2)])
    try model.build(inputShape: [3], seed: 1)
    let url = folder.file("m.plexus")
    try model.save(to: url, options: SaveOptions(metadata: ModelMetadata(description: "two dense")))
    return url
  }

  @Test func parsesInspectAndConvert() throws {
    let inspect = try #require(
      try PlexusCommand.parseAsRoot(["inspect", "m.plexus", "--json"]) as? InspectCommand)
    #expect(inspect.file == "m.plexus" && inspect.json)
    let convert = try #require(
      try PlexusCommand.parseAsRoot([
        "convert", "a.plexus", "b.plexus", "--dtype", "f16", "--codec", "raw",
      ])
        as? ConvertCommand)
    #expect(
      try convert.settings
        == ConvertSettings(inputPath: "a.plexus", outputPath: "b.plexus", codec: .raw, dtype: .f16))
    for arguments in [
      ["inspect"], ["convert", "a.plexus"], ["convert", "a", "b", "--dtype", "f8"],
      ["convert", "a", "b", "--codec", "zstd"], ["convert", "a", "b", "--level", "12"],
    ] {
      #expect(throws: (any Error).self, "\(arguments)") { try PlexusCommand.parseAsRoot(arguments) }
    }
  }

  @Test func inspectPrintsTablesAndJSON() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let url = try Self.savedModel(in: folder)
    let text = CapturedOutput()
    let report = try Inspect.run(path: url.path, json: false, console: text)
    #expect(report.problems.isEmpty)
    #expect(text.text.contains("dense_1.kernel") && text.text.contains("shuffle-deflate"))
    #expect(text.text.contains("Checksums: all OK"))
    let json = CapturedOutput()
    try Inspect.run(path: url.path, json: true, console: json)
    let decoded = try JSONDecoder().decode(PlexusInspection.self, from: Data(json.text.utf8))
    #expect(decoded == report)
    #expect(throws: PlexusFormatError.self) {
      try Inspect.run(
        path: folder.file("missing.plexus").path, json: false, console: CapturedOutput())
    }
  }

  /// `convert` keeps the mode of the file it replaces (in place too) and refuses a read-only
  /// output, which stays as it was.
  @Test func convertKeepsFileModesAndRefusesReadOnlyOutputs() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let url = try Self.savedModel(in: folder)
    let attributes = FileManager.default
    try attributes.setAttributes([.posixPermissions: 0o604], ofItemAtPath: url.path)
    try Convert.run(
      ConvertSettings(inputPath: url.path, outputPath: url.path, codec: .raw),
      console: CapturedOutput())
    #expect(try attributes.attributesOfItem(atPath: url.path)[.posixPermissions] as? Int == 0o604)
    #expect(try PlexusFile(contentsOf: url).tensors.allSatisfy { $0.codec == .raw })

    let readOnly = folder.file("read-only.plexus")
    try Data(contentsOf: url).write(to: readOnly)
    try attributes.setAttributes([.posixPermissions: 0o444], ofItemAtPath: readOnly.path)
    let before = try Data(contentsOf: readOnly)
    for output in [readOnly, folder.file("read-only.safetensors")] {
      if output.pathExtension == "safetensors" {
        try Data().write(to: output)
        try attributes.setAttributes([.posixPermissions: 0o400], ofItemAtPath: output.path)
      }
      #expect {
        try Convert.run(
          ConvertSettings(inputPath: url.path, outputPath: output.path), console: CapturedOutput())
      } throws: { "\($0)".contains("is read-only") }
    }
    #expect(try Data(contentsOf: readOnly) == before)
    #expect(
      try attributes.attributesOfItem(atPath: readOnly.path)[.posixPermissions] as? Int == 0o444)
  }

  @Test func convertRewritesCodecAndDType() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let url = try Self.savedModel(in: folder)
    let output = folder.file("half.plexus")
    let console = CapturedOutput()
    try Convert.run(
      ConvertSettings(inputPath: url.path, outputPath: output.path, codec: .raw, dtype: .f16),
      console: console)
    #expect(console.text.contains("codec raw, dtype f16"))
    let file = try PlexusFile(contentsOf: output)
    #expect(file.tensors.allSatisfy { $0.codec == .raw && $0.dtype == .f16 })
    #expect(file.metadata?.description == "two dense")
    _ = try Sequential.load(from: file, registry: .standard())
  }

  @Test func inspectJSONOfTheGoldenFilesMatchesTheirExpectedOutput() throws {
    let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
      .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent(
        "Formats/examples")
    let files = try FileManager.default.contentsOfDirectory(atPath: examples.path)
      .filter { $0.hasSuffix(".plexus") }
    #expect(!files.isEmpty)
    for name in files {
      let console = CapturedOutput()
      try Inspect.run(
        path: examples.appendingPathComponent(name).path, json: true, console: console)
      let expected = try String(
        contentsOf: examples.appendingPathComponent(
          name.replacingOccurrences(of: ".plexus", with: ".inspect.json")), encoding: .utf8)
      #expect(console.text == expected, "\(name)")
    }
  }
}
