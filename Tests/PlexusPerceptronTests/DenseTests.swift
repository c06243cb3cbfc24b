import PlexusCore
import PlexusPerceptron
import PlexusTestSupport
import Testing

@Suite struct DenseTests {
  @Test func passesTheHarness() throws {
    let registry = LayerRegistry()
    PerceptronLayers.register(in: registry)
    try LayerHarness.run(
      LayerTest(
        registry: registry, shapes: [.init([6], output: [5]), .init([1], output: [5])],
        badShapes: [[[2, 3]], [[]]]
      ) { try Dense(units: 5, activation: .tanh) })
  }

  @Test func numbersFromCallersAreCheckedNotTrapped() throws {
    #expect(throws: PlexusError.self) { try Dense(units: 0) }
    #expect(throws: PlexusError.self) { try Dense(units: -3) }
    #expect(throws: PlexusError.self) { try Dense(units: 1 << 40) }
    #expect(throws: PlexusError.self) { try Dense(0 => 4) }
  }

  @Test(arguments: [
    ActivationFunction.linear, .relu, .tanh, .sigmoid, .softmax, .gelu, .elu(alpha: 1),
    .leakyRelu(alpha: 0.1), .softplus,
  ])
  func gradientsMatchFiniteDifferences(activation: ActivationFunction) throws {
    let layer = try Dense(units: 5, activation: activation, name: "dense_1")
    let report = try GradientCheck.check(layer: layer, batchInputShape: [4, 6])
    #expect(report.maximumError < 1e-2, "\(report)")
    #expect(report.parameterErrors.keys.sorted() == ["dense_1.bias", "dense_1.kernel"])
  }

  @Test func forwardMatchesHandComputation() throws {
    let layer = try Dense(units: 2, name: "d")
    try layer.build(inputShape: [3])
    try layer.kernel.assign(try Tensor(shape: [3, 2], scalars: [1, 2, 3, 4, 5, 6]))
    try layer.bias?.assign(Tensor([0.5, -1]))
    let output = try layer(try Tensor(shape: [1, 3], scalars: [1, 1, 2]))
    let expected: [Float] = [14.5, 17]
    #expect(output.scalars == expected)
  }

  @Test func rejectsWrongInputShape() throws {
    let model = Sequential([try Dense(64 => 32), try Dense(16 => 10)])
    #expect(throws: PlexusError.shapeMismatch(layer: "dense_2", expected: "[16]", found: [32])) {
      try model.build(inputShape: [64])
    }
  }

  @Test func configRoundTripsThroughRegistry() throws {
    let registry = LayerRegistry()
    PerceptronLayers.register(in: registry)
    let layer = try Dense(
      units: 7, activation: .leakyRelu(alpha: 0.2), useBias: false, name: "dense_9")
    let copy = try LayerHarness.roundTripConfig(of: layer, registry: registry)
    #expect((copy as? Dense)?.config == layer.config)
    #expect(copy.name == "dense_9")
  }

  @Test func configRefusesUnknownKeysAndDefaultsAllButUnits() throws {
    let registry = LayerRegistry()
    PerceptronLayers.register(in: registry)
    let message = try LayerHarness.checkConfigDecoding(
      Dense.self, registry: registry, minimal: #"{"units": 4}"#,
      defaults: Dense.Config(
        units: 4, activation: .linear, useBias: true, kernelInitializer: .glorotUniform,
        biasInitializer: .zeros, kernelRegularizer: nil, biasRegularizer: nil),
      full: Dense.Config(
        units: 3, activation: .leakyRelu(alpha: 0.2), useBias: false, kernelInitializer: .heNormal,
        biasInitializer: .ones, kernelRegularizer: Regularizer(l1: 0.5),
        biasRegularizer: Regularizer(l2: 0.25)),
      typo: #"{"activaton": "relu"}"#, suggestion: "activation")
    #expect(
      message
        == "config of layer type 'plexus.dense': unknown key 'activaton' (did you mean "
        + "'activation'?); expected one of activation, biasInitializer, biasRegularizer, "
        + "kernelInitializer, kernelRegularizer, units, useBias")
    // Nested objects are checked too: a regularizer and an activation's parameters.
    func refusal(_ config: JSONValue) -> String {
      do {
        _ = try registry.makeLayer(
          from: LayerDescription(type: Dense.typeName, name: "d", config: config))
        return "accepted"
      } catch PlexusError.invalidConfiguration(let message) {
        return message
      } catch {
        return "\(error)"
      }
    }
    #expect(
      refusal(.object(["units": .number(2), "kernelRegularizer": .object(["l3": .number(1)])]))
        == "config of layer type 'plexus.dense': unknown key 'l3' at .kernelRegularizer (did you "
        + "mean 'l1'?); expected one of l1, l2")
    #expect(
      refusal(
        .object([
          "units": .number(2),
          "activation": .object(["name": .string("leaky_relu"), "alpah": .number(0.1)]),
        ]))
        == "config of layer type 'plexus.dense': activation 'leaky_relu' has no parameter "
        + "'alpah' (did you mean 'alpha'?); its parameters are alpha (at .activation)")
    #expect(
      refusal(.object(["unitz": .number(2)]))
        == "config of layer type 'plexus.dense': unknown key 'unitz' (did you mean 'units'?); "
        + "expected one of activation, biasInitializer, biasRegularizer, kernelInitializer, "
        + "kernelRegularizer, units, useBias")
  }
}
