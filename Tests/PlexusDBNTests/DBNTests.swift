import Foundation
import PlexusCore
import PlexusDBN
import PlexusDatasets
import PlexusPerceptron
import Testing

@Suite(.serialized) struct DBNTests {
  @Test func stackSizesAreChecked() throws {
    #expect(throws: PlexusError.self) { try DBN(sizes: [64]) }
    #expect(throws: PlexusError.self) { try DBN(sizes: [64, 0]) }
    #expect(throws: PlexusError.self) { try DBN(stack: Sequential([try Dense(units: 3)])) }
    #expect(throws: PlexusError.self) {
      try DBN(stack: Sequential([try RBM(visible: 4, hidden: 3), try RBM(visible: 2, hidden: 2)]))
    }
  }

  @Test func pretrainingStateSavesAndLoadsAndUnrolls() throws {
    let dbn = try DBN(sizes: [4, 3, 2], seed: 3)
    try dbn.pretrain(
      RBMTests.tinyData, optimizer: { SGD(learningRate: 0.1) },
      options: TrainingOptions(epochs: 3, batchSize: 2))
    let url = FileManager.default.temporaryDirectory.appendingPathComponent(
      "dbn-\(UUID().uuidString).plexus")
    defer { try? FileManager.default.removeItem(at: url) }
    try dbn.stack.save(to: url)
    let loaded = try DBN(stack: Sequential.load(from: url, registry: dbnRegistry()))
    #expect(loaded.rbms.map(\.config) == dbn.rbms.map(\.config))
    for (a, b) in zip(dbn.stack.namedParameters, loaded.stack.namedParameters) {
      #expect(a.path == b.path)
      #expect(a.parameter.value.scalars == b.parameter.value.scalars, "\(a.path)")
    }
    #expect(
      dbn.stack.namedParameters.map(\.path).contains("rbm_2.rbm.visible_bias"),
      "\(dbn.stack.namedParameters.map(\.path))")
    // The unrolled network's hidden layers compute the RBMs' up-pass.
    let unrolled = try dbn.unrolled(classes: nil)
    let up = try dbn.transform(RBMTests.tinyData).scalars
    let through = try unrolled.predict(RBMTests.tinyData).scalars
    #expect(zip(up, through).allSatisfy { abs($0 - $1) < 1e-5 })
    let generated = try dbn.generate(samples: 5, gibbsSteps: 10, seed: 1)
    #expect(generated.shape == [5, 4])
    #expect(generated.scalars.allSatisfy { $0 >= 0 && $0 <= 1 })
  }

  @Test func pretrainingHelpsOnTheDigits() throws {
    let digits = try scaledDigits()
    let fineTuning = TrainingOptions(epochs: 30, batchSize: 32, seed: 4)
    let loss = CategoricalCrossEntropy(fromLogits: true)

    let started = Date()
    let dbn = try DBN(sizes: [64, 100, 100], seed: 1)
    try dbn.pretrain(
      digits.train, optimizer: { SGD(learningRate: 0.02, momentum: 0.9) },
      options: TrainingOptions(epochs: 20, batchSize: 10, seed: 1))
    let pretrained = try dbn.unrolled(classes: 10, seed: 5)
    let pretraining = Date().timeIntervalSince(started)
    try pretrained.fit(
      digits.train, digits.trainLabels, loss: loss, optimizer: Adam(learningRate: 0.003),
      options: fineTuning)
    let pretrainedAccuracy = accuracy(
      try pretrained.predict(digits.test), labels: digits.testLabels)

    let random = Sequential([
      try Dense(units: 100, activation: .sigmoid), try Dense(units: 100, activation: .sigmoid),
      try Dense(units: 10),
    ])
    try random.build(inputShape: [64], seed: 5)
    try random.fit(
      digits.train, digits.trainLabels, loss: loss, optimizer: Adam(learningRate: 0.003),
      options: fineTuning)
    let randomAccuracy = accuracy(try random.predict(digits.test), labels: digits.testLabels)
    print(
      "DBN 64-100-100: pretraining \(pretraining) s; test accuracy pretrained + fine-tuned "
        + "\(pretrainedAccuracy), random initialization \(randomAccuracy)")
    #expect(pretrainedAccuracy >= randomAccuracy)
    // Near the target (a PyTorch reference of the same net reached 97.5%; this
    // seeded run reaches 98.1%).
    #expect(pretrainedAccuracy >= 0.97)
  }
}
