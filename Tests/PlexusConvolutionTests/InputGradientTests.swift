import PlexusConvolution
import PlexusCore
import PlexusPerceptron
import Testing

/// `backward(_:computingInputGradient: false)` skips the input gradient and leaves the
/// parameter gradients exactly as `backward(_:)` computes them.
@Suite struct InputGradientTests {
  /// Builds `layer`, runs one training forward pass on a random batch and returns the
  /// parameter gradients and the result of a backward pass with and without the input
  /// gradient.
  static func compare(
    _ layer: any Layer, inputShape: [Int], batch: Int = 3
  ) throws -> (with: [Tensor], without: [Tensor], inputGradient: Tensor, skipped: Tensor?) {
    var generator = SeededGenerator(seed: 11)
    let outputShape = try layer.build(inputShape: inputShape, generator: &generator)
    let input = Tensor.uniform([batch] + inputShape, low: -1, high: 1, using: &generator)
    let gradient = Tensor.uniform([batch] + outputShape, low: -1, high: 1, using: &generator)
    _ = try layer.forward(input, training: true)
    layer.zeroGradients()
    let inputGradient = try layer.backward(gradient)
    let with = layer.parameters.map(\.gradient)
    layer.zeroGradients()
    let skipped = try layer.backward(gradient, computingInputGradient: false)
    let without = layer.parameters.map(\.gradient)
    return (with, without, inputGradient, skipped)
  }

  static func expectSameParameterGradients(_ layer: any Layer, inputShape: [Int]) throws {
    let result = try compare(layer, inputShape: inputShape)
    #expect(result.skipped == nil)
    #expect(result.inputGradient.shape.dropFirst().elementsEqual(inputShape))
    #expect(!result.with.isEmpty)
    #expect(result.with == result.without)
    // The gradients are not trivially zero.
    #expect(result.with.contains { $0.scalars.contains { $0 != 0 } })
  }

  @Test(arguments: [ActivationFunction.linear, .relu, .tanh, .gelu])
  func denseParameterGradientsAreUnchanged(activation: ActivationFunction) throws {
    try Self.expectSameParameterGradients(
      Dense(units: 5, activation: activation), inputShape: [4])
  }

  @Test func conv2dParameterGradientsAreUnchanged() throws {
    let layers: [(Conv2D, [Int])] = [
      (try Conv2D(filters: 4, kernelSize: 3, padding: .same, activation: .relu), [6, 5, 2]),
      (try Conv2D(filters: 3, kernelSize: 2, strides: 2, activation: .tanh), [6, 6, 3]),
      (try Conv2D(filters: 3, kernelSize: 3, padding: .same, activation: .gelu), [5, 5, 2]),
      // One input channel (transposed column layout) and a pointwise kernel.
      (try Conv2D(filters: 4, kernelSize: 3, padding: .same, activation: .sigmoid), [6, 6, 1]),
      (try Conv2D(filters: 4, kernelSize: 1, activation: .relu), [4, 4, 3]),
      (try Conv2D(filters: 2, kernelSize: 3, dilation: 2, useBias: false), [7, 7, 2]),
    ]
    for (layer, shape) in layers {
      try Self.expectSameParameterGradients(layer, inputShape: shape)
    }
  }

  @Test func conv1dAndTransposedParameterGradientsAreUnchanged() throws {
    try Self.expectSameParameterGradients(
      try Conv1D(filters: 3, kernelSize: 3, padding: .same, activation: .relu),
      inputShape: [7, 2])
    try Self.expectSameParameterGradients(
      try Conv2DTranspose(filters: 3, kernelSize: 3, strides: 2, padding: .same),
      inputShape: [3, 3, 2])
    try Self.expectSameParameterGradients(
      try Conv2DTranspose(filters: 2, kernelSize: 1, activation: .tanh), inputShape: [3, 3, 2])
  }

  @Test func sequentialPassesTheRequestToItsFirstLayer() throws {
    let model = Sequential([
      Sequential([
        try Conv2D(filters: 3, kernelSize: 3, padding: .same, activation: .relu),
        try MaxPool2D(poolSize: 2),
      ]),
      Flatten(),
      Dense(units: 4),
    ])
    try model.build(inputShape: [4, 4, 2], seed: 3)
    var generator = SeededGenerator(seed: 5)
    let input = Tensor.uniform([2, 4, 4, 2], low: -1, high: 1, using: &generator)
    let gradient = Tensor.uniform([2, 4], low: -1, high: 1, using: &generator)
    _ = try model.forward(input, training: true)
    model.zeroGradients()
    let inputGradient = try model.backward(gradient)
    let with = model.parameters.map(\.gradient)
    model.zeroGradients()
    #expect(try model.backward(gradient, computingInputGradient: false) == nil)
    #expect(model.parameters.map(\.gradient) == with)
    model.zeroGradients()
    #expect(try model.backward(gradient, computingInputGradient: true) == inputGradient)
    #expect(try Sequential([]).backward(gradient, computingInputGradient: false) == nil)
  }

  @Test func leadingParameterlessLayersAreSkipped() throws {
    let model = Sequential([Flatten(), Dense(units: 3, activation: .tanh), Dense(units: 2)])
    try model.build(inputShape: [2, 3], seed: 1)
    var generator = SeededGenerator(seed: 2)
    let input = Tensor.uniform([4, 2, 3], low: -1, high: 1, using: &generator)
    let gradient = Tensor.uniform([4, 2], low: -1, high: 1, using: &generator)
    _ = try model.forward(input, training: true)
    model.zeroGradients()
    #expect(try model.backward(gradient).shape == [4, 2, 3])
    let with = model.parameters.map(\.gradient)
    model.zeroGradients()
    #expect(try model.backward(gradient, computingInputGradient: false) == nil)
    #expect(model.parameters.map(\.gradient) == with)
    let parameterless = Sequential([Flatten()])
    try parameterless.build(inputShape: [2, 3])
    _ = try parameterless.forward(input, training: true)
    let flatGradient = try input.reshaped([4, 6])
    #expect(try parameterless.backward(flatGradient, computingInputGradient: false) == nil)
  }

  /// Trains two copies of a small CNN with the same seed; in the second the first layer is
  /// wrapped so that it always computes its input gradient. The weights must be identical.
  @Test func trainingGivesTheSameWeightsAsComputingTheInputGradient() throws {
    func model(wrapped: Bool) throws -> Sequential {
      let first = try Conv2D(filters: 4, kernelSize: 3, padding: .same, activation: .relu)
      return Sequential([
        wrapped ? AlwaysInputGradient(first) : first,
        try MaxPool2D(poolSize: 2),
        Flatten(),
        Dense(units: 8, activation: .relu),
        Dense(units: 3),
      ])
    }
    var generator = SeededGenerator(seed: 9)
    let x = Tensor.uniform([24, 6, 6, 1], low: -1, high: 1, using: &generator)
    let oneHot = (0..<24).flatMap { sample in (0..<3).map { Float($0 == sample % 3 ? 1 : 0) } }
    let y = try Tensor(shape: [24, 3], scalars: oneHot)
    var weights: [[Tensor]] = []
    for wrapped in [false, true] {
      let network = try model(wrapped: wrapped)
      try network.fit(
        x, y, loss: CategoricalCrossEntropy(fromLogits: true),
        optimizer: Adam(learningRate: 0.01),
        options: TrainingOptions(epochs: 3, batchSize: 8, seed: 4))
      weights.append(network.parameters.map(\.value))
    }
    #expect(weights[0].count == 6)
    #expect(weights[0] == weights[1])
  }
}

/// Wraps a layer and implements only `backward(_:)`, so that the protocol's default
/// `backward(_:computingInputGradient:)` always computes the input gradient.
final class AlwaysInputGradient: Layer {
  struct Config: LayerConfiguration {}
  static let typeName = "test.always_input_gradient"
  var name = ""
  let config = Config()
  let inner: any Layer

  init(_ inner: any Layer) { self.inner = inner }
  init(config: Config) throws {
    throw PlexusError.invalidConfiguration("test.always_input_gradient wraps a layer")
  }

  var parameters: [Parameter] { inner.parameters }

  func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    try inner.build(inputShape: inputShape, generator: &generator)
  }

  func forward(_ input: Tensor, training: Bool) throws -> Tensor {
    try inner.forward(input, training: training)
  }

  func backward(_ outputGradient: Tensor) throws -> Tensor { try inner.backward(outputGradient) }
}
