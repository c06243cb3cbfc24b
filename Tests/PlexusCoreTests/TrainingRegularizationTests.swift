import Foundation
import PlexusCore
import Testing

@Suite struct TrainingRegularizationTests {
  @Test func schedulesGiveTheDocumentedRates() throws {
    let step = StepDecay(stepSize: 2, gamma: 0.5)
    #expect(
      (0..<5).map { step.learningRate(completedEpochs: $0, baseRate: 0.1) } == [
        0.1, 0.1, 0.05, 0.05, 0.025,
      ])
    let exponential = ExponentialDecay(gamma: 0.9)
    #expect(abs(exponential.learningRate(completedEpochs: 3, baseRate: 1) - 0.729) < 1e-6)
    let cosine = CosineDecay(epochs: 4, minimumFraction: 0.1)
    // base * (0.1 + 0.9 * (1 + cos(pi e / 4)) / 2): 1, 0.868198, 0.55, 0.231802, 0.1, 0.1.
    let rates = (0..<6).map { cosine.learningRate(completedEpochs: $0, baseRate: 1) }
    for (rate, expected) in zip(rates, [1, 0.8681981, 0.55, 0.2318019, 0.1, 0.1] as [Float]) {
      #expect(abs(rate - expected) < 1e-6, "\(rates)")
    }
    let warm = CosineDecay(epochs: 6, warmupEpochs: 2)
    // Warm-up 0.5, 1.0; then cosine over 4 epochs: 1, 0.853553, 0.5, 0.146447, 0.
    let warmRates = (0..<7).map { warm.learningRate(completedEpochs: $0, baseRate: 1) }
    for (rate, expected) in zip(warmRates, [0.5, 1, 1, 0.8535534, 0.5, 0.1464466, 0] as [Float]) {
      #expect(abs(rate - expected) < 1e-6, "\(warmRates)")
    }
  }

  @Test func scheduleConfigJSON() throws {
    func decode(_ json: String) throws -> LearningRateScheduleConfig {
      try JSONDecoder().decode(LearningRateScheduleConfig.self, from: Data(json.utf8))
    }
    #expect(
      try decode("{\"type\": \"step\", \"stepSize\": 3, \"gamma\": 0.5}")
        == .step(StepDecay(stepSize: 3, gamma: 0.5)))
    #expect(
      try decode("{\"type\": \"exponential\", \"gamma\": 0.9}")
        == .exponential(ExponentialDecay(gamma: 0.9)))
    #expect(
      try decode("{\"type\": \"cosine\", \"epochs\": 10, \"warmupEpochs\": 2}")
        == .cosine(CosineDecay(epochs: 10, warmupEpochs: 2)))
    #expect(
      try decode("{\"type\": \"constant\"}").learningRate(completedEpochs: 7, baseRate: 0.3) == 0.3)
    #expect(throws: PlexusError.self) { try decode("{\"type\": \"step\", \"stepSize\": 0}") }
    #expect(throws: PlexusError.self) {
      try decode("{\"type\": \"cosine\", \"epochs\": 3, \"warmupEpochs\": 3}")
    }
    #expect(throws: PlexusError.self) { try decode("{\"type\": \"linear\"}") }
    #expect(throws: PlexusError.self) {
      try decode("{\"type\": \"exponential\", \"gamma\": 0.9, \"rate\": 1}")
    }
    let configs: [LearningRateScheduleConfig] = [
      .constant, .step(StepDecay(stepSize: 4, gamma: 0.2)),
      .exponential(ExponentialDecay(gamma: 0.95)),
      .cosine(CosineDecay(epochs: 8, minimumFraction: 0.05, warmupEpochs: 1)),
    ]
    for config in configs {
      #expect(
        try JSONDecoder().decode(
          LearningRateScheduleConfig.self, from: JSONEncoder().encode(config)) == config)
    }
  }

  @Test func clippingByValueAndByGlobalNorm() throws {
    let a = Parameter(name: "a", value: Tensor.zeros([3]))
    let b = Parameter(name: "b", value: Tensor.zeros([1]))
    let frozen = Parameter(name: "frozen", value: Tensor.zeros([1]), isTrainable: false)
    a.gradient = Tensor([3, -0.5, -4])
    b.gradient = Tensor([0.2])
    frozen.gradient = Tensor([100])
    try GradientClipping.clipByValue([a, b, frozen], limit: 1)
    #expect(a.gradient.scalars == [1, -0.5, -1])
    #expect(b.gradient.scalars == [0.2])
    #expect(frozen.gradient.scalars == [100])

    // Norm of (3, 0, -4, 0) is 5; clipping to 1 scales by 1 / (5 + 1e-6).
    a.gradient = Tensor([3, 0, -4])
    b.gradient = Tensor([0])
    #expect(GradientClipping.globalNorm([a, b, frozen]) == 5)
    let norm = try GradientClipping.clipByGlobalNorm([a, b, frozen], maxNorm: 1)
    #expect(norm == 5)
    #expect(abs(a.gradient[0] - 0.6) < 1e-6 && abs(a.gradient[2] + 0.8) < 1e-6)
    #expect(frozen.gradient.scalars == [100])
    // Below the limit nothing changes.
    let before = a.gradient
    try GradientClipping.clipByGlobalNorm([a, b], maxNorm: 10)
    #expect(a.gradient == before)
    #expect(throws: PlexusError.self) { try GradientClipping.clipByValue([a], limit: 0) }
    #expect(throws: PlexusError.self) { try GradientClipping.clipByGlobalNorm([a], maxNorm: -1) }
  }

  @Test func regularizerPenaltyAndGradient() throws {
    let w = Parameter(
      name: "w", value: Tensor([1, -2, 0]), regularizer: Regularizer(l1: 0.1, l2: 0.5))
    let frozen = Parameter(
      name: "f", value: Tensor([5]), isTrainable: false, regularizer: Regularizer(l2: 1))
    // 0.1 * (1 + 2 + 0) + 0.5 * (1 + 4 + 0) = 2.8; the frozen parameter is not penalized.
    #expect(abs(Regularization.penalty(of: [w, frozen]) - 2.8) < 1e-6)
    w.gradient = Tensor([1, 1, 1])
    Regularization.addGradients(to: [w, frozen])
    // 1 + 0.1 sign(w) + 2 * 0.5 w = 2.1, -1.1, 1.
    #expect(try w.gradient.maxAbsoluteDifference(to: Tensor([2.1, -1.1, 1])) < 1e-6)
    #expect(frozen.gradient.scalars == [0])
  }

  @Test func fitAddsRegularizationToLossAndGradient() throws {
    // One linear unit, weights fixed by hand, zero learning rate: the logged loss is the data
    // loss plus the penalty; with a learning rate the penalty gradient shrinks the weights.
    let layer = try TestLinear(units: 1, regularizer: Regularizer(l2: 0.5))
    let model = Sequential([layer])
    try model.build(inputShape: [2])
    try layer.kernel.assign(try Tensor(shape: [2, 1], scalars: [1, 2]))
    let x = try Tensor(shape: [2, 2], scalars: [1, 0, 0, 1])
    let y = try Tensor(shape: [2, 1], scalars: [1, 2])
    // Predictions equal the targets: data loss 0, penalty 0.5 * (1 + 4) = 2.5.
    let history = try model.fit(
      x, y, loss: MeanSquaredError(), optimizer: SGD(learningRate: 0),
      options: TrainingOptions(epochs: 1, batchSize: 2, shuffle: false))
    #expect(history["loss"] == [2.5])
    #expect(try model.evaluate(x, y, loss: MeanSquaredError())["loss"] == 2.5)
    // With lr 0.1 the only gradient is the penalty's, 2 * 0.5 * w: w becomes 0.9 w.
    try model.fit(
      x, y, loss: MeanSquaredError(), optimizer: SGD(learningRate: 0.1),
      options: TrainingOptions(epochs: 1, batchSize: 2, shuffle: false))
    let kernel = layer.kernel.value
    #expect(
      try kernel.maxAbsoluteDifference(to: Tensor(shape: [2, 1], scalars: [0.9, 1.8])) < 1e-6)
  }
}
