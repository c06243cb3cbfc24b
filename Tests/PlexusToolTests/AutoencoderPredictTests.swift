import ArgumentParser
import Foundation
import Plexus
import PlexusCommands
import Testing

@Suite struct AutoencoderPredictTests {
  /// Four samples of six values in [0, 1].
  private let inputs: Tensor

  init() throws {
    inputs = try Tensor(shape: [4, 6], scalars: (0..<24).map { Float(($0 * 7) % 11) / 10 })
  }

  @Test func predictWritesReconstructionsOrCodes() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let model = try Autoencoder(
      encoder: Sequential([try Dense(units: 3, activation: .tanh)]),
      decoder: Sequential([try Dense(units: 6, activation: .sigmoid)]), inputShape: [6],
      seed: 4)
    let url = folder.file("ae.plexus")
    try model.save(to: url)
    try NumPy.write(inputs, to: folder.file("x.npy"))

    let reconstructions = try Predict.run(
      PredictSettings(modelPath: url.path, inputPath: folder.file("x.npy").path),
      console: CapturedOutput())
    #expect(reconstructions == (try model.reconstruct(inputs)))
    let console = CapturedOutput()
    let codes = try Predict.run(
      PredictSettings(
        modelPath: url.path, inputPath: folder.file("x.npy").path,
        outputPath: folder.file("codes.npy").path, codes: true),
      console: console)
    #expect(codes.shape == [4, 3])
    #expect(codes == (try model.encode(inputs)))
    #expect(try NumPy.read(contentsOf: folder.file("codes.npy")).tensor() == codes)
    #expect(console.text.hasPrefix("wrote codes of shape [4, 3]"))
  }

  @Test func predictWritesAVAEsCodeMeans() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let vae = try VAE(
      encoder: Sequential([try Dense(units: 5, activation: .relu)]),
      decoder: Sequential([try Dense(units: 6, activation: .sigmoid)]), inputShape: [6],
      latentDimension: 2, samplingSeed: 3, seed: 2)
    let url = folder.file("vae.plexus")
    try vae.save(to: url)
    try NumPy.write(inputs, to: folder.file("x.npy"))
    let codes = try Predict.run(
      PredictSettings(modelPath: url.path, inputPath: folder.file("x.npy").path, codes: true),
      console: CapturedOutput())
    #expect(codes == (try vae.encode(inputs).mean))
  }

  @Test func codesNeedAnAutoencoderAndExcludeClasses() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let model = Sequential([try Dense(units: 2)])
    _ = try model.build(inputShape: [6], seed: 1)
    let url = folder.file("dense.plexus")
    try model.save(to: url)
    try NumPy.write(inputs, to: folder.file("x.npy"))
    #expect(throws: PlexusError.self) {
      try Predict.run(
        PredictSettings(modelPath: url.path, inputPath: folder.file("x.npy").path, codes: true),
        console: CapturedOutput())
    }
    #expect(throws: (any Error).self) {
      try PlexusCommand.parseAsRoot(["predict", "m", "-i", "x.npy", "--codes", "--classes"])
    }
    let parsed = try #require(
      try PlexusCommand.parseAsRoot(["predict", "m", "-i", "x.npy", "--codes"]) as? PredictCommand)
    #expect(parsed.settings.codes)
  }
}
