import PlexusCore
import PlexusPerceptron
import PlexusTestSupport
import Testing

@Suite struct DenseTests {
  @Test(arguments: [ActivationFunction.linear, .relu, .tanh, .sigmoid, .softmax, .gelu, .elu(alpha: 1), .leakyRelu(alpha: 0.1), .softplus])
  func gradientsMatchFiniteDifferences(activation: ActivationFunction) throws {
    let layer = Dense(units: 5, activation: activation, name: "dense_1")
    let report = try GradientCheck.check(layer: layer, batchInputShape: [4, 6])
    #expect(report.maximumError < 1e-2, "\(report)")
    #expect(report.parameterErrors.keys.sorted() == ["dense_1.bias", "dense_1.kernel"])
  }

  @Test func forwardMatchesHandComputation() throws {
    let layer = Dense(units: 2, name: "d")
    var generator = SeededGenerator(seed: 0)
    _ = try layer.build(inputShape: [3], generator: &generator)
    try layer.kernel?.assign(try Tensor(shape: [3, 2], scalars: [1, 2, 3, 4, 5, 6]))
    try layer.bias?.assign(Tensor([0.5, -1]))
    let output = try layer.forward(try Tensor(shape: [1, 3], scalars: [1, 1, 2]), training: false)
    let expected: [Float] = [14.5, 17]
    #expect(output.scalars == expected)
  }

  @Test func rejectsWrongInputShape() throws {
    let model = Sequential([Dense(64 => 32), Dense(16 => 10)])
    #expect(throws: PlexusError.shapeMismatch(layer: "dense_2", expected: "[16]", found: [32])) {
      try model.build(inputShape: [64])
    }
  }

  @Test func configRoundTripsThroughRegistry() throws {
    let registry = LayerRegistry()
    PerceptronLayers.register(in: registry)
    let layer = Dense(units: 7, activation: .leakyRelu(alpha: 0.2), useBias: false, name: "dense_9")
    let copy = try LayerHarness.roundTripConfig(of: layer, registry: registry)
    #expect((copy as? Dense)?.config == layer.config)
    #expect(copy.name == "dense_9")
  }
}
