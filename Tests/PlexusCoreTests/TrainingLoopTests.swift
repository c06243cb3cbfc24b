import Foundation
import PlexusCore
import Testing

/// Records every event and optionally snapshots the parameters after each epoch.
private final class Recorder: TrainingCallback {
  var events: [TrainingProgress] = []
  var weightsAfterEpoch: [Int: [Tensor]] = [:]
  lazy var progress = ProgressCallback { [unowned self] event in self.events.append(event) }

  func trainingWillBegin(context: TrainingContext) throws {
    try progress.trainingWillBegin(context: context)
  }
  func epochWillBegin(epoch: Int, epochs: Int, batchesPerEpoch: Int, context: TrainingContext)
    throws
  {
    try progress.epochWillBegin(
      epoch: epoch, epochs: epochs, batchesPerEpoch: batchesPerEpoch, context: context)
  }
  func batchDidEnd(
    epoch: Int, batch: Int, batches: Int, logs: [String: Float], context: TrainingContext
  ) throws {
    try progress.batchDidEnd(
      epoch: epoch, batch: batch, batches: batches, logs: logs, context: context)
  }
  func epochDidEnd(epoch: Int, logs: [String: Float], context: TrainingContext) throws {
    weightsAfterEpoch[epoch] = context.model.parameters.map(\.value)
    try progress.epochDidEnd(epoch: epoch, logs: logs, context: context)
  }
  func trainingDidEnd(history: History, context: TrainingContext) throws {
    try progress.trainingDidEnd(history: history, context: context)
  }
}

/// A mean squared error that returns NaN on its `failingCall`-th call (1-based).
private final class FailingLoss: Loss {
  let failingCall: Int
  var calls = 0
  init(failingCall: Int) { self.failingCall = failingCall }
  func compute(predictions: Tensor, targets: Tensor) throws -> (value: Float, gradient: Tensor) {
    calls += 1
    let result = try MeanSquaredError().compute(predictions: predictions, targets: targets)
    return calls == failingCall ? (.nan, result.gradient) : result
  }
}

@Suite struct TrainingLoopTests {
  @Test func learnsLinearRegression() throws {
    let (x, y) = TrainingData.linear(count: 128, seed: 1)
    let model = Sequential([try TestLinear(units: 1)])
    let history = try model.fit(
      x, y, loss: MeanSquaredError(), optimizer: Adam(learningRate: 0.1),
      options: TrainingOptions(epochs: 30, batchSize: 16, seed: 3, metrics: [.meanAbsoluteError]))
    #expect(model.isBuilt, "fit builds an unbuilt model")
    #expect(history.epochsCompleted == 30 && !history.stoppedEarly)
    #expect(
      history["loss"]?.count == 30 && history["mae"]?.count == 30 && history["lr"]?.count == 30)
    let final = try #require(history["loss"]?.last)
    #expect(final < 0.01, "\(history["loss"] ?? [])")
    let evaluation = try model.evaluate(
      x, y, loss: MeanSquaredError(), metrics: [.meanSquaredError])
    #expect(abs((evaluation["loss"] ?? 1) - (evaluation["mse"] ?? 0)) < 1e-6)
    #expect((evaluation["loss"] ?? 1) < 0.01)
  }

  @Test func learnsBlobsWithSoftmaxAndWithLogisticOutput() throws {
    let (x, y) = TrainingData.blobs(count: 200, seed: 2)
    let softmaxModel = Sequential([try TestLinear(units: 2)])
    let history = try softmaxModel.fit(
      x, y, loss: CategoricalCrossEntropy(fromLogits: true),
      optimizer: SGD(learningRate: 0.1, momentum: 0.9),
      options: TrainingOptions(
        epochs: 5, batchSize: 20, seed: 4, validationSplit: 0.25, metrics: [.accuracy]))
    #expect((history["accuracy"]?.last ?? 0) > 0.95)
    #expect((history["val_accuracy"]?.last ?? 0) > 0.95)

    let logisticModel = Sequential([try TestLinear(units: 1)])
    let binaryHistory = try logisticModel.fit(
      x, try y.reshaped([200, 1]), loss: BinaryCrossEntropy(fromLogits: true),
      optimizer: Adam(learningRate: 0.05),
      options: TrainingOptions(epochs: 5, batchSize: 20, seed: 4, metrics: [.accuracy]))
    #expect((binaryHistory["accuracy"]?.last ?? 0) > 0.95)
    // [N] targets are accepted for a single output.
    let evaluation = try logisticModel.evaluate(
      x, y, loss: BinaryCrossEntropy(fromLogits: true), metrics: [.accuracy])
    #expect((evaluation["accuracy"] ?? 0) > 0.95)
  }

  @Test func accuracyRules() throws {
    let logits = try Tensor(shape: [3, 3], scalars: [1, 5, 0, 2, 1, 0, 0, 0, 9])
    // Argmax 1, 0, 2 against indices 1, 2, 2 and the same as one-hot rows: 2 of 3.
    let model = Sequential([try TestLinear(units: 3)])
    try model.build(inputShape: [3])
    let identity = try Tensor(shape: [3, 3], scalars: [1, 0, 0, 0, 1, 0, 0, 0, 1])
    try (model.layers[0] as? TestLinear)?.kernel.assign(identity)
    let indices = Tensor([1, 2, 2])
    let oneHot = try Tensor(shape: [3, 3], scalars: [0, 1, 0, 0, 0, 1, 0, 0, 1])
    let loss = CategoricalCrossEntropy(fromLogits: true)
    let a = try model.evaluate(logits, indices, loss: loss, metrics: [.accuracy])
    let b = try model.evaluate(logits, oneHot, loss: loss, metrics: [.accuracy])
    #expect(abs((a["accuracy"] ?? 0) - 2.0 / 3) < 1e-6)
    #expect(a["accuracy"] == b["accuracy"] && a["loss"] == b["loss"])

    // Single output: logits are thresholded at 0, probabilities at 0.5.
    let single = Sequential([try TestLinear(units: 1)])
    try single.build(inputShape: [1])
    try (single.layers[0] as? TestLinear)?.kernel.assign(Tensor(shape: [1, 1], repeating: 1))
    let scores = try Tensor(shape: [4, 1], scalars: [-0.2, 0.3, 0.7, -3])
    let labels = Tensor([1, 1, 1, 0])
    let fromLogits = try single.evaluate(
      scores, labels, loss: BinaryCrossEntropy(fromLogits: true), metrics: [.accuracy])
    #expect(fromLogits["accuracy"] == 0.75)
    let asProbabilities = try single.evaluate(
      try Tensor(shape: [4, 1], scalars: [0.2, 0.3, 0.7, 0.1]), labels,
      loss: BinaryCrossEntropy(fromLogits: false),
      metrics: [.accuracy])
    #expect(asProbabilities["accuracy"] == 0.5)
  }

  @Test func sameSeedGivesBitIdenticalWeights() throws {
    let (x, y) = TrainingData.blobs(count: 64, seed: 5)
    func train(seed: UInt64) throws -> ([Tensor], History) {
      let model = Sequential([
        try TestLinear(units: 8), try Dropout(rate: 0.3), Activation(.relu),
        try TestLinear(units: 2),
      ])
      let history = try model.fit(
        x, y, loss: CategoricalCrossEntropy(), optimizer: Adam(learningRate: 0.01),
        options: TrainingOptions(
          epochs: 3, batchSize: 10, seed: seed, validationSplit: 0.2, metrics: [.accuracy]))
      return (model.parameters.map(\.value), history)
    }
    let (first, firstHistory) = try train(seed: 11)
    let (second, secondHistory) = try train(seed: 11)
    let (other, _) = try train(seed: 12)
    #expect(first == second)
    #expect(firstHistory == secondHistory)
    #expect(first != other)
  }

  @Test func fitMatchesAHandWrittenLoop() throws {
    // Two batches without shuffling: zero, forward, loss, backward, step, per batch.
    let (x, y) = TrainingData.linear(count: 6, seed: 8)
    let fitted = Sequential([try TestLinear(units: 1)])
    let manual = Sequential([try TestLinear(units: 1)])
    try fitted.build(inputShape: [2], seed: 9)
    try manual.build(inputShape: [2], seed: 9)
    try fitted.fit(
      x, y, loss: MeanSquaredError(), optimizer: SGD(learningRate: 0.1, momentum: 0.5),
      options: TrainingOptions(epochs: 2, batchSize: 4, shuffle: false))
    let optimizer = SGD(learningRate: 0.1, momentum: 0.5)
    for _ in 0..<2 {
      for range in [0..<4, 4..<6] {
        manual.zeroGradients()
        let record = CallRecord()
        let output = try manual(x.samples(range), training: true, record: record)
        let (_, gradient) = try MeanSquaredError().compute(
          predictions: output, targets: y.samples(range))
        _ = try manual.gradients([gradient], record: record)
        optimizer.step(manual.trainableParameters)
      }
    }
    #expect(fitted.parameters.map(\.value) == manual.parameters.map(\.value))
  }

  @Test func earlyStoppingRestoresBestWeightsBitForBit() throws {
    // Training pulls the output toward +x while validation wants -x: validation loss is best
    // after the first epoch and worsens afterwards.
    var generator = SeededGenerator(seed: 13)
    let x = Tensor.normal([32, 1], using: &generator)
    let validationX = Tensor.normal([16, 1], using: &generator)
    let model = Sequential([try TestLinear(units: 1)])
    try model.build(inputShape: [1], seed: 1)
    try (model.layers[0] as? TestLinear)?.kernel.assign(Tensor.zeros([1, 1]))
    let recorder = Recorder()
    let stopping = EarlyStopping(monitor: "val_loss", patience: 2, restoreBestWeights: true)
    let history = try model.fit(
      x, x, loss: MeanSquaredError(), optimizer: SGD(learningRate: 0.05),
      options: TrainingOptions(
        epochs: 20, batchSize: 8, seed: 2, validationData: (validationX, validationX * -1)),
      callbacks: [recorder, stopping])
    #expect(history.stoppedEarly)
    #expect(history.epochsCompleted == 3)
    #expect(stopping.bestEpoch == 1 && stopping.stoppedEpoch == 3)
    let values = try #require(history["val_loss"])
    #expect(values[1] > values[0] && values[2] > values[1])
    let best = try #require(recorder.weightsAfterEpoch[1])
    #expect(model.parameters.map(\.value) == best)
    #expect(recorder.weightsAfterEpoch[3] != best)
  }

  @Test func earlyStoppingNeedsTheMonitoredKey() throws {
    let (x, y) = TrainingData.linear(count: 8, seed: 1)
    let model = Sequential([try TestLinear(units: 1)])
    #expect(throws: PlexusError.self) {
      try model.fit(
        x, y, loss: MeanSquaredError(), optimizer: SGD(), options: TrainingOptions(epochs: 2),
        callbacks: [EarlyStopping(monitor: "val_loss")])
    }
    // Mode auto maximizes accuracy: a steady accuracy of 1 stops after `patience` epochs.
    let stopping = EarlyStopping(monitor: "accuracy", patience: 1, minDelta: 0.01)
    let (bx, by) = TrainingData.blobs(count: 40, seed: 3)
    let classifier = Sequential([try TestLinear(units: 2)])
    let history = try classifier.fit(
      bx, by, loss: CategoricalCrossEntropy(), optimizer: SGD(learningRate: 0.5),
      options: TrainingOptions(epochs: 50, batchSize: 8, metrics: [.accuracy]),
      callbacks: [stopping])
    #expect(history.stoppedEarly && history.epochsCompleted < 50)
  }

  @Test func nonFiniteLossStopsWithEpochAndBatch() throws {
    let (x, y) = TrainingData.linear(count: 6, seed: 4)
    // Three batches per epoch; the fifth loss call is epoch 2, batch 2.
    let model = Sequential([try TestLinear(units: 1)])
    do {
      try model.fit(
        x, y, loss: FailingLoss(failingCall: 5), optimizer: SGD(learningRate: 0.01),
        options: TrainingOptions(epochs: 3, batchSize: 2))
      Issue.record("fit should have thrown")
    } catch PlexusError.nonFiniteLoss(let epoch, let batch, let value) {
      #expect(epoch == 2 && batch == 2 && value.isNaN)
    }
    #expect(model.parameters.allSatisfy { $0.value.isFinite })

    // A NaN input never reaches a batch: it is refused before training, with its sample.
    var poisoned = x
    poisoned[5, 1] = .nan
    #expect(
      throws: PlexusError.invalidData(
        "training inputs: sample 5 holds nan at position 1; data must be finite")
    ) {
      try Sequential([try TestLinear(units: 1)]).fit(
        poisoned, y, loss: MeanSquaredError(), optimizer: SGD(),
        options: TrainingOptions(epochs: 1, batchSize: 2, shuffle: false))
    }
  }

  /// Poisons a weight after the last batch of the first epoch.
  private final class WeightPoisoner: TrainingCallback {
    func batchDidEnd(
      epoch: Int, batch: Int, batches: Int, logs: [String: Float], context: TrainingContext
    ) throws {
      guard epoch == 1, batch == batches else { return }
      context.model.parameters[0].value[flat: 0] = .nan
    }
  }

  @Test func aNonFiniteWeightStopsTrainingAtTheEpochsEnd() throws {
    let (x, y) = TrainingData.linear(count: 8, seed: 2)
    let model = Sequential([try TestLinear(units: 1)])
    #expect(
      throws: PlexusError.invalidData(
        "parameter 'linear_1.kernel' holds a non-finite value after epoch 1: training "
          + "stopped (lower the learning rate, or clip gradients)")
    ) {
      try model.fit(
        x, y, loss: MeanSquaredError(), optimizer: SGD(),
        options: TrainingOptions(epochs: 3, batchSize: 4), callbacks: [WeightPoisoner()])
    }
  }

  @Test func badInputsThrowClearErrors() throws {
    let (x, y) = TrainingData.linear(count: 10, seed: 6)
    let loss = MeanSquaredError()
    func fit(_ x: Tensor, _ y: Tensor, _ options: TrainingOptions, model: Sequential? = nil) throws
    {
      try (model ?? Sequential([try TestLinear(units: 1)])).fit(
        x, y, loss: loss, optimizer: SGD(), options: options)
    }
    #expect(
      throws: PlexusError.invalidArgument("training inputs have 10 samples but targets have 9")
    ) {
      try fit(x, y.samples(0..<9), TrainingOptions())
    }
    #expect(
      throws: PlexusError.invalidArgument("training data set is empty (inputs of shape [0, 2])")
    ) {
      try fit(x.samples(0..<0), y.samples(0..<0), TrainingOptions())
    }
    #expect(throws: PlexusError.invalidArgument("batch size must be positive, got 0")) {
      try fit(x, y, TrainingOptions(batchSize: 0))
    }
    #expect(throws: PlexusError.invalidArgument("epochs must be non-negative, got -1")) {
      try fit(x, y, TrainingOptions(epochs: -1))
    }
    for split: Float in [1, -0.1, 1.5, .nan] {
      #expect(throws: PlexusError.self) { try fit(x, y, TrainingOptions(validationSplit: split)) }
    }
    #expect(throws: PlexusError.self) {
      try fit(x, y, TrainingOptions(validationData: (x, y), validationSplit: 0.2))
    }
    // 0.01 of 10 samples leaves no validation sample.
    #expect(throws: PlexusError.self) { try fit(x, y, TrainingOptions(validationSplit: 0.01)) }
    #expect(throws: PlexusError.self) { try fit(x, y, TrainingOptions(clipValue: 0)) }
    #expect(throws: PlexusError.self) { try fit(x, y, TrainingOptions(clipGlobalNorm: -.infinity)) }
    #expect(throws: PlexusError.self) { try fit(x, y, TrainingOptions(epochs: 2, initialEpoch: 3)) }
    // Inputs that do not fit a built model, and targets that do not fit the output.
    let built = Sequential([try TestLinear(units: 1)])
    try built.build(inputShape: [3])
    #expect(throws: PlexusError.self) { try fit(x, y, TrainingOptions(), model: built) }
    #expect(throws: PlexusError.self) { try fit(x, Tensor.zeros([10, 2]), TrainingOptions()) }
    #expect(throws: PlexusError.self) {
      try fit(x, y, TrainingOptions(validationData: (x, Tensor.zeros([10, 3]))))
    }
    // Label errors name the sample's index in the data set.
    let classifier = Sequential([try TestLinear(units: 3)])
    var labels = Tensor.zeros([10])
    labels[7] = 3
    #expect(
      throws: PlexusError.invalidData(
        "softmax_cross_entropy: target of sample 7 is 3.0, expected a class index: an integer in 0..<3"
      )
    ) {
      try classifier.fit(x, labels, loss: CategoricalCrossEntropy(), optimizer: SGD())
    }
    // Non-finite inputs and targets are refused before training, naming the sample.
    var holed = x
    holed[4, 1] = .nan
    #expect(
      throws: PlexusError.invalidData(
        "training inputs: sample 4 holds nan at position 1; data must be finite")
    ) {
      try fit(holed, y, TrainingOptions())
    }
    var infinite = y
    infinite[9, 0] = .infinity
    #expect(
      throws: PlexusError.invalidData(
        "training targets: sample 9 holds inf at position 0; data must be finite")
    ) {
      try fit(x, infinite, TrainingOptions())
    }
    let evaluated = Sequential([try TestLinear(units: 1)])
    try evaluated.build(inputShape: [2])
    #expect(
      throws: PlexusError.invalidData(
        "evaluation inputs: sample 4 holds nan at position 1; data must be finite")
    ) {
      try evaluated.evaluate(holed, y, loss: loss)
    }
    // evaluate needs a built model and a positive batch size.
    #expect(throws: PlexusError.self) {
      try Sequential([try TestLinear(units: 1)]).evaluate(x, y, loss: loss)
    }
    #expect(throws: PlexusError.self) { try built.evaluate(x, y, loss: loss) }
    let trained = Sequential([try TestLinear(units: 1)])
    try trained.build(inputShape: [2])
    #expect(throws: PlexusError.self) { try trained.evaluate(x, y, loss: loss, batchSize: 0) }
    #expect(throws: PlexusError.self) { try trained.evaluate(x, y.samples(0..<3), loss: loss) }
    // Zero epochs train nothing.
    let history = try trained.fit(
      x, y, loss: loss, optimizer: SGD(), options: TrainingOptions(epochs: 0))
    #expect(history.epochsCompleted == 0 && history.values.isEmpty)
  }

  @Test func validationSplitHoldsOutTheLastSamples() throws {
    let (x, y) = TrainingData.linear(count: 10, seed: 7)
    let recorder = Recorder()
    let model = Sequential([try TestLinear(units: 1)])
    let history = try model.fit(
      x, y, loss: MeanSquaredError(), optimizer: SGD(learningRate: 0.05),
      options: TrainingOptions(epochs: 2, batchSize: 3, seed: 1, validationSplit: 0.2),
      callbacks: [recorder])
    #expect(
      recorder.events.first
        == .trainingBegan(epochs: 2, trainingSamples: 8, validationSamples: 2, batchesPerEpoch: 3))
    let heldOut = try model.evaluate(x.samples(8..<10), y.samples(8..<10), loss: MeanSquaredError())
    #expect(history["val_loss"]?.last == heldOut["loss"])
  }

  @Test func callbacksSeeEveryEventInOrder() throws {
    let (x, y) = TrainingData.blobs(count: 10, seed: 8)
    let recorder = Recorder()
    let model = Sequential([try TestLinear(units: 2)])
    var options = TrainingOptions(epochs: 2, batchSize: 4, metrics: [.accuracy])
    options.schedule = StepDecay(stepSize: 1, gamma: 0.5)
    let history = try model.fit(
      x, y, loss: CategoricalCrossEntropy(), optimizer: SGD(learningRate: 0.2), options: options,
      callbacks: [recorder])
    #expect(history["lr"] == [0.2, 0.1])
    let kinds = recorder.events.map { event -> String in
      switch event {
      case .trainingBegan: return "begin"
      case .epochBegan(let epoch, _, _): return "e\(epoch)"
      case .batchEnded(let epoch, _, let batch, let batches, let logs):
        return "b\(epoch).\(batch)/\(batches)"
          + (logs["loss"] != nil && logs["accuracy"] != nil ? "" : "?")
      case .epochEnded(let epoch, _, let logs):
        return "E\(epoch)" + (logs.keys.sorted() == ["accuracy", "loss", "lr"] ? "" : "?")
      case .trainingEnded: return "end"
      }
    }
    #expect(
      kinds == [
        "begin", "e1", "b1.1/3", "b1.2/3", "b1.3/3", "E1", "e2", "b2.1/3", "b2.2/3", "b2.3/3", "E2",
        "end",
      ])
    // The running loss after the last batch is the epoch's loss.
    if case .batchEnded(_, _, _, _, let logs) = recorder.events[4],
      case .epochEnded(_, _, let epochLogs) = recorder.events[5]
    {
      #expect(logs["loss"] == epochLogs["loss"])
    } else {
      Issue.record("unexpected event order")
    }

    // The scheduler callback sets the rate before each epoch.
    let scheduler = LearningRateScheduler { completed, rate in completed == 0 ? rate : rate / 10 }
    let scheduled = try model.fit(
      x, y, loss: CategoricalCrossEntropy(), optimizer: SGD(learningRate: 1),
      options: TrainingOptions(epochs: 3, batchSize: 4), callbacks: [scheduler])
    #expect(scheduled["lr"]?.map { ($0 * 1000).rounded() / 1000 } == [1, 0.1, 0.01])
    let cosine = try model.fit(
      x, y, loss: CategoricalCrossEntropy(), optimizer: SGD(learningRate: 1),
      options: TrainingOptions(epochs: 2, batchSize: 4),
      callbacks: [LearningRateScheduler(CosineDecay(epochs: 2))])
    // (1 + cos(pi * e / 2)) / 2 for e = 0, 1.
    #expect(cosine["lr"] == [1, 0.5])
  }

  @Test func historyRoundTripsThroughJSON() throws {
    var history = History()
    history.append(["loss": 0.5, "val_loss": 0.7, "lr": 0.01])
    history.append(["loss": 0.25, "val_loss": 0.6, "lr": 0.01])
    history.stoppedEarly = true
    let decoded = try JSONDecoder().decode(History.self, from: JSONEncoder().encode(history))
    #expect(decoded == history)
    #expect(decoded["loss"] == [0.5, 0.25] && decoded.epochsCompleted == 2)
    #expect(decoded.keys == ["loss", "lr", "val_loss"])
    // A diverged validation loss still encodes, as null, and reads back as NaN.
    history.append(["loss": 0.2, "val_loss": .infinity, "lr": 0.01])
    let diverged = try JSONDecoder().decode(History.self, from: JSONEncoder().encode(history))
    #expect(diverged["val_loss"]?.last?.isNaN == true && diverged["loss"]?.last == 0.2)
  }
}

@Suite struct TrainingResumeTests {
  @Test func resumingFromOptimizerStateMatchesAnUninterruptedRun() throws {
    let (x, y) = TrainingData.linear(count: 20, seed: 9)
    var options = TrainingOptions(epochs: 4, batchSize: 6, seed: 5)
    options.schedule = ExponentialDecay(gamma: 0.5)

    let uninterrupted = Sequential([
      try TestLinear(units: 4), Activation(.tanh), try TestLinear(units: 1),
    ])
    try uninterrupted.build(inputShape: [2], seed: 1)
    try uninterrupted.fit(
      x, y, loss: MeanSquaredError(), optimizer: Adam(learningRate: 0.05), options: options)

    let resumed = Sequential([
      try TestLinear(units: 4), Activation(.tanh), try TestLinear(units: 1),
    ])
    try resumed.build(inputShape: [2], seed: 1)
    var firstPart = options
    firstPart.epochs = 2
    let optimizer = Adam(learningRate: 0.05)
    try resumed.fit(x, y, loss: MeanSquaredError(), optimizer: optimizer, options: firstPart)
    let state = try optimizer.exportState(for: resumed.parameters)

    let restored = try OptimizerConfig.restore(state, for: resumed.parameters)
    var secondPart = options
    secondPart.initialEpoch = 2
    secondPart.baseLearningRate = 0.05
    let history = try resumed.fit(
      x, y, loss: MeanSquaredError(), optimizer: restored, options: secondPart)
    #expect(history.epochsCompleted == 2)
    #expect(history["lr"] == [0.0125, 0.00625])
    #expect(resumed.parameters.map(\.value) == uninterrupted.parameters.map(\.value))
  }
}
