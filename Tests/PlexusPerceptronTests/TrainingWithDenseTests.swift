import PlexusCore
import PlexusDatasets
import PlexusPerceptron
import Testing

@Suite struct TrainingWithDenseTests {
  /// Points in [-1, 1]² labelled by quadrant parity (XOR of the signs): not linearly separable.
  private static func xorData(count: Int, seed: UInt64) throws -> (x: Tensor, y: Tensor) {
    var generator = SeededGenerator(seed: seed)
    var inputs: [Float] = []
    var labels: [Float] = []
    while labels.count < count {
      let a = generator.nextFloat(in: -1..<1)
      let b = generator.nextFloat(in: -1..<1)
      guard abs(a) > 0.1, abs(b) > 0.1 else { continue }
      inputs += [a, b]
      labels.append(a * b > 0 ? 1 : 0)
    }
    return (try Tensor(shape: [count, 2], scalars: inputs), Tensor(labels))
  }

  @Test func mlpLearnsXorWithSoftmaxCrossEntropy() throws {
    let (x, y) = try Self.xorData(count: 240, seed: 1)
    let model = Sequential([try Dense(units: 16, activation: .tanh), try Dense(units: 2)])
    let history = try model.fit(
      x, y, loss: CategoricalCrossEntropy(fromLogits: true), optimizer: Adam(learningRate: 0.03),
      options: TrainingOptions(
        epochs: 40, batchSize: 16, seed: 3, validationSplit: 0.25, metrics: [.accuracy]))
    #expect((history["accuracy"]?.last ?? 0) > 0.95, "\(history["accuracy"] ?? [])")
    #expect((history["val_accuracy"]?.last ?? 0) > 0.9, "\(history["val_accuracy"] ?? [])")
    let (testX, testY) = try Self.xorData(count: 200, seed: 99)
    let result = try model.evaluate(
      testX, testY, loss: CategoricalCrossEntropy(), metrics: [.accuracy])
    #expect((result["accuracy"] ?? 0) > 0.9)
  }

  @Test func sigmoidOutputWithBinaryCrossEntropyFromProbabilities() throws {
    let (x, y) = try Self.xorData(count: 240, seed: 2)
    let model = Sequential([
      try Dense(units: 16, activation: .relu, kernelRegularizer: Regularizer(l2: 1e-4)),
      try Dense(units: 1, activation: .sigmoid),
    ])
    let history = try model.fit(
      x, try y.reshaped([240, 1]), loss: BinaryCrossEntropy(fromLogits: false),
      optimizer: RMSProp(learningRate: 0.01),
      options: TrainingOptions(
        epochs: 60, batchSize: 16, seed: 4, metrics: [.accuracy], clipGlobalNorm: 5))
    #expect((history["accuracy"]?.last ?? 0) > 0.93, "\(history["accuracy"] ?? [])")
    let losses = try #require(history["loss"])
    #expect((losses.last ?? 1) < (losses.first ?? 0))
  }

  @Test func earlyStoppingOnValidationAccuracyWithDense() throws {
    let (x, y) = try Self.xorData(count: 160, seed: 5)
    let model = Sequential([try Dense(units: 16, activation: .tanh), try Dense(units: 2)])
    let stopping = EarlyStopping(monitor: "val_accuracy", patience: 3, restoreBestWeights: true)
    let history = try model.fit(
      x, y, loss: CategoricalCrossEntropy(), optimizer: SGD(learningRate: 0.1, momentum: 0.9),
      options: TrainingOptions(
        epochs: 80, batchSize: 16, seed: 6, validationSplit: 0.25, metrics: [.accuracy]),
      callbacks: [stopping])
    let best = try #require(stopping.bestValue)
    let validation = try model.evaluate(
      x.samples(120..<160), y.samples(120..<160), loss: CategoricalCrossEntropy(),
      metrics: [.accuracy])
    // The restored weights reproduce the best validation accuracy exactly.
    #expect(validation["accuracy"] == best)
    #expect(history.epochsCompleted <= 80)
  }

  @Test func mlpLearnsTheBundledDigits() throws {
    let (train, test) = try Digits.standardSplit()
    let model = Sequential([try Dense(units: 64, activation: .relu), try Dense(units: 10)])
    let history = try model.fit(
      train.features, train.labels, loss: CategoricalCrossEntropy(fromLogits: true),
      optimizer: Adam(learningRate: 0.01),
      options: TrainingOptions(
        epochs: 8, batchSize: 32, seed: 1, validationSplit: 0.1, metrics: [.accuracy]))
    #expect((history["val_accuracy"]?.last ?? 0) > 0.9, "\(history["val_accuracy"] ?? [])")
    let result = try model.evaluate(
      test.features, test.labels, loss: CategoricalCrossEntropy(), metrics: [.accuracy])
    #expect((result["accuracy"] ?? 0) > 0.93, "\(result)")
  }
}
