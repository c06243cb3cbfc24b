import Foundation
import PlexusCore
import PlexusDBN
import PlexusDatasets
import PlexusPerceptron
import Testing

/// The bundled digits split (features already scaled to `[0, 1]`).
func scaledDigits() throws -> (train: Tensor, trainLabels: Tensor, test: Tensor, testLabels: Tensor)
{
  let (train, test) = try Digits.standardSplit()
  return (train.features, train.labels, test.features, test.labels)
}

/// The fraction of samples whose largest output is their label.
func accuracy(_ outputs: Tensor, labels: Tensor) -> Double {
  let predicted = outputs.argmaxPerSample()
  let truth = labels.scalars.map { Int($0) }
  return Double(zip(predicted, truth).filter { $0 == $1 }.count) / Double(truth.count)
}

@Suite(.serialized) struct DigitsRBMTests {
  @Test func contrastiveDivergenceLearnsTheDigits() throws {
    let digits = try scaledDigits()
    let rbm = try RBM(visible: 64, hidden: 100, seed: 1)
    let before = try rbm.reconstructionError(digits.train)
    let started = Date()
    let history = try rbm.fit(
      digits.train, optimizer: SGD(learningRate: 0.02, momentum: 0.9),
      options: TrainingOptions(epochs: 40, batchSize: 10, seed: 1))
    let seconds = Date().timeIntervalSince(started)
    let after = try rbm.reconstructionError(digits.train)
    let errors = try #require(history["reconstruction_error"])
    print(
      "RBM(100) CD-1, 40 epochs of batch 10: \(seconds) s; reconstruction error \(before) -> \(after)"
    )
    #expect(after < before / 2, "reconstruction error \(before) -> \(after)")
    #expect(errors.last! < errors.first!)
    let pseudoLikelihood = try #require(history["pseudo_likelihood"])
    print("pseudo-likelihood per epoch: \(pseudoLikelihood.first!) -> \(pseudoLikelihood.last!)")
    #expect(pseudoLikelihood.last! > pseudoLikelihood.first!)

    // The free energy of the training data falls below that of noise.
    var generator = SeededGenerator(seed: 5)
    let noise = Tensor.uniform(digits.train.shape, low: 0, high: 1, using: &generator)
    let dataEnergy = try rbm.freeEnergy(digits.train).reduce(0, +) / Float(digits.train.shape[0])
    let noiseEnergy = try rbm.freeEnergy(noise).reduce(0, +) / Float(noise.shape[0])
    print("mean free energy: training data \(dataEnergy), uniform noise \(noiseEnergy)")
    #expect(dataEnergy < noiseEnergy - 5)

    // RBM features and a logistic regression head.
    let features = try rbm.transform(digits.train)
    let testFeatures = try rbm.transform(digits.test)
    let head = Sequential([try Dense(units: 10)])
    try head.fit(
      features, digits.trainLabels, loss: CategoricalCrossEntropy(fromLogits: true),
      optimizer: Adam(learningRate: 0.01),
      options: TrainingOptions(epochs: 300, batchSize: 32, seed: 2))
    let testAccuracy = accuracy(try head.predict(testFeatures), labels: digits.testLabels)
    print("RBM(100) features + logistic regression: test accuracy \(testAccuracy)")
    #expect(testAccuracy >= 0.95)
  }
}
