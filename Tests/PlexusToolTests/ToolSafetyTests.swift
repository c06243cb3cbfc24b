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

  /// Sizes a machine cannot hold are errors before anything is allocated, never a crash.
  @Test func hugeSizesInASpecAreClearErrors() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let cases: [(shape: String, layer: String, message: String)] = [
      (
        "[64]", #"{"type": "plexus.dense", "config": {"units": 1000000000}}"#,
        "one parameter may hold"
      ),
      (
        "[8, 8]", #"{"type": "plexus.lstm", "config": {"units": 1000000000}}"#,
        "one parameter may hold"
      ),
      (
        "[64]",
        #"{"type": "plexus.embedding", "config": {"inputDim": 1000000000, "outputDim": 1000000000}}"#,
        "one parameter may hold"
      ),
      (
        "[64]", #"{"type": "plexus.rbm_model", "config": {"visible": 64, "hidden": 1000000000}}"#,
        "one parameter may hold"
      ),
      ("[4294967296, 4294967296]", #"{"type": "plexus.flatten"}"#, "overflows"),
    ]
    for (shape, layer, message) in cases {
      let spec = try folder.write(
        #"{"inputShape": \#(shape), "layers": [\#(layer)], "loss": "mse", "optimizer": "sgd", "epochs": 1, "data": {"source": "digits"}}"#,
        to: "big.json")
      #expect {
        try Train.run(
          TrainSettings(
            specPath: spec.path, outputPath: folder.file("big.plexus").path, quiet: true),
          console: CapturedOutput())
      } throws: { "\($0)".contains(message) }
    }
  }

  /// Numbers a field cannot hold name the key, the value and the type.
  @Test func outOfRangeNumbersNameTheirKey() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let cases: [(units: String, rate: String, message: String)] = [
      ("2.5", "0.1", "key 'units': 2.5 is not a valid Int"),
      ("1e300", "0.1", "key 'units': 1e+300 is not a valid Int"),
      ("\"ten\"", "0.1", "key 'units': \"ten\" is not a valid Int"),
      ("3", "1e39", "key 'learningRate': 1e+39 is not a valid Float"),
    ]
    for (units, rate, message) in cases {
      let spec = try folder.write(
        #"{"inputShape": [64], "layers": [{"type": "plexus.dense", "config": {"units": \#(units)}}], "loss": "mse", "optimizer": {"type": "sgd", "learningRate": \#(rate)}, "data": {"source": "digits"}}"#,
        to: "numbers.json")
      #expect {
        try Train.run(
          TrainSettings(specPath: spec.path, outputPath: folder.file("n.plexus").path, quiet: true),
          console: CapturedOutput())
      } throws: { "\($0)".contains(message) }
    }
  }

  @Test func commonMistakesGetMessagesThatSayWhatToDo() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    #expect {
      try Train.run(
        TrainSettings(specPath: folder.url.path, quiet: true), console: CapturedOutput())
    } throws: { "\($0)".contains("is a folder, not a spec file") }
    let spec = try folder.write(
      #"{"layers": [{"type": "dense", "config": {"units": 2}}], "loss": "mse", "optimizer": "sgd", "data": {"source": "digits"}}"#,
      to: "bare.json")
    #expect {
      try Train.run(
        TrainSettings(specPath: spec.path, outputPath: folder.file("m.plexus").path, quiet: true),
        console: CapturedOutput())
    } throws: {
      "\($0)".contains("did you mean 'plexus.dense'?") && "\($0)".contains("plexus.lstm")
    }
    do {
      _ = try PlexusCommand.parseAsRoot(["train", "spec.json", "--epochs", "-1"])
      Issue.record("--epochs -1 was accepted")
    } catch {
      #expect(PlexusCommand.message(for: error) == "--epochs must be positive, got -1")
    }
  }
}
