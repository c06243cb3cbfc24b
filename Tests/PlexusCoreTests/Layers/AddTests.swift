import PlexusCore
import PlexusTestSupport
import Testing

@Suite struct AddTests {
  @Test func passesTheHarness() throws {
    try LayerHarness.run(mergeTest({ Add() }, inputs: 3))
  }

  @Test func computesItsOperation() throws {
    #expect(try merged(Add(), [1, 2], [3, -1]) == [4, 1])
  }

  @Test func configTakesNoKeys() throws {
    try LayerHarness.checkConfigDecoding(
      Add.self, registry: LayerRegistry(), minimal: "{}", defaults: MergeConfig(),
      full: MergeConfig(), typo: #"{"axis": -1}"#, suggestion: nil)
  }
}
