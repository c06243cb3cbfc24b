import PlexusConvolution
import PlexusCore
import PlexusTestSupport
import Testing

@Suite struct Pad2DTests {
  @Test(arguments: PaddingMode.allCases)
  func passesTheLayerHarness(mode: PaddingMode) throws {
    var test = LayerTest(
      registry: ConvolutionTesting.registry(),
      shapes: [
        LayerShapeCase([3, 4, 2], output: [6, 5, 2]),
        LayerShapeCase([4, 2, 1], output: [7, 3, 1]),
      ],
      badShapes: [[[3, 4]], [[3, 4, 2, 1]], [[3, 4, 2], [3, 4, 2]]]
    ) { try Pad2D(top: 1, bottom: 2, left: 0, right: 1, mode: mode) }
    test.checksTraining = false
    try LayerHarness.run(test)
  }

  /// A 2x3 image `[[1, 2, 3], [4, 5, 6]]` padded by one row above and two columns left.
  @Test(
    arguments: [
      (PaddingMode.constant, Float(-1), [-1, -1, -1, -1, -1, -1, -1, 1, 2, 3, -1, -1, 4, 5, 6]),
      (.reflect, 0, [6, 5, 4, 5, 6, 3, 2, 1, 2, 3, 6, 5, 4, 5, 6]),
      (.edge, 0, [1, 1, 1, 2, 3, 1, 1, 1, 2, 3, 4, 4, 4, 5, 6]),
    ] as [(PaddingMode, Float, [Float])])
  func fillsTheBorderByItsMode(mode: PaddingMode, value: Float, expected: [Float]) throws {
    let pad = try Pad2D(top: 1, bottom: 0, left: 2, right: 0, mode: mode, value: value)
    #expect(try pad.build(inputShape: [2, 3, 1], seed: 0) == [3, 5, 1])
    let record = CallRecord()
    let output = try pad(
      try Tensor(shape: [1, 2, 3, 1], scalars: [1, 2, 3, 4, 5, 6]), record: record)
    #expect(output.scalars == expected)
    // Each input position receives the gradients of every output position that copies it.
    let ones = Tensor(shape: [1, 3, 5, 1], repeating: 1)
    let counts: [Float] =
      switch mode {
      case .constant: [1, 1, 1, 1, 1, 1]
      case .reflect: [1, 2, 2, 2, 4, 4]
      case .edge: [6, 2, 2, 3, 1, 1]
      }
    #expect(try pad.gradients([ones], record: record)[0]?.scalars == counts)
  }

  @Test func everyChannelIsPaddedAlike() throws {
    let pad = try Pad2D(top: 0, bottom: 1, left: 0, right: 1, mode: .reflect)
    _ = try pad.build(inputShape: [2, 2, 2], seed: 0)
    let output = try pad(try Tensor(shape: [1, 2, 2, 2], scalars: [1, 10, 2, 20, 3, 30, 4, 40]))
    #expect(
      output.scalars == [
        1, 10, 2, 20, 1, 10, 3, 30, 4, 40, 3, 30, 1, 10, 2, 20, 1, 10,
      ])
  }

  @Test func reflectPaddingAsLargeAsTheInputIsRefusedNamingTheShape() throws {
    let pad = try Pad2D(top: 0, bottom: 0, left: 3, right: 0, mode: .reflect, name: "mirror")
    do {
      _ = try pad.build(inputShape: [4, 3, 2], seed: 0)
      Issue.record("a reflect padding of 3 over 3 columns was accepted")
    } catch PlexusError.shapeMismatch(let layer, let expected, let found) {
      #expect(layer == "mirror")
      #expect(found == [4, 3, 2])
      #expect(expected.contains("left 3"), "\(expected)")
    }
    // Edge and constant padding take any amount.
    #expect(
      try Pad2D(top: 5, bottom: 5, left: 5, right: 5, mode: .edge).build(
        inputShape: [1, 1, 1], seed: 0) == [11, 11, 1])
  }

  @Test func badConfigsAreRejected() throws {
    #expect(throws: PlexusError.self) { try Pad2D(top: -1, bottom: 0, left: 0, right: 0) }
    #expect(throws: PlexusError.self) { try Pad2D(top: 0, bottom: 0, left: 0, right: .max) }
    #expect(throws: PlexusError.self) {
      try Pad2D(top: 1, bottom: 0, left: 0, right: 0, mode: .edge, value: 2)
    }
    #expect(throws: PlexusError.self) {
      try Pad2D(top: 1, bottom: 0, left: 0, right: 0, value: .nan)
    }
    for padding in [[[1, 1]], [[1, 1], [1]], [[1, 1], [1, 1], [1, 1]], []] as [[[Int]]] {
      #expect(throws: PlexusError.self, "\(padding)") {
        try Pad2D(config: .init(padding: padding))
      }
    }
    let registry = ConvolutionTesting.registry()
    for config: JSONValue in [
      .object([
        "padding": .array([.array([.number(1), .number(1)]), .array([.number(1), .number(1)])]),
        "mode": .string("wrap"),
      ]),
      .object(["mode": .string("edge")]),
    ] {
      #expect(throws: PlexusError.self, "\(config)") {
        try registry.makeLayer(
          from: LayerDescription(type: Pad2D.typeName, name: "pad", config: config))
      }
    }
  }

  @Test func configRefusesUnknownKeysAndDefaultsAllButPadding() throws {
    let registry = ConvolutionTesting.registry()
    func make(_ members: [String: JSONValue]) throws -> Pad2D.Config {
      let layer = try registry.makeLayer(
        from: LayerDescription(type: Pad2D.typeName, name: "pad", config: .object(members)))
      return try #require(layer as? Pad2D).config
    }
    let padding: JSONValue = .array([
      .array([.number(1), .number(2)]), .array([.number(3), .number(4)]),
    ])
    #expect(try make(["padding": padding]) == Pad2D.Config(padding: [[1, 2], [3, 4]]))
    #expect(
      try make(["padding": padding, "mode": .string("reflect")])
        == Pad2D.Config(padding: [[1, 2], [3, 4]], mode: .reflect))
    #expect(
      try make(["padding": padding, "value": .number(2.5)])
        == Pad2D.Config(padding: [[1, 2], [3, 4]], value: 2.5))
    do {
      _ = try make(["padding": padding, "mdoe": .string("edge")])
      Issue.record("an unknown key was accepted")
    } catch PlexusError.invalidConfiguration(let message) {
      #expect(
        message.hasPrefix(
          "config of layer type 'plexus.pad2d': unknown key 'mdoe' (did you mean 'mode'?)"),
        "\(message)")
    }
    for layer in [
      try Pad2D(top: 1, bottom: 2, left: 3, right: 4, mode: .edge),
      try Pad2D(top: 0, bottom: 1, left: 1, right: 0, value: -3),
    ] {
      let copy = try LayerHarness.roundTripConfig(of: layer, registry: registry)
      #expect((copy as? Pad2D)?.config == layer.config)
    }
  }
}
