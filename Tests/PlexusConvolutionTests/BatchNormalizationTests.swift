import PlexusConvolution
import PlexusCore
import PlexusTestSupport
import Testing

/// Batch statistics in training, moving statistics in inference, as Keras defines them.
@Suite struct BatchNormalizationTests {
  /// The harness measures the loss in inference, with the moving statistics, and trains with
  /// the batch statistics: batches standardized per channel make both the same (mean 0,
  /// variance 1, as the moving statistics start), so training must lower that loss.
  @Test func passesTheLayerHarness() throws {
    var test = LayerTest(
      registry: ConvolutionTesting.registry(),
      shapes: [
        LayerShapeCase([4, 3, 2], output: [4, 3, 2]),
        LayerShapeCase([5], output: [5]),
        LayerShapeCase([6, 3], output: [6, 3]),
      ],
      badShapes: [[[]], [[4], [4]]]
    ) { try BatchNormalization() }
    test.epsilon = 4e-3
    test.makeInputs = { shapes, generator in
      shapes.map { Self.standardized(Tensor.normal($0, using: &generator)) }
    }
    try LayerHarness.run(test)
  }

  /// `values` with each channel (last axis) shifted and scaled to mean 0 and biased variance 1.
  static func standardized(_ values: Tensor) -> Tensor {
    let channels = values.shape[values.rank - 1]
    let scalars = values.scalars
    let rows = scalars.count / channels
    var result = scalars
    for channel in 0..<channels {
      let column = stride(from: channel, to: scalars.count, by: channels).map {
        Double(scalars[$0])
      }
      let mean = column.reduce(0, +) / Double(rows)
      let variance = column.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(rows)
      for (row, value) in column.enumerated() {
        result[row * channels + channel] = Float((value - mean) / variance.squareRoot())
      }
    }
    return Tensor(shape: values.shape) { buffer in
      for index in buffer.indices { buffer[index] = result[index] }
    }
  }

  @Test(arguments: [[4, 3, 3, 2], [6, 5], [3, 4, 3]])
  func trainingGradientsMatchFiniteDifferences(shape: [Int]) throws {
    let layer = try BatchNormalization(name: "batch_normalization_1")
    try layer.build(inputShape: shape.dropFirst().map { $0 }, seed: 9)
    var generator = SeededGenerator(seed: 9)
    let channels = shape[shape.count - 1]
    try layer.gamma?.assign(Tensor.uniform([channels], low: 0.5, high: 1.5, using: &generator))
    try layer.beta?.assign(Tensor.uniform([channels], low: -0.5, high: 0.5, using: &generator))
    let input = Tensor.normal(shape, mean: 0.3, standardDeviation: 1.5, using: &generator)
    let report = try GradientCheck.check(
      layer: layer, input: input, training: true, epsilon: 4e-3, maximumEntries: 48)
    #expect(report.maximumError < 1e-2, "\(report)")
    #expect(
      report.parameterErrors.keys.sorted() == [
        "batch_normalization_1.beta", "batch_normalization_1.gamma",
      ])
  }

  @Test func inferenceGradientsMatchFiniteDifferences() throws {
    let layer = try BatchNormalization(center: false, name: "bn")
    try layer.build(inputShape: [3, 3, 2], seed: 4)
    try layer.movingMean.assign(Tensor([0.2, -0.4]))
    try layer.movingVariance.assign(Tensor([0.5, 2]))
    try layer.gamma?.assign(Tensor([1.5, 0.7]))
    var generator = SeededGenerator(seed: 4)
    let input = Tensor.normal([3, 3, 3, 2], using: &generator)
    let report = try GradientCheck.check(layer: layer, input: input, training: false)
    #expect(report.maximumError < 1e-2, "\(report)")
    #expect(report.parameterErrors.keys.sorted() == ["bn.gamma"])
  }

  @Test func trainingNormalizesWithBatchStatisticsAndUpdatesTheMovingOnes() throws {
    let layer = try BatchNormalization(momentum: 0.9, epsilon: 1e-5)
    try layer.build(inputShape: [3, 2], seed: 3)
    // Channel 0 holds 1...12, channel 1 holds 10 * (1...12).
    let values = (1...12).flatMap { [Float($0), Float($0 * 10)] }
    let input = try Tensor(shape: [4, 3, 2], scalars: values)
    let output = try layer(input, training: true)
    let mean: [Float] = [6.5, 65]
    let variance: [Float] = [143.0 / 12, 14300.0 / 12]  // biased, as Keras
    for channel in 0..<2 {
      let column = stride(from: channel, to: 24, by: 2).map { output[flat: $0] }
      let average = column.reduce(0, +) / 12
      let spread = column.map { ($0 - average) * ($0 - average) }.reduce(0, +) / 12
      #expect(abs(average) < 1e-5)
      #expect(abs(spread - variance[channel] / (variance[channel] + 1e-5)) < 1e-4)
    }
    let movingMean = layer.movingMean.value.scalars
    let movingVariance = layer.movingVariance.value.scalars
    for channel in 0..<2 {
      #expect(abs(movingMean[channel] - 0.1 * mean[channel]) < 1e-4)
      #expect(abs(movingVariance[channel] - (0.9 + 0.1 * variance[channel])) < 1e-2)
    }
    // Inference uses the moving statistics and leaves them alone.
    let inference = try layer(input, training: false)
    let expected = (0..<24).map { index -> Float in
      let channel = index % 2
      return (values[index] - movingMean[channel]) / (movingVariance[channel] + 1e-5).squareRoot()
    }
    #expect(
      try inference.maxAbsoluteDifference(to: try Tensor(shape: [4, 3, 2], scalars: expected))
        < 1e-4)
    #expect(layer.movingMean.value.scalars == movingMean)
    #expect(layer.movingVariance.value.scalars == movingVariance)
  }

  @Test func movingStatisticsAreSavedButNotTrainable() throws {
    let layer = try BatchNormalization(name: "bn")
    #expect(layer.movingMean.declaredShape == nil)
    try layer.build(inputShape: [4], seed: 0)
    #expect(
      layer.namedParameters.map(\.path) == [
        "bn.gamma", "bn.beta", "bn.moving_mean", "bn.moving_variance",
      ])
    #expect(layer.trainableParameters.map(\.name) == ["gamma", "beta"])
    #expect(layer.gamma?.value == Tensor(shape: [4], repeating: 1))
    #expect(layer.beta?.value == Tensor.zeros([4]))
    #expect(layer.movingMean.value == Tensor.zeros([4]))
    #expect(layer.movingVariance.value == Tensor(shape: [4], repeating: 1))
    let plain = try BatchNormalization(center: false, scale: false, name: "plain")
    try plain.build(inputShape: [4], seed: 0)
    #expect(plain.namedParameters.map(\.path) == ["plain.moving_mean", "plain.moving_variance"])
    #expect(plain.trainableParameters.isEmpty)
  }

  /// Only the channel count must be known: a model over sequences of any length normalizes
  /// each call's batch, and training updates the moving statistics.
  @Test func sequencesOfAnyLengthAreNormalized() throws {
    let steps = try Input(shape: [nil, 3] as SymbolicShape, name: "steps")
    let layer = try BatchNormalization(momentum: 0, name: "bn")
    let model = try Model(input: steps, output: try layer(steps), seed: 1)
    #expect(layer.state.outputShapes == [[nil, 3]])
    var generator = SeededGenerator(seed: 8)
    for length in [2, 5] {
      let input = Tensor.normal([4, length, 3], mean: 2, using: &generator)
      let record = CallRecord()
      let output = try model.run([input], training: true, record: record)[0]
      #expect(output.shape == [4, length, 3])
      let gradient = try #require(try model.gradients([output], record: record)[0])
      #expect(gradient.shape == input.shape)
      // With momentum 0 the moving statistics are this batch's, so inference reproduces the
      // training output up to epsilon.
      #expect(try model.predict(input).maxAbsoluteDifference(to: output) < 1e-4)
    }
    #expect(throws: PlexusError.self) {
      try BatchNormalization().build(inputShape: [3, nil], seed: 0)
    }
  }

  @Test func badConfigsAreRejected() throws {
    #expect(throws: PlexusError.self) { try BatchNormalization(momentum: 1.5) }
    #expect(throws: PlexusError.self) { try BatchNormalization(momentum: -0.1) }
    #expect(throws: PlexusError.self) { try BatchNormalization(epsilon: 0) }
    #expect(throws: PlexusError.self) { try BatchNormalization(epsilon: .infinity) }
    #expect(throws: PlexusError.self) { try BatchNormalization(epsilon: .nan) }
    let registry = ConvolutionTesting.registry()
    for config: JSONValue in [
      .object(["momentum": .number(-0.5)]), .object(["axis": .number(-1)]),
      .object(["epsilon": .string("small")]),
    ] {
      #expect(throws: PlexusError.self, "\(config)") {
        try registry.makeLayer(
          from: LayerDescription(type: "plexus.batch_normalization", name: "bn", config: config))
      }
    }
  }

  @Test func configsRoundTripAndDecodeWithKerasDefaults() throws {
    let registry = ConvolutionTesting.registry()
    let layer = try BatchNormalization(momentum: 0.9, epsilon: 1e-5, center: false)
    let copy = try LayerHarness.roundTripConfig(of: layer, registry: registry)
    #expect((copy as? BatchNormalization)?.config == layer.config)
    let decoded = try #require(
      try registry.makeLayer(
        from: LayerDescription(type: "plexus.batch_normalization", name: "bn", config: .object([:]))
      ) as? BatchNormalization)
    #expect(decoded.config == BatchNormalization.Config(momentum: 0.99, epsilon: 1e-3))
  }

  @Test func configRefusesUnknownKeysAndDefaultsEveryKey() throws {
    try LayerHarness.checkConfigDecoding(
      BatchNormalization.self, registry: ConvolutionTesting.registry(), minimal: "{}",
      defaults: BatchNormalization.Config(momentum: 0.99, epsilon: 1e-3, center: true, scale: true),
      full: BatchNormalization.Config(momentum: 0.9, epsilon: 1e-5, center: false, scale: false),
      typo: #"{"momentun": 0.9}"#, suggestion: "momentum")
  }
}
