import Foundation
import Plexus
import PlexusCommands
import Testing

/// Writes 60 samples of six values in [0, 1] (two repeated binary patterns with a few flipped
/// pixels) with their pattern as the label, and a spec with the given layer and keys.
private func writePatternSpec(in folder: TemporaryFolder, layer: String, keys: String) throws
  -> URL
{
  var generator = SeededGenerator(seed: 9)
  var scalars: [Float] = []
  for sample in 0..<60 {
    let pattern: [Float] = sample % 2 == 0 ? [1, 1, 1, 0, 0, 0] : [0, 0, 0, 1, 1, 1]
    scalars += pattern.map { generator.nextUnitFloat() < 0.05 ? 1 - $0 : $0 }
  }
  try NumPy.write(try Tensor(shape: [60, 6], scalars: scalars), to: folder.file("x.npy"))
  try NumPy.write(Tensor((0..<60).map { Float($0 % 2) }), to: folder.file("y.npy"))
  return try folder.write(
    """
    {"name": "patterns", "inputShape": [6], "layers": [\(layer)], \(keys),
     "seed": 2, "data": {"source": "npy", "features": "x.npy", "labels": "y.npy", "testFraction": 0.25}}
    """, to: "patterns.json")
}

private let rbmLayer = """
  {"type": "plexus.rbm_model", "name": "rbm", "config": {"visible": 6, "hidden": 4, "seed": 3}}
  """

private let dbnLayer = """
  {"type": "plexus.dbn", "name": "dbn", "config": {"sizes": [6, 5, 4], "classes": 2, "seed": 3}}
  """

@Suite struct DBNTrainingTests {
  @Test func trainsAnRBMSpecWithoutALoss() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let spec = try writePatternSpec(
      in: folder, layer: rbmLayer,
      keys:
        #""optimizer": {"type": "sgd", "learningRate": 0.1, "momentum": 0.5}, "epochs": 30, "batchSize": 5"#
    )
    let output = folder.file("rbm.plexus")
    let console = CapturedOutput()
    let report = try Train.run(
      TrainSettings(specPath: spec.path, outputPath: output.path), console: console)
    let errors = try #require(report.history["reconstruction_error"])
    #expect(errors.last! < errors.first! / 2, "reconstruction error \(errors)")
    #expect(report.test["reconstruction_error"]! < errors.first!)
    #expect(report.test["free_energy"] != nil && report.test["pseudo_likelihood"] != nil)
    // Each epoch line shows the RBM's own figures (not the learning rate).
    let epochLine = try #require(
      console.text.split(separator: "\n").first { $0.hasPrefix("epoch 30/30") })
    #expect(epochLine.contains("reconstruction_error ") && epochLine.contains("free_energy "))
    #expect(!epochLine.contains(" lr "))
    #expect(console.text.contains("test: loss "))

    // Saved as an RBM; `plexus evaluate` reports the same figures on the spec's test split.
    let loaded = try #require(try loadModel(from: output, registry: .standard()) as? RBM)
    let trained = try #require(report.model as? RBM)
    let trainedWeights = trained.layer.weights.value
    #expect(loaded.layer.weights.value == trainedWeights)
    let evaluation = CapturedOutput()
    let logs = try Evaluate.run(
      EvaluateSettings(modelPath: output.path, data: [spec.path]), console: evaluation)
    #expect(logs["reconstruction_error"] == report.test["reconstruction_error"])
    #expect(evaluation.text.contains("reconstruction_error "))
  }

  @Test func pretrainsADBNThenFineTunesIt() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let spec = try writePatternSpec(
      in: folder, layer: dbnLayer,
      keys: """
        "pretraining": {"optimizer": {"type": "sgd", "learningRate": 0.1}, "epochs": 5, "batchSize": 5},
        "loss": "softmax_cross_entropy", "optimizer": {"type": "adam", "learningRate": 0.05},
        "epochs": 10, "batchSize": 10
        """)
    let output = folder.file("dbn.plexus")
    let console = CapturedOutput()
    let report = try Train.run(
      TrainSettings(specPath: spec.path, outputPath: output.path), console: console)
    let text = console.text
    let first = try #require(
      text.range(of: "pretraining rbm_1 (1 of 2): 6 visible, 5 hidden, CD-1"))
    let second = try #require(text.range(of: "pretraining rbm_2 (2 of 2): 5 visible, 4 hidden"))
    let tuning = try #require(text.range(of: "fine-tuning: loss softmax_cross_entropy"))
    #expect(first.upperBound < second.lowerBound && second.upperBound < tuning.lowerBound)
    // Five epoch lines per RBM with its figures, then ten of fine-tuning with accuracy.
    let lines = text.split(separator: "\n")
    #expect(
      lines.filter { $0.hasPrefix("epoch 5/5") && $0.contains("reconstruction_error") }.count == 2)
    #expect(lines.contains { $0.hasPrefix("epoch 10/10") && $0.contains("accuracy") })
    #expect(try #require(report.test["accuracy"]) >= 0.9)

    let loaded = try #require(try loadModel(from: output, registry: .standard()) as? DBN)
    let x = try NumPy.read(contentsOf: folder.file("x.npy")).tensor()
    #expect(try loaded.predict(x) == report.model.predict(x))
    #expect(loaded.rbms.count == 2)
  }

  @Test func specMistakesAreClearErrors() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let dense = #"{"type": "plexus.dense", "config": {"units": 2}}"#
    let cases: [(layer: String, keys: String, path: String, message: String)] = [
      (dense, #""optimizer": "sgd""#, "$", "missing key 'loss'"),
      (
        dense, #""loss": "mse", "optimizer": "sgd", "pretraining": {"optimizer": "sgd"}"#,
        "$.pretraining", "pretraining applies to a 'plexus.dbn' model"
      ),
      (
        dbnLayer,
        #""loss": "mse", "optimizer": "sgd", "pretraining": {"optimizer": "sgd", "epoch": 2}"#,
        "$.pretraining", "unknown key 'epoch'"
      ),
      (
        dbnLayer, #""loss": "mse", "optimizer": "sgd", "pretraining": {"epochs": 2}"#,
        "$.pretraining", "missing key 'optimizer'"
      ),
      (
        dbnLayer,
        #""loss": "mse", "optimizer": "sgd", "pretraining": {"optimizer": "sgd", "batchSize": 0}"#,
        "$.pretraining.batchSize", "positive batch size"
      ),
    ]
    for (layer, keys, path, message) in cases {
      let spec = try writePatternSpec(in: folder, layer: layer, keys: keys)
      do {
        try Train.run(
          TrainSettings(specPath: spec.path, outputPath: folder.file("m.plexus").path, quiet: true),
          console: CapturedOutput())
        Issue.record("\(keys) trained")
      } catch {
        let text = PlexusCommand.message(for: error)
        #expect(text.hasPrefix("\(spec.path): at \(path): "), "\(text)")
        #expect(text.contains(message), "\(text)")
      }
    }
    // Data outside [0, 1] for Bernoulli visible units is refused with the sample named.
    let spec = try writePatternSpec(in: folder, layer: rbmLayer, keys: #""optimizer": "sgd""#)
    var x = try NumPy.read(contentsOf: folder.file("x.npy")).tensor()
    x.withUnsafeMutableBufferPointer { $0[7 * 6 + 2] = 3 }
    try NumPy.write(x, to: folder.file("x.npy"))
    #expect {
      try Train.run(
        TrainSettings(specPath: spec.path, outputPath: folder.file("m.plexus").path, quiet: true),
        console: CapturedOutput())
    } throws: {
      // (The sample's index is its place in the training split.)
      "\($0)".contains("training data: rbm 'rbm': sample ") && "\($0)".contains("feature 2 is 3.0")
    }
  }

  @Test func digitExamplesParse() throws {
    let rbm = try TrainingSpec.load(
      contentsOf: examplesFolder.appendingPathComponent("digits-rbm.json"))
    #expect(rbm.loss == nil && rbm.layers[0].type == RBM.typeName)
    let dbn = try TrainingSpec.load(
      contentsOf: examplesFolder.appendingPathComponent("digits-dbn.json"))
    #expect(dbn.pretraining?.epochs == 20 && dbn.layers[0].type == DBN.typeName)
  }
}
