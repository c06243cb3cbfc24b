import PlexusCore
import PlexusTestSupport
import Testing

@Suite struct MultiplyTests {
  @Test func passesTheHarness() throws {
    try LayerHarness.run(mergeTest({ Multiply() }, inputs: 3))
  }

  @Test func computesItsOperation() throws {
    #expect(try merged(Multiply(), [1, 2], [3, -1]) == [3, -2])
  }

  @Test func configTakesNoKeys() throws {
    try LayerHarness.checkConfigDecoding(
      Multiply.self, registry: LayerRegistry(), minimal: "{}", defaults: MergeConfig(),
      full: MergeConfig(), typo: #"{"axis": -1}"#, suggestion: nil)
  }
}
