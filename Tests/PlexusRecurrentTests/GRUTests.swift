import PlexusCore
import PlexusTestSupport
import Testing

@testable import PlexusRecurrent

@Suite struct GRUTests {
  @Test func passesTheHarness() throws {
    for test in RecurrentLayerChecks.harnessTests(GRU.self) { try LayerHarness.run(test) }
  }

  @Test(arguments: RecurrentLayerChecks.gradientCases)
  func gradientsThroughTime(
    returnSequences: Bool, returnState: Bool, initialState: Bool, goBackwards: Bool
  ) throws {
    let error = try RecurrentLayerChecks.gradientError(
      GRU.self, returnSequences: returnSequences, returnState: returnState,
      initialState: initialState, goBackwards: goBackwards)
    #expect(error < 1e-2)
  }

  @Test(arguments: [false, true])
  func forwardMatchesANaivePerStepReference(goBackwards: Bool) throws {
    let difference = try RecurrentLayerChecks.forwardDifference(GRU.self, goBackwards: goBackwards)
    #expect(difference < 1e-5)
  }

  @Test func sequenceLengthVariesBetweenCalls() throws {
    try RecurrentLayerChecks.checkSequenceLengthVaries(GRU.self)
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
    try RecurrentLayerChecks.checkBadInputErrors(GRU.self, layerName: "gru")
  }

  @Test func maskedStepsCarryTheStateUnchanged() throws {
    try RecurrentLayerChecks.checkMasking(
      GRU.self,
      configs: [
        .init(units: 4, returnSequences: true, maskValue: 0),
        .init(units: 4, goBackwards: true, resetAfter: false, maskValue: 0),
        .init(units: 4, returnSequences: true, goBackwards: true, resetAfter: false, maskValue: 0),
      ])
  }

  @Test func configRefusesUnknownKeys() throws {
    try RecurrentLayerChecks.checkConfigDecoding(
      GRU.self,
      full: GRU.Config(
        units: 8, returnSequences: true, returnState: true, goBackwards: true,
        resetAfter: false, kernelInitializer: .heNormal,
        recurrentInitializer: .glorotUniform, maskValue: 0, dropout: 0.25, recurrentDropout: 0.5,
        seed: 9))
  }
}
