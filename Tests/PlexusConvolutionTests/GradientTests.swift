import Foundation
import PlexusConvolution
import PlexusCore
import PlexusTestSupport
import Testing

/// Finite-difference checks of every layer's backward pass, with batch > 1.
@Suite struct GradientTests {
  static let tolerance = 1e-2

  struct Conv2DCase: Sendable, CustomStringConvertible {
    var kernel: [Int]
    var strides: [Int] = [1, 1]
    var padding: Padding = .valid
    var dilation: [Int] = [1, 1]
    var activation: ActivationFunction = .linear
    var useBias = true
    var channels = 2
    var description: String {
      "k\(kernel) s\(strides) \(padding) d\(dilation) \(activation.name) bias \(useBias) C\(channels)"
    }
  }

  static let conv2dCases: [Conv2DCase] = [
    Conv2DCase(kernel: [3, 3], padding: .same),
    Conv2DCase(kernel: [2, 2], padding: .same),
    Conv2DCase(kernel: [4, 4], padding: .same, activation: .tanh),
    Conv2DCase(kernel: [3, 3], strides: [2, 2], padding: .same),
    Conv2DCase(kernel: [2, 2], strides: [2, 2], padding: .same),
    Conv2DCase(kernel: [2, 3], strides: [2, 1], padding: .valid, activation: .sigmoid),
    Conv2DCase(kernel: [3, 3], padding: .same, dilation: [2, 2]),
    Conv2DCase(kernel: [2, 2], strides: [1, 2], padding: .valid, dilation: [2, 1]),
    Conv2DCase(
      kernel: [3, 2], strides: [2, 2], padding: .explicit(top: 2, bottom: 0, left: 1, right: 1)),
    Conv2DCase(kernel: [1, 1]),
    Conv2DCase(kernel: [1, 1], strides: [2, 2], useBias: false),
    Conv2DCase(kernel: [3, 3], padding: .same, activation: .relu, useBias: false),
    // A single input channel takes the transposed column layout.
    Conv2DCase(kernel: [3, 3], padding: .same, activation: .tanh, channels: 1),
    Conv2DCase(kernel: [2, 2], strides: [2, 2], padding: .same, channels: 1),
    Conv2DCase(kernel: [3, 2], strides: [1, 2], padding: .valid, dilation: [2, 1], channels: 1),
    Conv2DCase(
      kernel: [3, 3], strides: [2, 3], padding: .explicit(top: 1, bottom: 2, left: 2, right: 0),
      channels: 1),
  ]

  @Test(arguments: conv2dCases)
  func conv2d(_ testCase: Conv2DCase) throws {
    let layer = try Conv2D(
      config: .init(
        filters: 3, kernelSize: testCase.kernel, strides: testCase.strides,
        padding: testCase.padding,
        dilation: testCase.dilation, activation: testCase.activation, useBias: testCase.useBias,
        biasInitializer: .glorotUniform))
    layer.name = "conv2d_1"
    // Smooth layers take a larger step (less float rounding); ReLU a small one (kinks).
    let epsilon: Float = testCase.activation == .relu ? 1e-3 : 1e-2
    let report = try GradientCheck.check(
      layer: layer, batchInputShape: [3, 6, 7, testCase.channels], epsilon: epsilon,
      maximumEntries: 48)
    #expect(report.maximumError < Self.tolerance, "\(testCase): \(report)")
    #expect(report.parameterErrors.count == (testCase.useBias ? 2 : 1))
  }

  @Test(arguments: [
    (3, 1, Padding.same, 1), (2, 1, .same, 1), (3, 2, .same, 1), (2, 2, .valid, 2),
    (3, 1, .explicit(top: 0, bottom: 0, left: 2, right: 0), 1),
  ])
  func conv1d(kernelSize: Int, stride: Int, padding: Padding, dilation: Int) throws {
    let layer = try Conv1D(
      filters: 4, kernelSize: kernelSize, strides: stride, padding: padding, dilation: dilation,
      activation: .tanh,
      name: "conv1d_1")
    let report = try GradientCheck.check(
      layer: layer, batchInputShape: [3, 9, 2], maximumEntries: 48)
    #expect(report.maximumError < Self.tolerance, "\(report)")
    #expect(report.parameterErrors.keys.sorted() == ["conv1d_1.bias", "conv1d_1.kernel"])
  }

  @Test(arguments: [
    (3, 2, Padding.same, 1), (2, 2, .valid, 1), (4, 2, .same, 1),
    (3, 1, .explicit(top: 1, bottom: 1, left: 0, right: 1), 1),
    (3, 1, .same, 2), (1, 1, .valid, 1), (1, 2, .valid, 1),
  ])
  func conv2dTranspose(kernelSize: Int, stride: Int, padding: Padding, dilation: Int) throws {
    let layer = try Conv2DTranspose(
      config: .init(
        filters: 3, kernelSize: [kernelSize, kernelSize], strides: [stride, stride],
        padding: padding,
        dilation: [dilation, dilation], activation: .tanh, biasInitializer: .glorotUniform))
    layer.name = "conv2d_transpose_1"
    let report = try GradientCheck.check(
      layer: layer, batchInputShape: [2, 4, 3, 2], maximumEntries: 48)
    #expect(report.maximumError < Self.tolerance, "\(report)")
    #expect(report.parameterErrors.count == 2)
  }

  @Test(arguments: [
    (2, 2, Padding.valid), (3, 2, .same), (2, 1, .same),
    (3, 3, .explicit(top: 1, bottom: 1, left: 1, right: 0)),
  ])
  func pooling(size: Int, stride: Int, padding: Padding) throws {
    let maxPool = try MaxPool2D(
      poolSize: size, strides: stride, padding: padding, name: "max_pool2d_1")
    let maxReport = try GradientCheck.check(
      layer: maxPool, batchInputShape: [2, 7, 6, 5], maximumEntries: 96)
    #expect(maxReport.maximumError < Self.tolerance, "max: \(maxReport)")
    let averagePool = try AveragePool2D(
      poolSize: size, strides: stride, padding: padding, name: "average_pool2d_1")
    let averageReport = try GradientCheck.check(
      layer: averagePool, batchInputShape: [2, 7, 6, 5], maximumEntries: 96)
    #expect(averageReport.maximumError < Self.tolerance, "average: \(averageReport)")
  }

  @Test func globalPooling() throws {
    for layer in [GlobalAveragePool2D(name: "g"), GlobalAveragePool2D(keepDims: true, name: "g")]
      as [any Layer]
    {
      let report = try GradientCheck.check(layer: layer, batchInputShape: [3, 4, 3, 2])
      #expect(report.maximumError < Self.tolerance, "\(report)")
    }
    for layer in [GlobalMaxPool2D(name: "g"), GlobalMaxPool2D(keepDims: true, name: "g")]
      as [any Layer]
    {
      let report = try GradientCheck.check(layer: layer, batchInputShape: [3, 4, 3, 2])
      #expect(report.maximumError < Self.tolerance, "\(report)")
    }
  }

  @Test(arguments: [[4, 3, 3, 2], [6, 5], [3, 4, 3]])
  func batchNormalizationInTraining(shape: [Int]) throws {
    let layer = try BatchNormalization(name: "batch_normalization_1")
    var generator = SeededGenerator(seed: 9)
    _ = try layer.build(inputShape: Array(shape.dropFirst()), generator: &generator)
    try layer.gamma?.assign(Tensor.uniform([shape.last!], low: 0.5, high: 1.5, using: &generator))
    try layer.beta?.assign(Tensor.uniform([shape.last!], low: -0.5, high: 0.5, using: &generator))
    let input = Tensor.normal(shape, mean: 0.3, standardDeviation: 1.5, using: &generator)
    let report = try GradientCheck.check(
      layer: layer, input: input, training: true, epsilon: 4e-3, maximumEntries: 48)
    #expect(report.maximumError < Self.tolerance, "\(report)")
    #expect(
      report.parameterErrors.keys.sorted() == [
        "batch_normalization_1.beta", "batch_normalization_1.gamma",
      ])
  }

  @Test func batchNormalizationInInference() throws {
    let layer = try BatchNormalization(center: false, name: "bn")
    var generator = SeededGenerator(seed: 4)
    _ = try layer.build(inputShape: [3, 3, 2], generator: &generator)
    try layer.movingMean?.assign(Tensor([0.2, -0.4]))
    try layer.movingVariance?.assign(Tensor([0.5, 2]))
    try layer.gamma?.assign(Tensor([1.5, 0.7]))
    let input = Tensor.normal([3, 3, 3, 2], using: &generator)
    let report = try GradientCheck.check(layer: layer, input: input, training: false)
    #expect(report.maximumError < Self.tolerance, "\(report)")
  }

  @Test func paddingAndUpSampling() throws {
    let pad = try ZeroPadding2D(top: 1, bottom: 2, left: 0, right: 1, name: "zero_padding2d_1")
    let padReport = try GradientCheck.check(layer: pad, batchInputShape: [2, 3, 4, 2])
    #expect(padReport.maximumError < Self.tolerance, "\(padReport)")
    let up = try UpSampling2D(config: .init(size: [2, 3]))
    up.name = "up_sampling2d_1"
    let upReport = try GradientCheck.check(layer: up, batchInputShape: [2, 3, 2, 2])
    #expect(upReport.maximumError < Self.tolerance, "\(upReport)")
  }
}

/// Layers whose batch the lowering splits across threads (on machines with more than one
/// core, with the threshold lowered) and unrolls in several tiles per thread.
@Suite struct LargeConvolutionTests {
  /// Runs `body` with batches split across threads whatever their size.
  func withThreads(_ body: () throws -> Void) rethrows {
    // For this test's task only: tests run concurrently, and splitting the batch changes the
    // summation order (and so the last bits) of other tests' results.
    try ConvolutionLayers.withMinimumParallelWork(1, body)
  }

  @Test func largeConv2dMatchesTheReferenceAndFiniteDifferences() throws {
    try withThreads(checkLargeConv2d)
  }

  func checkLargeConv2d() throws {
    var generator = SeededGenerator(seed: 31)
    let layer = try Conv2D(
      filters: 32, kernelSize: 3, strides: 1, padding: .same, activation: .tanh, name: "conv2d_1")
    _ = try layer.build(inputShape: [16, 16, 8], generator: &generator)
    let input = Tensor.normal([8, 16, 16, 8], using: &generator)
    let kernel = try #require(layer.kernel)
    let reference = try #require(
      Reference.conv2d(
        input: input, kernel: kernel.value, bias: layer.bias?.value, strides: (1, 1),
        dilation: (1, 1),
        padding: .same))
    let activated = reference.map { Float(Foundation.tanh(Double($0))) }
    #expect(try layer.forward(input, training: true).maxAbsoluteDifference(to: activated) < 1e-4)
    let report = try GradientCheck.check(
      layer: layer, input: input, epsilon: 3e-3, maximumEntries: 24)
    #expect(report.maximumError < 1e-2, "\(report)")
  }

  @Test func largeConv2dTransposeMatchesTheReferenceAndFiniteDifferences() throws {
    try withThreads(checkLargeConv2dTranspose)
  }

  func checkLargeConv2dTranspose() throws {
    var generator = SeededGenerator(seed: 32)
    let layer = try Conv2DTranspose(
      filters: 16, kernelSize: 3, strides: 2, padding: .same, name: "t")
    _ = try layer.build(inputShape: [8, 8, 16], generator: &generator)
    let input = Tensor.normal([8, 8, 8, 16], using: &generator)
    let kernel = try #require(layer.kernel)
    let reference = Reference.conv2dTranspose(
      input: input, kernel: kernel.value, bias: layer.bias?.value, strides: (2, 2),
      dilation: (1, 1),
      padding: .same)
    #expect(try layer.forward(input, training: true).maxAbsoluteDifference(to: reference) < 1e-4)
    let report = try GradientCheck.check(
      layer: layer, input: input, epsilon: 1e-2, maximumEntries: 24)
    #expect(report.maximumError < 1e-2, "\(report)")
  }
}
