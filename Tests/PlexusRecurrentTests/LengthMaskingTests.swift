import PlexusCore
import PlexusRecurrent
import PlexusTestSupport
import Testing

@Suite struct LengthMaskingTests {
  @Test func passesTheHarness() throws {
    var test = LayerTest(
      registry: RecurrentLayerChecks.registry,
      shapes: [
        .init(inputs: [[4, 2], []], outputs: [[4, 2]]),
        .init(inputs: [[3, 2, 2], [1]], outputs: [[3, 2, 2]]),
      ],
      badShapes: [[[4, 2]], [[4], []], [[4, 2], [2]]]
    ) { LengthMasking() }
    test.makeInputs = { shapes, generator in
      let sequences = Tensor.normal(shapes[0], using: &generator)
      let steps = Float(shapes[0][1])
      let lengths = Tensor.uniform(shapes[1], low: 0, high: steps + 1, using: &generator)
        .map { $0.rounded(.down) }
      return [sequences, lengths]
    }
    // Lengths are discrete (a nudged length is refused) and the layer has no parameters:
    // the gradient check has nothing to compare; the sequences' gradient passes through.
    test.checksInputGradients = false
    try LayerHarness.run(test)
  }

  @Test func marksTheStepsFromEachLength() throws {
    let layer = LengthMasking()
    _ = try layer.ensureBuilt(inputShapes: [[3, 1], []])
    let record = CallRecord()
    let x = try Tensor(shape: [2, 3, 1], scalars: [1, 2, 3, 4, 5, 6])
    let output = try layer.run([x, Tensor([1, 3])], training: false, record: record)[0]
    #expect(output == x)
    let mask = try #require(record.outputMasks.first ?? nil)
    #expect(mask.masked == [false, true, true, false, false, false])
    #expect(throws: PlexusError.self) {
      try layer.run([x, Tensor([1, 2, 3])], training: false, record: CallRecord())
    }
  }
}
