import Foundation
import PlexusAutoencoder
import PlexusCore
import PlexusPerceptron
import PlexusTestSupport
import Testing

@Suite struct GaussianSamplingTests {
  @Test func passesTheHarness() throws {
    var test = LayerTest(
      registry: autoencoderRegistry(),
      shapes: [.init(inputs: [[3], [3]], outputs: [[3]]), .init(inputs: [[2, 2], [2, 2]])],
      badShapes: [[[3]], [[3], [4]]]
    ) { try GaussianSampling(klWeight: 0.5, seed: 2) }
    // Random in training: the harness checks inference (z = mean); the training gradient with
    // the noise fixed is checked below.
    test.gradientCheckTraining = false
    try LayerHarness.run(test)
  }

  /// Finite differences of `Σ R·z + KL` with the noise fixed: every pass uses a new layer of
  /// the same seed, so it draws the same noise.
  @Test func trainingGradientWithFixedNoiseMatchesFiniteDifferences() throws {
    var generator = SeededGenerator(seed: 3)
    let mean = Tensor.normal([2, 3], using: &generator)
    let logVariance = Tensor.normal([2, 3], standardDeviation: 0.5, using: &generator)
    let weights = Tensor.normal([2, 3], using: &generator)
    func freshLayer() throws -> GaussianSampling {
      let layer = try GaussianSampling(klWeight: 0.7, seed: 5)
      try layer.ensureBuilt(inputShapes: [[3], [3]])
      var seeds = SeededGenerator(seed: 0)
      try layer.initialize(using: &seeds)
      return layer
    }
    func objective(
      _ inputs: [Tensor], layer: GaussianSampling? = nil, record: CallRecord = CallRecord()
    )
      throws -> Double
    {
      let z = try (layer ?? freshLayer()).run(inputs, training: true, record: record)[0]
      var total = record.contributedLosses.reduce(0.0) { $0 + Double($1.value) }
      for (a, b) in zip(z.scalars, weights.scalars) { total += Double(a) * Double(b) }
      return total
    }
    let layer = try freshLayer()
    let record = CallRecord()
    _ = try objective([mean, logVariance], layer: layer, record: record)
    #expect(record.contributedLosses.map(\.name) == ["kl"])
    let analytic = try layer.gradients([weights], record: record)
    let epsilon: Float = 1e-2
    var worst: Double = 0
    for input in 0..<2 {
      for index in 0..<6 {
        var plus = [mean, logVariance]
        var minus = [mean, logVariance]
        plus[input].withUnsafeMutableBufferPointer { $0[index] += epsilon }
        minus[input].withUnsafeMutableBufferPointer { $0[index] -= epsilon }
        let numeric = (try objective(plus) - objective(minus)) / Double(2 * epsilon)
        let exact = Double(try #require(analytic[input]).scalars[index])
        worst = max(worst, abs(numeric - exact) / max(abs(numeric), abs(exact), 1e-2))
      }
    }
    #expect(worst < 1e-2, "largest relative error \(worst)")
  }

  @Test func klTermIsTheDivergenceFromTheStandardNormal() throws {
    let layer = try GaussianSampling(klWeight: 2, seed: 1)
    try layer.ensureBuilt(inputShapes: [[2], [2]])
    let mean = try Tensor(shape: [1, 2], scalars: [1, 0])
    let logVariance = try Tensor(shape: [1, 2], scalars: [0, log(2)])
    let record = CallRecord()
    _ = try layer.run([mean, logVariance], training: true, record: record)
    // KL(N(1, 1) || N(0, 1)) = 0.5; KL(N(0, 2) || N(0, 1)) = 0.5 (2 - 1 - log 2).
    let expected = 2 * (0.5 + 0.5 * (2 - 1 - log(2.0)))
    #expect(abs(Double(record.contributedLosses[0].value) - expected) < 1e-5)
    // Inference: the mean, no KL term.
    let inference = CallRecord()
    #expect(try layer.run([mean, logVariance], training: false, record: inference)[0] == mean)
    #expect(inference.contributedLosses.isEmpty)
  }

  @Test func configRefusesUnknownKeysAndBadWeights() throws {
    try LayerHarness.checkConfigDecoding(
      GaussianSampling.self, registry: autoencoderRegistry(), minimal: "{}",
      defaults: GaussianSampling.Config(), full: GaussianSampling.Config(klWeight: 0.5, seed: 3),
      typo: #"{"klweight": 2}"#, suggestion: "klWeight")
    #expect(throws: PlexusError.self) { try GaussianSampling(klWeight: -1) }
    #expect(throws: PlexusError.self) { try GaussianSampling(klWeight: .nan) }
  }
}
