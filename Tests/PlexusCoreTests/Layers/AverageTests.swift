import PlexusCore
import PlexusTestSupport
import Testing

@Suite struct AverageTests {
  @Test func passesTheHarness() throws {
    try LayerHarness.run(mergeTest({ Average() }, inputs: 3))
  }

  @Test func computesItsOperation() throws {
    #expect(try merged(Average(), [1, 2], [3, -1]) == [2, 0.5])
  }

  @Test func configTakesNoKeys() throws {
    try LayerHarness.checkConfigDecoding(
      Average.self, registry: LayerRegistry(), minimal: "{}", defaults: MergeConfig(),
      full: MergeConfig(), typo: #"{"axis": -1}"#, suggestion: nil)
  }
}
