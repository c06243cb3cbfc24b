import PlexusConvolution
import PlexusCore
import PlexusTestSupport
import Testing

@Suite struct AveragePool2DTests {
  @Test func passesTheLayerHarness() throws {
    let test = LayerTest(
      registry: ConvolutionTesting.registry(),
      shapes: [
        LayerShapeCase([7, 6, 5], output: [4, 3, 5]),
        LayerShapeCase([1, 1, 2], output: [1, 1, 2]),
        LayerShapeCase([4, 9, 3], output: [2, 5, 3]),
      ],
      badShapes: [[[6, 6]], [[6, 6, 2, 1]], [[4, 4, 1], [4, 4, 1]]]
    ) { try AveragePool2D(poolSize: 2, padding: .same) }
    try LayerHarness.run(test)
  }

  @Test(arguments: [
    (2, 2, Padding.valid), (3, 2, .same), (2, 1, .same),
    (3, 3, .explicit(top: 1, bottom: 1, left: 1, right: 0)),
  ])
  func gradientsMatchFiniteDifferences(size: Int, stride: Int, padding: Padding) throws {
    let layer = try AveragePool2D(poolSize: size, strides: stride, padding: padding, name: "p")
    let report = try GradientCheck.check(
      layer: layer, batchInputShape: [2, 7, 6, 5], maximumEntries: 96)
    #expect(report.maximumError < 1e-2, "\(report)")
  }

  @Test(arguments: [Padding.valid, .same, .explicit(top: 1, bottom: 1, left: 0, right: 1)])
  func matchesDirectDefinition(padding: Padding) throws {
    var generator = SeededGenerator(seed: 15)
    for ((size, stride), channels) in zip([(2, 2), (3, 2), (2, 1), (3, 3)], [3, 8, 5, 1]) {
      let input = Tensor.normal([2, 7, 6, channels], using: &generator)
      let layer = try AveragePool2D(
        config: .init(poolSize: [size, size], strides: [stride, stride], padding: padding))
      try layer.build(inputShape: [7, 6, channels], seed: 0)
      let expected = try #require(
        Reference.pool(
          input: input, size: (size, size), strides: (stride, stride), padding: padding, max: false)
      )
      let output = try layer(input)
      #expect(output.shape == expected.shape)
      #expect(try output.maxAbsoluteDifference(to: expected) < 1e-6, "\(size)/\(stride) \(padding)")
    }
  }

  @Test func bordersAverageOnlyThePositionsInside() throws {
    let layer = try AveragePool2D(poolSize: 2, strides: 1, padding: .same)
    try layer.build(inputShape: [2, 2, 1], seed: 0)
    let output = try layer(try Tensor(shape: [1, 2, 2, 1], scalars: [1, 2, 3, 4]))
    #expect(output.scalars == [2.5, 3, 3.5, 4])
  }

  @Test func badShapesAndHyperparametersAreRejected() throws {
    #expect(throws: PlexusError.self) {
      try AveragePool2D(poolSize: 3).build(inputShape: [2, 4, 1], seed: 0)
    }
    #expect(throws: PlexusError.self) { try AveragePool2D(poolSize: 2, strides: 0) }
    #expect(throws: PlexusError.self) {
      try AveragePool2D(poolSize: 2, padding: .explicit(top: -1, bottom: 0, left: 0, right: 0))
    }
  }

  @Test func configsRoundTrip() throws {
    let layer = try AveragePool2D(
      config: .init(poolSize: [2, 3], strides: [1, 2], padding: .valid))
    let copy = try LayerHarness.roundTripConfig(
      of: layer, registry: ConvolutionTesting.registry())
    #expect((copy as? AveragePool2D)?.config == layer.config)
  }

  @Test func configRefusesUnknownKeysAndDefaultsEveryKey() throws {
    try LayerHarness.checkConfigDecoding(
      AveragePool2D.self, registry: ConvolutionTesting.registry(), minimal: "{}",
      defaults: PoolingConfig(poolSize: [2, 2], strides: nil, padding: .valid),
      full: PoolingConfig(poolSize: [3, 2], strides: [1, 2], padding: .same),
      typo: #"{"pool_size": [3, 3]}"#, suggestion: "poolSize")
  }
}
