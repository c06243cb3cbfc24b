import Foundation
import PlexusCore
import Testing

/// Central finite differences of a loss' value, compared with its analytic gradient.
/// Entries closer than `kinkDistance` to a kink of the loss are skipped (`isNearKink`).
private func lossGradientError(
  _ loss: any Loss, predictions: Tensor, targets: Tensor, epsilon: Float = 1e-2,
  isNearKink: (Float, Int) -> Bool = { _, _ in false }
) throws -> (error: Double, checked: Int) {
  let (_, gradient) = try loss.compute(predictions: predictions, targets: targets)
  #expect(gradient.shape == predictions.shape)
  var worst: Double = 0
  var checked = 0
  for index in 0..<predictions.count where !isNearKink(predictions[flat: index], index) {
    var plus = predictions
    plus[flat: index] += epsilon
    var minus = predictions
    minus[flat: index] -= epsilon
    let numeric =
      (Double(try loss.compute(predictions: plus, targets: targets).value)
        - Double(try loss.compute(predictions: minus, targets: targets).value))
      / (2 * Double(epsilon))
    let analytic = Double(gradient[flat: index])
    worst = max(worst, abs(analytic - numeric) / max(abs(analytic) + abs(numeric), 1e-2))
    checked += 1
  }
  return (worst, checked)
}

@Suite struct LossTests {
  private static func random(_ shape: [Int], seed: UInt64, scale: Float = 1) -> Tensor {
    var generator = SeededGenerator(seed: seed)
    return Tensor.normal(shape, standardDeviation: scale, using: &generator)
  }

  @Test func meanSquaredErrorValueAndGradient() throws {
    let p = try Tensor(shape: [2, 2], scalars: [1, 2, 0, -1])
    let t = try Tensor(shape: [2, 2], scalars: [0, 4, 0, 1])
    let (value, gradient) = try MeanSquaredError().compute(predictions: p, targets: t)
    // (1 + 4 + 0 + 4) / 4; gradient 2 e / 4.
    #expect(value == 2.25)
    #expect(gradient.scalars == [0.5, -1, 0, -1])
    let check = try lossGradientError(
      MeanSquaredError(), predictions: Self.random([4, 3], seed: 1),
      targets: Self.random([4, 3], seed: 2))
    #expect(check.error < 1e-2)
  }

  @Test func meanAbsoluteErrorValueAndGradient() throws {
    let p = try Tensor(shape: [2, 2], scalars: [1, 2, 0, -1])
    let t = try Tensor(shape: [2, 2], scalars: [0, 4, 0, 1])
    let (value, gradient) = try MeanAbsoluteError().compute(predictions: p, targets: t)
    #expect(value == 1.25)
    #expect(gradient.scalars == [0.25, -0.25, 0, -0.25])
    let targets = Self.random([4, 3], seed: 2)
    let check = try lossGradientError(
      MeanAbsoluteError(), predictions: Self.random([4, 3], seed: 1), targets: targets,
      isNearKink: { p, i in abs(p - targets[flat: i]) < 0.02 })
    #expect(check.error < 1e-2 && check.checked >= 10)
  }

  @Test func huberValueAndGradient() throws {
    let p = try Tensor(shape: [2, 1], scalars: [0.5, 3])
    let t = try Tensor(shape: [2, 1], scalars: [0, 0])
    let (value, gradient) = try Huber(delta: 1).compute(predictions: p, targets: t)
    // 0.5 * 0.25 = 0.125 and 1 * (3 - 0.5) = 2.5, mean 1.3125.
    #expect(abs(value - 1.3125) < 1e-6)
    #expect(gradient.scalars == [0.25, 0.5])
    let targets = Self.random([4, 3], seed: 4)
    let check = try lossGradientError(
      Huber(delta: 0.8), predictions: Self.random([4, 3], seed: 3, scale: 2), targets: targets,
      isNearKink: { p, i in abs(abs(p - targets[flat: i]) - 0.8) < 0.02 })
    #expect(check.error < 1e-2 && check.checked >= 10)
    #expect(throws: PlexusError.self) { try Huber(delta: 0).compute(predictions: p, targets: t) }
  }

  @Test func binaryCrossEntropyFromLogitsIsStable() throws {
    let loss = BinaryCrossEntropy(fromLogits: true)
    let p = try Tensor(shape: [3, 1], scalars: [0, 100, -100])
    let t = try Tensor(shape: [3, 1], scalars: [1, 1, 1])
    let (value, gradient) = try loss.compute(predictions: p, targets: t)
    // log 2, 0 and 100 (up to log1p(e^-100)), mean (0.693147 + 100) / 3.
    #expect(abs(value - Float((log(2.0) + 100) / 3)) < 1e-4)
    #expect(value.isFinite && gradient.isFinite)
    #expect(abs(gradient[0, 0] - (-0.5 / 3)) < 1e-6)
    #expect(abs(gradient[2, 0] - (-1.0 / 3)) < 1e-6)
    var generator = SeededGenerator(seed: 5)
    let targets = Tensor.uniform([4, 3], low: 0, high: 1, using: &generator)
    let check = try lossGradientError(
      loss, predictions: Self.random([4, 3], seed: 6, scale: 2), targets: targets)
    #expect(check.error < 1e-2)
  }

  @Test func binaryCrossEntropyFromProbabilities() throws {
    let loss = BinaryCrossEntropy(fromLogits: false)
    let p = try Tensor(shape: [2], scalars: [0.8, 0.25])
    let t = try Tensor(shape: [2], scalars: [1, 0])
    let (value, _) = try loss.compute(predictions: p, targets: t)
    // -(log 0.8 + log 0.75) / 2
    #expect(abs(value - Float(-(log(0.8) + log(0.75)) / 2)) < 1e-6)
    // A prediction of exactly 0 or 1 is clamped instead of giving infinity.
    let (clamped, _) = try loss.compute(predictions: Tensor([0, 1]), targets: Tensor([1, 0]))
    #expect(clamped.isFinite && clamped > 10)
    var generator = SeededGenerator(seed: 7)
    let probabilities = Tensor.uniform([4, 3], low: 0.05, high: 0.95, using: &generator)
    let targets = Tensor.uniform([4, 3], low: 0, high: 1, using: &generator)
    let check = try lossGradientError(loss, predictions: probabilities, targets: targets)
    #expect(check.error < 1e-2)
    // Logits passed as probabilities are caught with a hint.
    #expect(throws: PlexusError.self) {
      try loss.compute(predictions: Tensor([2.5, 0.1]), targets: t)
    }
  }

  @Test func softmaxCrossEntropyWithIndicesAndOneHot() throws {
    let loss = CategoricalCrossEntropy(fromLogits: true)
    let logits = try Tensor(shape: [2, 3], scalars: [1, 2, 3, 1000, 0, -1000])
    let indices = Tensor([2, 0])
    let (value, gradient) = try loss.compute(predictions: logits, targets: indices)
    // Row 0: logsumexp(1,2,3) - 3 = log(e^-2 + e^-1 + 1); row 1: 0 (stable for huge logits).
    let row0 = log(exp(-2.0) + exp(-1.0) + 1)
    #expect(abs(Double(value) - row0 / 2) < 1e-5)
    #expect(gradient.isFinite)
    let softmax2 = exp(0.0) / (exp(-2.0) + exp(-1.0) + 1)
    #expect(abs(Double(gradient[0, 2]) - (softmax2 - 1) / 2) < 1e-6)
    let oneHot = try Tensor(shape: [2, 3], scalars: [0, 0, 1, 1, 0, 0])
    let (same, sameGradient) = try loss.compute(predictions: logits, targets: oneHot)
    #expect(abs(same - value) < 1e-6)
    #expect(try sameGradient.maxAbsoluteDifference(to: gradient) < 1e-6)
    #expect(
      try loss.compute(predictions: logits, targets: try indices.reshaped([2, 1])).value == value)

    let x = Self.random([5, 4], seed: 8, scale: 2)
    let labels = Tensor([3, 0, 1, 1, 2])
    let labelCheck = try lossGradientError(loss, predictions: x, targets: labels)
    #expect(labelCheck.error < 1e-2, "\(labelCheck)")
    var generator = SeededGenerator(seed: 9)
    var soft = Tensor.uniform([5, 4], low: 0, high: 1, using: &generator)
    for row in 0..<5 {
      let total = (0..<4).reduce(Float(0)) { $0 + soft[row, $1] }
      for column in 0..<4 { soft[row, column] /= total }
    }
    #expect(try lossGradientError(loss, predictions: x, targets: soft).error < 1e-2)
  }

  @Test func categoricalCrossEntropyFromProbabilities() throws {
    let loss = CategoricalCrossEntropy(fromLogits: false)
    let p = try Tensor(shape: [2, 3], scalars: [0.2, 0.3, 0.5, 0.6, 0.3, 0.1])
    let (value, _) = try loss.compute(predictions: p, targets: Tensor([2, 1]))
    #expect(abs(Double(value) - -(log(0.5) + log(0.3)) / 2) < 1e-6)
    let oneHot = try Tensor(shape: [2, 3], scalars: [0, 1, 0, 0, 0, 1])
    #expect(try lossGradientError(loss, predictions: p, targets: oneHot).error < 1e-2)
    #expect(try lossGradientError(loss, predictions: p, targets: Tensor([0, 2])).error < 1e-2)
  }

  @Test func hingeWithSignedAndBinaryTargets() throws {
    let loss = Hinge()
    let p = try Tensor(shape: [3], scalars: [0.5, -2, 0.3])
    let (value, gradient) = try loss.compute(predictions: p, targets: Tensor([1, -1, -1]))
    // max(0, 0.5), max(0, -1), max(0, 1.3): mean 0.6.
    #expect(abs(value - 0.6) < 1e-6)
    #expect(try gradient.maxAbsoluteDifference(to: Tensor([-1.0 / 3, 0, 1.0 / 3])) < 1e-7)
    let (binary, _) = try loss.compute(predictions: p, targets: Tensor([1, 0, 0]))
    #expect(binary == value)
    let x = Self.random([4, 3], seed: 10, scale: 2)
    var generator = SeededGenerator(seed: 11)
    let targets = Tensor(shape: [4, 3]) { buffer in
      for index in buffer.indices { buffer[index] = generator.nextUnitFloat() < 0.5 ? -1 : 1 }
    }
    let check = try lossGradientError(
      loss, predictions: x, targets: targets,
      isNearKink: { p, i in abs(1 - targets[flat: i] * p) < 0.02 })
    #expect(check.error < 1e-2 && check.checked >= 10)
  }

  @Test func labelErrorsNameTheSampleAndTheRange() throws {
    let loss = CategoricalCrossEntropy(fromLogits: true)
    let logits = Tensor.zeros([3, 4])
    #expect(
      throws: PlexusError.invalidData(
        "softmax_cross_entropy: target of sample 2 is 4.0, expected a class index: an integer in 0..<4"
      )
    ) { try loss.compute(predictions: logits, targets: Tensor([0, 1, 4])) }
    #expect(
      throws: PlexusError.invalidData(
        "softmax_cross_entropy: target of sample 1 is 1.5, expected a class index: an integer in 0..<4"
      )
    ) { try loss.compute(predictions: logits, targets: Tensor([0, 1.5, 2])) }
    #expect(throws: PlexusError.self) {
      try loss.compute(predictions: logits, targets: Tensor([0, -1, 2]))
    }
    #expect(throws: PlexusError.self) {
      try loss.compute(predictions: logits, targets: Tensor([0, .nan, 2]))
    }
    // Shape mismatch: 2 labels for 3 samples, and predictions of the wrong rank.
    #expect(throws: PlexusError.self) {
      try loss.compute(predictions: logits, targets: Tensor([0, 1]))
    }
    #expect(throws: PlexusError.self) {
      try loss.compute(predictions: Tensor([1, 2, 3]), targets: Tensor([0, 1, 1]))
    }
    // Empty batch.
    #expect(
      throws: PlexusError.invalidArgument(
        "softmax_cross_entropy: the batch is empty (predictions of shape [0, 4])")
    ) { try loss.compute(predictions: Tensor.zeros([0, 4]), targets: Tensor([])) }
    #expect(throws: PlexusError.self) {
      try MeanSquaredError().compute(
        predictions: Tensor.zeros([0, 2]), targets: Tensor.zeros([0, 2]))
    }
    #expect(throws: PlexusError.self) {
      try MeanSquaredError().compute(
        predictions: Tensor.zeros([2, 2]), targets: Tensor.zeros([2, 3]))
    }
    #expect(
      throws: PlexusError.invalidData(
        "binary_crossentropy: target of sample 1 is 2.0, expected a value in [0, 1]")
    ) {
      try BinaryCrossEntropy(fromLogits: true).compute(
        predictions: Tensor.zeros([2, 1]), targets: Tensor([1, 2]))
    }
    #expect(
      throws: PlexusError.invalidData(
        "hinge: target of sample 0 is 0.5, expected -1 or 1 (or 0 or 1)")
    ) { try Hinge().compute(predictions: Tensor.zeros([2]), targets: Tensor([0.5, 1])) }
  }

  @Test func lossFunctionJSONUsesKerasNames() throws {
    func decode(_ json: String) throws -> LossFunction {
      try JSONDecoder().decode(LossFunction.self, from: Data(json.utf8))
    }
    #expect(try decode("\"mse\"") == .meanSquaredError)
    #expect(try decode("\"mean_absolute_error\"") == .meanAbsoluteError)
    #expect(try decode("\"huber\"") == .huber(delta: 1))
    #expect(try decode("{\"type\": \"huber\", \"delta\": 2.5}") == .huber(delta: 2.5))
    #expect(try decode("\"binary_crossentropy\"") == .binaryCrossEntropy(fromLogits: false))
    #expect(
      try decode("{\"type\": \"binary_crossentropy\", \"fromLogits\": true}")
        == .binaryCrossEntropy(fromLogits: true))
    #expect(try decode("\"softmax_cross_entropy\"") == .categoricalCrossEntropy(fromLogits: true))
    #expect(
      try decode("\"sparse_categorical_crossentropy\"")
        == .categoricalCrossEntropy(fromLogits: false))
    #expect(
      try decode("{\"type\": \"sparse_categorical_crossentropy\", \"fromLogits\": true}")
        == .categoricalCrossEntropy(fromLogits: true))
    #expect(try decode("\"hinge\"") == .hinge)
    #expect(throws: PlexusError.self) { try decode("\"crossentropy\"") }
    #expect(throws: PlexusError.self) { try decode("{\"type\": \"huber\", \"delta\": -1}") }
    #expect(throws: PlexusError.self) { try decode("{\"type\": \"mse\", \"delta\": 1}") }
    #expect(
      throws: PlexusError.invalidConfiguration(
        "loss 'huber': unknown key 'dleta' (did you mean 'delta'?); expected one of delta")
    ) { try decode("{\"type\": \"huber\", \"dleta\": 1}") }
    #expect(
      throws: PlexusError.invalidConfiguration(
        "loss 'softmax_cross_entropy' is 'plexus.categorical_crossentropy' with fromLogits true; "
          + "it cannot take fromLogits false (name 'plexus.categorical_crossentropy' instead)")
    ) {
      try decode("{\"type\": \"softmax_cross_entropy\", \"fromLogits\": false}")
    }
    #expect(throws: PlexusError.self) { try decode("{\"type\": \"huber\", \"delta\": null}") }
    #expect(throws: PlexusError.self) { try decode("{\"type\": \"huber\", \"delta\": \"1\"}") }

    let all: [LossFunction] = [
      .meanSquaredError, .meanAbsoluteError, .huber(delta: 0.5),
      .binaryCrossEntropy(fromLogits: true),
      .binaryCrossEntropy(fromLogits: false), .categoricalCrossEntropy(fromLogits: true),
      .categoricalCrossEntropy(fromLogits: false), .hinge,
    ]
    for function in all {
      let data = try JSONEncoder().encode(function)
      #expect(try JSONDecoder().decode(LossFunction.self, from: data) == function)
      #expect(try function.makeLoss().name == function.name)
    }
    // Encoding writes the registered name; the Keras names decode as aliases.
    #expect(
      String(decoding: try JSONEncoder().encode(LossFunction.meanSquaredError), as: UTF8.self)
        == "\"plexus.mse\"")
    #expect(
      LossFunction.categoricalCrossEntropy(fromLogits: true).description
        == #"{"fromLogits":true,"type":"plexus.categorical_crossentropy"}"#)
    #expect(try decode("\"plexus.huber\"") == .huber(delta: 1))
    #expect(
      try decode("{\"type\": \"softmax_cross_entropy\", \"fromLogits\": true}")
        == .categoricalCrossEntropy(fromLogits: true))
  }
}
