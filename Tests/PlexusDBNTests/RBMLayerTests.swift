import Foundation
import PlexusCore
import PlexusDBN
import PlexusTestSupport
import Testing

/// Inputs strictly inside `(0, 1)`, so finite differences stay valid Bernoulli visibles.
func unitIntervalInputs(_ shapes: [[Int]], _ generator: inout SeededGenerator) -> [Tensor] {
  shapes.map { shape in
    Tensor.uniform(shape, low: 0.1, high: 0.9, using: &generator)
  }
}

func dbnRegistry() -> LayerRegistry {
  let registry = LayerRegistry()
  DBNLayers.register(in: registry)
  return registry
}

@Suite struct RBMLayerTests {
  @Test func passesTheHarness() throws {
    var test = LayerTest(
      registry: dbnRegistry(), shapes: [.init([6], output: [4]), .init([1], output: [4])],
      badShapes: [[[2, 3]], [[]]]
    ) { try RBMLayer(hiddenUnits: 4, weightStandardDeviation: 0.5) }
    test.makeInputs = unitIntervalInputs
    try LayerHarness.run(test)
  }

  @Test func configDecodesWithDefaultsAndRefusesUnknownKeys() throws {
    let message = try LayerHarness.checkConfigDecoding(
      RBMLayer.self, registry: dbnRegistry(), minimal: #"{"hiddenUnits": 1}"#,
      defaults: RBMLayer.Config(hiddenUnits: 1),
      full: RBMLayer.Config(hiddenUnits: 3, visibleUnits: .gaussian, weightStandardDeviation: 0.5),
      typo: #"{"hiddenUnit": 4}"#, suggestion: "hiddenUnits")
    #expect(message.hasPrefix("config of layer type 'plexus.rbm': unknown key 'hiddenUnit'"))
  }

  @Test func numbersFromCallersAreChecked() {
    #expect(throws: PlexusError.self) { try RBMLayer(hiddenUnits: 0) }
    #expect(throws: PlexusError.self) { try RBMLayer(hiddenUnits: 1 << 40) }
    #expect(throws: PlexusError.self) { try RBMLayer(hiddenUnits: 2, weightStandardDeviation: -1) }
    #expect(throws: PlexusError.self) {
      try RBMLayer(hiddenUnits: 2, weightStandardDeviation: .nan)
    }
  }

  @Test func forwardIsTheSigmoidOfTheAffineMap() throws {
    let layer = try RBMLayer(hiddenUnits: 2, name: "rbm")
    try layer.build(inputShape: [3])
    try layer.weights.assign(try Tensor(shape: [3, 2], scalars: [1, -1, 0.5, 2, 0, 1]))
    try layer.hiddenBias.assign(Tensor([0.25, -0.5]))
    let output = try layer(try Tensor(shape: [1, 3], scalars: [1, 0, 1])).scalars
    let expected = [1.25, -0.5].map { 1 / (1 + exp(-$0)) }
    for (found, wanted) in zip(output, expected) { #expect(abs(Double(found) - wanted) < 1e-6) }
  }

  @Test func bernoulliVisiblesOutsideTheUnitIntervalAreRefused() throws {
    let layer = try RBMLayer(hiddenUnits: 2, name: "rbm")
    try layer.build(inputShape: [3])
    #expect {
      try layer(try Tensor(shape: [2, 3], scalars: [0, 1, 0.5, 0.2, 1.5, 0]))
    } throws: { error in
      "\(error)".contains("sample 1, feature 1 is 1.5") && "\(error)".contains("[0, 1]")
    }
    let gaussian = try RBMLayer(hiddenUnits: 2, visibleUnits: .gaussian, name: "g")
    try gaussian.build(inputShape: [3])
    _ = try gaussian(try Tensor(shape: [1, 3], scalars: [-3, 4, 0.5]))
    #expect(throws: PlexusError.self) {
      try gaussian(try Tensor(shape: [1, 3], scalars: [.infinity, 4, 0.5]))
    }
  }
}
