import PlexusConvolution
import PlexusCore
import PlexusTestSupport
import Testing

@Suite struct MaxPool2DTests {
  @Test func passesTheLayerHarness() throws {
    let test = LayerTest(
      registry: ConvolutionTesting.registry(),
      shapes: [
        LayerShapeCase([7, 6, 5], output: [3, 3, 5]),
        LayerShapeCase([2, 2, 1], output: [1, 1, 1]),
        LayerShapeCase([4, 9, 3], output: [2, 4, 3]),
      ],
      badShapes: [[[6, 6]], [[1, 6, 2]], [[6, 6, 2, 1]], [[4, 4, 1], [4, 4, 1]]]
    ) { try MaxPool2D(poolSize: 2) }
    try LayerHarness.run(test)
  }

  static let windows: [(Int, Int, Padding)] = [
    (2, 2, .valid), (3, 2, .same), (2, 1, .same),
    (3, 3, .explicit(top: 1, bottom: 1, left: 1, right: 0)),
  ]

  @Test(arguments: windows)
  func gradientsMatchFiniteDifferences(size: Int, stride: Int, padding: Padding) throws {
    let layer = try MaxPool2D(poolSize: size, strides: stride, padding: padding, name: "pool")
    let report = try GradientCheck.check(
      layer: layer, batchInputShape: [2, 7, 6, 5], maximumEntries: 96)
    #expect(report.maximumError < 1e-2, "\(report)")
    // In inference no routing is recorded; backward works it out.
    let inference = try MaxPool2D(poolSize: size, strides: stride, padding: padding, name: "pool")
    let inferenceReport = try GradientCheck.check(
      layer: inference, batchInputShape: [2, 7, 6, 5], training: false, maximumEntries: 96)
    #expect(inferenceReport.maximumError < 1e-2, "\(inferenceReport)")
  }

  @Test(arguments: [Padding.valid, .same, .explicit(top: 1, bottom: 1, left: 0, right: 1)])
  func matchesDirectDefinition(padding: Padding) throws {
    var generator = SeededGenerator(seed: 14)
    for ((size, stride), channels) in zip([(2, 2), (3, 2), (2, 1), (3, 3)], [3, 8, 5, 1]) {
      let input = Tensor.normal([2, 7, 6, channels], using: &generator)
      let layer = try MaxPool2D(poolSize: size, strides: stride, padding: padding)
      try layer.build(inputShape: [7, 6, channels], seed: 0)
      let expected = try #require(
        Reference.pool(
          input: input, size: (size, size), strides: (stride, stride), padding: padding, max: true))
      for training in [false, true] {
        let output = try layer(input, training: training)
        #expect(output.shape == expected.shape)
        #expect(output == expected, "\(size)/\(stride) \(padding) training \(training)")
      }
    }
  }

  /// A record reused from a training call for an inference call must not route the gradient
  /// with the training call's winners.
  @Test func aReusedRecordRoutesTheGradientOfItsOwnCall() throws {
    let layer = try MaxPool2D(poolSize: 2)
    try layer.build(inputShape: [2, 2, 1], seed: 0)
    let record = CallRecord()
    _ = try layer(
      try Tensor(shape: [1, 2, 2, 1], scalars: [4, 1, 2, 3]), training: true, record: record)
    let gradient = try Tensor(shape: [1, 1, 1, 1], scalars: [1])
    #expect(try layer.gradients([gradient], record: record)[0]?.scalars == [1, 0, 0, 0])
    _ = try layer(
      try Tensor(shape: [1, 2, 2, 1], scalars: [0, 1, 2, 3]), training: false, record: record)
    #expect(try layer.gradients([gradient], record: record)[0]?.scalars == [0, 0, 0, 1])
    _ = try layer(
      try Tensor(shape: [1, 2, 2, 1], scalars: [0, 5, 2, 3]), training: true, record: record)
    #expect(try layer.gradients([gradient], record: record)[0]?.scalars == [0, 1, 0, 0])
  }

  @Test func paddedPositionsNeverWin() throws {
    let layer = try MaxPool2D(poolSize: 2, strides: 1, padding: .same)
    try layer.build(inputShape: [2, 2, 1], seed: 0)
    let output = try layer(try Tensor(shape: [1, 2, 2, 1], scalars: [-4, -1, -2, -3]))
    #expect(output.scalars == [-1, -1, -2, -3])
  }

  @Test func badShapesAndHyperparametersAreRejected() throws {
    #expect(throws: PlexusError.self) {
      try MaxPool2D(poolSize: 3).build(inputShape: [2, 2, 1], seed: 0)
    }
    // Explicit padding as large as the window would leave windows of padding only.
    #expect(throws: PlexusError.self) {
      try MaxPool2D(poolSize: 2, padding: .explicit(top: 2, bottom: 0, left: 0, right: 0))
        .build(inputShape: [6, 6, 1], seed: 0)
    }
    #expect(throws: PlexusError.self) { try MaxPool2D(poolSize: 0) }
    #expect(throws: PlexusError.self) { try MaxPool2D(poolSize: 2, strides: -2) }
    #expect(throws: PlexusError.self) { try MaxPool2D(config: .init(poolSize: [2, 2, 2])) }
    #expect(throws: PlexusError.self) { try MaxPool2D(poolSize: 1 << 25) }
    let registry = ConvolutionTesting.registry()
    for config: JSONValue in [
      .object([
        "poolSize": .array([.number(2), .number(2)]),
        "strides": .array([.number(-1), .number(1)]),
      ]),
      .object(["poolSize": .array([.number(2), .number(2)]), "pool_size": .number(2)]),
    ] {
      #expect(throws: PlexusError.self, "\(config)") {
        try registry.makeLayer(
          from: LayerDescription(type: "plexus.max_pool2d", name: "layer", config: config))
      }
    }
  }

  @Test func configsRoundTripWithDefaultStrides() throws {
    let registry = ConvolutionTesting.registry()
    for layer in [try MaxPool2D(poolSize: 3, strides: 2, padding: .same), try MaxPool2D()] {
      let copy = try LayerHarness.roundTripConfig(of: layer, registry: registry)
      #expect((copy as? MaxPool2D)?.config == layer.config)
    }
    let decoded = try registry.makeLayer(
      from: LayerDescription(type: "plexus.max_pool2d", name: "pool", config: .object([:])))
    #expect((decoded as? MaxPool2D)?.config == PoolingConfig(poolSize: [2, 2]))
  }

  @Test func configRefusesUnknownKeysAndDefaultsEveryKey() throws {
    try LayerHarness.checkConfigDecoding(
      MaxPool2D.self, registry: ConvolutionTesting.registry(), minimal: "{}",
      defaults: PoolingConfig(poolSize: [2, 2], strides: nil, padding: .valid),
      full: PoolingConfig(poolSize: [3, 2], strides: [1, 2], padding: .same),
      typo: #"{"pool_size": [3, 3]}"#, suggestion: "poolSize")
  }
}
