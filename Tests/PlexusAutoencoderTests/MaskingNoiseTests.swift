import PlexusAutoencoder
import PlexusCore
import PlexusTestSupport
import Testing

@Suite struct MaskingNoiseTests {
  @Test func passesTheHarness() throws {
    try LayerHarness.run(
      elementwiseLayerTest(randomInTraining: true) { try MaskingNoise(rate: 0.3, seed: 4) })
  }

  @Test func zeroesInputsWithoutRescalingAndBackwardUsesTheMask() throws {
    let layer = try MaskingNoise(rate: 0.25, seed: 1)
    try layer.build(inputShape: [2000])
    let input = Tensor(shape: [2, 2000], repeating: 3)
    let record = CallRecord()
    let output = try layer(input, training: true, record: record)
    #expect(output.scalars.allSatisfy { $0 == 0 || $0 == 3 })
    let dropped = Double(output.scalars.filter { $0 == 0 }.count) / Double(output.count)
    #expect(abs(dropped - 0.25) < 0.03)
    let gradient = try #require(
      try layer.gradients([Tensor(shape: [2, 2000], repeating: 1)], record: record)[0])
    #expect(gradient == output * (1 / 3))
    #expect(try layer(input, training: false) == input)
  }

  @Test func configRefusesUnknownKeysAndBadRates() throws {
    try LayerHarness.checkConfigDecoding(
      MaskingNoise.self, registry: autoencoderRegistry(), minimal: #"{"rate": 0.5}"#,
      defaults: MaskingNoise.Config(rate: 0.5), full: MaskingNoise.Config(rate: 0.25, seed: 7),
      typo: #"{"rat": 0.3}"#, suggestion: "rate")
    #expect(throws: PlexusError.self) { try MaskingNoise(rate: 1) }
    #expect(throws: PlexusError.self) { try MaskingNoise(rate: -0.1) }
  }
}
