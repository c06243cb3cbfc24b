import Foundation
import PlexusAutoencoder
import PlexusConvolution
import PlexusCore
import PlexusDatasets
import PlexusPerceptron
import PlexusTestSupport

/// A registry with the layers of the core, perceptron, convolution and autoencoder modules.
func autoencoderRegistry() -> LayerRegistry {
  let registry = LayerRegistry()
  PerceptronLayers.register(in: registry)
  ConvolutionLayers.register(in: registry)
  AutoencoderLayers.register(in: registry)
  return registry
}

/// The harness test of an elementwise layer of the module (noise, regularization): the
/// per-sample shapes `[width]` and `[2, 3]` come out unchanged, the empty shape is refused.
/// A layer that is `randomInTraining` has its gradient checked in inference only.
func elementwiseLayerTest(
  width: Int = 6, randomInTraining: Bool = false, _ make: @escaping () throws -> any Layer
) -> LayerTest {
  var test = LayerTest(
    registry: autoencoderRegistry(),
    shapes: [.init([width], output: [width]), .init([2, 3], output: [2, 3])], badShapes: [[[]]],
    make: make)
  test.gradientCheckTraining = !randomInTraining
  return test
}

/// Fits `model` to `train` with Adam at `learningRate` (batches of 32) and returns its mean
/// reconstruction error on `test`, printed with `label` and the time taken.
func fitAndMeasure(
  _ model: Autoencoder, train: Tensor, test: Tensor, learningRate: Float, epochs: Int,
  seed: UInt64, label: String
) throws -> Double {
  let start = Date()
  _ = try model.fit(
    train, optimizer: Adam(learningRate: learningRate),
    options: TrainingOptions(epochs: epochs, batchSize: 32, seed: seed))
  let testMSE = mean(try model.reconstructionErrors(test))
  print(
    "\(label): test MSE \(testMSE) after \(epochs) epochs in "
      + "\(Date().timeIntervalSince(start)) s")
  return testMSE
}

/// The digits standard split (pixels already scaled to [0, 1]).
func scaledDigits() throws -> (train: Tensor, test: Tensor) {
  let (train, test) = try Digits.standardSplit()
  return (train.features, test.features)
}

/// A 64-32-16-32-64 dense autoencoder; `corruption` (if any) goes in front of the encoder.
func denseAutoencoder(corruption: (any Layer)? = nil, code: [any Layer] = [], seed: UInt64 = 1)
  throws -> Autoencoder
{
  let encoder = Sequential(
    (corruption.map { [$0] } ?? [])
      + [try Dense(units: 32, activation: .relu), try Dense(units: 16, activation: .relu)] + code)
  let decoder = Sequential([
    try Dense(units: 32, activation: .relu), try Dense(units: 64, activation: .sigmoid),
  ])
  return try Autoencoder(encoder: encoder, decoder: decoder, inputShape: [64], seed: seed)
}

/// A folder removed when the value is released.
final class ScratchFolder {
  let url: URL
  init() throws {
    url = FileManager.default.temporaryDirectory.appendingPathComponent(
      "plexus-autoencoder-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
  }
  func file(_ name: String) -> URL { url.appendingPathComponent(name) }
  deinit { try? FileManager.default.removeItem(at: url) }
}

/// The area under the ROC curve of scores where `positive` should score higher.
func rocAUC(positive: [Float], negative: [Float]) -> Double {
  var wins: Double = 0
  for p in positive {
    for n in negative { wins += p > n ? 1 : (p == n ? 0.5 : 0) }
  }
  return wins / Double(positive.count * negative.count)
}

/// The mean of per-sample errors.
func mean(_ values: [Float]) -> Double {
  values.reduce(0.0) { $0 + Double($1) } / Double(max(values.count, 1))
}
