import Foundation
import PlexusAutoencoder
import PlexusConvolution
import PlexusCore
import PlexusPerceptron
import Testing

@Suite struct ConvolutionalAutoencoderTests {
  /// 8x8x1 -> conv 8 + pool -> conv 4 + pool (a 2x2x4 code of 16 values) -> up-sample + conv 8
  /// -> up-sample + conv 1 sigmoid, on the digits.
  @Test func convolutionalAutoencoderReconstructsTheDigits() throws {
    let (train, test) = try scaledDigits()
    let images = try train.reshaped([train.shape[0], 8, 8, 1])
    let testImages = try test.reshaped([test.shape[0], 8, 8, 1])
    let encoder = Sequential([
      try Conv2D(filters: 8, kernelSize: 3, padding: .same, activation: .relu),
      try MaxPool2D(poolSize: 2),
      try Conv2D(filters: 4, kernelSize: 3, padding: .same, activation: .relu),
      try MaxPool2D(poolSize: 2),
    ])
    let decoder = Sequential([
      try UpSampling2D(size: 2),
      try Conv2D(filters: 8, kernelSize: 3, padding: .same, activation: .relu),
      try UpSampling2D(size: 2),
      try Conv2D(filters: 1, kernelSize: 3, padding: .same, activation: .sigmoid),
    ])
    let model = try Autoencoder(
      encoder: encoder, decoder: decoder, inputShape: [8, 8, 1], seed: 3)
    let testMSE = try fitAndMeasure(
      model, train: images, test: testImages, learningRate: 0.005, epochs: 20, seed: 1,
      label: "convolutional autoencoder (2x2x4 code)")
    #expect(testMSE < 0.04)
    #expect(try model.encode(testImages).shape == [test.shape[0], 2, 2, 4])

    let folder = try ScratchFolder()
    let url = folder.file("conv-ae.plexus")
    try model.save(to: url)
    let loaded = try #require(
      try loadModel(from: url, registry: autoencoderRegistry()) as? Autoencoder)
    #expect(try loaded.reconstruct(testImages) == (try model.reconstruct(testImages)))
  }
}
