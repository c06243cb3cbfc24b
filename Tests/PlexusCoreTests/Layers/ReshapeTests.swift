import PlexusCore
import PlexusTestSupport
import Testing

@Suite struct ReshapeTests {
  @Test func passesTheHarness() throws {
    try LayerHarness.run(
      LayerTest(
        registry: LayerRegistry(),
        shapes: [.init([2, 6], output: [3, 4]), .init([12], output: [3, 4])],
        badShapes: [[[7]], [[5, 2]]]
      ) { try Reshape([-1, 4]) })
  }

  @Test func keepsRowMajorOrder() throws {
    let layer = try Reshape([3, 2])
    try layer.build(inputShape: [6])
    let input = try Tensor(shape: [1, 6], scalars: [1, 2, 3, 4, 5, 6])
    let output = try layer(input)
    #expect(output.shape == [1, 3, 2])
    #expect(output.scalars == input.scalars)
    #expect(throws: PlexusError.self) { try Reshape([-1, -1]) }
    #expect(throws: PlexusError.self) { try Reshape([0, 3]) }
  }

  @Test func configRefusesUnknownKeysAndRoundTrips() throws {
    try LayerHarness.checkConfigDecoding(
      Reshape.self, registry: LayerRegistry(), minimal: #"{"targetShape": [2, -1]}"#,
      defaults: Reshape.Config(targetShape: [2, -1]), full: Reshape.Config(targetShape: [3, 4]),
      typo: #"{"targetshape": [3, 4]}"#, suggestion: "targetShape")
  }
}
