import PlexusCore
import PlexusTestSupport
import Testing

@Suite struct ActivationTests {
  @Test(arguments: [ActivationFunction.relu, .tanh, .softmax, .logSoftmax, .silu])
  func passesTheHarness(function: ActivationFunction) throws {
    try LayerHarness.run(
      LayerTest(
        registry: LayerRegistry(),
        shapes: [
          .init([5], output: [5]), .init([2, 3], output: [2, 3]),
          .init([2, 2, 3], output: [2, 2, 3]),
        ],
        badShapes: [[[]], [[3], [3]]]
      ) { Activation(function) })
  }

  @Test func appliesTheFunction() throws {
    let layer = Activation(.relu)
    try layer.build(inputShape: [3])
    #expect(try layer(try Tensor(shape: [1, 3], scalars: [-1, 0, 2])).scalars == [0, 0, 2])
  }

  @Test func configRefusesUnknownKeysAndRoundTrips() throws {
    try LayerHarness.checkConfigDecoding(
      Activation.self, registry: LayerRegistry(), minimal: #"{"activation": "relu"}"#,
      defaults: Activation.Config(activation: .relu),
      full: Activation.Config(activation: .leakyRelu(alpha: 0.2)),
      typo: #"{"activaton": "relu"}"#, suggestion: "activation")
  }
}
