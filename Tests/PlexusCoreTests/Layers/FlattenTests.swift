import PlexusCore
import PlexusTestSupport
import Testing

@Suite struct FlattenTests {
  @Test func passesTheHarness() throws {
    try LayerHarness.run(
      LayerTest(
        registry: LayerRegistry(),
        shapes: [.init([2, 3, 4], output: [24]), .init([5], output: [5])],
        badShapes: [[[]]]
      ) { Flatten() })
  }

  @Test func refusesAVariableDimension() throws {
    #expect(throws: PlexusError.self) { try Flatten().ensureBuilt(inputShapes: [[nil, 3]]) }
  }

  @Test func configTakesNoKeys() throws {
    let message = try LayerHarness.checkConfigDecoding(
      Flatten.self, registry: LayerRegistry(), minimal: "{}", defaults: Flatten.Config(),
      full: Flatten.Config(), typo: #"{"axis": 1}"#, suggestion: nil)
    #expect(
      message == "config of layer type 'plexus.flatten': unknown key 'axis'; expected no keys")
  }
}
