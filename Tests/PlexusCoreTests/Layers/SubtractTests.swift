import PlexusCore
import PlexusTestSupport
import Testing

@Suite struct SubtractTests {
  @Test func passesTheHarness() throws {
    try LayerHarness.run(mergeTest({ Subtract() }, inputs: 2))
  }

  @Test func computesItsOperation() throws {
    #expect(try merged(Subtract(), [1, 2], [3, -1]) == [-2, 3])
  }

  @Test func configTakesNoKeys() throws {
    try LayerHarness.checkConfigDecoding(
      Subtract.self, registry: LayerRegistry(), minimal: "{}", defaults: MergeConfig(),
      full: MergeConfig(), typo: #"{"axis": -1}"#, suggestion: nil)
  }
}
