import Foundation
import Plexus
import PlexusCommands
import Testing

@Suite struct RecurrentExampleTests {
  /// The adding problem with T = 50: an LSTM learns it (a model that ignores its input gets
  /// about 0.167).
  @Test func lstmSolvesTheAddingProblem() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let report = try Train.run(
      TrainSettings(
        specPath: examplesFolder.appendingPathComponent("adding-lstm.json").path,
        outputPath: folder.file("adding.plexus").path, epochs: 12, quiet: true),
      console: CapturedOutput())
    let mse = try #require(report.test["loss"])
    print("adding problem (T = 50), LSTM(32), 12 epochs: test MSE \(mse)")
    #expect(mse < 0.01)
  }

  @Test func theAddingProblemIsGeneratedAsDescribed() throws {
    let data = try AddingProblem.make(samples: 200, steps: 10, seed: 4)
    #expect(data.features.shape == [200, 10, 2] && data.labels.shape == [200, 1])
    for sample in 0..<200 {
      let markers = (0..<10).filter { data.features[sample, $0, 1] == 1 }
      #expect(markers.count == 2 && markers[0] < 5 && markers[1] >= 5)
      let sum = markers.reduce(Float(0)) { $0 + data.features[sample, $1, 0] }
      #expect(abs(sum - data.labels[sample, 0]) < 1e-6)
    }
    #expect(try AddingProblem.make(samples: 200, steps: 10, seed: 4).features == data.features)
    #expect(throws: PlexusError.self) { try AddingProblem.make(samples: 0, steps: 10, seed: 0) }
    #expect(throws: PlexusError.self) { try AddingProblem.make(samples: 5, steps: 1, seed: 0) }
    #expect(throws: PlexusError.self) {
      try AddingProblem.make(samples: 1 << 20, steps: 100_000, seed: 0)
    }
    // Spec keys are checked.
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let spec = try folder.write(
      #"{"layers": [{"type": "plexus.lstm", "config": {"units": 2}}], "loss": "mse", "optimizer": "sgd", "data": {"source": "adding", "step": 5}}"#,
      to: "bad.json")
    #expect { try TrainingSpec.load(contentsOf: spec) } throws: {
      "\($0)".contains("$.data") && "\($0)".contains("unknown key 'step'")
    }
  }

  @Test func recurrentExamplesParse() throws {
    for name in ["adding-lstm", "adding-gru", "adding-rnn", "digits-lstm", "digits-gru"] {
      let spec = try TrainingSpec.load(
        contentsOf: examplesFolder.appendingPathComponent("\(name).json"))
      #expect(spec.layers.count == 2, "\(name)")
    }
  }
}
