import PlexusAutoencoder
import PlexusCore
import PlexusTestSupport
import Testing

@Suite struct DenoisingTests {
  /// A denoising autoencoder trained with Gaussian noise reconstructs corrupted test digits
  /// closer to the clean ones than the corrupted inputs are, and closer than a plain one does.
  @Test func denoisingAutoencoderCleansCorruptedDigits() throws {
    let (train, test) = try scaledDigits()
    var generator = SeededGenerator(seed: 12)
    var noisy = test
    noisy.withUnsafeMutableBufferPointer { buffer in
      for index in buffer.indices {
        buffer[index] = min(max(buffer[index] + 0.3 * generator.nextNormal(), 0), 1)
      }
    }
    func error(of model: Autoencoder) throws -> Double {
      mean(try Autoencoder.meanSquaredErrors(between: test, and: try model.reconstruct(noisy)))
    }
    let denoising = try denseAutoencoder(corruption: try GaussianNoise(stddev: 0.3, seed: 8))
    _ = try denoising.fit(
      train, optimizer: Adam(learningRate: 0.003),
      options: TrainingOptions(epochs: 20, batchSize: 32, seed: 4))
    let plain = try denseAutoencoder()
    _ = try plain.fit(
      train, optimizer: Adam(learningRate: 0.003),
      options: TrainingOptions(epochs: 20, batchSize: 32, seed: 4))
    let inputError = mean(try Autoencoder.meanSquaredErrors(between: test, and: noisy))
    let denoised = try error(of: denoising)
    let plainError = try error(of: plain)
    print("noisy input MSE \(inputError), denoising AE \(denoised), plain AE \(plainError)")
    #expect(denoised < 0.7 * inputError)
    #expect(denoised < plainError)
  }

  /// Masking noise corrupts only while training, so a masked autoencoder still reconstructs.
  @Test func maskingNoiseAutoencoderTrains() throws {
    let (train, test) = try scaledDigits()
    let model = try denseAutoencoder(corruption: try MaskingNoise(rate: 0.25, seed: 8))
    let history = try model.fit(
      train, optimizer: Adam(learningRate: 0.003),
      options: TrainingOptions(epochs: 10, batchSize: 32, seed: 4))
    let losses = try #require(history["reconstruction_loss"])
    #expect(losses.last! < losses.first!)
    #expect(mean(try model.reconstructionErrors(test)) < 0.05)
  }
}
