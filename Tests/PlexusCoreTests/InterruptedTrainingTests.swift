import Foundation
import PlexusCore
import Testing

/// Stops training by throwing after a given batch, as an interrupted tool does.
private final class StopAfterBatch: TrainingCallback {
  struct Stopped: Error {}
  let epoch: Int
  let batch: Int
  init(epoch: Int, batch: Int) {
    self.epoch = epoch
    self.batch = batch
  }
  func batchDidEnd(
    epoch: Int, batch: Int, batches: Int, logs: [String: Float], context: TrainingContext
  ) throws {
    if epoch == self.epoch, batch == self.batch { throw Stopped() }
  }
}

@Suite struct InterruptedTrainingTests {
  /// A run stopped after batch 2 of epoch 2 and continued with `initialEpoch: 1,
  /// initialBatch: 2` ends with the weights of an uninterrupted run, dropout included.
  @Test func resumingWithinAnEpochFollowsTheUninterruptedRun() throws {
    let (x, y) = TrainingData.blobs(count: 30, seed: 6)
    func model() throws -> Sequential {
      let model = Sequential([
        try TestLinear(units: 6), try Dropout(rate: 0.3), try TestLinear(units: 2),
      ])
      try model.build(inputShape: [2], seed: 3)
      return model
    }
    let options = TrainingOptions(epochs: 3, batchSize: 8, seed: 4)
    let whole = try model()
    try whole.fit(
      x, y, loss: CategoricalCrossEntropy(fromLogits: true), optimizer: Adam(learningRate: 0.02),
      options: options)

    let interrupted = try model()
    let adam = Adam(learningRate: 0.02)
    #expect(throws: StopAfterBatch.Stopped.self) {
      try interrupted.fit(
        x, y, loss: CategoricalCrossEntropy(fromLogits: true), optimizer: adam, options: options,
        callbacks: [StopAfterBatch(epoch: 2, batch: 2)])
    }
    var resumed = options
    resumed.initialEpoch = 1
    resumed.initialBatch = 2
    let history = try interrupted.fit(
      x, y, loss: CategoricalCrossEntropy(fromLogits: true), optimizer: adam, options: resumed)
    #expect(history.epochsCompleted == 2)
    for (a, b) in zip(whole.parameters, interrupted.parameters) {
      #expect(a.value == b.value)
    }

    // More batches than an epoch has is an error.
    resumed.initialBatch = 5
    #expect {
      try interrupted.fit(
        x, y, loss: CategoricalCrossEntropy(fromLogits: true), optimizer: adam, options: resumed)
    } throws: { "\($0)".contains("only 4 batches") }
  }
}
