import Foundation
import PlexusConvolution
import PlexusCore
import PlexusTestSupport
import Testing

@Suite struct SeparableConv2DTests {
  @Test func passesTheLayerHarness() throws {
    var test = LayerTest(
      registry: ConvolutionTesting.registry(),
      shapes: [
        LayerShapeCase([6, 5, 3], output: [3, 3, 4]),
        LayerShapeCase([2, 2, 1], output: [1, 1, 4]),
      ],
      badShapes: [[[6, 5]], [[6, 5, 3, 1]], [[6, 5, 3], [6, 5, 3]]]
    ) {
      try SeparableConv2D(
        filters: 4, kernelSize: 3, strides: 2, padding: .same, depthMultiplier: 2,
        activation: .tanh)
    }
    test.epsilon = 1e-2
    try LayerHarness.run(test)
  }

  @Test func isADepthwiseThenAPointwiseConvolution() throws {
    let layer = try SeparableConv2D(
      config: .init(
        filters: 5, kernelSize: [3, 2], strides: [1, 2], padding: .same, dilation: [2, 1],
        depthMultiplier: 2, activation: .sigmoid, biasInitializer: .glorotUniform))
    _ = try layer.build(inputShape: [6, 7, 3], seed: 3)
    #expect(layer.depthwiseKernel.value.shape == [3, 2, 3, 2])
    #expect(layer.pointwiseKernel.value.shape == [1, 1, 6, 5])
    #expect(layer.bias?.value.shape == [5])
    #expect(layer.parameters.map(\.name) == ["depthwise_kernel", "pointwise_kernel", "bias"])
    var generator = SeededGenerator(seed: 4)
    let input = Tensor.uniform([2, 6, 7, 3], low: -1, high: 1, using: &generator)
    let middle = try #require(
      Reference.conv2d(
        input: input, kernel: layer.depthwiseKernel.value.reshaped([3, 2, 1, 6]), bias: nil,
        strides: (1, 2), dilation: (2, 1), padding: .same, groups: 3))
    let reference = try #require(
      Reference.conv2d(
        input: middle, kernel: layer.pointwiseKernel.value, bias: layer.bias?.value,
        strides: (1, 1), dilation: (1, 1), padding: .valid))
    let output = try layer(input)
    #expect(output.shape == [2, 6, 4, 5])
    #expect(
      try output.maxAbsoluteDifference(to: reference.map { 1 / (1 + Float(exp(-$0))) }) < 1e-5)
  }

  @Test(arguments: [(1, ActivationFunction.linear, true), (2, .relu, false), (3, .gelu, true)])
  func gradientsMatchFiniteDifferences(
    multiplier: Int, activation: ActivationFunction, useBias: Bool
  ) throws {
    let layer = try SeparableConv2D(
      config: .init(
        filters: 3, kernelSize: [3, 3], strides: [2, 1], padding: .same,
        depthMultiplier: multiplier, activation: activation, useBias: useBias,
        biasInitializer: .glorotUniform))
    let report = try ConvolutionTesting.gradientReport(
      layer, batchShape: [2, 5, 6, 2], epsilon: activation == .relu ? 1e-3 : 3e-3, floor: 0.1)
    #expect(report.maximumError < 1e-2, "\(report)")
    #expect(report.parameterErrors.count == (useBias ? 3 : 2))
  }

  @Test func skippingTheInputGradientKeepsTheParameterGradients() throws {
    try ConvolutionTesting.expectSkippingTheInputGradientKeepsParameterGradients(
      SeparableConv2D(filters: 3, kernelSize: 3, activation: .relu), inputShape: [5, 5, 2])
  }

  @Test func badConfigsAreRejectedNamingTheLayer() throws {
    do {
      _ = try SeparableConv2D(filters: 0, kernelSize: 3)
      Issue.record("0 filters were accepted")
    } catch PlexusError.invalidConfiguration(let message) {
      #expect(message.hasPrefix("separable_conv2d filters must be in 1..."), "\(message)")
    }
    #expect(throws: PlexusError.self) { try SeparableConv2D(filters: 2, kernelSize: -3) }
    do {
      _ = try SeparableConv2D(filters: 2, kernelSize: 3, depthMultiplier: 0)
      Issue.record("a depth multiplier of 0 was accepted")
    } catch PlexusError.invalidConfiguration(let message) {
      #expect(message.hasPrefix("separable_conv2d depthMultiplier must be in 1..."), "\(message)")
    }
  }

  @Test func configRefusesUnknownKeysAndDefaultsAllButFiltersAndKernelSize() throws {
    try LayerHarness.checkConfigDecoding(
      SeparableConv2D.self, registry: ConvolutionTesting.registry(),
      minimal: #"{"filters": 4, "kernelSize": [3, 3]}"#,
      defaults: SeparableConv2D.Config(filters: 4, kernelSize: [3, 3]),
      full: SeparableConv2D.Config(
        filters: 2, kernelSize: [3, 2], strides: [2, 1], padding: .same, dilation: [1, 2],
        depthMultiplier: 3, activation: .softplus, useBias: false, depthwiseInitializer: .heUniform,
        pointwiseInitializer: .lecunNormal, biasInitializer: .ones,
        depthwiseRegularizer: Regularizer(l1: 0.1), pointwiseRegularizer: Regularizer(l2: 0.2),
        biasRegularizer: Regularizer(l2: 0.3)),
      typo: #"{"pointwise_initializer": "zeros"}"#, suggestion: "pointwiseInitializer")
  }
}
