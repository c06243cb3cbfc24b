import PlexusCore
import PlexusTestSupport
import Testing

@Suite struct ConcatenateTests {
  @Test func passesTheHarness() throws {
    try LayerHarness.run(
      LayerTest(
        registry: LayerRegistry(),
        shapes: [
          .init(inputs: [[2, 3], [2, 4]], outputs: [[2, 7]]),
          .init(inputs: [[2], [3], [1]], outputs: [[6]]),
        ],
        badShapes: [[[2, 3], [3, 3]], [[2]]]
      ) { Concatenate() })
    try LayerHarness.run(
      LayerTest(
        registry: LayerRegistry(), shapes: [.init(inputs: [[2, 3], [1, 3]], outputs: [[3, 3]])],
        badShapes: [[[2, 3], [2, 4]]]
      ) { Concatenate(axis: 1) })
  }

  @Test func joinsAlongTheAxisInOrder() throws {
    let layer = Concatenate(axis: 1)
    try layer.ensureBuilt(inputShapes: [[1, 2], [1, 2]])
    let a = try Tensor(shape: [1, 1, 2], scalars: [1, 2])
    let b = try Tensor(shape: [1, 1, 2], scalars: [3, 4])
    let output = try layer.run([a, b], training: false, record: CallRecord())[0]
    #expect(output.shape == [1, 2, 2])
    #expect(output.scalars == [1, 2, 3, 4])
    #expect(throws: PlexusError.self) {
      try Concatenate(axis: 0).ensureBuilt(inputShapes: [[2], [2]])
    }
  }

  @Test func configDefaultsToTheLastAxisAndRefusesUnknownKeys() throws {
    try LayerHarness.checkConfigDecoding(
      Concatenate.self, registry: LayerRegistry(), minimal: "{}",
      defaults: Concatenate.Config(axis: -1), full: Concatenate.Config(axis: 1),
      typo: #"{"axes": 1}"#, suggestion: "axis")
  }
}
