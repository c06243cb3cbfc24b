import Foundation
import PlexusCore
import Testing

/// Runs a metric over batches and returns its result.
private func measure(_ metric: Metric, _ batches: [(Tensor, Tensor)], threshold: Float? = nil)
  throws -> Float
{
  var running = metric.prototype
  for (predictions, targets) in batches {
    try running.accumulate(
      predictions: predictions, targets: targets,
      context: MetricContext(binaryThreshold: threshold))
  }
  return running.result
}

@Suite struct ClassificationMetricTests {
  /// Three classes, nine samples: true 0 0 0 1 1 1 2 2 2, predicted 0 0 1 1 1 2 2 0 2; every
  /// class is predicted three times, twice rightly.
  static let predicted = [0, 0, 1, 1, 1, 2, 2, 0, 2]
  static let expected: [Float] = [0, 0, 0, 1, 1, 1, 2, 2, 2]

  static func logits() -> Tensor {
    Tensor(shape: [9, 3]) { buffer in
      for (row, c) in predicted.enumerated() {
        for j in 0..<3 { buffer[row * 3 + j] = j == c ? 2 : Float(j) * 0.1 }
      }
    }
  }

  @Test func confusionMatrixCountsAndMeasures() throws {
    var matrix = ConfusionMatrix(classes: 3)
    try matrix.add(predictions: Self.logits(), targets: Tensor(Self.expected))
    #expect(matrix.counts == [[2, 1, 0], [0, 2, 1], [1, 0, 2]])
    #expect(matrix.total == 9 && matrix.accuracy == Float(6.0 / 9.0))
    // Class 0: predicted 3 times, 2 right; 3 samples, 2 found.
    #expect(matrix.precision(of: 0) == Float(2.0 / 3.0))
    #expect(matrix.recall(of: 0) == Float(2.0 / 3.0))
    #expect(abs(matrix.f1(of: 0) - Float(2.0 / 3.0)) < 1e-6)
    #expect(abs(matrix.macroF1 - Float(2.0 / 3.0)) < 1e-6)
    // One-hot targets give the same counts.
    var oneHot = ConfusionMatrix()
    let rows = Tensor(shape: [9, 3]) { buffer in
      for (row, c) in Self.expected.enumerated() { buffer[row * 3 + Int(c)] = 1 }
    }
    try oneHot.add(predictions: Self.logits(), targets: rows)
    #expect(oneHot.counts == matrix.counts)
    // A class index out of range names the sample.
    #expect {
      try matrix.add(predictions: Self.logits(), targets: Tensor([0, 0, 0, 1, 1, 1, 2, 2, 3]))
    } throws: { "\($0)".contains("sample 8 is 3.0") }
  }

  @Test func precisionRecallAndF1() throws {
    // An unbalanced case where the measures differ: class 1 is over-predicted.
    // true      0 0 0 0 1 1 2 2
    // predicted 0 1 1 0 1 1 2 1
    let predicted = [0, 1, 1, 0, 1, 1, 2, 1]
    let logits = Tensor(shape: [8, 3]) { buffer in
      for (row, c) in predicted.enumerated() { buffer[row * 3 + c] = 1 }
    }
    let targets = Tensor([0, 0, 0, 0, 1, 1, 2, 2])
    // Per class (scikit-learn): precision [1, 0.4, 1], recall [0.5, 1, 0.5],
    // F1 [2/3, 4/7, 2/3].
    let batches = [
      (logits.samples(0..<5), targets.samples(0..<5)),
      (logits.samples(5..<8), targets.samples(5..<8)),
    ]
    let precision = try measure(Metric(json: .string("precision")), batches)
    let recall = try measure(Metric(json: .string("recall")), batches)
    let f1 = try measure(Metric(json: .string("f1")), batches)
    #expect(abs(precision - Float((1 + 0.4 + 1) / 3.0)) < 1e-6)
    #expect(abs(recall - Float((0.5 + 1 + 0.5) / 3.0)) < 1e-6)
    #expect(abs(f1 - Float((2.0 / 3 + 4.0 / 7 + 2.0 / 3) / 3)) < 1e-6)
    // One class on request.
    let one = try Metric(json: .object(["type": .string("precision"), "classIndex": .number(1)]))
    #expect(abs(try measure(one, batches) - 0.4) < 1e-6)
    #expect(one.name == "precision")

    // Binary: class 1 of one output, thresholded at the loss' threshold (0 for logits).
    let scores = try Tensor(shape: [6, 1], scalars: [-1, 2, 3, -2, 0.5, -0.5])
    let labels = Tensor([0, 1, 0, 0, 1, 1])
    // Predicted 0 1 1 0 1 0: TP 2, FP 1, FN 1.
    #expect(
      abs(
        try measure(Metric(json: .string("precision")), [(scores, labels)], threshold: 0) - 2.0 / 3)
        < 1e-6)
    #expect(
      abs(try measure(Metric(json: .string("recall")), [(scores, labels)], threshold: 0) - 2.0 / 3)
        < 1e-6)
    // Unknown keys and bad values are errors.
    #expect(throws: PlexusError.self) {
      try Metric(json: .object(["type": .string("f1"), "clasIndex": .number(1)]))
    }
    #expect(throws: PlexusError.self) {
      try Metric(json: .object(["type": .string("recall"), "classIndex": .number(-1)]))
    }
  }

  @Test func topKAccuracy() throws {
    let scores = try Tensor(
      shape: [4, 4],
      scalars: [
        0.1, 0.5, 0.3, 0.2,  // true 2: second largest
        0.9, 0.5, 0.05, 0.05,  // true 3: third (tied with class 2; a tie counts for the true class)
        0.2, 0.3, 0.4, 0.1,  // true 3: last
        0.4, 0.3, 0.2, 0.1,  // true 0: first
      ])
    let targets = Tensor([2, 3, 3, 0])
    func topK(_ k: Int) throws -> Float {
      try measure(
        Metric(json: .object(["type": .string("top_k_accuracy"), "k": .number(Double(k))])),
        [(scores, targets)])
    }
    #expect(try topK(1) == 0.25)
    #expect(try topK(2) == 0.5)
    #expect(try topK(3) == 0.75)
    #expect(try topK(4) == 1)
    #expect(try Metric(json: .string("top_k_accuracy")).name == "top_k_accuracy")
    #expect(throws: PlexusError.self) {
      try Metric(json: .object(["type": .string("top_k_accuracy"), "k": .number(0)]))
    }
    #expect(throws: PlexusError.self) {
      try measure(
        Metric(json: .string("top_k_accuracy")),
        [(Tensor(shape: [2, 1], scalars: [1, 0]), Tensor([1, 0]))])
    }
  }

  @Test func metricsTrainAndLogUnderTheirNames() throws {
    let (x, y) = TrainingData.blobs(count: 40, seed: 3)
    let model = Sequential([try TestLinear(units: 2)])
    let metrics = try ["accuracy", "precision", "recall", "f1", "top_k_accuracy"].map {
      try Metric(json: .string($0))
    }
    let history = try model.fit(
      x, y, loss: CategoricalCrossEntropy(fromLogits: true), optimizer: SGD(learningRate: 0.5),
      options: TrainingOptions(
        epochs: 3, batchSize: 8, validationSplit: 0.25, metrics: metrics))
    for key in ["accuracy", "precision", "recall", "f1", "top_k_accuracy"] {
      #expect(history[key]?.count == 3, "\(key)")
      #expect(history["val_" + key]?.count == 3, "val_\(key)")
    }
    // Two classes, top 5: always right.
    #expect(history["top_k_accuracy"]?.allSatisfy { $0 == 1 } == true)
  }
}
