import Foundation
import Plexus
import PlexusCommands
import Testing

/// Writes 60 samples of six values in [0, 1] (two repeated patterns with noise) and a spec
/// whose only layer is `modelLayer`, trained to reproduce its input.
private func writeReconstructionSpec(
  in folder: TemporaryFolder, modelLayer: String, loss: String = "mse", epochs: Int = 30,
  extra: String = ""
) throws -> URL {
  var generator = SeededGenerator(seed: 9)
  var scalars: [Float] = []
  for sample in 0..<60 {
    let pattern: [Float] = sample % 2 == 0 ? [1, 1, 1, 0, 0, 0] : [0, 0, 0, 1, 1, 1]
    scalars += pattern.map { min(max($0 + generator.nextNormal() * 0.05, 0), 1) }
  }
  try NumPy.write(try Tensor(shape: [60, 6], scalars: scalars), to: folder.file("x.npy"))
  try NumPy.write(Tensor((0..<60).map { Float($0 % 2) }), to: folder.file("y.npy"))
  return try folder.write(
    """
    {"name": "patterns", "inputShape": [6], "layers": [\(modelLayer)],
     "target": "input", "loss": "\(loss)", "optimizer": {"type": "adam", "learningRate": 0.05},
     "epochs": \(epochs), "batchSize": 10, "seed": 2\(extra),
     "data": {"source": "npy", "features": "x.npy", "labels": "y.npy", "testFraction": 0.25}}
    """, to: "patterns.json")
}

private let autoencoderLayer = """
  {"type": "plexus.autoencoder", "name": "ae", "config": {"inputShape": [6], "loss": "plexus.mse",
    "encoder": {"type": "plexus.sequential", "name": "encoder", "config": {"inputShape": [6],
      "layers": [{"type": "plexus.dense", "name": "code", "config": {"units": 2, "activation": "tanh"}}]}},
    "decoder": {"type": "plexus.sequential", "name": "decoder", "config": {"inputShape": [2],
      "layers": [{"type": "plexus.dense", "name": "out", "config": {"units": 6, "activation": "sigmoid"}}]}}}}
  """

@Suite struct ReconstructionTrainingTests {
  @Test func trainsAnAutoencoderSpecToReproduceItsInput() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let spec = try writeReconstructionSpec(in: folder, modelLayer: autoencoderLayer)
    #expect(try TrainingSpec.load(contentsOf: spec).target == .input)
    let output = folder.file("ae.plexus")
    let console = CapturedOutput()
    let report = try Train.run(
      TrainSettings(specPath: spec.path, outputPath: output.path, quiet: true), console: console)
    let first = try #require(report.history["loss"]?.first)
    let last = try #require(report.history["loss"]?.last)
    #expect(last < first / 4, "training loss \(first) -> \(last)")
    let testLoss = try #require(report.test["loss"])
    #expect(testLoss < 0.02)
    #expect(report.test["accuracy"] == nil)
    // Saved and loaded as an autoencoder, whose codes separate the two patterns.
    let loaded = try #require(
      try loadModel(from: output, registry: .standard()) as? Autoencoder)
    let x = try NumPy.read(contentsOf: folder.file("x.npy")).tensor()
    #expect(
      try loaded.reconstruct(x) == (try #require(report.model as? Autoencoder).reconstruct(x)))
    let codes = try loaded.encode(x)
    let distance = zip(codes.scalars[0..<2], codes.scalars[2..<4]).map { abs($0 - $1) }.max()!
    #expect(distance > 0.2)
  }

  @Test func trainsAVAESpecWithItsOwnStep() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let vae = """
      {"type": "plexus.vae", "name": "vae", "config": {"inputShape": [6], "latentDimension": 2, "seed": 4,
        "encoder": {"type": "plexus.sequential", "name": "encoder", "config": {"inputShape": [6],
          "layers": [{"type": "plexus.dense", "name": "hidden", "config": {"units": 8, "activation": "relu"}}]}},
        "decoder": {"type": "plexus.sequential", "name": "decoder", "config": {"inputShape": [2],
          "layers": [{"type": "plexus.dense", "name": "out", "config": {"units": 6, "activation": "sigmoid"}}]}}}}
      """
    let spec = try writeReconstructionSpec(
      in: folder, modelLayer: vae, loss: "binary_crossentropy", epochs: 20)
    let output = folder.file("vae.plexus")
    let console = CapturedOutput()
    let report = try Train.run(
      TrainSettings(specPath: spec.path, outputPath: output.path), console: console)
    // The VAE's own step logs its ELBO, which improves.
    let firstELBO = try #require(report.history["elbo"]?.first)
    let lastELBO = try #require(report.history["elbo"]?.last)
    #expect(lastELBO > firstELBO)
    // Every epoch line shows it, and so does the test line.
    let epochLines = console.text.split(separator: "\n").filter { $0.hasPrefix("epoch") }
    #expect(epochLines.count == 20)
    #expect(epochLines.allSatisfy { $0.contains(" elbo -") }, "\(epochLines.last ?? "")")
    #expect(
      epochLines.last!.contains("elbo \(ProgressFormat.loss(Double(lastELBO)))"),
      "\(epochLines.last!)")
    #expect(console.text.contains("test: loss ") && report.test["elbo"] != nil)
    #expect(try loadModel(from: output, registry: .standard()) is VAE)
  }

  @Test func refusesAnUnknownTarget() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let spec = try writeReconstructionSpec(in: folder, modelLayer: autoencoderLayer)
    let text = try String(contentsOf: spec, encoding: .utf8).replacingOccurrences(
      of: "\"target\": \"input\"", with: "\"target\": \"inputs\"")
    let bad = try folder.write(text, to: "bad.json")
    do {
      _ = try TrainingSpec.load(contentsOf: bad)
      Issue.record("a spec with target 'inputs' was accepted")
    } catch {
      #expect("\(error)".contains("$.target"))
      #expect("\(error)".contains("\"labels\", \"input\""))
    }
  }
}
