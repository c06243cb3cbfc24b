import ArgumentParser
import Foundation
import Plexus
import PlexusCommands
import Testing

/// The repository's Examples folder.
let examplesFolder = URL(fileURLWithPath: #filePath)
  .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
  .appendingPathComponent("Examples", isDirectory: true)

/// Writes a small two-class problem as .npy files and a spec that trains a dense model on it.
func writeBlobsSpec(in folder: TemporaryFolder, epochs: Int = 3) throws -> URL {
  var generator = SeededGenerator(seed: 5)
  var scalars: [Float] = []
  var labels: [Float] = []
  for sample in 0..<80 {
    let label = sample % 2
    let center: Float = label == 0 ? -1.5 : 1.5
    scalars += [center + generator.nextNormal() * 0.5, center + generator.nextNormal() * 0.5]
    labels.append(Float(label))
  }
  try NumPy.write(try Tensor(shape: [80, 2], scalars: scalars), to: folder.file("x.npy"))
  try NumPy.write(Tensor(labels), to: folder.file("y.npy"))
  return try folder.write(
    """
    {"name": "blobs", "layers": [{"type": "plexus.dense", "config": {"units": 8, "activation": "tanh"}},
                                 {"type": "plexus.dense", "config": {"units": 2}}],
     "loss": "softmax_cross_entropy", "optimizer": {"type": "adam", "learningRate": 0.05},
     "epochs": \(epochs), "batchSize": 16, "seed": 3, "validationSplit": 0.25,
     "data": {"source": "npy", "features": "x.npy", "labels": "y.npy", "testFraction": 0.25}}
    """, to: "blobs.json")
}

@Suite struct TrainCommandTests {
  @Test func parsesArguments() throws {
    let parsed = try PlexusCommand.parseAsRoot([
      "train", "spec.json", "--epochs", "3", "--seed", "5", "--quiet",
    ])
    let command = try #require(parsed as? TrainCommand)
    #expect(
      command.settings == TrainSettings(specPath: "spec.json", epochs: 3, seed: 5, quiet: true))
    let plain = try #require(
      try PlexusCommand.parseAsRoot(["train", "spec.json"]) as? TrainCommand)
    #expect(plain.settings == TrainSettings(specPath: "spec.json"))
  }

  @Test func rejectsBadArguments() {
    for arguments in [
      ["train", "spec.json", "--epochs", "0"], ["train"], ["train", "a.json", "--seed", "-1"],
    ] {
      #expect(throws: (any Error).self, "\(arguments)") { try PlexusCommand.parseAsRoot(arguments) }
    }
    do {
      _ = try PlexusCommand.parseAsRoot(["train", "spec.json", "--epochs", "0"])
    } catch {
      #expect(PlexusCommand.message(for: error) == "--epochs must be positive, got 0")
      #expect(PlexusCommand.exitCode(for: error) != .success)
    }
  }

  @Test func malformedSpecFailsWithThePathAndNoTrace() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let spec = try folder.write(
      #"{"layers": [{"type": "plexus.dense", "config": {}}], "loss": "mse", "optimizer": "sgd", "data": {"source": "digits"}}"#,
      to: "bad.json")
    let console = CapturedOutput()
    do {
      try Train.run(
        TrainSettings(specPath: spec.path, outputPath: folder.file("m.plexus").path),
        console: console)
      Issue.record("a malformed spec trained")
    } catch {
      let message = PlexusCommand.message(for: error)
      #expect(message.hasPrefix("\(spec.path): at $.layers[0].config: "))
      #expect(message.contains("missing key 'units'"))
      #expect(!message.contains("\n"))
      #expect(PlexusCommand.exitCode(for: error) != .success)
    }
    let badLoss = try folder.write(
      #"{"layers": [{"type": "plexus.dense", "config": {"units": 2}}], "loss": "cross", "optimizer": "sgd", "data": {"source": "digits"}}"#,
      to: "loss.json")
    #expect(throws: SpecError.self) {
      try Train.run(TrainSettings(specPath: badLoss.path), console: console)
    }
    do {
      try Train.run(TrainSettings(specPath: badLoss.path), console: console)
    } catch let error as SpecError {
      #expect(error.path == "$.loss")
      #expect(error.message.contains("unknown loss 'cross'"))
    }
    let badOptimizer = try folder.write(
      #"{"layers": [{"type": "plexus.dense", "config": {"units": 2}}], "loss": "mse", "optimizer": {"type": "adam", "lr": 1}, "data": {"source": "digits"}}"#,
      to: "optimizer.json")
    do {
      try Train.run(TrainSettings(specPath: badOptimizer.path), console: console)
      Issue.record("an unknown optimizer key was accepted")
    } catch let error as SpecError {
      #expect(error.path == "$.optimizer")
      #expect(error.message.contains("unknown key 'lr'"))
    }
    let wrongShape = try folder.write(
      #"{"inputShape": [8, 7], "layers": [{"type": "plexus.flatten"}, {"type": "plexus.dense", "config": {"units": 2}}], "loss": "mse", "optimizer": "sgd", "data": {"source": "digits"}}"#,
      to: "shape.json")
    #expect(
      throws: SpecError(
        file: wrongShape.path, path: "$.inputShape",
        message:
          "the model takes samples of shape [8, 7] (56 values) but the data's samples have shape [64] (64 values)"
      )
    ) { try Train.run(TrainSettings(specPath: wrongShape.path), console: console) }
    #expect(console.text.isEmpty)
  }

  @Test func trainsAndPrintsOneLinePerEpochInLogs() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let spec = try writeBlobsSpec(in: folder)
    let console = CapturedOutput(isTerminal: false)
    let output = folder.file("blobs.plexus")
    let report = try Train.run(
      TrainSettings(specPath: spec.path, outputPath: output.path), console: console)
    let lines = console.text.split(separator: "\n").map(String.init)
    #expect(lines.first == "Training blobs from \(spec.path)")
    #expect(
      lines.contains {
        $0.hasPrefix("data: x.npy, y.npy: 60 training / 20 test samples, features [2], 2 classes")
      })
    let parameterCount = 2 * 8 + 8 + 8 * 2 + 2
    #expect(lines.contains("Total params: \(parameterCount)"))
    let epochLines = lines.filter { $0.hasPrefix("epoch ") }
    #expect(epochLines.count == 3)
    #expect(epochLines.allSatisfy { $0.contains("val_accuracy") && $0.contains("samples/s") })
    #expect(!console.text.contains("\r"))
    #expect(report.history.epochsCompleted == 3)
    let accuracy = try #require(report.test["accuracy"])
    #expect(
      lines.contains {
        $0.hasPrefix("test: loss ") && $0.contains(ProgressFormat.percent(Double(accuracy)))
      })
    #expect(accuracy >= 0.9)
    #expect(lines.last == "saved model to \(output.path)")
    #expect(report.output == output)
    #expect(FileManager.default.fileExists(atPath: output.path))
  }

  @Test func terminalsGetALiveLineAndQuietGetsOnlyTheResult() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let spec = try writeBlobsSpec(in: folder, epochs: 2)
    let terminal = CapturedOutput(isTerminal: true)
    try Train.run(
      TrainSettings(specPath: spec.path, outputPath: folder.file("a.plexus").path),
      console: terminal)
    #expect(terminal.text.contains("\repoch 1/2  ["))
    #expect(terminal.text.contains("ETA "))
    let quiet = CapturedOutput(isTerminal: true)
    let output = folder.file("b.plexus")
    try Train.run(
      TrainSettings(specPath: spec.path, outputPath: output.path, quiet: true), console: quiet)
    let lines = quiet.text.split(separator: "\n")
    #expect(lines.count == 2)
    #expect(lines.first?.hasPrefix("test: loss ") == true)
    #expect(lines.last == "saved model to \(output.path)"[...])
  }

  @Test func digitsExampleReachesNinetySevenPercentReproducibly() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let spec = examplesFolder.appendingPathComponent("digits-mlp.json")
    let output = folder.file("digits.plexus")
    let settings = TrainSettings(
      specPath: spec.path, outputPath: output.path, epochs: 15, quiet: true)
    let first = try Train.run(settings, console: CapturedOutput())
    let firstFile = try Data(contentsOf: output)
    let second = try Train.run(settings, console: CapturedOutput())
    let accuracy = try #require(first.test["accuracy"])
    #expect(accuracy >= 0.97, "test accuracy \(accuracy)")
    #expect(first.test == second.test)
    #expect(first.history == second.history)
    let firstWeights = first.model.parameters.map(\.value)
    let secondWeights = second.model.parameters.map(\.value)
    #expect(firstWeights.count == 6)
    #expect(firstWeights == secondWeights)

    // The saved file reloads to the same weights and the same test figures.
    let reloaded = try Sequential.load(from: output, registry: .standard())
    #expect(reloaded.parameters.map(\.value) == firstWeights)
    let console = CapturedOutput()
    let logs = try Evaluate.run(
      EvaluateSettings(modelPath: output.path, data: [spec.path]), console: console)
    #expect(logs == first.test)
    #expect(console.text.contains("accuracy \(ProgressFormat.percent(Double(accuracy)))"))
    // Only the creation time in the metadata may differ between the two files.
    #expect(firstFile.count == (try Data(contentsOf: output)).count)
  }
}
