import ArgumentParser
import Foundation
import Plexus
import PlexusCommands
import Testing

/// `count` samples of 64 values in [0, 1] that differ from one another.
private func patterns(_ count: Int) throws -> Tensor {
  let values = (0..<(count * 64)).map { index -> Float in
    let sample = index / 64
    let pixel = index % 64
    return Float((pixel * (sample + 3) + sample) % 17) / 16
  }
  return try Tensor(shape: [count, 64], scalars: values)
}

/// The pixels of tile `tile` (top-left corner) in a grid of `columns` tiles of 8x8 values,
/// each drawn `scale` pixels wide with one pixel of padding.
private func tilePixels(_ image: PNGImage, tile: Int, columns: Int, scale: Int) -> [UInt8] {
  let cell = 8 * scale + 1
  let left = 1 + (tile % columns) * cell
  let top = 1 + (tile / columns) * cell
  return (0..<64).map { index in
    image.pixels[(top + (index / 8) * scale) * image.width + left + (index % 8) * scale]
  }
}

@Suite struct PictureCommandTests {
  @Test func parsesThePictureCommand() throws {
    let command = try #require(
      try PlexusCommand.parseAsRoot([
        "picture", "m.plexus", "-o", "out.png", "--kind", "samples", "--count", "9", "--seed",
        "4", "--scale", "2",
      ]) as? PictureCommand)
    #expect(
      command.settings
        == PictureSettings(
          modelPath: "m.plexus", outputPath: "out.png", kind: .samples, count: 9, seed: 4,
          scale: 2))
    for arguments in [
      ["picture", "m.plexus"], ["picture", "m.plexus", "-o", "a.png", "--count", "0"],
      ["picture", "m.plexus", "-o", "a.png", "--kind", "weights"],
      ["picture", "m.plexus", "-o", "a.png", "--scale", "33"],
    ] {
      #expect(throws: (any Error).self, "\(arguments)") { try PlexusCommand.parseAsRoot(arguments) }
    }
  }

  @Test func drawsAnRBMsFiltersAndSamples() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let rbm = try RBM(visible: 64, hidden: 6, seed: 2)
    try rbm.fit(
      patterns(40), optimizer: SGD(learningRate: 0.1),
      options: TrainingOptions(epochs: 2, batchSize: 10))
    let url = folder.file("rbm.plexus")
    try rbm.save(to: url)

    let console = CapturedOutput()
    let filters = try Picture.run(
      PictureSettings(modelPath: url.path, outputPath: folder.file("f.png").path, scale: 2),
      console: console)
    // Six 8x8 filters, three to a row.
    #expect(filters.width == 3 * 17 + 1 && filters.height == 2 * 17 + 1)
    #expect(try [UInt8](Data(contentsOf: folder.file("f.png"))) == filters.encoded())
    #expect(console.text.contains("picture of filters"))
    let weights = try rbm.layer.weights.value.transposed().scalars
    for unit in 0..<6 {
      let filter = Array(weights[unit * 64..<(unit + 1) * 64])
      let (low, high) = (filter.min()!, filter.max()!)
      let expected = filter.map { PNGImage.grayLevel(($0 - low) / (high - low)) }
      #expect(tilePixels(filters, tile: unit, columns: 3, scale: 2) == expected, "unit \(unit)")
    }

    let settings = PictureSettings(
      modelPath: url.path, outputPath: folder.file("s.png").path, kind: .samples, count: 4,
      gibbsSteps: 5, seed: 3, scale: 1)
    let samples = try Picture.run(settings, console: CapturedOutput())
    let drawn = try rbm.sample(chains: 4, gibbsSteps: 5, seed: 3).scalars
    for chain in 0..<4 {
      #expect(
        tilePixels(samples, tile: chain, columns: 2, scale: 1)
          == drawn[chain * 64..<(chain + 1) * 64].map(PNGImage.grayLevel))
    }
    // A reconstructions picture is not an RBM's.
    var reconstructions = settings
    reconstructions.kind = .reconstructions
    #expect(throws: PlexusError.self) {
      try Picture.run(reconstructions, console: CapturedOutput())
    }
  }

  @Test func drawsADBNsBottomFiltersAndGeneratedSamples() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let dbn = try DBN(sizes: [64, 6, 4], classes: 2, seed: 2)
    try dbn.pretrain(
      patterns(40), optimizer: { SGD(learningRate: 0.1) },
      options: TrainingOptions(epochs: 2, batchSize: 10))
    let url = folder.file("dbn.plexus")
    try dbn.save(to: url)
    let filters = try Picture.run(
      PictureSettings(modelPath: url.path, outputPath: folder.file("f.png").path, scale: 1),
      console: CapturedOutput())
    let weights = try dbn.rbms[0].layer.weights.value.transposed().scalars
    for unit in 0..<6 {
      let filter = Array(weights[unit * 64..<(unit + 1) * 64])
      let (low, high) = (filter.min()!, filter.max()!)
      let expected = filter.map { PNGImage.grayLevel(($0 - low) / (high - low)) }
      #expect(tilePixels(filters, tile: unit, columns: 3, scale: 1) == expected, "unit \(unit)")
    }
    let samples = try Picture.run(
      PictureSettings(
        modelPath: url.path, outputPath: folder.file("s.png").path, kind: .samples, count: 4,
        gibbsSteps: 5, seed: 3, scale: 1), console: CapturedOutput())
    let drawn = try dbn.generate(samples: 4, gibbsSteps: 5, seed: 3).scalars
    for chain in 0..<4 {
      #expect(
        tilePixels(samples, tile: chain, columns: 2, scale: 1)
          == drawn[chain * 64..<(chain + 1) * 64].map(PNGImage.grayLevel))
    }
  }

  @Test func drawsInputsNextToTheirReconstructions() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let model = try Autoencoder(
      encoder: Sequential([try Dense(units: 8, activation: .relu)]),
      decoder: Sequential([try Dense(units: 64, activation: .sigmoid)]), inputShape: [64],
      seed: 5)
    let url = folder.file("ae.plexus")
    try model.save(to: url)
    let inputs = try patterns(5)
    try NumPy.write(inputs, to: folder.file("x.npy"))
    var settings = PictureSettings(
      modelPath: url.path, outputPath: folder.file("r.png").path,
      inputPath: folder.file("x.npy").path, count: 3, scale: 1)
    let image = try Picture.run(settings, console: CapturedOutput())
    // Three pairs, two pairs to a row: 4 columns, 2 rows.
    #expect(image.width == 4 * 9 + 1 && image.height == 2 * 9 + 1)
    let rebuilt = try model.reconstruct(inputs).scalars
    for sample in 0..<3 {
      let range = sample * 64..<(sample + 1) * 64
      #expect(
        tilePixels(image, tile: 2 * sample, columns: 4, scale: 1)
          == inputs.scalars[range].map(PNGImage.grayLevel))
      #expect(
        tilePixels(image, tile: 2 * sample + 1, columns: 4, scale: 1)
          == rebuilt[range].map(PNGImage.grayLevel))
    }
    settings.inputPath = nil
    #expect(throws: PlexusError.self) { try Picture.run(settings, console: CapturedOutput()) }
    settings.kind = .filters
    #expect(throws: PlexusError.self) { try Picture.run(settings, console: CapturedOutput()) }
  }

  @Test func drawsAVAEsLatentGrid() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let vae = try VAE(
      encoder: Sequential([try Dense(units: 16, activation: .relu)]),
      decoder: Sequential([try Dense(units: 64, activation: .sigmoid)]), inputShape: [64],
      latentDimension: 2, samplingSeed: 7, seed: 1)
    let url = folder.file("vae.plexus")
    try vae.save(to: url)
    var settings = PictureSettings(
      modelPath: url.path, outputPath: folder.file("z.png").path, count: 3, scale: 1)
    let image = try Picture.run(settings, console: CapturedOutput())
    #expect(image.width == 3 * 9 + 1 && image.height == 3 * 9 + 1)
    // The top-left tile decodes (-2, 2), the bottom-right (2, -2).
    let corners = try vae.decode(Tensor(shape: [2, 2], scalars: [-2, 2, 2, -2])).scalars
    #expect(
      tilePixels(image, tile: 0, columns: 3, scale: 1) == corners[0..<64].map(PNGImage.grayLevel))
    #expect(
      tilePixels(image, tile: 8, columns: 3, scale: 1) == corners[64...].map(PNGImage.grayLevel))
    settings.count = 1
    #expect(throws: PlexusError.self) { try Picture.run(settings, console: CapturedOutput()) }
    settings.count = 4
    settings.kind = .samples
    let samples = try Picture.run(settings, console: CapturedOutput())
    #expect(samples.width == 2 * 9 + 1)
  }

  @Test func refusesModelsWithoutAPicture() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let model = Sequential([try Dense(units: 3)])
    _ = try model.build(inputShape: [4], seed: 1)
    let url = folder.file("dense.plexus")
    try model.save(to: url)
    let settings = PictureSettings(modelPath: url.path, outputPath: folder.file("d.png").path)
    #expect(throws: PlexusError.self) { try Picture.run(settings, console: CapturedOutput()) }
    #expect(!FileManager.default.fileExists(atPath: folder.file("d.png").path))
  }
}
