import PlexusConvolution
import PlexusCore
import PlexusTestSupport
import Testing

@Suite struct UpSampling2DTests {
  @Test func passesTheLayerHarness() throws {
    let test = LayerTest(
      registry: ConvolutionTesting.registry(),
      shapes: [
        LayerShapeCase([3, 2, 2], output: [6, 6, 2]),
        LayerShapeCase([1, 1, 3], output: [2, 3, 3]),
      ],
      badShapes: [[[3, 2]], [[3, 2, 2, 1]], [[3, 2, 2], [3, 2, 2]]]
    ) { try UpSampling2D(config: .init(size: [2, 3])) }
    try LayerHarness.run(test)
  }

  @Test func repeatsRowsAndColumns() throws {
    let input = try Tensor(shape: [1, 2, 2, 1], scalars: [1, 2, 3, 4])
    let up = try UpSampling2D(config: .init(size: [2, 3]))
    #expect(try up.build(inputShape: [2, 2, 1], seed: 0) == [4, 6, 1])
    let expected: [Float] = [
      1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4,
    ]
    let record = CallRecord()
    #expect(try up(input, record: record).scalars == expected)
    // Each input receives the sum of the gradients of its copies.
    let gradient = try Tensor(shape: [1, 4, 6, 1], scalars: (0..<24).map(Float.init))
    #expect(try up.gradients([gradient], record: record)[0]?.scalars == [24, 42, 96, 114])
  }

  @Test func badFactorsAreRejected() throws {
    #expect(throws: PlexusError.self) { try UpSampling2D(size: 0) }
    #expect(throws: PlexusError.self) { try UpSampling2D(size: 1 << 25) }
    #expect(throws: PlexusError.self) { try UpSampling2D(config: .init(size: [2])) }
    // Outputs too large for a sample are an error, not a crash.
    #expect(throws: PlexusError.self) {
      try UpSampling2D(size: 1 << 20).build(inputShape: [64, 64, 1], seed: 0)
    }
    let registry = ConvolutionTesting.registry()
    #expect(throws: PlexusError.self) {
      try registry.makeLayer(
        from: LayerDescription(
          type: "plexus.up_sampling2d", name: "up",
          config: .object([
            "size": .array([.number(2), .number(2)]), "interpolation": .string("bilinear"),
          ])))
    }
  }

  @Test func configsRoundTripAndDefaultToTwo() throws {
    let registry = ConvolutionTesting.registry()
    let layer = try UpSampling2D(config: .init(size: [2, 3]))
    let copy = try LayerHarness.roundTripConfig(of: layer, registry: registry)
    #expect((copy as? UpSampling2D)?.config == layer.config)
    let decoded = try registry.makeLayer(
      from: LayerDescription(type: "plexus.up_sampling2d", name: "up", config: .object([:])))
    #expect((decoded as? UpSampling2D)?.config.size == [2, 2])
  }

  @Test func configRefusesUnknownKeysAndDefaultsToTwo() throws {
    try LayerHarness.checkConfigDecoding(
      UpSampling2D.self, registry: ConvolutionTesting.registry(), minimal: "{}",
      defaults: UpSampling2D.Config(size: [2, 2]), full: UpSampling2D.Config(size: [3, 1]),
      typo: #"{"sizes": [3, 3]}"#, suggestion: "size")
  }
}
