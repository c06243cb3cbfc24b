import Foundation
import Plexus
import PlexusCommands
import Testing

@Suite struct ToolSafetyTests {
  @Test func outputsThatAreInputsOrHaveNoFolderAreRefusedBeforeAnyWork() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let spec = try writeBlobsSpec(in: folder)
    let before = try Data(contentsOf: spec)
    #expect {
      try Train.run(
        TrainSettings(specPath: spec.path, outputPath: spec.path, quiet: true),
        console: CapturedOutput())
    } throws: { "\($0)".contains("is also an input") }
    #expect(try Data(contentsOf: spec) == before)
    let console = CapturedOutput()
    #expect {
      try Train.run(
        TrainSettings(specPath: spec.path, outputPath: folder.file("missing/m.plexus").path),
        console: console)
    } throws: { "\($0)".contains("does not exist") }
    #expect(!console.text.contains("epoch"), "training started: \(console.text)")

    let model = folder.file("m.plexus")
    try Train.run(
      TrainSettings(specPath: spec.path, outputPath: model.path, quiet: true),
      console: CapturedOutput())
    let saved = try Data(contentsOf: model)
    let x = folder.file("x.npy")
    for target in [model, x] {
      #expect {
        try Predict.run(
          PredictSettings(modelPath: model.path, inputPath: x.path, outputPath: target.path),
          console: CapturedOutput())
      } throws: { "\($0)".contains("is also an input") }
    }
    #expect(try Data(contentsOf: model) == saved)
  }

  @Test func nonFiniteValuesAreRefusedWithTheSampleNamed() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let spec = try writeBlobsSpec(in: folder)
    let model = folder.file("m.plexus")
    try Train.run(
      TrainSettings(specPath: spec.path, outputPath: model.path, quiet: true),
      console: CapturedOutput())
    // Prediction inputs.
    var x = try NumPy.read(contentsOf: folder.file("x.npy")).tensor()
    x[3, 1] = .nan
    let bad = folder.file("bad.npy")
    try NumPy.write(x, to: bad)
    #expect {
      try Predict.run(
        PredictSettings(modelPath: model.path, inputPath: bad.path), console: CapturedOutput())
    } throws: { "\($0)".contains("sample 3 holds nan at position 1") }
    // Training features: the run stops before the first batch and saves nothing.
    x[3, 1] = .infinity
    try NumPy.write(x, to: folder.file("x.npy"))
    let output = folder.file("nan.plexus")
    #expect {
      try Train.run(
        TrainSettings(specPath: spec.path, outputPath: output.path, quiet: true),
        console: CapturedOutput())
    } throws: { "\($0)".contains("holds inf") && "\($0)".contains("data must be finite") }
    #expect(!FileManager.default.fileExists(atPath: output.path))
  }
}
