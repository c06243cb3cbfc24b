import PlexusAutoencoder
import PlexusCore
import PlexusTestSupport
import Testing

@Suite struct GaussianNoiseTests {
  @Test func passesTheHarness() throws {
    // Random in training: the gradient (the identity) is checked in inference and below.
    try LayerHarness.run(
      elementwiseLayerTest(randomInTraining: true) { try GaussianNoise(stddev: 0.5, seed: 4) })
  }

  @Test func addsSeededNoiseOnlyWhileTraining() throws {
    func noisy(seed: UInt64) throws -> (Tensor, Tensor, GaussianNoise, CallRecord) {
      let layer = try GaussianNoise(stddev: 0.5, seed: seed)
      try layer.build(inputShape: [1000])
      let record = CallRecord()
      let input = Tensor(shape: [2, 1000], repeating: 1)
      return (try layer(input, training: true, record: record), input, layer, record)
    }
    let (a, input, layer, record) = try noisy(seed: 3)
    let (b, _, _, _) = try noisy(seed: 3)
    let (c, _, _, _) = try noisy(seed: 4)
    #expect(a == b)
    #expect(a != c)
    let noise = a.scalars.map { Double($0 - 1) }
    let meanNoise = noise.reduce(0, +) / Double(noise.count)
    let deviation =
      (noise.map { ($0 - meanNoise) * ($0 - meanNoise) }.reduce(0, +)
      / Double(noise.count)).squareRoot()
    #expect(abs(meanNoise) < 0.05)
    #expect(abs(deviation - 0.5) < 0.05)
    #expect(try layer(input, training: false) == input)
    let gradient = Tensor(shape: [2, 1000], repeating: 2)
    #expect(try layer.gradients([gradient], record: record)[0] == gradient)
  }

  @Test func configRefusesUnknownKeysAndBadValues() throws {
    try LayerHarness.checkConfigDecoding(
      GaussianNoise.self, registry: autoencoderRegistry(), minimal: #"{"stddev": 0.1}"#,
      defaults: GaussianNoise.Config(stddev: 0.1), full: GaussianNoise.Config(stddev: 0.2, seed: 7),
      typo: #"{"sede": 7}"#, suggestion: "seed")
    #expect(throws: PlexusError.self) { try GaussianNoise(stddev: -1) }
    #expect(throws: PlexusError.self) { try GaussianNoise(stddev: .infinity) }
  }
}
