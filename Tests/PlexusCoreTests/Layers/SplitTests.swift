import PlexusCore
import PlexusTestSupport
import Testing

@Suite struct SplitTests {
  @Test func passesTheHarness() throws {
    try LayerHarness.run(
      LayerTest(
        registry: LayerRegistry(),
        shapes: [.init(inputs: [[2, 5]], outputs: [[2, 2], [2, 3]])],
        badShapes: [[[2, 4]], [[5], [5]]]
      ) { try Split(sizes: [2, 3]) })
  }

  @Test func cutsConsecutiveParts() throws {
    let layer = try Split(axis: 1, sizes: [1, 1])
    try layer.ensureBuilt(inputShapes: [[2, 2]])
    let input = try Tensor(shape: [1, 2, 2], scalars: [1, 2, 3, 4])
    let parts = try layer.run([input], training: false, record: CallRecord())
    #expect(parts.map(\.scalars) == [[1, 2], [3, 4]])
    #expect(throws: PlexusError.self) { try Split(sizes: [0, 2]) }
  }

  @Test func configDefaultsToTheLastAxisAndRefusesUnknownKeys() throws {
    try LayerHarness.checkConfigDecoding(
      Split.self, registry: LayerRegistry(), minimal: #"{"sizes": [2, 3]}"#,
      defaults: Split.Config(axis: -1, sizes: [2, 3]), full: Split.Config(axis: 1, sizes: [1, 1]),
      typo: #"{"size": [2, 3]}"#, suggestion: "sizes")
  }
}
