import Foundation
import PlexusAutoencoder
import PlexusCore
import PlexusPerceptron
import PlexusTestSupport
import Testing

@Suite struct ContractiveDenseTests {
  @Test(arguments: [ActivationFunction.sigmoid, .tanh, .linear])
  func passesTheHarness(activation: ActivationFunction) throws {
    // The harness's gradient check includes the penalty (a loss the layer contributes in
    // training mode), so it checks the penalty's gradient against finite differences.
    let test = LayerTest(
      registry: autoencoderRegistry(), shapes: [.init([5], output: [3]), .init([1], output: [3])],
      badShapes: [[[2, 3]], [[]]]
    ) { try ContractiveDense(units: 3, activation: activation, weight: 0.7) }
    try LayerHarness.run(test)
  }

  @Test func configRefusesUnknownKeysAndBadValues() throws {
    let message = try LayerHarness.checkConfigDecoding(
      ContractiveDense.self, registry: autoencoderRegistry(), minimal: #"{"units": 2}"#,
      defaults: ContractiveDense.Config(units: 2),
      full: ContractiveDense.Config(units: 4, activation: .tanh, weight: 0.25),
      typo: #"{"wieght": 1}"#, suggestion: "weight")
    #expect(
      message.hasPrefix("config of layer type 'plexus.contractive_dense': unknown key 'wieght'"))
    #expect(throws: PlexusError.self) { try ContractiveDense(units: 0) }
    #expect(throws: PlexusError.self) { try ContractiveDense(units: 2, weight: -1) }
    #expect(throws: PlexusError.self) { try ContractiveDense(units: 2, weight: .nan) }
    #expect { try ContractiveDense(units: 2, activation: .softmax) } throws: {
      "\($0)".contains("sigmoid, tanh, relu or linear")
    }
  }

  /// The penalty is the weight times the squared Frobenius norm of the Jacobian of the
  /// outputs with respect to the inputs, averaged over the batch — checked against a Jacobian
  /// measured by central differences in double precision of the inputs.
  /// (Not for relu: central differences straddle its kink.)
  @Test(arguments: [ActivationFunction.sigmoid, .tanh, .linear])
  func penaltyIsTheJacobianNorm(activation: ActivationFunction) throws {
    let layer = try ContractiveDense(units: 4, activation: activation, weight: 0.5)
    try layer.build(inputShape: [3], seed: 3)
    var generator = SeededGenerator(seed: 8)
    let input = Tensor.normal([5, 3], using: &generator)
    let record = CallRecord()
    let output = try layer(input, training: true, record: record)
    #expect(record.contributedLosses.map(\.name) == ["contractive"])
    let penalty = Double(record.contributedLosses[0].value)
    #expect(abs(penalty - Double(try layer.penalty(output: output))) < 1e-6)

    var squaredNorm = 0.0
    let epsilon: Float = 1e-2
    for sample in 0..<5 {
      for feature in 0..<3 {
        var plus = input
        var minus = input
        plus[sample, feature] += epsilon
        minus[sample, feature] -= epsilon
        let up = try layer(plus, training: false, record: CallRecord())
        let down = try layer(minus, training: false, record: CallRecord())
        for unit in 0..<4 {
          let derivative = Double(up[sample, unit] - down[sample, unit]) / Double(2 * epsilon)
          squaredNorm += derivative * derivative
        }
      }
    }
    let expected = 0.5 * squaredNorm / 5
    #expect(abs(penalty - expected) < 2e-3 * max(expected, 1), "\(penalty) vs \(expected)")
    // Inference adds nothing.
    let inference = CallRecord()
    _ = try layer(input, training: false, record: inference)
    #expect(inference.contributedLosses.isEmpty)
  }

  /// A contractive code layer makes the encoder less sensitive to its input than a plain one,
  /// at a small cost in reconstruction.
  @Test func contractiveTrainingShrinksTheEncodersJacobian() throws {
    let (train, test) = try scaledDigits()
    func trained(weight: Float) throws -> (jacobian: Double, mse: Double) {
      let code = try ContractiveDense(units: 16, activation: .sigmoid, weight: weight, name: "code")
      let encoder = Sequential([code])
      let decoder = Sequential([try Dense(units: 64, activation: .sigmoid)])
      let model = try Autoencoder(encoder: encoder, decoder: decoder, inputShape: [64], seed: 4)
      _ = try model.fit(
        train, optimizer: Adam(learningRate: 0.01),
        options: TrainingOptions(epochs: 10, batchSize: 32, seed: 2))
      let probe = ContractiveDense.Config(units: 16, activation: .sigmoid, weight: 1)
      let measuring = try ContractiveDense(config: probe)
      try measuring.build(inputShape: [64], seed: 0)
      try measuring.kernel.assign(code.kernel.value)
      try measuring.bias.assign(code.bias.value)
      let codes = try measuring(test, training: false, record: CallRecord())
      return (
        Double(try measuring.penalty(output: codes)), mean(try model.reconstructionErrors(test))
      )
    }
    let plain = try trained(weight: 0)
    let contractive = try trained(weight: 0.005)
    print(
      "encoder Jacobian ‖J‖²: plain \(plain.jacobian) (test MSE \(plain.mse)), contractive "
        + "(weight 0.005) \(contractive.jacobian) (test MSE \(contractive.mse))")
    #expect(contractive.jacobian < 0.5 * plain.jacobian)
    #expect(contractive.mse < 0.04)
  }
}
