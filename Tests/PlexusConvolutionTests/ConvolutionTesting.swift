import PlexusConvolution
import PlexusCore
import PlexusPerceptron
import PlexusTestSupport
import Testing

/// Helpers shared by the convolution family's tests.
enum ConvolutionTesting {
  /// A registry with the core, perceptron and convolution layers.
  static func registry() -> LayerRegistry {
    let registry = LayerRegistry()
    PerceptronLayers.register(in: registry)
    ConvolutionLayers.register(in: registry)
    return registry
  }

  /// Builds `layer` for the per-sample part of `batchShape` from `seed`, draws a standard
  /// normal batch and compares its gradients with central differences of step `epsilon`.
  ///
  /// Each entry's error is relative, `|a - n| / max(|a| + |n|, floor)`: a floor near the
  /// gradients' scale judges entries near zero by their absolute error, where float rounding
  /// (small steps) or truncation (large steps) would dominate a relative one.
  static func gradientReport(
    _ layer: any Layer, batchShape: [Int], seed: UInt64 = 1, epsilon: Float, floor: Double,
    maximumEntries: Int = 48
  ) throws -> GradientCheckReport {
    try layer.build(inputShape: batchShape.dropFirst().map { $0 }, seed: seed)
    var generator = SeededGenerator(seed: seed &+ 1)
    let input = Tensor.normal(batchShape, using: &generator)
    return try GradientCheck.check(
      layer: layer, input: input, epsilon: epsilon, maximumEntries: maximumEntries, floor: floor)
  }

  /// A built layer's per-sample output shape, with every dimension known.
  static func fixedOutputShape(_ layer: any Layer) throws -> [Int] {
    let shape = try #require(layer.state.outputShapes?.first)
    return try shape.map { try #require($0) }
  }

  /// Runs one call of a built layer and propagates `outputGradient` through it: the output,
  /// the input gradient and the parameter gradients (zeroed first).
  static func forwardAndBackward(
    _ layer: any Layer, input: Tensor, outputGradient: Tensor, training: Bool = true
  ) throws -> (output: Tensor, inputGradient: Tensor, parameterGradients: [Tensor]) {
    layer.zeroGradients()
    let record = CallRecord()
    let output = try layer(input, training: training, record: record)
    let inputGradient = try #require(try layer.gradients([outputGradient], record: record)[0])
    return (output, inputGradient, layer.parameters.map(\.gradient))
  }

  /// Builds `layer` for `inputShape`, runs one training call on a random batch and propagates
  /// a random gradient twice, with and without the input gradient: without it the layer
  /// returns `nil` and leaves exactly the same, non-zero, parameter gradients.
  static func expectSkippingTheInputGradientKeepsParameterGradients(
    _ layer: any Layer, inputShape: [Int], batch: Int = 3,
    sourceLocation: SourceLocation = #_sourceLocation
  ) throws {
    try layer.build(inputShape: inputShape.map { $0 }, seed: 11)
    let outputShape = try fixedOutputShape(layer)
    var generator = SeededGenerator(seed: 12)
    let input = Tensor.uniform([batch] + inputShape, low: -1, high: 1, using: &generator)
    let gradient = Tensor.uniform([batch] + outputShape, low: -1, high: 1, using: &generator)
    let record = CallRecord()
    _ = try layer(input, training: true, record: record)
    layer.zeroGradients()
    let inputGradient = try layer.gradients([gradient], record: record)[0]
    let with = layer.parameters.map(\.gradient)
    layer.zeroGradients()
    let skipped = try layer.gradients([gradient], record: record, computingInputGradients: false)
    let without = layer.parameters.map(\.gradient)
    #expect(inputGradient?.shape == [batch] + inputShape, sourceLocation: sourceLocation)
    #expect(skipped.count == 1 && skipped[0] == nil, sourceLocation: sourceLocation)
    #expect(!with.isEmpty, sourceLocation: sourceLocation)
    #expect(with == without, "\(layer.typeName)", sourceLocation: sourceLocation)
    #expect(
      with.contains { $0.scalars.contains { $0 != 0 } }, "\(layer.typeName)",
      sourceLocation: sourceLocation)
  }

  /// Runs `body` with every convolution pass split across (at least two) threads whatever
  /// its size and the machine's core count, for this task only: tests run concurrently, and
  /// splitting a batch changes the summation order (and so the last bits) of other tests'
  /// results.
  static func withThreads<Result>(_ body: () throws -> Result) throws -> Result {
    try Parallel.maximumThreads.withValue(Swift.max(2, Parallel.maximumThreads.current)) {
      try ConvolutionLayers.minimumParallelWork.withValue(1, operation: body)
    }
  }
}
