import Foundation
import PlexusCore
import PlexusTestSupport
import Testing

@Suite struct PReLUTests {
  /// Standard normal values moved at least 0.1 away from zero, so that finite differences
  /// never straddle the kink at 0.
  static func awayFromZero(_ shapes: [[Int]], _ generator: inout SeededGenerator) -> [Tensor] {
    shapes.map { shape in
      var tensor = Tensor.normal(shape, using: &generator)
      tensor.withUnsafeMutableBufferPointer { values in
        for index in values.indices { values[index] += values[index] < 0 ? -0.1 : 0.1 }
      }
      return tensor
    }
  }

  static func harness(
    _ shapes: [LayerShapeCase], badShapes: [[[Int]]], make: @escaping () throws -> PReLU
  )
    -> LayerTest
  {
    var test = LayerTest(
      registry: LayerRegistry(), shapes: shapes, badShapes: badShapes, make: make)
    test.makeInputs = awayFromZero
    return test
  }

  @Test func passesTheHarnessWithOneAlphaPerElement() throws {
    try LayerHarness.run(
      Self.harness(
        [
          .init([4], output: [4]), .init([2, 3], output: [2, 3]),
          .init([2, 2, 3], output: [2, 2, 3]),
        ],
        badShapes: [[[]], [[3], [3]]]
      ) { try PReLU() })
  }

  @Test func passesTheHarnessWithSharedAxes() throws {
    try LayerHarness.run(
      Self.harness(
        [.init([3, 2, 4], output: [3, 2, 4]), .init([1, 5, 2], output: [1, 5, 2])],
        badShapes: [[[4]], [[]]]
      ) {
        try PReLU(alphaInitializer: .constant(-0.3), sharedAxes: [1, 2])
      })
    try LayerHarness.run(
      Self.harness([.init([2, 3], output: [2, 3])], badShapes: [[[6]]]) {
        try PReLU(alphaInitializer: .initializer(.glorotUniform), sharedAxes: [2, 1])
      })
  }

  @Test func computesXAboveZeroAndAlphaTimesXOtherwise() throws {
    let layer = try PReLU()
    try layer.build(inputShape: [5])
    #expect(layer.alpha.value.shape == [5])
    #expect(layer.alpha.value.scalars.allSatisfy { $0 == 0.25 })
    let input = try Tensor(shape: [2, 5], scalars: [-2, -0.5, 0, 3, 1e-3, 4, -4, -1e-3, 0, 7])
    let output = try layer(input)
    #expect(output.scalars == [-0.5, -0.125, 0, 3, 1e-3, 4, -1, -0.25e-3, 0, 7])
    // Keras starts alpha at zeros: a ReLU until trained.
    let keras = try PReLU(alphaInitializer: .initializer(.zeros))
    try keras.build(inputShape: [5])
    #expect(try keras(input).scalars == input.scalars.map { max($0, 0) })
  }

  @Test func sharedAxesGiveOneAlphaPerChannel() throws {
    let layer = try PReLU(sharedAxes: [1, 2])
    try layer.build(inputShape: [2, 2, 3])
    #expect(layer.alpha.value.shape == [1, 1, 3])
    try layer.alpha.assign(Tensor(shape: [1, 1, 3], scalars: [0.1, 0.2, 0.3]))
    let input = Tensor(shape: [2, 2, 2, 3], repeating: -1)
    let output = try layer(input)
    #expect(output.scalars == Array(repeating: [Float(-0.1), -0.2, -0.3], count: 8).flatMap { $0 })

    // Sharing the middle axis: alpha [2, 1, 3] varies along the first and last axes.
    let middle = try PReLU(sharedAxes: [2])
    try middle.build(inputShape: [2, 4, 3])
    #expect(middle.alpha.value.shape == [2, 1, 3])
    let alphas: [Float] = [1, 2, 3, 4, 5, 6]
    try middle.alpha.assign(Tensor(shape: [2, 1, 3], scalars: alphas))
    var generator = SeededGenerator(seed: 3)
    let x = Tensor.normal([3, 2, 4, 3], using: &generator)
    let y = try middle(x).scalars
    let values = x.scalars
    for index in values.indices {
      let channel = index % 3
      let row = (index / 12) % 2
      let expected = values[index] > 0 ? values[index] : alphas[row * 3 + channel] * values[index]
      #expect(y[index] == expected, "element \(index)")
    }

    // Every axis shared: one alpha, as PyTorch's default.
    let single = try PReLU(sharedAxes: [1, 2, 3])
    try single.build(inputShape: [2, 2, 3])
    #expect(single.alpha.value.shape == [1, 1, 1])
    #expect(single.parameterCount == 1)
  }

  @Test func aVaryingAxisMustBeShared() throws {
    let layer = try PReLU(sharedAxes: [1])
    #expect(try layer.ensureBuilt(inputShapes: [[nil, 4]]) == [[nil, 4]])
    #expect(layer.alpha.declaredShape == [1, 4])
    #expect(throws: PlexusError.self) { try PReLU().ensureBuilt(inputShapes: [[nil, 4]]) }
  }

  @Test func theAlphaGradientSumsOverTheBatchAndTheSharedPositions() throws {
    let layer = try PReLU(sharedAxes: [1])
    try layer.build(inputShape: [3, 2])
    try layer.alpha.assign(Tensor(shape: [1, 2], scalars: [0.5, -2]))
    let input = try Tensor(
      shape: [2, 3, 2], scalars: [-1, 2, -3, -4, 5, 0, 1, -1, -2, 3, -0.5, -6])
    let gradient = try Tensor(shape: [2, 3, 2], scalars: [1, 1, 2, 1, 1, 3, 1, 2, 1, 1, 4, 1])
    let record = CallRecord()
    _ = try layer(input, training: true, record: record)
    layer.zeroGradients()
    let inputGradient = try #require(try layer.gradients([gradient], record: record)[0])
    // Channel 0 (alpha 0.5) at x <= 0: -1*1 + -3*2 + -2*1 + -0.5*4 = -11;
    // channel 1 (alpha -2): -4*1 + 0*3 + -1*2 + -6*1 = -12.
    #expect(layer.alpha.gradient.scalars == [-11, -12])
    #expect(inputGradient.scalars == [0.5, 1, 1, -2, 1, -6, 1, -4, 0.5, 1, 2, -2])
    // Without the input gradient, the alpha gradient still accumulates.
    let skipped = try layer.gradients([gradient], record: record, computingInputGradients: false)
    #expect(skipped.count == 1 && skipped[0] == nil)
    #expect(layer.alpha.gradient.scalars == [-22, -24])
  }

  @Test func largeInputsSplitAcrossThreadsGiveTheSameResults() throws {
    let layer = try PReLU(sharedAxes: [2])
    try layer.build(inputShape: [4, 64, 8])
    var generator = SeededGenerator(seed: 9)
    try layer.alpha.assign(Tensor.normal([4, 1, 8], using: &generator))
    let input = Tensor.normal([16, 4, 64, 8], using: &generator)
    let gradient = Tensor.normal(input.shape, using: &generator)
    func run() throws -> (Tensor, Tensor) {
      let record = CallRecord()
      let output = try layer(input, training: true, record: record)
      return (output, try #require(try layer.gradients([gradient], record: record)[0]))
    }
    let serial = try Parallel.maximumThreads.withValue(1) { try run() }
    let split = try Parallel.maximumThreads.withValue(3) {
      try Parallel.minimumElementsPerThread.withValue(1) { try run() }
    }
    #expect(serial.0 == split.0)
    #expect(serial.1 == split.1)
  }

  @Test func invalidConfigurationsAreRefused() throws {
    for axes in [[0], [-1], [17], [1, 1]] {
      #expect(throws: PlexusError.self, "\(axes)") { try PReLU(sharedAxes: axes) }
    }
    for value in [Float.nan, .infinity, -.infinity] {
      #expect(throws: PlexusError.self) { try PReLU(alphaInitializer: .constant(value)) }
    }
    #expect(throws: PlexusError.self) {
      try PReLU(sharedAxes: [3]).ensureBuilt(inputShapes: [[4, 2]])
    }
    // Running before the alpha has values is an error, not a crash.
    let unbuilt = try PReLU()
    try unbuilt.ensureBuilt(inputShapes: [[3]])
    #expect(throws: PlexusError.self) { try unbuilt(Tensor.zeros([2, 3])) }
  }

  static func decode(_ json: String) throws -> any Layer {
    let config = try JSONDecoder().decode(JSONValue.self, from: Data(json.utf8))
    return try LayerRegistry().makeLayer(
      from: LayerDescription(type: PReLU.typeName, name: "prelu_1", config: config))
  }

  @Test func configJSONUsesNumbersForConstantsAndNamesForInitializers() throws {
    #expect(
      try JSONValue(encoding: PReLU.Config())
        == .object(["alphaInitializer": .number(0.25), "sharedAxes": .array([])]))
    let layer = try #require(
      try Self.decode(#"{"alphaInitializer": "zeros", "sharedAxes": [1, 2]}"#) as? PReLU)
    #expect(
      layer.config == PReLU.Config(alphaInitializer: .initializer(.zeros), sharedAxes: [1, 2]))
    let constant = try #require(
      try Self.decode(#"{"alphaInitializer": -0.5, "alphaRegularizer": {"l1": 0, "l2": 0.01}}"#)
        as? PReLU)
    #expect(
      constant.config
        == PReLU.Config(alphaInitializer: .constant(-0.5), alphaRegularizer: Regularizer(l2: 0.01)))
    #expect(try (Self.decode("{}") as? PReLU)?.config == PReLU.Config())
    for bad in [
      #"{"shared_axes": [1]}"#, #"{"alphaInitializer": "glorot"}"#, #"{"alphaInitializer": true}"#,
      #"{"sharedAxes": [0]}"#, #"{"sharedAxes": 1}"#,
    ] {
      #expect(throws: PlexusError.self, "\(bad)") { try Self.decode(bad) }
    }
  }

  @Test func configDefaultsAndMisspeltKeys() throws {
    try LayerHarness.checkConfigDecoding(
      PReLU.self, registry: LayerRegistry(), minimal: "{}", defaults: PReLU.Config(),
      full: PReLU.Config(
        alphaInitializer: .initializer(.zeros), alphaRegularizer: Regularizer(l2: 0.1),
        sharedAxes: [1]),
      typo: #"{"sharedAxis": [1]}"#, suggestion: "sharedAxes")
  }
}
