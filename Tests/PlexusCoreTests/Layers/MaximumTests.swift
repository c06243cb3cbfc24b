import PlexusCore
import PlexusTestSupport
import Testing

@Suite struct MaximumTests {
  @Test func passesTheHarness() throws {
    try LayerHarness.run(mergeTest({ Maximum() }, inputs: 3))
  }

  @Test func computesItsOperation() throws {
    #expect(try merged(Maximum(), [1, 2], [3, -1]) == [3, 2])
  }

  @Test func configTakesNoKeys() throws {
    try LayerHarness.checkConfigDecoding(
      Maximum.self, registry: LayerRegistry(), minimal: "{}", defaults: MergeConfig(),
      full: MergeConfig(), typo: #"{"axis": -1}"#, suggestion: nil)
  }
}
