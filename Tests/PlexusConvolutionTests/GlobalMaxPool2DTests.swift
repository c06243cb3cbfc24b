import PlexusConvolution
import PlexusCore
import PlexusTestSupport
import Testing

@Suite struct GlobalMaxPool2DTests {
  @Test(arguments: [false, true])
  func passesTheLayerHarness(keepDims: Bool) throws {
    let channels = { (count: Int) in keepDims ? [1, 1, count] : [count] }
    let test = LayerTest(
      registry: ConvolutionTesting.registry(),
      shapes: [
        LayerShapeCase([4, 3, 2], output: channels(2)),
        LayerShapeCase([1, 1, 5], output: channels(5)),
        LayerShapeCase([7, 2, 1], output: channels(1)),
      ],
      badShapes: [[[6, 6]], [[6]], [[6, 6, 2, 1]], [[4, 4, 1], [4, 4, 1]]]
    ) { GlobalMaxPool2D(keepDims: keepDims) }
    try LayerHarness.run(test)
  }

  @Test func takesTheMaximumOfEveryPosition() throws {
    var generator = SeededGenerator(seed: 15)
    let input = Tensor.normal([3, 4, 5, 2], using: &generator)
    let layer = GlobalMaxPool2D(keepDims: true)
    #expect(try layer.build(inputShape: [4, 5, 2], seed: 0) == [1, 1, 2])
    let expected = try #require(
      Reference.pool(input: input, size: (4, 5), strides: (4, 5), padding: .valid, max: true))
    #expect(try layer(input) == expected)
  }

  @Test func gradientsMatchFiniteDifferences() throws {
    for keepDims in [false, true] {
      for training in [false, true] {
        let report = try GradientCheck.check(
          layer: GlobalMaxPool2D(keepDims: keepDims, name: "g"), batchInputShape: [3, 4, 3, 2],
          training: training)
        #expect(report.maximumError < 1e-2, "\(report)")
      }
    }
  }

  /// The routing kept in a reused record is rewritten by every call.
  @Test func aReusedRecordRoutesTheGradientOfItsOwnCall() throws {
    let layer = GlobalMaxPool2D()
    try layer.build(inputShape: [2, 1, 1], seed: 0)
    let record = CallRecord()
    let gradient = try Tensor(shape: [1, 1], scalars: [1])
    _ = try layer(try Tensor(shape: [1, 2, 1, 1], scalars: [1, 0]), record: record)
    #expect(try layer.gradients([gradient], record: record)[0]?.scalars == [1, 0])
    _ = try layer(try Tensor(shape: [1, 2, 1, 1], scalars: [0, 1]), record: record)
    #expect(try layer.gradients([gradient], record: record)[0]?.scalars == [0, 1])
    _ = try layer(try Tensor(shape: [1, 2, 1, 1], scalars: [1, 0]), record: record)
    #expect(try layer.gradients([gradient], record: record)[0]?.scalars == [1, 0])
  }

  @Test func configsRoundTrip() throws {
    let copy = try LayerHarness.roundTripConfig(
      of: GlobalMaxPool2D(), registry: ConvolutionTesting.registry())
    #expect((copy as? GlobalMaxPool2D)?.config.keepDims == false)
  }

  @Test func configRefusesUnknownKeysAndDefaultsKeepDims() throws {
    try LayerHarness.checkConfigDecoding(
      GlobalMaxPool2D.self, registry: ConvolutionTesting.registry(), minimal: "{}",
      defaults: GlobalPoolingConfig(keepDims: false), full: GlobalPoolingConfig(keepDims: true),
      typo: #"{"keepdims": true}"#, suggestion: "keepDims")
  }
}
