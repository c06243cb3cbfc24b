import PlexusConvolution
import PlexusCore
import PlexusTestSupport
import Testing

@Suite struct GlobalAveragePool2DTests {
  @Test(arguments: [false, true])
  func passesTheLayerHarness(keepDims: Bool) throws {
    let channels = { (count: Int) in keepDims ? [1, 1, count] : [count] }
    let test = LayerTest(
      registry: ConvolutionTesting.registry(),
      shapes: [
        LayerShapeCase([4, 3, 2], output: channels(2)),
        LayerShapeCase([1, 1, 5], output: channels(5)),
        LayerShapeCase([7, 2, 1], output: channels(1)),
      ],
      badShapes: [[[6, 6]], [[6]], [[6, 6, 2, 1]], [[4, 4, 1], [4, 4, 1]]]
    ) { GlobalAveragePool2D(keepDims: keepDims) }
    try LayerHarness.run(test)
  }

  @Test func averagesEveryPosition() throws {
    var generator = SeededGenerator(seed: 15)
    let input = Tensor.normal([3, 4, 5, 2], using: &generator)
    let layer = GlobalAveragePool2D()
    #expect(try layer.build(inputShape: [4, 5, 2], seed: 0) == [2])
    let expected = try #require(
      Reference.pool(input: input, size: (4, 5), strides: (4, 5), padding: .valid, max: false))
    #expect(try layer(input).maxAbsoluteDifference(to: try expected.reshaped([3, 2])) < 1e-6)
  }

  @Test func gradientsMatchFiniteDifferences() throws {
    for keepDims in [false, true] {
      let report = try GradientCheck.check(
        layer: GlobalAveragePool2D(keepDims: keepDims, name: "g"), batchInputShape: [3, 4, 3, 2])
      #expect(report.maximumError < 1e-2, "\(report)")
    }
  }

  @Test func configsRoundTripWithTheDefault() throws {
    let registry = ConvolutionTesting.registry()
    let copy = try LayerHarness.roundTripConfig(
      of: GlobalAveragePool2D(keepDims: true), registry: registry)
    #expect((copy as? GlobalAveragePool2D)?.config.keepDims == true)
    let decoded = try registry.makeLayer(
      from: LayerDescription(type: "plexus.global_average_pool2d", name: "g", config: .object([:])))
    #expect((decoded as? GlobalAveragePool2D)?.config.keepDims == false)
    #expect(throws: PlexusError.self) {
      try registry.makeLayer(
        from: LayerDescription(
          type: "plexus.global_average_pool2d", name: "g",
          config: .object(["keepdims": .bool(true)])))
    }
  }

  @Test func configRefusesUnknownKeysAndDefaultsKeepDims() throws {
    try LayerHarness.checkConfigDecoding(
      GlobalAveragePool2D.self, registry: ConvolutionTesting.registry(), minimal: "{}",
      defaults: GlobalPoolingConfig(keepDims: false), full: GlobalPoolingConfig(keepDims: true),
      typo: #"{"keepdims": true}"#, suggestion: "keepDims")
  }
}
