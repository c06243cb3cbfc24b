import ArgumentParser
import Foundation
import Plexus
import PlexusCommands
import Testing

/// Trains the small blobs model into `folder` and returns the model file.
private func trainBlobs(in folder: TemporaryFolder) throws -> (model: URL, report: TrainReport) {
  let spec = try writeBlobsSpec(in: folder, epochs: 3)
  let output = folder.file("blobs.plexus")
  let report = try Train.run(
    TrainSettings(specPath: spec.path, outputPath: output.path, quiet: true),
    console: CapturedOutput())
  return (output, report)
}

@Suite struct ModelCommandTests {
  @Test func parsesPredictEvaluateAndSummary() throws {
    let predict = try #require(
      try PlexusCommand.parseAsRoot([
        "predict", "m.plexus", "--input", "x.npy", "--output", "y.npy", "--classes",
      ])
        as? PredictCommand)
    #expect(
      predict.settings
        == PredictSettings(
          modelPath: "m.plexus", inputPath: "x.npy", outputPath: "y.npy", classes: true))
    let evaluate = try #require(
      try PlexusCommand.parseAsRoot([
        "evaluate", "m.plexus", "--data", "x.npy", "y.npy", "--loss", "mse",
      ])
        as? EvaluateCommand)
    #expect(
      evaluate.settings
        == EvaluateSettings(modelPath: "m.plexus", data: ["x.npy", "y.npy"], loss: "mse"))
    let withSpec = try #require(
      try PlexusCommand.parseAsRoot(["evaluate", "m.plexus", "--data", "spec.json"])
        as? EvaluateCommand)
    #expect(withSpec.settings.data == ["spec.json"])
    let summary = try #require(
      try PlexusCommand.parseAsRoot(["summary", "m.plexus"]) as? SummaryCommand)
    #expect(summary.model == "m.plexus")

    for arguments in [
      ["predict", "m.plexus"], ["evaluate", "m.plexus", "--data", "x.npy"],
      ["evaluate", "m.plexus", "--data", "a.npy", "b.npy", "c.npy"],
      ["predict", "m", "--input", "x", "--batch-size", "0"],
    ] {
      #expect(throws: (any Error).self, "\(arguments)") { try PlexusCommand.parseAsRoot(arguments) }
    }
  }

  @Test func predictWritesOutputsOrClasses() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let (model, report) = try trainBlobs(in: folder)
    let inputs = try Tensor(shape: [4, 2], scalars: [-2, -2, 2, 2, -1.5, -1, 1, 1.5])
    try NumPy.write(inputs, to: folder.file("in.npy"))
    let expected = try report.model.predict(inputs)

    let console = CapturedOutput()
    let outputs = try Predict.run(
      PredictSettings(
        modelPath: model.path, inputPath: folder.file("in.npy").path,
        outputPath: folder.file("out.npy").path),
      console: console)
    #expect(outputs == expected)
    #expect(try NumPy.read(contentsOf: folder.file("out.npy")).tensor() == expected)
    #expect(console.text == "wrote outputs of shape [4, 2] to \(folder.file("out.npy").path)\n")

    let printed = CapturedOutput()
    let classes = try Predict.run(
      PredictSettings(modelPath: model.path, inputPath: folder.file("in.npy").path, classes: true),
      console: printed)
    #expect(classes == Tensor([0, 1, 0, 1]))
    #expect(printed.text == "0\n1\n0\n1\n")
  }

  @Test func predictRejectsInputsOfTheWrongShape() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let (model, _) = try trainBlobs(in: folder)
    try NumPy.write(Tensor.zeros([3, 5]), to: folder.file("wide.npy"))
    let input = folder.file("wide.npy").path
    #expect(
      throws: PlexusError.invalidShape(
        "\(input) holds an array of shape [3, 5], but the model takes a batch [N] + [2]")
    ) {
      try Predict.run(
        PredictSettings(modelPath: model.path, inputPath: input), console: CapturedOutput())
    }
  }

  @Test func samplesWithAsManyValuesAreReshaped() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let spec = try folder.write(
      """
      {"inputShape": [8, 8], "layers": [{"type": "plexus.flatten"}, {"type": "plexus.dense", "config": {"units": 10}}],
       "loss": "softmax_cross_entropy", "optimizer": {"type": "adam", "learningRate": 0.01}, "epochs": 2,
       "data": {"source": "digits"}}
      """, to: "images.json")
    let model = folder.file("images.plexus")
    let report = try Train.run(
      TrainSettings(specPath: spec.path, outputPath: model.path, quiet: true),
      console: CapturedOutput())
    #expect(report.model.inputSpecs.first?.shape == [8, 8])
    #expect((report.test["accuracy"] ?? 0) > 0.8)
    let logs = try Evaluate.run(
      EvaluateSettings(modelPath: model.path, data: [spec.path]), console: CapturedOutput())
    #expect(logs == report.test)

    // Flat digits [N, 64] go into the [8, 8] model.
    let test = try Digits.standardSplit().test
    try NumPy.write(test.features.samples(0..<5), to: folder.file("flat.npy"))
    let classes = try Predict.run(
      PredictSettings(
        modelPath: model.path, inputPath: folder.file("flat.npy").path, classes: true),
      console: CapturedOutput())
    let images = try test.features.samples(0..<5).reshaped([5, 8, 8])
    #expect(classes.scalars == (try report.model.predict(images)).argmaxPerSample().map(Float.init))

    let summary = CapturedOutput()
    try Summary.run(path: spec.path, console: summary)
    #expect(summary.text.contains("[N, 64]"))
  }

  @Test func evaluateUsesTheRecordedLossOrTheGivenOne() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let (model, report) = try trainBlobs(in: folder)
    let data = [folder.file("x.npy").path, folder.file("y.npy").path]
    let console = CapturedOutput()
    let logs = try Evaluate.run(
      EvaluateSettings(modelPath: model.path, data: data), console: console)
    let all = try Dataset(
      features: try NumPy.read(contentsOf: folder.file("x.npy")).tensor(),
      labels: try NumPy.read(contentsOf: folder.file("y.npy")).tensor())
    let expected = try report.model.evaluate(
      all.features, all.labels, loss: CategoricalCrossEntropy(fromLogits: true),
      metrics: [.accuracy])
    #expect(logs == expected)
    #expect(console.text.hasPrefix("blobs.plexus on \(data[0]), \(data[1]) (80 samples): loss "))

    // The spec's test split, with the loss named on the command line, gives train's test figures.
    let named = try Evaluate.run(
      EvaluateSettings(
        modelPath: model.path, data: [folder.file("blobs.json").path], loss: "softmax_cross_entropy"
      ),
      console: CapturedOutput())
    #expect(named == report.test)
    // A loss that does not fit the labels is an error, not a number.
    #expect(throws: PlexusError.self) {
      try Evaluate.run(
        EvaluateSettings(modelPath: model.path, data: data, loss: "mse"), console: CapturedOutput())
    }

    // A loss recorded under its short name (as files written before the loss registry) still
    // reads back.
    let legacy = folder.file("legacy.plexus")
    var options = SaveOptions()
    options.metadata.values[TrainingMetadata.lossKey] = #""softmax_cross_entropy""#
    try report.model.save(to: legacy, options: options)
    #expect(
      try Evaluate.run(
        EvaluateSettings(modelPath: legacy.path, data: data), console: CapturedOutput())
        == expected)

    // A model saved without training metadata needs --loss.
    let bare = folder.file("bare.plexus")
    try report.model.save(to: bare)
    #expect(
      throws: PlexusError.invalidArgument(
        "\(bare.path) records no loss; name one with --loss (for example --loss softmax_cross_entropy)"
      )
    ) {
      try Evaluate.run(
        EvaluateSettings(modelPath: bare.path, data: data), console: CapturedOutput())
    }
    #expect(throws: PlexusError.self) {
      try Evaluate.run(
        EvaluateSettings(modelPath: bare.path, data: data, loss: "cross"), console: CapturedOutput()
      )
    }
  }

  @Test func summaryDescribesModelFilesAndSpecs() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let (model, report) = try trainBlobs(in: folder)
    let console = CapturedOutput()
    try Summary.run(path: model.path, console: console)
    #expect(console.text.hasPrefix(report.model.summary()))
    #expect(console.text.contains("Input shape: [N, 2]\n"))
    #expect(console.text.contains("Description: blobs\n"))
    // The metadata records the registered names with every parameter.
    #expect(
      console.text.contains(
        #"Loss: {"fromLogits":true,"type":"plexus.categorical_crossentropy"}"# + "\n"))
    #expect(console.text.contains(#"Optimizer: {"amsgrad":false,"#))
    #expect(console.text.contains(#""type":"plexus.adam""#))
    #expect(console.text.contains("Epochs trained: 3\n"))
    #expect(console.text.contains("Optimizer state: saved (training can resume)\n"))

    let spec = CapturedOutput()
    try Summary.run(
      path: examplesFolder.appendingPathComponent("digits-mlp.json").path, console: spec)
    #expect(spec.text.contains("hidden_1  plexus.dense  [N, 128]        8320"))
    #expect(spec.text.contains("Total params: 17226"))
  }

  @Test func residualExampleTrainsAGraphModelToNinetySevenPercent() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let output = folder.file("residual.plexus")
    let report = try Train.run(
      TrainSettings(
        specPath: examplesFolder.appendingPathComponent("digits-residual.json").path,
        outputPath: output.path, quiet: true),
      console: CapturedOutput())
    #expect(report.model is Model)
    #expect((report.test["accuracy"] ?? 0) >= 0.97, "\(report.test)")
    let summary = CapturedOutput()
    try Summary.run(path: output.path, console: summary)
    #expect(summary.text.contains("Connected to"))
    #expect(summary.text.contains("stem, block_2"))
    let inspection = try PlexusInspection.inspect(output)
    #expect(inspection.layers.first { $0.type == "plexus.add" }?.connections == "stem, block_2")
  }

  @Test(arguments: [
    "digits-mlp.json", "digits-cnn.json", "digits-residual.json", "digits-lstm.json",
  ])
  func exampleSpecsBuild(name: String) throws {
    let spec = try TrainingSpec.load(contentsOf: examplesFolder.appendingPathComponent(name))
    #expect(spec.data == .digits)
    let model = try spec.buildModel(
      registry: .standard(), inputShape: try #require(spec.inputShape))
    #expect(model.outputSpecs.first?.shape == [10])
  }

  @Test func loadingNamesTheModuleOfAnUnregisteredLayer() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let (model, _) = try trainBlobs(in: folder)
    do {
      try Summary.run(path: model.path, console: CapturedOutput(), registry: LayerRegistry())
      Issue.record("a model with dense layers loaded without PlexusPerceptron's layers")
    } catch {
      let message = PlexusCommand.message(for: error)
      #expect(message.contains("'plexus.dense'"))
      #expect(message.contains("PlexusPerceptron"))
    }
    #expect(throws: (any Error).self) {
      try Summary.run(path: folder.file("missing.plexus").path, console: CapturedOutput())
    }
  }
}
