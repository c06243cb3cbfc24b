import PlexusCore
import PlexusTestSupport
import Testing

@Suite struct SliceLayerTests {
  @Test func passesTheHarness() throws {
    try LayerHarness.run(
      LayerTest(
        registry: LayerRegistry(),
        shapes: [.init([6], output: [3]), .init([2, 6], output: [2, 3])],
        badShapes: [[[3]], [[]]]
      ) { try SliceLayer(start: 1, length: 3) })
  }

  @Test func keepsTheRange() throws {
    let layer = try SliceLayer(start: 1, length: 2)
    try layer.build(inputShape: [4])
    #expect(try layer(try Tensor(shape: [1, 4], scalars: [1, 2, 3, 4])).scalars == [2, 3])
    #expect(throws: PlexusError.self) { try SliceLayer(start: -1, length: 2) }
    #expect(throws: PlexusError.self) { try SliceLayer(start: 0, length: 0) }
  }

  @Test func configDefaultsToTheLastAxisAndRefusesUnknownKeys() throws {
    try LayerHarness.checkConfigDecoding(
      SliceLayer.self, registry: LayerRegistry(), minimal: #"{"start": 1, "length": 2}"#,
      defaults: SliceLayer.Config(axis: -1, start: 1, length: 2),
      full: SliceLayer.Config(axis: 2, start: 0, length: 3), typo: #"{"lenght": 2}"#,
      suggestion: "length")
  }
}
