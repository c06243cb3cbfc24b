import Foundation
import PlexusAutoencoder
import PlexusCore
import PlexusPerceptron
import PlexusTestSupport
import Testing

/// A VAE for the digits: 64-32 encoder body, a code of `latent`, 32-64 sigmoid decoder.
func digitsVAE(latent: Int = 2, seed: UInt64 = 1) throws -> VAE {
  try VAE(
    encoder: Sequential([try Dense(units: 32, activation: .relu)]),
    decoder: Sequential([
      try Dense(units: 32, activation: .relu), try Dense(units: 64, activation: .sigmoid),
    ]), inputShape: [64], latentDimension: latent, samplingSeed: 7, seed: seed)
}

@Suite struct VAETests {
  @Test func passesTheHarnessAsALayer() throws {
    var test = LayerTest(
      registry: autoencoderRegistry(), shapes: [.init([5], output: [5])], badShapes: [[[4]]]
    ) {
      try VAE(
        encoder: Sequential([try Dense(units: 4, activation: .tanh)]),
        decoder: Sequential([try Dense(units: 5, activation: .sigmoid)]), inputShape: [5],
        latentDimension: 2, likelihood: .gaussian, samplingSeed: 3, seed: 2)
    }
    test.gradientCheckTraining = false  // sampling is random in training
    try LayerHarness.run(test)
  }

  @Test func configRefusesUnknownKeys() throws {
    let built = try digitsVAE()
    let (encoder, decoder) = (built.config.encoder, built.config.decoder)
    func json(_ description: LayerDescription) throws -> String {
      String(decoding: try JSONEncoder().encode(description), as: UTF8.self)
    }
    let minimal =
      #"{"encoder": \#(try json(encoder)), "decoder": \#(try json(decoder)), "#
      + #""inputShape": [64], "latentDimension": 2}"#
    try LayerHarness.checkConfigDecoding(
      VAE.self, registry: autoencoderRegistry(), minimal: minimal,
      defaults: VAE.Config(
        encoder: encoder, decoder: decoder, inputShape: [64], latentDimension: 2),
      full: VAE.Config(
        encoder: encoder, decoder: decoder, inputShape: [64], latentDimension: 2,
        likelihood: .gaussian, klWeight: 0.5, seed: 4),
      typo: #"{"likelihod": "gaussian"}"#, suggestion: "likelihood")
    #expect(throws: PlexusError.self) { try digitsVAE(latent: 0) }
  }

  /// On the digits: the ELBO improves, the KL term is logged and positive, prior samples
  /// decode to pixels in range; the model survives a file.
  @Test func vaeOnTheDigitsImprovesTheELBO() throws {
    let (train, test) = try scaledDigits()
    let model = try digitsVAE(latent: 2)
    let before = try model.negativeELBO(test)
    let start = Date()
    let history = try model.fit(
      train, optimizer: Adam(learningRate: 0.003),
      options: TrainingOptions(epochs: 30, batchSize: 32, seed: 2))
    let seconds = Date().timeIntervalSince(start)
    let after = try model.negativeELBO(test)
    let elbo = try #require(history["elbo"])
    let kl = try #require(history["kl"])
    print(
      "VAE (latent 2, Bernoulli): training ELBO \(elbo.first!) -> \(elbo.last!), KL "
        + "\(kl.first!) -> \(kl.last!); test -ELBO \(before.total) -> \(after.total) "
        + "(reconstruction \(after.reconstruction), KL \(after.kl)) in 30 epochs, \(seconds) s")
    #expect(elbo.last! > elbo.first! + 5)
    #expect(after.total < before.total - 5)
    #expect(kl.allSatisfy { $0 > 0 })
    #expect(after.kl > 0.5)  // the code carries information

    let samples = try model.sample(count: 16, seed: 3)
    #expect(samples.shape == [16, 64])
    #expect(samples.scalars.allSatisfy { $0 >= 0 && $0 <= 1 })
    #expect(try model.sample(count: 16, seed: 3) == samples)
    let (means, logVariances) = try model.encode(test)
    #expect(means.shape == [test.shape[0], 2])
    #expect(logVariances.shape == [test.shape[0], 2])
    #expect(try model.decode(means) == (try model.reconstruct(test)))
    #expect(throws: PlexusError.self) { try model.sample(count: 0) }

    let folder = try ScratchFolder()
    let url = folder.file("vae.plexus")
    try model.save(to: url)
    let loaded = try #require(try loadModel(from: url, registry: autoencoderRegistry()) as? VAE)
    #expect(loaded.config == model.config)
    #expect(try loaded.reconstruct(test) == (try model.reconstruct(test)))
    #expect(try loaded.sample(count: 4, seed: 1) == (try model.sample(count: 4, seed: 1)))
  }
}
