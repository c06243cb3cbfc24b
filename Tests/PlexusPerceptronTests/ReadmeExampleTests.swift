import Foundation
import PlexusCore
import PlexusDatasets
import PlexusPerceptron
import Testing

/// The README's pick-and-choose example (PlexusCore, PlexusPerceptron and PlexusDatasets only),
/// with fewer epochs.
@Suite struct ReadmeExampleTests {
  @Test func trainSaveAndReloadWithTwoModules() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
      "plexus-readme-\(UInt64.random(in: 0...UInt64.max))")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let file = folder.appendingPathComponent("digits.plexus")

    let model = try MLP.make(
      inputs: 64, hidden: [128, 64], outputs: 10, activation: .relu, seed: 42)
    let (train, test) = try Digits.standardSplit()
    let loss = CategoricalCrossEntropy(fromLogits: true)
    try model.fit(
      train.features, train.labels, loss: loss, optimizer: Adam(learningRate: 0.002),
      options: TrainingOptions(epochs: 3, batchSize: 32, seed: 42, metrics: [.accuracy]))
    let logs = try model.evaluate(test.features, test.labels, loss: loss, metrics: [.accuracy])
    #expect((logs["accuracy"] ?? 0) > 0.9, "\(logs)")
    try model.save(to: file)

    let registry = LayerRegistry()
    PerceptronLayers.register(in: registry)
    let reloaded = try Sequential.load(from: file, registry: registry)
    #expect(try reloaded.predict(test.features) == (try model.predict(test.features)))
  }
}
