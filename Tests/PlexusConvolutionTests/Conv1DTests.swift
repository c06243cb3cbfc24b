import PlexusConvolution
import PlexusCore
import PlexusPerceptron
import PlexusTestSupport
import Testing

@Suite struct Conv1DTests {
  @Test func passesTheLayerHarness() throws {
    var test = LayerTest(
      registry: ConvolutionTesting.registry(),
      shapes: [
        LayerShapeCase([9, 2], output: [7, 4]),
        LayerShapeCase([3, 1], output: [1, 4]),
        LayerShapeCase([5, 3], output: [3, 4]),
      ],
      badShapes: [[[9]], [[2, 2]], [[10, 4, 1]], [[9, 2], [9, 2]]]
    ) { try Conv1D(filters: 4, kernelSize: 3, activation: .tanh) }
    test.epsilon = 1e-2
    try LayerHarness.run(test)
  }

  @Test(arguments: [
    (3, 1, Padding.same, 1), (2, 1, .same, 1), (3, 2, .same, 1), (2, 2, .valid, 2),
    (3, 1, .explicit(top: 0, bottom: 0, left: 2, right: 0), 1),
  ])
  func gradientsMatchFiniteDifferences(
    kernelSize: Int, stride: Int, padding: Padding, dilation: Int
  ) throws {
    let layer = try Conv1D(
      filters: 4, kernelSize: kernelSize, strides: stride, padding: padding, dilation: dilation,
      activation: .tanh, name: "conv1d_1")
    let report = try ConvolutionTesting.gradientReport(
      layer, batchShape: [3, 9, 2], epsilon: 1e-2, floor: 1e-2)
    #expect(report.maximumError < 1e-2, "\(report)")
    #expect(report.parameterErrors.keys.sorted() == ["conv1d_1.bias", "conv1d_1.kernel"])
  }

  @Test func matchesDirectConvolution() throws {
    var generator = SeededGenerator(seed: 12)
    for padding in [Padding.valid, .same, .explicit(top: 0, bottom: 0, left: 2, right: 0)] {
      for (kernelSize, stride, dilation) in [(3, 1, 1), (2, 2, 1), (3, 1, 2), (4, 3, 1)] {
        let layer = try Conv1D(
          filters: 5, kernelSize: kernelSize, strides: stride, padding: padding, dilation: dilation)
        let shape = try layer.build(inputShape: [11, 3], seed: 12)
        let input = Tensor.normal([2, 11, 3], using: &generator)
        let reference = try #require(
          Reference.conv2d(
            input: try input.reshaped([2, 1, 11, 3]),
            kernel: try layer.kernel.value.reshaped([1, kernelSize, 3, 5]),
            bias: layer.bias?.value, strides: (1, stride), dilation: (1, dilation),
            padding: padding))
        let output = try layer(input)
        #expect(output.shape.map { $0 } == [2] + shape)
        #expect(
          try output.maxAbsoluteDifference(to: try reference.reshaped(output.shape)) < 1e-5,
          "k\(kernelSize) s\(stride) d\(dilation) \(padding)")
      }
    }
  }

  @Test func skippingTheInputGradientKeepsTheParameterGradients() throws {
    try ConvolutionTesting.expectSkippingTheInputGradientKeepsParameterGradients(
      try Conv1D(filters: 3, kernelSize: 3, padding: .same, activation: .relu), inputShape: [7, 2])
    try ConvolutionTesting.expectSkippingTheInputGradientKeepsParameterGradients(
      try Conv1D(filters: 3, kernelSize: 2, strides: 2, activation: .elu(alpha: 1)),
      inputShape: [8, 3])
  }

  @Test func theKernelIsStoredKCF() throws {
    let layer = try Conv1D(8 => 6, kernelSize: 5, strides: 2, padding: .same, name: "conv1d_1")
    #expect(try layer.build(inputShape: [10, 8], seed: 0) == [5, 6])
    #expect(layer.outputShape == [5, 6])
    #expect(layer.kernel.value.shape == [5, 8, 6])
    #expect(layer.namedParameters.map(\.path) == ["conv1d_1.kernel", "conv1d_1.bias"])
  }

  @Test func wrongInputShapesAreRejectedWhenBuilt() throws {
    #expect(
      throws: PlexusError.shapeMismatch(
        layer: "c", expected: "[steps, channels] (rank 2)", found: [10, 4, 1])
    ) {
      try Conv1D(filters: 4, kernelSize: 3, name: "c").build(inputShape: [10, 4, 1], seed: 0)
    }
    #expect(
      throws: PlexusError.shapeMismatch(layer: "c", expected: "[steps, 2] (rank 2)", found: [8, 5])
    ) {
      try Conv1D(2 => 8, kernelSize: 3, name: "c").build(inputShape: [8, 5], seed: 0)
    }
    #expect(throws: PlexusError.self) {
      try Conv1D(filters: 2, kernelSize: 7).build(inputShape: [6, 1], seed: 0)
    }
    #expect(throws: PlexusError.self) {
      try Conv1D(filters: 2, kernelSize: 3, dilation: 3).build(inputShape: [6, 1], seed: 0)
    }
    // Sequences of varying length cannot be lowered.
    #expect(throws: PlexusError.self) {
      try Conv1D(filters: 2, kernelSize: 3).build(inputShape: [nil, 4], seed: 0)
    }
  }

  @Test func outOfRangeHyperparametersAreRejected() throws {
    #expect(throws: PlexusError.self) { try Conv1D(filters: 0, kernelSize: 3) }
    #expect(throws: PlexusError.self) { try Conv1D(filters: 2, kernelSize: -3) }
    #expect(throws: PlexusError.self) { try Conv1D(filters: 2, kernelSize: 3, strides: 0) }
    #expect(throws: PlexusError.self) { try Conv1D(filters: 2, kernelSize: 3, dilation: 1 << 30) }
    #expect(throws: PlexusError.self) { try Conv1D(0 => 2, kernelSize: 3) }
    #expect(
      throws: PlexusError.invalidConfiguration(
        "conv1d explicit padding takes only left and right amounts, got top 1, bottom 0")
    ) {
      try Conv1D(
        filters: 2, kernelSize: 3, padding: .explicit(top: 1, bottom: 0, left: 0, right: 0))
    }
  }

  @Test func configsRoundTripAndRejectMalformedFiles() throws {
    let registry = ConvolutionTesting.registry()
    let layer = try Conv1D(
      filters: 4, kernelSize: 5, strides: 2,
      padding: .explicit(top: 0, bottom: 0, left: 1, right: 3),
      dilation: 1, activation: .tanh, useBias: false, kernelInitializer: .lecunNormal,
      name: "conv1d_3")
    let copy = try #require(
      try LayerHarness.roundTripConfig(of: layer, registry: registry) as? Conv1D)
    #expect(copy.config == layer.config)
    for config: JSONValue in [
      .object(["filters": .number(4), "kernelSize": .number(-3)]),
      .object(["filters": .number(4), "kernelSize": .array([.number(3)])]),
      .object(["filters": .number(4), "kernelSize": .number(3), "groups": .number(3)]),
    ] {
      #expect(throws: PlexusError.self, "\(config)") {
        try registry.makeLayer(
          from: LayerDescription(type: "plexus.conv1d", name: "layer", config: config))
      }
    }
  }

  @Test func configRefusesUnknownKeysAndDefaultsAllButFiltersAndKernelSize() throws {
    try LayerHarness.checkConfigDecoding(
      Conv1D.self, registry: ConvolutionTesting.registry(),
      minimal: #"{"filters": 4, "kernelSize": 3}"#,
      defaults: Conv1D.Config(
        filters: 4, kernelSize: 3, strides: 1, padding: .valid, dilation: 1, activation: .linear,
        useBias: true, kernelInitializer: .glorotUniform, biasInitializer: .zeros),
      full: Conv1D.Config(
        filters: 2, kernelSize: 5, strides: 2,
        padding: .explicit(top: 0, bottom: 0, left: 1, right: 2),
        dilation: 3, activation: .relu, useBias: false, kernelInitializer: .heUniform,
        biasInitializer: .ones, kernelRegularizer: Regularizer(l1: 0.5),
        biasRegularizer: Regularizer(l2: 0.5), groups: 2),
      typo: #"{"dialation": 2}"#, suggestion: "dilation")
  }
}
