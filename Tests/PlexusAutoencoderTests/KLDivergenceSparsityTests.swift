import Foundation
import PlexusAutoencoder
import PlexusCore
import PlexusPerceptron
import PlexusTestSupport
import Testing

@Suite struct KLDivergenceSparsityTests {
  @Test func passesTheHarness() throws {
    var test = elementwiseLayerTest(width: 5) { try KLDivergenceSparsity(target: 0.1, weight: 0.5) }
    // Activations in (0, 1), as a sigmoid code.
    test.makeInputs = { shapes, generator in
      shapes.map { Tensor.uniform($0, low: 0.1, high: 0.9, using: &generator) }
    }
    try LayerHarness.run(test)
  }

  @Test func penaltyIsTheKLDivergenceOfTheMeanActivations() throws {
    let layer = try KLDivergenceSparsity(target: 0.2, weight: 2)
    try layer.build(inputShape: [2])
    let input = try Tensor(shape: [2, 2], scalars: [0.1, 0.5, 0.3, 0.5])
    let record = CallRecord()
    _ = try layer(input, training: true, record: record)
    func kl(_ rho: Double, _ mean: Double) -> Double {
      rho * log(rho / mean) + (1 - rho) * log((1 - rho) / (1 - mean))
    }
    let expected = 2 * (kl(0.2, 0.2) + kl(0.2, 0.5))
    #expect(record.contributedLosses.map(\.name) == ["sparsity"])
    #expect(abs(Double(record.contributedLosses[0].value) - expected) < 1e-5)
  }

  @Test func configRefusesUnknownKeysAndBadValues() throws {
    try LayerHarness.checkConfigDecoding(
      KLDivergenceSparsity.self, registry: autoencoderRegistry(), minimal: "{}",
      defaults: KLDivergenceSparsity.Config(),
      full: KLDivergenceSparsity.Config(target: 0.1, weight: 3), typo: #"{"weigth": 2}"#,
      suggestion: "weight")
    #expect(throws: PlexusError.self) { try KLDivergenceSparsity(target: 0) }
    #expect(throws: PlexusError.self) { try KLDivergenceSparsity(target: 1) }
    #expect(throws: PlexusError.self) { try KLDivergenceSparsity(weight: -1) }
  }

  /// The penalty pulls the mean code activation towards the target.
  @Test func sparsityPenaltyLowersTheMeanCodeActivation() throws {
    let (train, test) = try scaledDigits()
    func meanActivation(_ weight: Float) throws -> Double {
      let encoder = Sequential(
        [try Dense(units: 32, activation: .relu), try Dense(units: 16, activation: .sigmoid)]
          + (weight > 0 ? [try KLDivergenceSparsity(target: 0.05, weight: weight)] : []))
      let decoder = Sequential([
        try Dense(units: 32, activation: .relu), try Dense(units: 64, activation: .sigmoid),
      ])
      let model = try Autoencoder(encoder: encoder, decoder: decoder, inputShape: [64], seed: 5)
      _ = try model.fit(
        train, optimizer: Adam(learningRate: 0.003),
        options: TrainingOptions(epochs: 8, batchSize: 32, seed: 2))
      return mean(try model.encode(test).scalars)
    }
    let plain = try meanActivation(0)
    let sparse = try meanActivation(0.5)
    print("mean sigmoid code activation: plain \(plain), kl sparsity (target 0.05) \(sparse)")
    #expect(sparse < 0.5 * plain)
    #expect(sparse < 0.15)
  }
}
