import Foundation
import PlexusConvolution
import PlexusCore
import PlexusTestSupport
import Testing

@Suite struct DepthwiseConv2DTests {
  @Test func passesTheLayerHarness() throws {
    var test = LayerTest(
      registry: ConvolutionTesting.registry(),
      shapes: [
        LayerShapeCase([6, 5, 3], output: [3, 3, 6]),
        LayerShapeCase([2, 2, 1], output: [1, 1, 2]),
      ],
      badShapes: [[[6, 5]], [[6, 5, 3, 1]], [[6, 5, 3], [6, 5, 3]]]
    ) {
      try DepthwiseConv2D(
        kernelSize: 3, strides: 2, padding: .same, depthMultiplier: 2, activation: .tanh)
    }
    test.epsilon = 1e-2
    try LayerHarness.run(test)
  }

  /// The depthwise kernel `[KH, KW, C, M]` is the grouped kernel `[KH, KW, 1, C * M]` with one
  /// group per channel: output channel `c * M + m` is channel `c` under filter `m`.
  @Test(arguments: [Padding.valid, .same, .explicit(top: 0, bottom: 2, left: 1, right: 0)])
  func matchesTheReferenceOverAGridOfShapes(padding: Padding) throws {
    var generator = SeededGenerator(seed: 41)
    var compared = 0
    for (channels, multiplier) in [(1, 1), (3, 1), (4, 2), (2, 3)] {
      for (kh, kw) in [(1, 1), (3, 3), (2, 3)] {
        for strides in [(1, 1), (2, 2), (1, 2)] {
          for dilation in [(1, 1), (2, 2)] {
            let layer = try DepthwiseConv2D(
              config: .init(
                kernelSize: [kh, kw], strides: [strides.0, strides.1], padding: padding,
                dilation: [dilation.0, dilation.1], depthMultiplier: multiplier,
                biasInitializer: .glorotUniform))
            _ = try layer.build(inputShape: [7, 6, channels], seed: UInt64(compared))
            #expect(layer.kernel.value.shape == [kh, kw, channels, multiplier])
            #expect(layer.bias?.value.shape == [channels * multiplier])
            let input = Tensor.uniform([2, 7, 6, channels], low: -1, high: 1, using: &generator)
            let reference = try #require(
              Reference.conv2d(
                input: input,
                kernel: layer.kernel.value.reshaped([kh, kw, 1, channels * multiplier]),
                bias: layer.bias?.value, strides: strides, dilation: dilation, padding: padding,
                groups: channels))
            let output = try layer(input)
            let label = "C\(channels) M\(multiplier) k\(kh)x\(kw) s\(strides) d\(dilation)"
            #expect(output.shape == reference.shape, "\(label)")
            #expect(try output.maxAbsoluteDifference(to: reference) < 1e-5, "\(label)")
            compared += 1
          }
        }
      }
    }
    #expect(compared == 72)
  }

  @Test func outputChannelsAreChannelMajor() throws {
    // One 1x1 kernel: output c * M + m is x[c] * k[c, m].
    let layer = try DepthwiseConv2D(kernelSize: 1, depthMultiplier: 2, useBias: false)
    _ = try layer.build(inputShape: [1, 1, 2], seed: 0)
    try layer.kernel.assign(try Tensor(shape: [1, 1, 2, 2], scalars: [1, 10, 100, 1000]))
    let output = try layer(try Tensor(shape: [1, 1, 1, 2], scalars: [2, 3]))
    #expect(output.scalars == [2, 20, 300, 3000])
  }

  @Test(arguments: [
    ([3, 3], [1, 1], Padding.same, [1, 1], 1, ActivationFunction.linear),
    ([3, 3], [2, 2], .same, [1, 1], 2, .tanh),
    ([2, 3], [1, 2], .valid, [2, 1], 1, .relu),
    ([3, 2], [2, 1], .explicit(top: 1, bottom: 0, left: 2, right: 1), [1, 2], 3, .gelu),
  ])
  func gradientsMatchFiniteDifferences(
    kernel: [Int], strides: [Int], padding: Padding, dilation: [Int], multiplier: Int,
    activation: ActivationFunction
  ) throws {
    let layer = try DepthwiseConv2D(
      config: .init(
        kernelSize: kernel, strides: strides, padding: padding, dilation: dilation,
        depthMultiplier: multiplier, activation: activation, biasInitializer: .glorotUniform))
    let report = try ConvolutionTesting.gradientReport(
      layer, batchShape: [2, 6, 7, 3], epsilon: activation == .relu ? 1e-3 : 3e-3, floor: 0.1)
    #expect(report.maximumError < 1e-2, "\(report)")
    #expect(report.parameterErrors.count == 2)
  }

  /// The direct depthwise loops and one ordinary convolution per channel (im2col and `gemm`)
  /// give the same outputs and gradients, on one thread and on batches split unevenly across
  /// two; a `Conv2D` with one group per channel, which takes the same loops, agrees too.
  @Test(arguments: [false, true])
  func matchesOneConvolutionPerChannel(threads: Bool) throws {
    func channel(_ tensor: Tensor, _ index: Int, of count: Int) -> Tensor {
      var shape = tensor.shape
      let width = shape[shape.count - 1] / count
      shape[shape.count - 1] = width
      let values = tensor.scalars
      return Tensor(shape: shape) { buffer in
        for position in buffer.indices {
          buffer[position] =
            values[position / width * width * count + index * width + position % width]
        }
      }
    }
    func run() throws {
      let config = DepthwiseConv2D.Config(
        kernelSize: [3, 2], strides: [2, 1], padding: .same, dilation: [1, 2],
        depthMultiplier: 2, activation: .tanh, biasInitializer: .glorotUniform)
      let depthwise = try DepthwiseConv2D(config: config)
      _ = try depthwise.build(inputShape: [7, 6, 3], seed: 5)
      var generator = SeededGenerator(seed: 7)
      let input = Tensor.uniform([3, 7, 6, 3], low: -1, high: 1, using: &generator)
      let outputShape = try ConvolutionTesting.fixedOutputShape(depthwise)
      let gradient = Tensor.uniform([3] + outputShape, low: -1, high: 1, using: &generator)
      let direct = try ConvolutionTesting.forwardAndBackward(
        depthwise, input: input, outputGradient: gradient)
      // The kernel [KH, KW, C, M] as [KH * KW, C * M]: channel c is C kernels [KH, KW, 1, M].
      let kernel = try depthwise.kernel.value.reshaped([6, 6])
      let kernelGradient = try direct.parameterGradients[0].reshaped([6, 6])
      for c in 0..<3 {
        let single = try Conv2D(
          config: .init(
            filters: 2, kernelSize: [3, 2], strides: [2, 1], padding: .same, dilation: [1, 2],
            activation: .tanh))
        _ = try single.build(inputShape: [7, 6, 1], seed: 0)
        try single.kernel.assign(try channel(kernel, c, of: 3).reshaped([3, 2, 1, 2]))
        try single.bias?.assign(channel(try #require(depthwise.bias).value, c, of: 3))
        let one = try ConvolutionTesting.forwardAndBackward(
          single, input: channel(input, c, of: 3),
          outputGradient: channel(gradient, c, of: 3))
        #expect(try one.output.maxAbsoluteDifference(to: channel(direct.output, c, of: 3)) < 1e-5)
        #expect(
          try one.inputGradient.maxAbsoluteDifference(
            to: channel(direct.inputGradient, c, of: 3)) < 1e-5)
        #expect(
          try one.parameterGradients[0].reshaped([6, 2]).maxAbsoluteDifference(
            to: channel(kernelGradient, c, of: 3).reshaped([6, 2])) < 1e-4)
        #expect(
          try one.parameterGradients[1].maxAbsoluteDifference(
            to: channel(direct.parameterGradients[1], c, of: 3)) < 1e-4)
      }
      let grouped = try Conv2D(
        config: .init(
          filters: 6, kernelSize: [3, 2], strides: [2, 1], padding: .same, dilation: [1, 2],
          activation: .tanh, groups: 3))
      _ = try grouped.build(inputShape: [7, 6, 3], seed: 6)
      try grouped.kernel.assign(try depthwise.kernel.value.reshaped([3, 2, 1, 6]))
      try grouped.bias?.assign(try #require(depthwise.bias).value)
      let viaGroups = try ConvolutionTesting.forwardAndBackward(
        grouped, input: input, outputGradient: gradient)
      #expect(try viaGroups.output.maxAbsoluteDifference(to: direct.output) < 1e-6)
      #expect(try viaGroups.inputGradient.maxAbsoluteDifference(to: direct.inputGradient) < 1e-6)
    }
    if threads { try ConvolutionTesting.withThreads(run) } else { try run() }
  }

  @Test func skippingTheInputGradientKeepsTheParameterGradients() throws {
    try ConvolutionTesting.expectSkippingTheInputGradientKeepsParameterGradients(
      DepthwiseConv2D(kernelSize: 3, depthMultiplier: 2, activation: .relu),
      inputShape: [5, 5, 3])
  }

  @Test func badConfigsAndShapesAreRejected() throws {
    for multiplier in [0, -1, Int.max] {
      #expect(throws: PlexusError.self, "\(multiplier)") {
        try DepthwiseConv2D(kernelSize: 3, depthMultiplier: multiplier)
      }
    }
    #expect(throws: PlexusError.self) { try DepthwiseConv2D(kernelSize: 0) }
    #expect(throws: PlexusError.self) { try DepthwiseConv2D(kernelSize: 3, strides: -1) }
    let large = try DepthwiseConv2D(kernelSize: 1, depthMultiplier: 1 << 20)
    #expect(throws: PlexusError.self) { try large.build(inputShape: [1, 1, 1 << 20], seed: 0) }
    let small = try DepthwiseConv2D(kernelSize: 5)
    #expect(throws: PlexusError.self) { try small.build(inputShape: [4, 8, 2], seed: 0) }
  }

  @Test func configRefusesUnknownKeysAndDefaultsAllButKernelSize() throws {
    try LayerHarness.checkConfigDecoding(
      DepthwiseConv2D.self, registry: ConvolutionTesting.registry(),
      minimal: #"{"kernelSize": [3, 3]}"#,
      defaults: DepthwiseConv2D.Config(kernelSize: [3, 3]),
      full: DepthwiseConv2D.Config(
        kernelSize: [3, 2], strides: [2, 1], padding: .same, dilation: [1, 2],
        depthMultiplier: 2, activation: .relu, useBias: false, kernelInitializer: .heNormal,
        biasInitializer: .ones, kernelRegularizer: Regularizer(l2: 0.5),
        biasRegularizer: Regularizer(l1: 0.5)),
      typo: #"{"depth_multiplier": 2}"#, suggestion: "depthMultiplier")
  }
}
