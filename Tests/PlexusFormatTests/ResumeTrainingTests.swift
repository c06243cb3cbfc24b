import Foundation
import Plexus
import Testing

@Suite struct ResumeTrainingTests {
  @Test func trainingResumedFromAFileMatchesAnUninterruptedRun() throws {
    var generator = SeededGenerator(seed: 4)
    let x = Tensor.normal([32, 4], using: &generator)
    let y = Tensor(shape: [32, 1]) { target in
      x.withUnsafeBufferPointer { input in
        for row in 0..<32 { target[row] = input[row * 4] - 0.5 * input[row * 4 + 2] }
      }
    }
    func makeModel() throws -> Sequential {
      let model = Sequential([try Dense(units: 6, activation: .tanh), try Dense(units: 1)])
      try model.build(inputShape: [4], seed: 9)
      return model
    }
    func options(epochs: Int, initialEpoch: Int = 0) -> TrainingOptions {
      var options = TrainingOptions(epochs: epochs, batchSize: 8, seed: 3)
      options.initialEpoch = initialEpoch
      return options
    }

    let uninterrupted = try makeModel()
    try uninterrupted.fit(
      x, y, loss: MeanSquaredError(), optimizer: Adam(learningRate: 0.01),
      options: options(epochs: 4))

    let first = try makeModel()
    let adam = Adam(learningRate: 0.01)
    let history = try first.fit(
      x, y, loss: MeanSquaredError(), optimizer: adam, options: options(epochs: 2))
    let folder = try TemporaryFolder()
    let url = folder.file("checkpoint.plexus")
    try first.save(to: url, history: history, optimizer: adam)

    let file = try PlexusFile(contentsOf: url)
    #expect(try file.trainingHistory() == history)
    let resumed = try Sequential.load(from: file, registry: LayerRegistry.standard())
    let optimizer = try #require(try file.restoreOptimizer(for: resumed))
    try resumed.fit(
      x, y, loss: MeanSquaredError(), optimizer: optimizer,
      options: options(epochs: 4, initialEpoch: 2))
    for (a, b) in zip(uninterrupted.parameters, resumed.parameters) {
      #expect(bitwiseEqual(a.value, b.value))
    }
  }
}
