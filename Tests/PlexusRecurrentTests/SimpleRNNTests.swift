import PlexusCore
import PlexusTestSupport
import Testing

@testable import PlexusRecurrent

@Suite struct SimpleRNNTests {
  static let registry: LayerRegistry = {
    let registry = LayerRegistry()
    RecurrentLayers.register(in: registry)
    return registry
  }()

  @Test func passesTheHarness() throws {
    var test = LayerTest(
      registry: Self.registry,
      shapes: [
        .init([5, 3], output: [4]),
        .init(inputs: [[6, 2], [4]], outputs: [[4]]),
      ],
      badShapes: [[[3]], [[5, 3, 2]], [[5, 3], [3]], [[5, 3], [4], [4]]]
    ) { try SimpleRNN(units: 4) }
    test.batch = 3
    // Float32 noise through six steps of saturating gates needs a wider step than the default.
    test.epsilon = 1e-2
    test.gradientTolerance = 2e-2
    try LayerHarness.run(test)
    var sequences = LayerTest(
      registry: Self.registry,
      shapes: [.init(inputs: [[5, 3]], outputs: [[5, 4], [4]])]
    ) { try SimpleRNN(units: 4, returnSequences: true, returnState: true, goBackwards: true) }
    sequences.batch = 2
    sequences.epsilon = 1e-2
    sequences.gradientTolerance = 2e-2
    try LayerHarness.run(sequences)
  }

  @Test(arguments: [
    (false, false, false, false), (true, false, false, false), (false, true, false, false),
    (true, true, true, false), (false, false, true, true), (true, true, true, true),
  ])
  func gradientsThroughTime(
    returnSequences: Bool, returnState: Bool, initialState: Bool, goBackwards: Bool
  ) throws {
    let layer = try SimpleRNN(
      units: 4, returnSequences: returnSequences, returnState: returnState,
      goBackwards: goBackwards)
    let error = try RecurrentReference.gradientError(
      layer, features: 3, units: 4, states: initialState ? 1 : 0)
    #expect(error < 1e-2)
  }

  @Test(arguments: [false, true])
  func forwardMatchesANaivePerStepReference(goBackwards: Bool) throws {
    let layer = try SimpleRNN(
      units: 5, returnSequences: true, returnState: true, goBackwards: goBackwards)
    try RecurrentReference.prepare(layer, inputShapes: [[nil, 3], [5]])
    var generator = SeededGenerator(seed: 9)
    let x = Tensor.normal([3, 7, 3], using: &generator)
    let h0 = Tensor.normal([3, 5], using: &generator)
    let difference = try RecurrentReference.maximumDifference(
      layer: layer, core: layer.core, x: x, h0: h0)
    #expect(difference < 1e-5)
  }

  @Test func sequenceLengthVariesBetweenCalls() throws {
    let layer = try SimpleRNN(units: 4)
    try RecurrentReference.prepare(layer, inputShapes: [[nil, 2]])
    var generator = SeededGenerator(seed: 4)
    for steps in [5, 1, 9] {
      let x = Tensor.normal([2, steps, 2], using: &generator)
      #expect(try RecurrentReference.maximumDifference(layer: layer, core: layer.core, x: x) < 1e-5)
    }
  }

  @Test func parametersFollowKerasShapes() throws {
    let layer = try SimpleRNN(units: 3)
    try layer.build(inputShape: [nil, 2])
    #expect(layer.kernel.value.shape == [2, 3])
    #expect(layer.recurrentKernel.value.shape == [3, 3])
    #expect(layer.bias.value.shape == [3])
    #expect(layer.namedParameters.map(\.parameter.name) == ["kernel", "recurrent_kernel", "bias"])
  }

  @Test func reluActivationMatchesTheReference() throws {
    let layer = try SimpleRNN(units: 4, returnSequences: true, activation: .relu)
    try RecurrentReference.prepare(layer, inputShapes: [[nil, 3]])
    var generator = SeededGenerator(seed: 12)
    let x = Tensor.normal([3, 6, 3], using: &generator)
    #expect(try RecurrentReference.maximumDifference(layer: layer, core: layer.core, x: x) < 1e-5)
    #expect(try layer(x).scalars.allSatisfy { $0 >= 0 })
    let error = try RecurrentReference.gradientError(
      try SimpleRNN(units: 4, returnSequences: true, activation: .relu), features: 3, units: 4,
      states: 1)
    #expect(error < 1e-2)
  }

  @Test func badInputGivesClearErrors() throws {
    let layer = try SimpleRNN(units: 4)
    try layer.build(inputShape: [nil, 3])
    RecurrentReference.expectError("[N, ?, 3]") {
      _ = try layer(Tensor.zeros([2, 5, 4]))
    }
    RecurrentReference.expectError("[N, ?, 3]") { _ = try layer(Tensor.zeros([2, 3])) }
    RecurrentReference.expectError("[N, ?, 3]") { _ = try layer(Tensor.zeros([2, 0, 3])) }
    let core = layer.core
    RecurrentReference.expectError("empty sequence") {
      _ = try core.forward([Tensor.zeros([2, 0, 3])], record: CallRecord(), layer: "simplernn")
    }
    RecurrentReference.expectError("features") {
      _ = try SimpleRNN(units: 4).build(inputShape: [3])
    }
    RecurrentReference.expectError("units") { _ = try SimpleRNN(units: 0) }
  }

  @Test func maskedStepsCarryTheStateUnchanged() throws {
    for config: SimpleRNN.Config in [
      .init(units: 4, returnSequences: true, maskValue: 0),
      .init(units: 4, returnState: true, goBackwards: true, maskValue: 0),
    ] {
      let layer = try SimpleRNN(config: config)
      let error = try RecurrentReference.maskedCheck(layer, core: layer.core, features: 3)
      #expect(error < 1e-2, "\(config)")
    }
    RecurrentReference.expectError("maskValue") {
      _ = try SimpleRNN(config: .init(units: 2, maskValue: .nan))
    }
  }

  @Test func configRefusesUnknownKeys() throws {
    try LayerHarness.checkConfigDecoding(
      SimpleRNN.self, registry: Self.registry, minimal: #"{"units": 8}"#,
      defaults: SimpleRNN.Config(units: 8),
      full: SimpleRNN.Config(
        units: 8, returnSequences: true, returnState: true, goBackwards: true,
        activation: .relu, kernelInitializer: .heNormal,
        recurrentInitializer: .glorotUniform, maskValue: 0),
      typo: #"{"returnSequence": true}"#, suggestion: "returnSequences")
  }
}
