import PlexusConvolution
import PlexusCore
import PlexusTestSupport
import Testing

@Suite struct ZeroPadding2DTests {
  @Test func passesTheLayerHarness() throws {
    let test = LayerTest(
      registry: ConvolutionTesting.registry(),
      shapes: [
        LayerShapeCase([3, 4, 2], output: [6, 5, 2]),
        LayerShapeCase([1, 1, 1], output: [4, 2, 1]),
      ],
      badShapes: [[[3, 4]], [[3, 4, 2, 1]], [[3, 4, 2], [3, 4, 2]]]
    ) { try ZeroPadding2D(top: 1, bottom: 2, left: 0, right: 1) }
    try LayerHarness.run(test)
  }

  @Test func placesTheInputInsideZeros() throws {
    let input = try Tensor(shape: [2, 2, 2, 1], scalars: [1, 2, 3, 4, 5, 6, 7, 8])
    let pad = try ZeroPadding2D(top: 1, bottom: 0, left: 0, right: 2)
    #expect(try pad.build(inputShape: [2, 2, 1], seed: 0) == [3, 4, 1])
    let expected: [Float] = [
      0, 0, 0, 0, 1, 2, 0, 0, 3, 4, 0, 0,
      0, 0, 0, 0, 5, 6, 0, 0, 7, 8, 0, 0,
    ]
    let record = CallRecord()
    let output = try pad(input, record: record)
    #expect(output.scalars == expected)
    // The gradient of the padding is dropped; the rest goes back in place.
    let gradient = try Tensor(shape: [2, 3, 4, 1], scalars: (0..<24).map(Float.init))
    #expect(
      try pad.gradients([gradient], record: record)[0]?.scalars == [4, 5, 8, 9, 16, 17, 20, 21])
    #expect(try ZeroPadding2D(2).build(inputShape: [1, 3, 4], seed: 0) == [5, 7, 4])
  }

  @Test func badAmountsAreRejected() throws {
    #expect(throws: PlexusError.self) { try ZeroPadding2D(-1) }
    #expect(throws: PlexusError.self) { try ZeroPadding2D(top: 0, bottom: 0, left: 0, right: .max) }
    let registry = ConvolutionTesting.registry()
    for config: JSONValue in [
      .object(["top": .number(1), "bottom": .number(1), "left": .number(1)]),
      .object(["top": .number(1), "bottom": .number(1), "left": .number(1), "right": .number(-1)]),
      .object([
        "top": .number(1), "bottom": .number(1), "left": .number(1), "right": .number(1),
        "value": .number(0),
      ]),
    ] {
      #expect(throws: PlexusError.self, "\(config)") {
        try registry.makeLayer(
          from: LayerDescription(type: "plexus.zero_padding2d", name: "pad", config: config))
      }
    }
  }

  @Test func configsRoundTrip() throws {
    let layer = try ZeroPadding2D(top: 1, bottom: 2, left: 3, right: 4)
    let copy = try LayerHarness.roundTripConfig(
      of: layer, registry: ConvolutionTesting.registry())
    #expect((copy as? ZeroPadding2D)?.config == layer.config)
  }

  @Test func configRequiresEveryAmountAndRefusesUnknownKeys() throws {
    try LayerHarness.checkConfigDecoding(
      ZeroPadding2D.self, registry: ConvolutionTesting.registry(),
      minimal: #"{"top": 1, "bottom": 2, "left": 3, "right": 4}"#,
      defaults: ZeroPadding2D.Config(top: 1, bottom: 2, left: 3, right: 4),
      full: ZeroPadding2D.Config(top: 0, bottom: 1, left: 0, right: 1),
      typo: #"{"rigth": 1}"#, suggestion: "right")
  }
}
