import Foundation
import PlexusCore
import PlexusDatasets
import PlexusPerceptron
import Testing

@testable import PlexusRecurrent

/// The 8x8 digits read as sequences of 8 rows of 8 pixels.
@Suite struct DigitsSequenceTests {
  @Test func lstmReachesNinetySevenPercentOnTheDigitsAsSequences() throws {
    try expectAccuracy(of: try LSTM(units: 64), name: "LSTM(64)")
  }

  @Test func gruReachesNinetySevenPercentOnTheDigitsAsSequences() throws {
    try expectAccuracy(of: try GRU(units: 64), name: "GRU(64)")
  }

  /// Trains `layer` + Dense(10) on the standard split's training rows (seeded) and expects at
  /// least 97% test accuracy.
  func expectAccuracy(of layer: any Layer, name: String) throws {
    let started = Date()
    let (train, test) = try Digits.standardSplit()
    let trainRows = try train.reshapedFeatures([8, 8])
    let testRows = try test.reshapedFeatures([8, 8])
    let model = Sequential([layer, try Dense(units: 10)])
    try model.build(inputShape: [8, 8], seed: 7)
    try model.fit(
      trainRows.features, trainRows.labels, loss: CategoricalCrossEntropy(fromLogits: true),
      optimizer: Adam(learningRate: 0.005),
      options: TrainingOptions(epochs: 25, batchSize: 32, seed: 1))
    let result = try model.evaluate(
      testRows.features, testRows.labels, loss: CategoricalCrossEntropy(fromLogits: true),
      metrics: [.accuracy])
    let seconds = Date().timeIntervalSince(started)
    print("digits \(name): test accuracy \(result["accuracy"] ?? 0) in \(seconds) s")
    #expect((result["accuracy"] ?? 0) >= 0.97, "\(result)")
  }
}
