import PlexusCore
import PlexusTestSupport
import Testing

@Suite struct MinimumTests {
  @Test func passesTheHarness() throws {
    try LayerHarness.run(mergeTest({ Minimum() }, inputs: 3))
  }

  @Test func computesItsOperation() throws {
    #expect(try merged(Minimum(), [1, 2], [3, -1]) == [1, -1])
  }

  @Test func configTakesNoKeys() throws {
    try LayerHarness.checkConfigDecoding(
      Minimum.self, registry: LayerRegistry(), minimal: "{}", defaults: MergeConfig(),
      full: MergeConfig(), typo: #"{"axis": -1}"#, suggestion: nil)
  }
}
