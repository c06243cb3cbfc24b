import PlexusCore
import PlexusTestSupport
import Testing

@Suite struct ModelTests {
  @Test func passesTheHarnessAsALayer() throws {
    try LayerHarness.run(
      LayerTest(
        registry: try graphRegistry(), shapes: [.init(inputs: [[4], [4]], outputs: [[2]])],
        badShapes: [[[4]], [[4], [5]]]
      ) { try twoInputResidualModel() })
  }

  @Test func outputsAreNamedAfterTheirLayers() throws {
    let x = try Input(shape: [2], name: "x")
    let linear = try TestLinear(units: 2)
    let model = try Model(inputs: [x], outputs: [try linear(x), try linear(try linear(x))])
    #expect(model.outputSpecs.map(\.name) == ["linear_1", "linear_1_call3"])
    #expect(model.inputSpecs.map(\.name) == ["x"])
  }

  @Test func configRefusesUnknownKeysAtEveryLevel() throws {
    let registry = try graphRegistry()
    let stored = try JSONValue(encoding: try twoInputResidualModel().config)
    #expect(
      try registry.makeLayer(
        from: LayerDescription(type: Model.typeName, name: "copy", config: stored)) is Model)
    func refusal(_ key: String, at path: [String]) -> String {
      let config = inserting(key, .bool(true), into: stored, at: path[...])
      do {
        _ = try registry.makeLayer(
          from: LayerDescription(type: Model.typeName, name: "copy", config: config))
        return "accepted"
      } catch PlexusError.invalidConfiguration(let message) {
        return message
      } catch {
        return "\(error)"
      }
    }
    let model = "config of layer type 'plexus.model': unknown key"
    #expect(
      refusal("noeds", at: [])
        == "\(model) 'noeds' (did you mean 'nodes'?); expected one of inputs, layers, nodes, outputs"
    )
    #expect(
      refusal("shpae", at: ["inputs", "0"])
        == "\(model) 'shpae' at .inputs[0] (did you mean 'shape'?); expected one of name, shape")
    #expect(
      refusal("layr", at: ["nodes", "1"])
        == "\(model) 'layr' at .nodes[1] (did you mean 'layer'?); expected one of inputs, layer")
    #expect(
      refusal("tensr", at: ["outputs", "0"])
        == "\(model) 'tensr' at .outputs[0] (did you mean 'tensor'?); expected one of name, tensor")
    #expect(
      refusal("Trainable", at: ["layers", "0"])
        == "\(model) 'Trainable' at .layers[0] (did you mean 'trainable'?); expected one of "
        + "config, name, trainable, type")
    guard case .array(let layers)? = stored["layers"],
      let activation = layers.firstIndex(where: { $0["type"] == .string(Activation.typeName) })
    else {
      Issue.record("the model stores an activation layer")
      return
    }
    #expect(
      refusal("activaton", at: ["layers", "\(activation)", "config"])
        == "config of layer type 'plexus.activation': unknown key 'activaton' (did you mean "
        + "'activation'?); expected one of activation")
    // Every key of a graph architecture is required.
    guard case .object(let members) = stored else {
      Issue.record("a model config is an object")
      return
    }
    for key in members.keys {
      let config = JSONValue.object(members.filter { $0.key != key })
      #expect(
        throws: PlexusError.invalidConfiguration(
          "config of layer type 'plexus.model': missing key '\(key)' at the top level")
      ) {
        try registry.makeLayer(
          from: LayerDescription(type: Model.typeName, name: "copy", config: config))
      }
    }
  }
}

/// `json` with the member `key: value` added to the object at `path` (object keys, and array
/// indexes as decimal strings).
private func inserting(
  _ key: String, _ value: JSONValue, into json: JSONValue, at path: ArraySlice<String>
)
  -> JSONValue
{
  switch (json, path.first) {
  case (.object(var members), nil):
    members[key] = value
    return .object(members)
  case (.object(var members), let step?):
    members[step] = inserting(key, value, into: members[step] ?? .null, at: path.dropFirst())
    return .object(members)
  case (.array(var items), let step?):
    guard let index = Int(step), items.indices.contains(index) else { return json }
    items[index] = inserting(key, value, into: items[index], at: path.dropFirst())
    return .array(items)
  default:
    return json
  }
}
