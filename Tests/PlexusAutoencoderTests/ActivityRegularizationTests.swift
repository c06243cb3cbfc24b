import PlexusAutoencoder
import PlexusCore
import PlexusTestSupport
import Testing

@Suite struct ActivityRegularizationTests {
  @Test func passesTheHarness() throws {
    var test = elementwiseLayerTest { try ActivityRegularization(l1: 0.1, l2: 0.05) }
    // Keep inputs away from zero, where |x| has no derivative.
    test.makeInputs = { shapes, generator in
      shapes.map { shape in
        Tensor.normal(shape, using: &generator).map { $0 >= 0 ? $0 + 0.2 : $0 - 0.2 }
      }
    }
    try LayerHarness.run(test)
  }

  @Test func addsItsPenaltyInTrainingOnly() throws {
    let layer = try ActivityRegularization(l1: 0.5, l2: 0.25)
    try layer.build(inputShape: [2])
    let input = try Tensor(shape: [2, 2], scalars: [1, -2, 0, 4])
    let record = CallRecord()
    #expect(try layer(input, training: true, record: record) == input)
    // (0.5 * 7 + 0.25 * 21) / 2
    #expect(record.contributedLosses.map(\.name) == ["activity"])
    #expect(abs(record.contributedLosses[0].value - 4.375) < 1e-6)
    let inference = CallRecord()
    _ = try layer(input, training: false, record: inference)
    #expect(inference.contributedLosses.isEmpty)
  }

  @Test func configRefusesUnknownKeysAndBadWeights() throws {
    try LayerHarness.checkConfigDecoding(
      ActivityRegularization.self, registry: autoencoderRegistry(), minimal: "{}",
      defaults: ActivityRegularization.Config(),
      full: ActivityRegularization.Config(l1: 0.1, l2: 0.2), typo: #"{"l3": 0.1}"#,
      suggestion: "l1")
    #expect(throws: PlexusError.self) { try ActivityRegularization(l1: -1) }
    #expect(throws: PlexusError.self) { try ActivityRegularization(l2: .nan) }
  }

  /// An L1 penalty on the code makes it sparser (smaller mean |code|, more exact zeros of the
  /// ReLU code) while the autoencoder still reconstructs.
  @Test func l1PenaltyMakesTheCodeSparser() throws {
    let (train, test) = try scaledDigits()
    func run(_ l1: Float) throws -> (activity: Double, zeros: Double, mse: Double, keys: [String]) {
      let model = try denseAutoencoder(
        code: l1 > 0 ? [try ActivityRegularization(l1: l1)] : [], seed: 5)
      let history = try model.fit(
        train, optimizer: Adam(learningRate: 0.003),
        options: TrainingOptions(epochs: 10, batchSize: 32, seed: 2))
      let codes = try model.encode(test).scalars
      return (
        mean(codes.map { abs($0) }), Double(codes.filter { $0 == 0 }.count) / Double(codes.count),
        mean(try model.reconstructionErrors(test)), history.keys
      )
    }
    let plain = try run(0)
    let sparse = try run(0.001)
    print(
      "l1 activity: mean |code| \(plain.activity) -> \(sparse.activity), zero fraction "
        + "\(plain.zeros) -> \(sparse.zeros), test MSE \(plain.mse) -> \(sparse.mse)")
    #expect(sparse.keys.contains("activity"))
    #expect(!plain.keys.contains("activity"))
    #expect(sparse.activity < 0.5 * plain.activity)
    #expect(sparse.zeros > plain.zeros)
    #expect(sparse.mse < 0.04)
  }
}
