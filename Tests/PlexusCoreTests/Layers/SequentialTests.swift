import Foundation
import PlexusCore
import PlexusTestSupport
import Testing

@Suite struct SequentialTests {
  @Test func passesTheHarnessAsALayer() throws {
    try LayerHarness.run(
      LayerTest(
        registry: try graphRegistry(), shapes: [.init([3], output: [2])], badShapes: [[[3, 3]]]
      ) { Sequential([try TestLinear(units: 4), Activation(.tanh), try TestLinear(units: 2)]) })
  }

  @Test func namesLayersAndBuildsLazily() throws {
    let model = Sequential([try TestLinear(units: 2), try TestLinear(units: 2)])
    #expect(model.layers.map(\.name) == ["linear_1", "linear_2"])
    #expect(!model.isBuilt)
    #expect(throws: PlexusError.self) { try model.predict(Tensor.zeros([1, 3])) }
    try model.build(inputShape: [3], seed: 1)
    #expect(model.outputShape == [2])
    #expect(model.layerOutputShapes == [[2], [2]])
  }

  @Test func configRefusesUnknownKeysAtEveryLevel() throws {
    let registry = try graphRegistry()
    let activation = LayerDescription(
      type: Activation.typeName, name: "act", config: .object(["activation": .string("tanh")]))
    try LayerHarness.checkConfigDecoding(
      Sequential.self, registry: registry, minimal: #"{"layers": []}"#,
      defaults: Sequential.Config(layers: []),
      full: Sequential.Config(layers: [activation], inputShape: [nil, 3]),
      typo: #"{"inputshape": [3]}"#, suggestion: "inputShape")

    func refusal(_ config: String) -> String {
      do {
        let json = try JSONDecoder().decode(JSONValue.self, from: Data(config.utf8))
        _ = try registry.makeLayer(
          from: LayerDescription(type: Sequential.typeName, name: "model", config: json))
        return "accepted"
      } catch {
        return "\(error)"
      }
    }
    #expect(
      refusal(
        #"{"layers": [{"type": "plexus.activation", "name": "a", "config": {"activation": "relu"}, "trainabel": false}]}"#
      )
        == "invalid configuration: config of layer type 'plexus.sequential': unknown key "
        + "'trainabel' at .layers[0] (did you mean 'trainable'?); expected one of config, name, "
        + "trainable, type")
    #expect(
      refusal(
        #"{"layers": [{"type": "plexus.activation", "name": "a", "config": {"activaton": "relu"}}]}"#
      )
        == "invalid configuration: config of layer type 'plexus.activation': unknown key "
        + "'activaton' (did you mean 'activation'?); expected one of activation")
    #expect(
      refusal(#"{"layers": [{"type": "plexus.activation", "config": {"activation": "relu"}}]}"#)
        == "invalid configuration: config of layer type 'plexus.sequential': missing key 'name' "
        + "at .layers[0]")
  }
}
