import PlexusCore
import PlexusTestSupport
import Testing

@testable import PlexusRecurrent

@Suite struct LSTMTests {
  @Test func passesTheHarness() throws {
    for test in RecurrentLayerChecks.harnessTests(LSTM.self) { try LayerHarness.run(test) }
  }

  @Test(arguments: RecurrentLayerChecks.gradientCases)
  func gradientsThroughTime(
    returnSequences: Bool, returnState: Bool, initialState: Bool, goBackwards: Bool
  ) throws {
    let error = try RecurrentLayerChecks.gradientError(
      LSTM.self, returnSequences: returnSequences, returnState: returnState,
      initialState: initialState, goBackwards: goBackwards)
    #expect(error < 1e-2)
  }

  @Test(arguments: [false, true])
  func forwardMatchesANaivePerStepReference(goBackwards: Bool) throws {
    let difference = try RecurrentLayerChecks.forwardDifference(LSTM.self, goBackwards: goBackwards)
    #expect(difference < 1e-5)
  }

  @Test func sequenceLengthVariesBetweenCalls() throws {
    try RecurrentLayerChecks.checkSequenceLengthVaries(LSTM.self)
  }

  @Test func parametersFollowKerasShapesAndTheForgetBiasStartsAtOne() throws {
    let layer = try LSTM(units: 3)
    try layer.build(inputShape: [nil, 2])
    #expect(layer.kernel.value.shape == [2, 12])
    #expect(layer.recurrentKernel.value.shape == [3, 12])
    #expect(layer.bias.value.scalars == [0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    #expect(layer.namedParameters.map(\.path).sorted().isEmpty == false)
    // Each gate block of the orthogonal recurrent kernel has orthonormal rows.
    let u = layer.recurrentKernel.value.scalars
    for block in 0..<4 {
      for a in 0..<3 {
        for b in 0..<3 {
          var dot: Float = 0
          for k in 0..<3 { dot += u[a * 12 + block * 3 + k] * u[b * 12 + block * 3 + k] }
          #expect(abs(dot - (a == b ? 1 : 0)) < 1e-4)
        }
      }
    }
    let plain = try LSTM(config: .init(units: 3, unitForgetBias: false))
    try plain.build(inputShape: [nil, 2])
    #expect(plain.bias.value.scalars.allSatisfy { $0 == 0 })
  }

  @Test func badInputGivesClearErrors() throws {
    try RecurrentLayerChecks.checkBadInputErrors(LSTM.self, layerName: "lstm")
  }

  @Test func maskedStepsCarryTheStateUnchanged() throws {
    try RecurrentLayerChecks.checkMasking(
      LSTM.self,
      configs: [
        .init(units: 4, returnSequences: true, maskValue: 0),
        .init(units: 4, returnState: true, goBackwards: true, maskValue: 0),
      ])
  }

  @Test func configRefusesUnknownKeys() throws {
    try RecurrentLayerChecks.checkConfigDecoding(
      LSTM.self,
      full: LSTM.Config(
        units: 8, returnSequences: true, returnState: true, goBackwards: true,
        unitForgetBias: false, kernelInitializer: .heNormal,
        recurrentInitializer: .glorotUniform, maskValue: 0, dropout: 0.25, recurrentDropout: 0.5,
        seed: 9))
  }
}
