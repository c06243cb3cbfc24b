import PlexusCore
import PlexusTestSupport
import Testing

@Suite struct DropoutTests {
  @Test func passesTheHarness() throws {
    var test = LayerTest(
      registry: LayerRegistry(),
      shapes: [.init([6], output: [6]), .init([2, 3], output: [2, 3])],
      badShapes: [[[]]]
    ) { try Dropout(rate: 0.3, seed: 4) }
    // Dropout is random in training: its gradient is checked in inference, and the mask's
    // gradient below.
    test.gradientCheckTraining = false
    try LayerHarness.run(test)
  }

  @Test func trainingMasksAndScalesAndBackwardUsesTheCallsMask() throws {
    let layer = try Dropout(rate: 0.5, seed: 1)
    try layer.build(inputShape: [200])
    let input = Tensor(shape: [2, 200], repeating: 1)
    let first = CallRecord()
    let second = CallRecord()
    let a = try layer(input, training: true, record: first)
    let b = try layer(input, training: true, record: second)
    #expect(a != b)  // two calls, two masks
    #expect(a.scalars.allSatisfy { $0 == 0 || $0 == 2 })
    // Each backward uses the mask of its own call, kept in its record.
    #expect(try layer.gradients([input], record: first)[0] == a)
    #expect(try layer.gradients([input], record: second)[0] == b)
  }

  @Test func configRefusesUnknownKeysAndDefaultsTheSeed() throws {
    try LayerHarness.checkConfigDecoding(
      Dropout.self, registry: LayerRegistry(), minimal: #"{"rate": 0.5}"#,
      defaults: Dropout.Config(rate: 0.5), full: Dropout.Config(rate: 0.25, seed: 7),
      typo: #"{"sede": 7}"#, suggestion: "seed")
  }
}
