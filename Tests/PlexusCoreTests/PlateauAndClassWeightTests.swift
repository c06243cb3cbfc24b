import Foundation
import PlexusCore
import Testing

/// Records the learning rate of every epoch.
private final class RateRecorder: TrainingCallback {
  var rates: [Float] = []
  func epochWillBegin(epoch: Int, epochs: Int, batchesPerEpoch: Int, context: TrainingContext) {
    rates.append(context.optimizer.learningRate)
  }
}

@Suite struct PlateauAndClassWeightTests {
  @Test func reduceOnPlateauLowersTheRateAfterPatienceEpochs() throws {
    // A frozen model keeps the loss constant: every epoch after the first is a plateau.
    let (x, y) = TrainingData.linear(count: 8, seed: 1)
    let model = Sequential([try TestLinear(units: 1)])
    try model.build(inputShape: [2], seed: 1)
    model.layers[0].isTrainable = false
    let plateau = try ReduceLearningRateOnPlateau(
      config: .init(
        monitor: "loss", factor: 0.5, patience: 2, cooldown: 2, minimumLearningRate: 0.1))
    let recorder = RateRecorder()
    let history = try model.fit(
      x, y, loss: MeanSquaredError(), optimizer: SGD(learningRate: 0.8),
      options: TrainingOptions(epochs: 9, batchSize: 8, shuffle: false, seed: 1),
      callbacks: [plateau, recorder])
    // Epoch 1 sets the best; epochs 2-3 fail, the rate halves after 3; the cooldown counts
    // down in 4-5 (5 counts again, as in Keras); 5-6 fail, halved after 6; likewise after 9.
    #expect(recorder.rates == [0.8, 0.8, 0.8, 0.4, 0.4, 0.4, 0.2, 0.2, 0.2])
    #expect(history["lr"] == recorder.rates)
    #expect(plateau.reductionEpochs == [3, 6, 9])

    // Resumed after epoch 5, the replayed state reduces after epoch 6 as the whole run did.
    let resumed = try ReduceLearningRateOnPlateau(config: plateau.config)
    var firstFive = History()
    for epoch in 0..<5 {
      firstFive.append(["loss": history["loss"]![epoch], "lr": history["lr"]![epoch]])
    }
    try resumed.resume(after: firstFive)
    let again = RateRecorder()
    var options = TrainingOptions(epochs: 9, batchSize: 8, shuffle: false, seed: 1)
    options.initialEpoch = 5
    try model.fit(
      x, y, loss: MeanSquaredError(), optimizer: SGD(learningRate: 0.4), options: options,
      callbacks: [resumed, again])
    #expect(again.rates == [0.4, 0.2, 0.2, 0.2])
    #expect(resumed.reductionEpochs == [6, 9])
  }

  @Test func configsRefuseValuesOutOfRangeAndUnknownKeys() throws {
    for config in [
      ReduceLearningRateOnPlateau.Config(factor: 1), .init(factor: 0), .init(patience: -1),
      .init(minDelta: .nan), .init(minimumLearningRate: -1), .init(monitor: ""),
    ] {
      #expect(throws: PlexusError.self, "\(config)") {
        try ReduceLearningRateOnPlateau(config: config)
      }
    }
    #expect(throws: PlexusError.self) {
      try ReduceLearningRateOnPlateau.Config.decode(
        .object(["patiense": .number(2)]), context: "plateau")
    }
    #expect(throws: PlexusError.self) { try EarlyStopping(config: .init(patience: -2)) }
    #expect(throws: PlexusError.self) { try EarlyStopping(config: .init(minDelta: .infinity)) }
    let decoded = try EarlyStopping.Config.decode(
      .object(["monitor": .string("loss"), "patience": .number(3), "mode": .string("min")]),
      context: "early stopping")
    #expect(decoded == EarlyStopping.Config(monitor: "loss", patience: 3, mode: .min))
  }

  @Test func earlyStoppingResumesItsCount() throws {
    // Epochs 1-4 logged; the best is epoch 2, so two epochs without improvement are counted.
    var history = History()
    for value: Float in [3, 1, 2, 2] { history.append(["loss": value]) }
    let stopping = try EarlyStopping(config: .init(monitor: "loss", patience: 3))
    try stopping.resume(after: history)
    #expect(stopping.bestEpoch == 2 && stopping.bestValue == 1)
    // The next epoch without improvement is the third: training stops after epoch 5.
    let (x, y) = TrainingData.linear(count: 8, seed: 1)
    let model = Sequential([try TestLinear(units: 1)])
    try model.build(inputShape: [2], seed: 1)
    var options = TrainingOptions(epochs: 10, batchSize: 8)
    options.initialEpoch = 4
    let resumed = try model.fit(
      x, y * 100, loss: MeanSquaredError(), optimizer: SGD(learningRate: 0), options: options,
      callbacks: [stopping])
    #expect(resumed.epochsCompleted == 1 && stopping.stoppedEpoch == 5)
    #expect(throws: PlexusError.self) {
      try EarlyStopping(config: .init(monitor: "val_loss")).resume(after: history)
    }
  }

  /// Integer class weights equal repeating each sample as many times; with the mean taken
  /// over the original count, one SGD step on all samples moves the weights alike once the
  /// learning rate is scaled by the count ratio.
  @Test func classWeightsCountEachSampleItsClassWeightTimes() throws {
    let (x, y) = TrainingData.blobs(count: 12, seed: 5)
    let weights: [Float] = [1, 3]
    func model() throws -> Sequential {
      let model = Sequential([try TestLinear(units: 2)])
      try model.build(inputShape: [2], seed: 4)
      return model
    }
    var options = TrainingOptions(epochs: 1, batchSize: 64, shuffle: false)
    options.classWeights = weights
    let weighted = try model()
    let weightedHistory = try weighted.fit(
      x, y, loss: CategoricalCrossEntropy(fromLogits: true), optimizer: SGD(learningRate: 0.3),
      options: options)

    var rows: [Int] = []
    for row in 0..<12 {
      rows += Array(repeating: row, count: Int(weights[Int(y[row])]))
    }
    let repeated = try model()
    let repeatedHistory = try repeated.fit(
      x.gatherSamples(rows), y.gatherSamples(rows), loss: CategoricalCrossEntropy(fromLogits: true),
      optimizer: SGD(learningRate: 0.3 * Float(rows.count) / 12),
      options: TrainingOptions(epochs: 1, batchSize: 64, shuffle: false))
    for (a, b) in zip(weighted.parameters, repeated.parameters) {
      for (u, v) in zip(a.value.scalars, b.value.scalars) { #expect(abs(u - v) < 1e-5) }
    }
    let ratio = Float(rows.count) / 12
    #expect(
      abs(weightedHistory["loss"]![0] - repeatedHistory["loss"]![0] * ratio) < 1e-4)

    // A class without a weight, several outputs or a bad weight are errors before training.
    options.classWeights = [1]
    #expect {
      try model().fit(
        x, y, loss: CategoricalCrossEntropy(fromLogits: true), optimizer: SGD(), options: options)
    } throws: { "\($0)".contains("sample 1 is of class 1") }
    options.classWeights = [1, -1]
    #expect {
      try model().fit(
        x, y, loss: CategoricalCrossEntropy(fromLogits: true), optimizer: SGD(), options: options)
    } throws: { "\($0)".contains("weight of class 1 is -1.0") }
    // Validation is not weighted: the same validation loss with and without weights.
    options.classWeights = [1, 3]
    options.validationData = (x, y)
    let a = try model().fit(
      x, y, loss: CategoricalCrossEntropy(fromLogits: true), optimizer: SGD(learningRate: 0),
      options: options)
    options.classWeights = nil
    let b = try model().fit(
      x, y, loss: CategoricalCrossEntropy(fromLogits: true), optimizer: SGD(learningRate: 0),
      options: options)
    #expect(a["val_loss"] == b["val_loss"])
    #expect(a["loss"] != b["loss"])
  }
}
