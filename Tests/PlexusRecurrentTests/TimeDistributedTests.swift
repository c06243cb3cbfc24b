import PlexusCore
import PlexusPerceptron
import PlexusTestSupport
import Testing

@testable import PlexusRecurrent

@Suite struct TimeDistributedTests {
  static let registry: LayerRegistry = {
    let registry = LayerRegistry()
    PerceptronLayers.register(in: registry)
    RecurrentLayers.register(in: registry)
    return registry
  }()

  @Test func passesTheHarness() throws {
    let test = LayerTest(
      registry: Self.registry,
      shapes: [.init([5, 3], output: [5, 2]), .init([1, 3], output: [1, 2])],
      badShapes: [[[3]]]
    ) { TimeDistributed(try Dense(units: 2, activation: .tanh)) }
    try LayerHarness.run(test)
  }

  @Test func appliesTheLayerAtEveryStepOfAnyLength() throws {
    let dense = try Dense(units: 2, activation: .sigmoid)
    let layer = TimeDistributed(dense)
    try layer.build(inputShape: [nil, 3], seed: 4)
    var generator = SeededGenerator(seed: 8)
    for steps in [5, 2] {
      let x = Tensor.normal([2, steps, 3], using: &generator)
      let output = try layer(x)
      #expect(output.shape == [2, steps, 2])
      let direct = try dense(try x.reshaped([2 * steps, 3]))
      #expect(output.scalars == direct.scalars)
    }
    #expect(layer.namedParameters.map(\.parameter.name) == ["kernel", "bias"])
  }

  @Test func wrapsARecurrentLayerOverSequencesOfSequences() throws {
    let layer = TimeDistributed(try GRU(units: 3))
    try layer.build(inputShape: [4, 5, 2], seed: 1)
    var generator = SeededGenerator(seed: 2)
    #expect(try layer(Tensor.normal([2, 4, 5, 2], using: &generator)).shape == [2, 4, 3])
  }

  @Test func configRefusesUnknownKeys() throws {
    let inner = LayerDescription(
      type: "plexus.dense", name: "layer", config: .object(["units": .number(3)]))
    let layer = try TimeDistributed.make(config: .init(layer: inner), registry: Self.registry)
    try LayerHarness.checkConfigDecoding(
      TimeDistributed.self, registry: Self.registry,
      minimal: #"{"layer": {"type": "plexus.dense", "name": "layer", "config": {"units": 3}}}"#,
      defaults: layer.config, full: layer.config, typo: #"{"steps": 3}"#, suggestion: nil)
  }
}
