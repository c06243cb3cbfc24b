import PlexusCore
import PlexusTestSupport
import Testing

@testable import PlexusRecurrent

@Suite struct GRUTests {
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
    ) { try GRU(units: 4) }
    test.batch = 3
    // Float32 noise through six steps of saturating gates needs a wider step than the default.
    test.epsilon = 1e-2
    test.gradientTolerance = 2e-2
    try LayerHarness.run(test)
    var sequences = LayerTest(
      registry: Self.registry,
      shapes: [.init(inputs: [[5, 3]], outputs: [[5, 4], [4]])]
    ) { try GRU(units: 4, returnSequences: true, returnState: true, goBackwards: true) }
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
    let layer = try GRU(
      units: 4, returnSequences: returnSequences, returnState: returnState,
      goBackwards: goBackwards)
    let error = try RecurrentReference.gradientError(
      layer, features: 3, units: 4, states: initialState ? 1 : 0)
    #expect(error < 1e-2)
  }

  @Test(arguments: [false, true])
  func forwardMatchesANaivePerStepReference(goBackwards: Bool) throws {
    let layer = try GRU(
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
    let layer = try GRU(units: 4)
    try RecurrentReference.prepare(layer, inputShapes: [[nil, 2]])
    var generator = SeededGenerator(seed: 4)
    for steps in [5, 1, 9] {
      let x = Tensor.normal([2, steps, 2], using: &generator)
      #expect(try RecurrentReference.maximumDifference(layer: layer, core: layer.core, x: x) < 1e-5)
    }
  }

  @Test func parametersFollowKerasShapesInBothForms() throws {
    let layer = try GRU(units: 3)
    try layer.build(inputShape: [nil, 2])
    #expect(layer.kernel.value.shape == [2, 9])
    #expect(layer.recurrentKernel.value.shape == [3, 9])
    #expect(layer.bias.value.shape == [2, 9])
    let original = try GRU(units: 3, resetAfter: false)
    try original.build(inputShape: [nil, 2])
    #expect(original.bias.value.shape == [9])
    #expect(layer.namedParameters.map(\.parameter.name) == ["kernel", "recurrent_kernel", "bias"])
  }

  @Test(arguments: [false, true])
  func resetBeforeFormMatchesTheReferenceAndItsGradients(goBackwards: Bool) throws {
    let layer = try GRU(
      units: 5, returnSequences: true, returnState: true, goBackwards: goBackwards,
      resetAfter: false)
    try RecurrentReference.prepare(layer, inputShapes: [[nil, 3], [5]])
    var generator = SeededGenerator(seed: 19)
    let x = Tensor.normal([3, 7, 3], using: &generator)
    let h0 = Tensor.normal([3, 5], using: &generator)
    #expect(
      try RecurrentReference.maximumDifference(layer: layer, core: layer.core, x: x, h0: h0)
        < 1e-5)
    for (sequences, state, initial) in [(false, false, false), (true, true, true)] {
      let error = try RecurrentReference.gradientError(
        try GRU(
          units: 4, returnSequences: sequences, returnState: state, goBackwards: goBackwards,
          resetAfter: false), features: 3, units: 4, states: initial ? 1 : 0)
      #expect(error < 1e-2)
    }
  }

  @Test func theTwoFormsDiffer() throws {
    let after = try GRU(units: 4, returnSequences: true)
    let before = try GRU(units: 4, returnSequences: true, resetAfter: false)
    try RecurrentReference.prepare(after, inputShapes: [[nil, 3]], seed: 5)
    try RecurrentReference.prepare(before, inputShapes: [[nil, 3]], seed: 5)
    // Same kernels and no bias: only where the reset gate applies differs.
    before.kernel.value = after.kernel.value
    before.recurrentKernel.value = after.recurrentKernel.value
    after.bias.value = Tensor.zeros([2, 12])
    before.bias.value = Tensor.zeros([12])
    var generator = SeededGenerator(seed: 6)
    let x = Tensor.normal([2, 6, 3], using: &generator)
    let a = try after(x).scalars
    let b = try before(x).scalars
    let largest = zip(a, b).map { abs($0 - $1) }.max() ?? 0
    #expect(largest > 1e-3)
    // The first step starts from h = 0, where both forms agree.
    for n in 0..<2 {
      for j in 0..<4 { #expect(abs(a[n * 24 + j] - b[n * 24 + j]) < 1e-6) }
    }
  }

  @Test func badInputGivesClearErrors() throws {
    let layer = try GRU(units: 4)
    try layer.build(inputShape: [nil, 3])
    RecurrentReference.expectError("[N, ?, 3]") {
      _ = try layer(Tensor.zeros([2, 5, 4]))
    }
    RecurrentReference.expectError("[N, ?, 3]") { _ = try layer(Tensor.zeros([2, 3])) }
    RecurrentReference.expectError("[N, ?, 3]") { _ = try layer(Tensor.zeros([2, 0, 3])) }
    let core = layer.core
    RecurrentReference.expectError("empty sequence") {
      _ = try core.forward([Tensor.zeros([2, 0, 3])], record: CallRecord(), layer: "gru")
    }
    RecurrentReference.expectError("features") { _ = try GRU(units: 4).build(inputShape: [3]) }
    RecurrentReference.expectError("units") { _ = try GRU(units: 0) }
  }

  @Test func maskedStepsCarryTheStateUnchanged() throws {
    for config: GRU.Config in [
      .init(units: 4, returnSequences: true, maskValue: 0),
      .init(units: 4, goBackwards: true, resetAfter: false, maskValue: 0),
      .init(units: 4, returnSequences: true, goBackwards: true, resetAfter: false, maskValue: 0),
    ] {
      let layer = try GRU(config: config)
      let error = try RecurrentReference.maskedCheck(layer, core: layer.core, features: 3)
      #expect(error < 1e-2, "\(config)")
    }
    RecurrentReference.expectError("maskValue") {
      _ = try GRU(config: .init(units: 2, maskValue: .nan))
    }
  }

  @Test func configRefusesUnknownKeys() throws {
    try LayerHarness.checkConfigDecoding(
      GRU.self, registry: Self.registry, minimal: #"{"units": 8}"#,
      defaults: GRU.Config(units: 8),
      full: GRU.Config(
        units: 8, returnSequences: true, returnState: true, goBackwards: true,
        resetAfter: false, kernelInitializer: .heNormal,
        recurrentInitializer: .glorotUniform, maskValue: 0),
      typo: #"{"returnSequence": true}"#, suggestion: "returnSequences")
  }
}
