import ArgumentParser
import Foundation
import Plexus
import PlexusCommands
import Testing

@Suite struct UsageDetailTests {
  @Test func plexusAloneIsAUsageError() throws {
    #expect { try PlexusCommand().run() } throws: { ($0 as? ExitCode) == ExitCode(64) }
  }

  @Test func levelWithRawCodecAndZeroEpsilonAreRefused() throws {
    #expect(throws: (any Error).self) {
      try PlexusCommand.parseAsRoot([
        "convert", "a.plexus", "b.plexus", "--codec", "raw", "--level", "3",
      ])
    }
    for type in ["adam", "rmsprop", "adagrad"] {
      #expect(throws: PlexusError.self, "\(type)") {
        try OptimizerConfig(json: .object(["type": .string(type), "epsilon": .number(0)]))
      }
    }
  }

  /// A binary classifier trained from logits: its classes threshold the logit at 0, and are
  /// written as int64.
  @Test func binaryClassesFromLogitsAreThresholdedAtZeroAndWrittenAsInt64() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    _ = try writeBlobsSpec(in: folder)
    let spec = try folder.write(
      """
      {"name": "binary", "layers": [{"type": "plexus.dense", "config": {"units": 1}}],
       "loss": {"type": "binary_crossentropy", "fromLogits": true},
       "optimizer": {"type": "adam", "learningRate": 0.05}, "epochs": 20, "batchSize": 16, "seed": 3,
       "data": {"source": "npy", "features": "x.npy", "labels": "y.npy", "testFraction": 0.25}}
      """, to: "binary.json")
    let model = folder.file("binary.plexus")
    try Train.run(
      TrainSettings(specPath: spec.path, outputPath: model.path, quiet: true),
      console: CapturedOutput())
    let x = folder.file("x.npy")
    let output = folder.file("classes.npy")
    let classes = try Predict.run(
      PredictSettings(
        modelPath: model.path, inputPath: x.path, outputPath: output.path, classes: true),
      console: CapturedOutput())
    let logits = try Predict.run(
      PredictSettings(modelPath: model.path, inputPath: x.path), console: CapturedOutput())
    #expect(classes.scalars == logits.scalars.map { $0 >= 0 ? 1 : 0 })
    let labels = try NumPy.read(contentsOf: folder.file("y.npy")).tensor()
    let correct = zip(classes.scalars, labels.scalars).filter { $0 == $1 }.count
    #expect(correct >= 76, "\(correct) of 80")
    let written = try NumPy.read(contentsOf: output)
    #expect(written.dtype == .int64)
    #expect(written.tensor().scalars == classes.scalars)
  }

  @Test func probabilitiesComeFromLogits() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let spec = try writeBlobsSpec(in: folder)
    let model = folder.file("m.plexus")
    try Train.run(
      TrainSettings(specPath: spec.path, outputPath: model.path, quiet: true),
      console: CapturedOutput())
    let x = folder.file("x.npy")
    let logits = try Predict.run(
      PredictSettings(modelPath: model.path, inputPath: x.path), console: CapturedOutput())
    let probabilities = try Predict.run(
      PredictSettings(modelPath: model.path, inputPath: x.path, probabilities: true),
      console: CapturedOutput())
    #expect(probabilities.shape == logits.shape)
    for row in 0..<probabilities.shape[0] {
      let (a, b) = (probabilities[row, 0], probabilities[row, 1])
      #expect(abs(a + b - 1) < 1e-5 && a >= 0 && b >= 0)
      let expected = 1 / (1 + Foundation.exp(logits[row, 1] - logits[row, 0]))
      #expect(abs(a - expected) < 1e-5)
    }
    #expect(throws: (any Error).self) {
      try PlexusCommand.parseAsRoot([
        "predict", "m.plexus", "-i", "x.npy", "--classes", "--probabilities",
      ])
    }
  }
}
