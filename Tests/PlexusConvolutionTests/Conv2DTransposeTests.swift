import PlexusConvolution
import PlexusCore
import PlexusTestSupport
import Testing

@Suite struct Conv2DTransposeTests {
  @Test func passesTheLayerHarness() throws {
    var test = LayerTest(
      registry: ConvolutionTesting.registry(),
      shapes: [
        LayerShapeCase([4, 3, 2], output: [8, 6, 3]),
        LayerShapeCase([1, 1, 1], output: [2, 2, 3]),
        LayerShapeCase([2, 5, 4], output: [4, 10, 3]),
      ],
      badShapes: [[[4, 3]], [[4, 3, 2, 1]], [[4, 3, 2], [4, 3, 2]]]
    ) {
      try Conv2DTranspose(filters: 3, kernelSize: 3, strides: 2, padding: .same, activation: .tanh)
    }
    test.epsilon = 1e-2
    try LayerHarness.run(test)
  }

  @Test(arguments: [
    (3, 2, Padding.same, 1), (2, 2, .valid, 1), (4, 2, .same, 1),
    (3, 1, .explicit(top: 1, bottom: 1, left: 0, right: 1), 1),
    (3, 1, .same, 2), (1, 1, .valid, 1), (1, 2, .valid, 1),
  ])
  func gradientsMatchFiniteDifferences(
    kernelSize: Int, stride: Int, padding: Padding, dilation: Int
  ) throws {
    let layer = try Conv2DTranspose(
      config: .init(
        filters: 3, kernelSize: [kernelSize, kernelSize], strides: [stride, stride],
        padding: padding, dilation: [dilation, dilation], activation: .tanh,
        biasInitializer: .glorotUniform))
    layer.name = "conv2d_transpose_1"
    let report = try ConvolutionTesting.gradientReport(
      layer, batchShape: [2, 4, 3, 2], epsilon: 1e-2, floor: 1e-2)
    #expect(report.maximumError < 1e-2, "\(report)")
    #expect(report.parameterErrors.count == 2)
  }

  @Test func matchesDirectScatter() throws {
    var generator = SeededGenerator(seed: 13)
    let paddings: [Padding] = [.valid, .same, .explicit(top: 1, bottom: 0, left: 0, right: 1)]
    for padding in paddings {
      for (kernel, stride, dilation) in [
        (1, 1, 1), (3, 2, 1), (2, 2, 1), (3, 1, 2), (4, 3, 1), (1, 2, 1),
      ] {
        let layer = try Conv2DTranspose(
          config: .init(
            filters: 3, kernelSize: [kernel, kernel], strides: [stride, stride],
            padding: padding, dilation: [dilation, dilation], biasInitializer: .glorotUniform))
        let shape = try layer.build(inputShape: [4, 3, 2], seed: 13)
        let input = Tensor.normal([2, 4, 3, 2], using: &generator)
        let reference = Reference.conv2dTranspose(
          input: input, kernel: layer.kernel.value, bias: layer.bias?.value,
          strides: (stride, stride), dilation: (dilation, dilation), padding: padding)
        let output = try layer(input)
        #expect(output.shape.map { $0 } == [2] + shape)
        #expect(
          try output.maxAbsoluteDifference(to: reference) < 1e-5,
          "k\(kernel) s\(stride) d\(dilation) \(padding)")
      }
    }
  }

  @Test func samePaddingMultipliesTheExtentByTheStride() throws {
    let layer = try Conv2DTranspose(filters: 4, kernelSize: 3, strides: 2, padding: .same)
    #expect(try layer.build(inputShape: [7, 5, 3], seed: 0) == [14, 10, 4])
    #expect(layer.kernel.value.shape == [3, 3, 4, 3])
  }

  @Test func theActivationFollowsTheBias() throws {
    var generator = SeededGenerator(seed: 6)
    for activation in [ActivationFunction.relu, .gelu, .softmax] {
      let layer = try Conv2DTranspose(
        filters: 3, kernelSize: 2, strides: 2, activation: activation)
      try layer.build(inputShape: [3, 2, 2], seed: 6)
      try layer.bias?.assign(Tensor([0.3, -0.2, 0.1]))
      let input = Tensor.normal([2, 3, 2, 2], using: &generator)
      let reference = Reference.conv2dTranspose(
        input: input, kernel: layer.kernel.value, bias: layer.bias?.value, strides: (2, 2),
        dilation: (1, 1), padding: .valid)
      let output = try layer(input, training: true)
      #expect(
        try output.maxAbsoluteDifference(to: activation.apply(reference)) < 1e-5, "\(activation)")
    }
  }

  @Test func skippingTheInputGradientKeepsTheParameterGradients() throws {
    try ConvolutionTesting.expectSkippingTheInputGradientKeepsParameterGradients(
      try Conv2DTranspose(filters: 3, kernelSize: 3, strides: 2, padding: .same),
      inputShape: [3, 3, 2])
    try ConvolutionTesting.expectSkippingTheInputGradientKeepsParameterGradients(
      try Conv2DTranspose(filters: 2, kernelSize: 1, activation: .tanh), inputShape: [3, 3, 2])
    try ConvolutionTesting.expectSkippingTheInputGradientKeepsParameterGradients(
      try Conv2DTranspose(filters: 2, kernelSize: 2, strides: 2, activation: .gelu),
      inputShape: [3, 2, 3])
  }

  /// A batch the lowering splits across threads (with the threshold lowered and at least two
  /// threads, whatever the machine), unrolled in several tiles per thread.
  @Test func aLargeTransposedConvolutionMatchesTheReferenceAndFiniteDifferences() throws {
    try ConvolutionTesting.withThreads {
      var generator = SeededGenerator(seed: 32)
      let layer = try Conv2DTranspose(
        filters: 16, kernelSize: 3, strides: 2, padding: .same, name: "t")
      try layer.build(inputShape: [8, 8, 16], seed: 32)
      let input = Tensor.normal([8, 8, 8, 16], using: &generator)
      let reference = Reference.conv2dTranspose(
        input: input, kernel: layer.kernel.value, bias: layer.bias?.value, strides: (2, 2),
        dilation: (1, 1), padding: .same)
      #expect(try layer(input, training: true).maxAbsoluteDifference(to: reference) < 1e-4)
      let report = try GradientCheck.check(
        layer: layer, input: input, epsilon: 1e-2, maximumEntries: 24)
      #expect(report.maximumError < 1e-2, "\(report)")
    }
  }

  @Test(arguments: [1, 2])
  func smallColumnTilesGiveTheSameResults(channels: Int) throws {
    var generator = SeededGenerator(seed: 17)
    let input = Tensor.normal([5, 6, 6, channels], using: &generator)
    let projection = Tensor.normal([5, 6, 6, 3], using: &generator)
    let layer = try Conv2DTranspose(filters: 3, kernelSize: 3, padding: .same)
    try layer.build(inputShape: [6, 6, channels], seed: 3)
    let whole = try ConvolutionTesting.forwardAndBackward(
      layer, input: input, outputGradient: projection)
    let tiled = try ConvolutionLayers.columnTileElements.withValue(7 * 27) {
      try ConvolutionTesting.forwardAndBackward(layer, input: input, outputGradient: projection)
    }
    #expect(try whole.output.maxAbsoluteDifference(to: tiled.output) < 1e-5)
    #expect(try whole.inputGradient.maxAbsoluteDifference(to: tiled.inputGradient) < 1e-5)
    for (a, b) in zip(whole.parameterGradients, tiled.parameterGradients) {
      #expect(try a.maxAbsoluteDifference(to: b) < 1e-4)
    }
  }

  @Test func badShapesAndHyperparametersAreRejected() throws {
    #expect(
      throws: PlexusError.shapeMismatch(
        layer: "t", expected: "[height, width, channels] (rank 3)", found: [28, 28])
    ) {
      try Conv2DTranspose(filters: 4, kernelSize: 3, name: "t").build(
        inputShape: [28, 28], seed: 0)
    }
    // Cropping more than the transposed output holds leaves nothing.
    #expect(throws: PlexusError.self) {
      try Conv2DTranspose(
        filters: 2, kernelSize: 2, padding: .explicit(top: 1, bottom: 1, left: 0, right: 0)
      ).build(inputShape: [1, 3, 1], seed: 0)
    }
    #expect(throws: PlexusError.self) { try Conv2DTranspose(filters: 2, kernelSize: 3, strides: 0) }
    #expect(throws: PlexusError.self) { try Conv2DTranspose(filters: -2, kernelSize: 3) }
    #expect(throws: PlexusError.self) {
      try Conv2DTranspose(filters: 2, kernelSize: 3, strides: 1 << 25)
    }
  }

  @Test func configsRoundTrip() throws {
    let layer = try Conv2DTranspose(
      filters: 3, kernelSize: 3, strides: 2, padding: .same, activation: .sigmoid, name: "up")
    let copy = try LayerHarness.roundTripConfig(
      of: layer, registry: ConvolutionTesting.registry())
    #expect((copy as? Conv2DTranspose)?.config == layer.config)
  }

  @Test func configRefusesUnknownKeysAndDefaultsAllButFiltersAndKernelSize() throws {
    try LayerHarness.checkConfigDecoding(
      Conv2DTranspose.self, registry: ConvolutionTesting.registry(),
      minimal: #"{"filters": 3, "kernelSize": [2, 2]}"#,
      defaults: Conv2DTranspose.Config(filters: 3, kernelSize: [2, 2]),
      full: Conv2DTranspose.Config(
        filters: 6, kernelSize: [3, 3], strides: [2, 2], padding: .same, dilation: [2, 1],
        activation: .sigmoid, useBias: false, kernelInitializer: .glorotNormal,
        biasInitializer: .ones, kernelRegularizer: Regularizer(l1: 0.25, l2: 0.25),
        biasRegularizer: Regularizer(l2: 1), groups: 3),
      typo: #"{"stride": [2, 2]}"#, suggestion: "strides")
  }
}
