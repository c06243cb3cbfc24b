import Foundation
import Plexus
import PlexusCommands
import Testing

@Suite struct ResumeCommandTests {
  @Test func resumedTrainingMatchesAnUninterruptedRun() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let spec = try writeBlobsSpec(in: folder, epochs: 6)
    let whole = try Train.run(
      TrainSettings(specPath: spec.path, outputPath: folder.file("whole.plexus").path, quiet: true),
      console: CapturedOutput())
    let half = folder.file("half.plexus")
    try Train.run(
      TrainSettings(specPath: spec.path, outputPath: half.path, epochs: 3, quiet: true),
      console: CapturedOutput())
    let console = CapturedOutput()
    let resumed = try Train.run(
      TrainSettings(
        specPath: spec.path, outputPath: folder.file("resumed.plexus").path, resumePath: half.path),
      console: console)
    #expect(console.text.contains("resuming from \(half.path) after epoch 3 of 6"))
    #expect(console.text.contains("epoch 4/6") && !console.text.contains("epoch 3/6"))
    #expect(resumed.history.epochsCompleted == 6)
    #expect(resumed.history["loss"] == whole.history["loss"])
    for (a, b) in zip(whole.model.parameters, resumed.model.parameters) {
      #expect(a.value == b.value)
    }
    // The saved file holds the whole history.
    let file = try PlexusFile(contentsOf: folder.file("resumed.plexus"))
    #expect(try file.trainingHistory()?.epochsCompleted == 6)

    // Nothing left to train, or another architecture: clear errors.
    #expect {
      try Train.run(
        TrainSettings(
          specPath: spec.path, outputPath: folder.file("again.plexus").path, quiet: true,
          resumePath: folder.file("whole.plexus").path), console: CapturedOutput())
    } throws: { "\($0)".contains("has trained 6 epochs already") }
    let other = try folder.write(
      try String(contentsOf: spec, encoding: .utf8).replacingOccurrences(
        of: "\"units\": 8", with: "\"units\": 9"),
      to: "other.json")
    #expect {
      try Train.run(
        TrainSettings(
          specPath: other.path, outputPath: folder.file("x.plexus").path, quiet: true,
          resumePath: half.path), console: CapturedOutput())
    } throws: { "\($0)".contains("different architecture") }
  }
}

extension ResumeCommandTests {
  /// With dropout, the saved random streams make the resumed run draw the same masks.
  @Test func resumedTrainingWithDropoutMatchesAnUninterruptedRun() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let plain = try writeBlobsSpec(in: folder, epochs: 6)
    let spec = try folder.write(
      try String(contentsOf: plain, encoding: .utf8).replacingOccurrences(
        of: #"{"type": "plexus.dense", "config": {"units": 2}}"#,
        with:
          #"{"type": "plexus.dropout", "config": {"rate": 0.5}}, {"type": "plexus.dense", "config": {"units": 2}}"#
      ), to: "dropout.json")
    #expect(try String(contentsOf: spec, encoding: .utf8).contains("plexus.dropout"))
    let whole = try Train.run(
      TrainSettings(specPath: spec.path, outputPath: folder.file("whole.plexus").path, quiet: true),
      console: CapturedOutput())
    let half = folder.file("half.plexus")
    try Train.run(
      TrainSettings(specPath: spec.path, outputPath: half.path, epochs: 3, quiet: true),
      console: CapturedOutput())
    #expect(try PlexusFile(contentsOf: half).randomStreams()?.keys.sorted() == ["dropout_1"])
    let resumed = try Train.run(
      TrainSettings(
        specPath: spec.path, outputPath: folder.file("resumed.plexus").path, quiet: true,
        resumePath: half.path),
      console: CapturedOutput())
    #expect(resumed.history["loss"] == whole.history["loss"])
    for (a, b) in zip(whole.model.parameters, resumed.model.parameters) {
      #expect(a.value == b.value)
    }
  }
}

@Suite struct EvaluateSplitTests {
  /// `train --seed S` splits the data with S; evaluate on the spec uses the same split.
  @Test func evaluateTestsOnTheSplitTheModelWasTrainedWith() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let spec = try writeBlobsSpec(in: folder)
    let model = folder.file("m.plexus")
    let report = try Train.run(
      TrainSettings(specPath: spec.path, outputPath: model.path, seed: 77, quiet: true),
      console: CapturedOutput())
    let logs = try Evaluate.run(
      EvaluateSettings(modelPath: model.path, data: [spec.path]), console: CapturedOutput())
    #expect(logs == report.test)
    let file = try PlexusFile(contentsOf: model)
    #expect(file.metadata?.values[TrainingMetadata.dataSeedKey] == "77")
  }
}
