import PlexusCore
import PlexusTestSupport
import Testing

@testable import PlexusRecurrent

@Suite struct SimpleRNNTests {
  @Test func passesTheHarness() throws {
    for test in RecurrentLayerChecks.harnessTests(SimpleRNN.self) { try LayerHarness.run(test) }
  }

  @Test(arguments: RecurrentLayerChecks.gradientCases)
  func gradientsThroughTime(
    returnSequences: Bool, returnState: Bool, initialState: Bool, goBackwards: Bool
  ) throws {
    let error = try RecurrentLayerChecks.gradientError(
      SimpleRNN.self, returnSequences: returnSequences, returnState: returnState,
      initialState: initialState, goBackwards: goBackwards)
    #expect(error < 1e-2)
  }

  @Test(arguments: [false, true])
  func forwardMatchesANaivePerStepReference(goBackwards: Bool) throws {
    let difference = try RecurrentLayerChecks.forwardDifference(
      SimpleRNN.self, goBackwards: goBackwards)
    #expect(difference < 1e-5)
  }

  @Test func sequenceLengthVariesBetweenCalls() throws {
    try RecurrentLayerChecks.checkSequenceLengthVaries(SimpleRNN.self)
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
    try RecurrentLayerChecks.checkBadInputErrors(SimpleRNN.self, layerName: "simplernn")
  }

  @Test func maskedStepsCarryTheStateUnchanged() throws {
    try RecurrentLayerChecks.checkMasking(
      SimpleRNN.self,
      configs: [
        .init(units: 4, returnSequences: true, maskValue: 0),
        .init(units: 4, returnState: true, goBackwards: true, maskValue: 0),
      ])
  }

  @Test func configRefusesUnknownKeys() throws {
    try RecurrentLayerChecks.checkConfigDecoding(
      SimpleRNN.self,
      full: SimpleRNN.Config(
        units: 8, returnSequences: true, returnState: true, goBackwards: true,
        activation: .relu, kernelInitializer: .heNormal,
        recurrentInitializer: .glorotUniform, maskValue: 0, dropout: 0.25, recurrentDropout: 0.5,
        seed: 9))
  }
}
