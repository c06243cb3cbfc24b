import Foundation
import PlexusConvolution
import PlexusCore
import PlexusPerceptron
import PlexusTestSupport
import Testing

@Suite struct Conv2DTests {
  @Test func passesTheLayerHarness() throws {
    var test = LayerTest(
      registry: ConvolutionTesting.registry(),
      shapes: [
        LayerShapeCase([7, 6, 2], output: [3, 2, 3]),
        LayerShapeCase([5, 5, 1], output: [2, 2, 3]),
        LayerShapeCase([3, 3, 4], output: [1, 1, 3]),
      ],
      badShapes: [[[28, 28]], [[2, 5, 1]], [[4, 4, 2, 1]], [[5, 5, 1], [5, 5, 1]]]
    ) { try Conv2D(filters: 3, kernelSize: 3, strides: 2, activation: .tanh) }
    test.epsilon = 1e-2
    try LayerHarness.run(test)
  }

  @Test func samePaddingPassesTheLayerHarness() throws {
    var test = LayerTest(
      registry: ConvolutionTesting.registry(),
      shapes: [
        LayerShapeCase([6, 7, 2], output: [6, 7, 4]),
        LayerShapeCase([2, 3, 1], output: [2, 3, 4]),
      ],
      badShapes: [[[6, 7]]]
    ) { try Conv2D(filters: 4, kernelSize: 5, padding: .same, activation: .sigmoid) }
    test.epsilon = 1e-2
    try LayerHarness.run(test)
  }

  struct GradientCase: Sendable, CustomStringConvertible {
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

  static let gradientCases: [GradientCase] = [
    GradientCase(kernel: [3, 3], padding: .same),
    GradientCase(kernel: [2, 2], padding: .same),
    GradientCase(kernel: [4, 4], padding: .same, activation: .tanh),
    GradientCase(kernel: [3, 3], strides: [2, 2], padding: .same),
    GradientCase(kernel: [2, 2], strides: [2, 2], padding: .same),
    GradientCase(kernel: [2, 3], strides: [2, 1], padding: .valid, activation: .sigmoid),
    GradientCase(kernel: [3, 3], padding: .same, dilation: [2, 2]),
    GradientCase(kernel: [2, 2], strides: [1, 2], padding: .valid, dilation: [2, 1]),
    GradientCase(
      kernel: [3, 2], strides: [2, 2], padding: .explicit(top: 2, bottom: 0, left: 1, right: 1)),
    GradientCase(kernel: [1, 1]),
    GradientCase(kernel: [1, 1], strides: [2, 2], useBias: false),
    GradientCase(kernel: [3, 3], padding: .same, activation: .relu, useBias: false),
    // An activation whose derivative needs its input is not fused into the lowering.
    GradientCase(kernel: [3, 3], padding: .same, activation: .gelu),
    // A single input channel takes the transposed column layout.
    GradientCase(kernel: [3, 3], padding: .same, activation: .tanh, channels: 1),
    GradientCase(kernel: [2, 2], strides: [2, 2], padding: .same, channels: 1),
    GradientCase(
      kernel: [3, 2], strides: [1, 2], padding: .valid, dilation: [2, 1], channels: 1),
    GradientCase(
      kernel: [3, 3], strides: [2, 3], padding: .explicit(top: 1, bottom: 2, left: 2, right: 0),
      channels: 1),
  ]

  @Test(arguments: gradientCases)
  func gradientsMatchFiniteDifferences(_ testCase: GradientCase) throws {
    let layer = try Conv2D(
      config: .init(
        filters: 3, kernelSize: testCase.kernel, strides: testCase.strides,
        padding: testCase.padding, dilation: testCase.dilation, activation: testCase.activation,
        useBias: testCase.useBias, biasInitializer: .glorotUniform))
    layer.name = "conv2d_1"
    // A small step for ReLU (kinks), a larger one for smooth functions (less rounding). Kernel
    // gradients sum over every output position, so their scale is about 10.
    let report = try ConvolutionTesting.gradientReport(
      layer, batchShape: [3, 6, 7, testCase.channels],
      epsilon: testCase.activation == .relu ? 1e-3 : 3e-3, floor: 0.1)
    #expect(report.maximumError < 1e-2, "\(testCase): \(report)")
    #expect(report.parameterErrors.count == (testCase.useBias ? 2 : 1))
  }

  @Test(arguments: [Padding.valid, .same, .explicit(top: 1, bottom: 0, left: 2, right: 1)])
  func matchesDirectConvolutionOverAGridOfShapes(padding: Padding) throws {
    var generator = SeededGenerator(seed: 11)
    var compared = 0
    for (height, width) in [(5, 5), (6, 7), (4, 9)] {
      for channels in [1, 3] {
        for (kh, kw) in [(1, 1), (2, 2), (3, 3), (2, 3)] {
          for strides in [(1, 1), (2, 2), (1, 2)] {
            for dilation in [(1, 1), (2, 2), (1, 2)] {
              let layer = try Conv2D(
                config: .init(
                  filters: 4, kernelSize: [kh, kw], strides: [strides.0, strides.1],
                  padding: padding, dilation: [dilation.0, dilation.1],
                  biasInitializer: .glorotUniform))
              let input = Tensor.uniform(
                [2, height, width, channels], low: -1, high: 1, using: &generator)
              let label =
                "H\(height) W\(width) C\(channels) k\(kh)x\(kw) s\(strides) d\(dilation) \(padding)"
              guard
                Reference.conv2d(
                  input: input, kernel: Tensor.zeros([kh, kw, channels, 4]), bias: nil,
                  strides: strides, dilation: dilation, padding: padding) != nil
              else {
                #expect(throws: PlexusError.self, "\(label)") {
                  try layer.build(inputShape: [height, width, channels], seed: 0)
                }
                continue
              }
              let outputShape = try layer.build(
                inputShape: [height, width, channels], seed: UInt64(compared))
              let reference = try #require(
                Reference.conv2d(
                  input: input, kernel: layer.kernel.value, bias: layer.bias?.value,
                  strides: strides, dilation: dilation, padding: padding))
              #expect([2] + outputShape == reference.shape.map { $0 }, "\(label)")
              let output = try layer(input)
              #expect(output.shape == reference.shape)
              #expect(try output.maxAbsoluteDifference(to: reference) < 1e-5, "\(label)")
              compared += 1
            }
          }
        }
      }
    }
    #expect(compared > 150)
  }

  @Test(arguments: [ActivationFunction.relu, .gelu])
  func theActivationFollowsTheBias(activation: ActivationFunction) throws {
    var generator = SeededGenerator(seed: 5)
    let layer = try Conv2D(filters: 3, kernelSize: 3, padding: .same, activation: activation)
    try layer.build(inputShape: [5, 4, 2], seed: 5)
    try layer.bias?.assign(Tensor([0.5, -0.5, 0.1]))
    let input = Tensor.normal([3, 5, 4, 2], using: &generator)
    let reference = try #require(
      Reference.conv2d(
        input: input, kernel: layer.kernel.value, bias: layer.bias?.value, strides: (1, 1),
        dilation: (1, 1), padding: .same))
    let output = try layer(input, training: true)
    #expect(try output.maxAbsoluteDifference(to: activation.apply(reference)) < 1e-5)
  }

  @Test func skippingTheInputGradientKeepsTheParameterGradients() throws {
    let layers: [(Conv2D, [Int])] = [
      (try Conv2D(filters: 4, kernelSize: 3, padding: .same, activation: .relu), [6, 5, 2]),
      (try Conv2D(filters: 3, kernelSize: 2, strides: 2, activation: .tanh), [6, 6, 3]),
      (try Conv2D(filters: 3, kernelSize: 3, padding: .same, activation: .gelu), [5, 5, 2]),
      // One input channel (transposed column layout) and a pointwise kernel.
      (try Conv2D(filters: 4, kernelSize: 3, padding: .same, activation: .sigmoid), [6, 6, 1]),
      (try Conv2D(filters: 4, kernelSize: 1, activation: .relu), [4, 4, 3]),
      (try Conv2D(filters: 4, kernelSize: 1, activation: .gelu), [4, 4, 3]),
      (try Conv2D(filters: 2, kernelSize: 3, dilation: 2, useBias: false), [7, 7, 2]),
    ]
    for (layer, shape) in layers {
      try ConvolutionTesting.expectSkippingTheInputGradientKeepsParameterGradients(
        layer, inputShape: shape)
    }
  }

  /// A batch the lowering splits across threads (with the threshold lowered and at least two
  /// threads, whatever the machine), unrolled in several tiles per thread.
  @Test func aLargeConvolutionMatchesTheReferenceAndFiniteDifferences() throws {
    try ConvolutionTesting.withThreads {
      var generator = SeededGenerator(seed: 31)
      let layer = try Conv2D(
        filters: 32, kernelSize: 3, strides: 1, padding: .same, activation: .tanh,
        name: "conv2d_1")
      try layer.build(inputShape: [16, 16, 8], seed: 31)
      let input = Tensor.normal([8, 16, 16, 8], using: &generator)
      let reference = try #require(
        Reference.conv2d(
          input: input, kernel: layer.kernel.value, bias: layer.bias?.value, strides: (1, 1),
          dilation: (1, 1), padding: .same))
      let output = try layer(input, training: true)
      #expect(try output.maxAbsoluteDifference(to: ActivationFunction.tanh.apply(reference)) < 1e-4)
      let report = try GradientCheck.check(
        layer: layer, input: input, epsilon: 3e-3, maximumEntries: 24)
      #expect(report.maximumError < 1e-2, "\(report)")
    }
  }

  @Test(arguments: [1, 2])
  func smallColumnTilesGiveTheSameResults(channels: Int) throws {
    var generator = SeededGenerator(seed: 16)
    let input = Tensor.normal([5, 6, 6, channels], using: &generator)
    let projection = Tensor.normal([5, 6, 6, 3], using: &generator)
    let layer = try Conv2D(filters: 3, kernelSize: 3, padding: .same, activation: .relu)
    try layer.build(inputShape: [6, 6, channels], seed: 3)
    let whole = try ConvolutionTesting.forwardAndBackward(
      layer, input: input, outputGradient: projection)
    // Tiles of a few rows, across samples; set for this test's task only, since tests run
    // concurrently and the tile size changes the summation order of other tests' results.
    let tiled = try ConvolutionLayers.columnTileElements.withValue(7 * 27) {
      try ConvolutionTesting.forwardAndBackward(layer, input: input, outputGradient: projection)
    }
    #expect(try whole.output.maxAbsoluteDifference(to: tiled.output) < 1e-5)
    #expect(try whole.inputGradient.maxAbsoluteDifference(to: tiled.inputGradient) < 1e-5)
    for (a, b) in zip(whole.parameterGradients, tiled.parameterGradients) {
      #expect(try a.maxAbsoluteDifference(to: b) < 1e-4)
    }
  }

  @Test func theKernelIsStoredHWIOWithKerasFans() throws {
    let layer = try Conv2D(
      filters: 5, kernelSize: 3, kernelInitializer: .ones, name: "conv2d_1")
    #expect(layer.kernel.declaredShape == nil)
    #expect(try layer.build(inputShape: [6, 7, 2], seed: 0) == [4, 5, 5])
    #expect(layer.outputShape == [4, 5, 5])
    #expect(layer.kernel.value.shape == [3, 3, 2, 5])
    #expect(layer.kernel.value.scalars.allSatisfy { $0 == 1 })
    #expect(layer.bias?.value == Tensor.zeros([5]))
    #expect(layer.namedParameters.map(\.path) == ["conv2d_1.kernel", "conv2d_1.bias"])
    #expect(layer.parameterCount == 3 * 3 * 2 * 5 + 5)
    // Glorot uniform draws within sqrt(6 / (fanIn + fanOut)), fanIn = 3*3*2, fanOut = 3*3*5.
    let glorot = try Conv2D(filters: 5, kernelSize: 3)
    try glorot.build(inputShape: [6, 7, 2], seed: 9)
    let limit = Float((6.0 / Double(18 + 45)).squareRoot())
    let weights = glorot.kernel.value.scalars
    #expect(weights.allSatisfy { abs($0) <= limit })
    #expect(weights.contains { abs($0) > limit * 0.8 })
  }

  @Test func wrongInputShapesAreRejectedWhenBuilt() throws {
    #expect(
      throws: PlexusError.shapeMismatch(
        layer: "conv2d_1", expected: "[height, width, channels] (rank 3)", found: [28, 28])
    ) {
      try Conv2D(filters: 4, kernelSize: 3, name: "conv2d_1").build(inputShape: [28, 28], seed: 0)
    }
    #expect(
      throws: PlexusError.shapeMismatch(
        layer: "c", expected: "[height, width, 3] (rank 3)", found: [8, 8, 1])
    ) {
      try Conv2D(3 => 8, kernelSize: 3, name: "c").build(inputShape: [8, 8, 1], seed: 0)
    }
    #expect(try Conv2D(3 => 8, kernelSize: 3).build(inputShape: [8, 8, 3], seed: 0) == [6, 6, 8])
    // A variable dimension cannot be lowered.
    #expect(throws: PlexusError.self) {
      try Conv2D(filters: 2, kernelSize: 3).build(inputShape: [nil, 8, 1], seed: 0)
    }
    // The dilated kernel must fit the padded input.
    #expect(throws: PlexusError.self) {
      try Conv2D(filters: 2, kernelSize: 5).build(inputShape: [4, 8, 1], seed: 0)
    }
    #expect(throws: PlexusError.self) {
      try Conv2D(filters: 2, kernelSize: 3, dilation: 3).build(inputShape: [6, 6, 1], seed: 0)
    }
    #expect(throws: PlexusError.self) {
      try Conv2D(
        filters: 2, kernelSize: 5, padding: .explicit(top: 0, bottom: 0, left: 1, right: 0)
      ).build(inputShape: [5, 3, 1], seed: 0)
    }
    // `same` padding makes any kernel fit.
    #expect(
      try Conv2D(filters: 2, kernelSize: 5, padding: .same).build(inputShape: [4, 3, 1], seed: 0)
        == [4, 3, 2])
    // Samples too large to allocate are an error, not a crash.
    #expect(throws: PlexusError.self) {
      try Conv2D(filters: 1 << 20, kernelSize: 1).build(inputShape: [1 << 12, 1 << 12, 1], seed: 0)
    }
  }

  @Test func aModelNamesTheLayerThatCannotTakeItsInput() throws {
    let model = Sequential([
      try Conv2D(filters: 4, kernelSize: 3, activation: .relu), try MaxPool2D(poolSize: 2),
      try Conv2D(filters: 8, kernelSize: 3),
    ])
    #expect(
      throws: PlexusError.shapeMismatch(
        layer: "conv2d_2",
        expected: "an input at least as large as the dilated kernel [3, 3] (dilation [1, 1]) "
          + "after padding valid",
        found: [2, 2, 4])
    ) {
      try model.build(inputShape: [6, 6, 1], seed: 0)
    }
  }

  @Test func aBuiltLayerRefusesBatchesOfAnotherShape() throws {
    let conv = try Conv2D(filters: 2, kernelSize: 3, name: "c")
    try conv.build(inputShape: [6, 6, 3], seed: 0)
    #expect(
      throws: PlexusError.shapeMismatch(layer: "c", expected: "[N, 6, 6, 3]", found: [2, 6, 6, 1])
    ) {
      try conv(Tensor.zeros([2, 6, 6, 1]))
    }
    #expect(throws: PlexusError.self) { try conv.build(inputShape: [6, 6, 1], seed: 0) }
    #expect(throws: PlexusError.notBuilt("layer 'd' must be built before it is run")) {
      try Conv2D(filters: 2, kernelSize: 3, name: "d")(Tensor.zeros([1, 6, 6, 1]))
    }
  }

  @Test func outOfRangeHyperparametersAreRejected() throws {
    #expect(
      throws: PlexusError.invalidConfiguration(
        "conv2d strides must be 2 integers in 1...16777216, got [0, 0]")
    ) {
      try Conv2D(filters: 2, kernelSize: 3, strides: 0)
    }
    #expect(throws: PlexusError.self) { try Conv2D(filters: 2, kernelSize: 3, strides: -1) }
    #expect(throws: PlexusError.self) { try Conv2D(filters: 0, kernelSize: 3) }
    #expect(throws: PlexusError.self) { try Conv2D(filters: (1 << 32) + 1, kernelSize: 3) }
    #expect(throws: PlexusError.self) { try Conv2D(filters: 2, kernelSize: 0) }
    #expect(throws: PlexusError.self) { try Conv2D(filters: 2, kernelSize: 1 << 25) }
    #expect(throws: PlexusError.self) { try Conv2D(filters: 2, kernelSize: 3, dilation: 0) }
    #expect(throws: PlexusError.self) { try Conv2D(filters: 2, kernelSize: 3, dilation: .max) }
    #expect(throws: PlexusError.self) { try Conv2D(config: .init(filters: 2, kernelSize: [3])) }
    #expect(throws: PlexusError.self) {
      try Conv2D(config: .init(filters: 2, kernelSize: [3, 3], strides: [1, 1, 1]))
    }
    #expect(throws: PlexusError.self) {
      try Conv2D(
        filters: 2, kernelSize: 3, padding: .explicit(top: -1, bottom: 0, left: 0, right: 0))
    }
    #expect(throws: PlexusError.self) {
      try Conv2D(
        filters: 2, kernelSize: 3, padding: .explicit(top: 0, bottom: .max, left: 0, right: 0))
    }
    #expect(throws: PlexusError.self) { try Conv2D(0 => 4, kernelSize: 3) }
  }

  @Test func configsRoundTripAndDecodeWithKerasDefaults() throws {
    let registry = ConvolutionTesting.registry()
    let full = try Conv2D(
      config: .init(
        filters: 8, kernelSize: [3, 2], strides: [2, 1],
        padding: .explicit(top: 1, bottom: 0, left: 2, right: 1), dilation: [1, 2],
        activation: .leakyRelu(alpha: 0.2), useBias: false, kernelInitializer: .heNormal,
        biasInitializer: .ones, kernelRegularizer: Regularizer(l2: 1e-4),
        biasRegularizer: Regularizer(l1: 1e-3)))
    full.name = "conv2d_7"
    let copy = try #require(
      try LayerHarness.roundTripConfig(of: full, registry: registry) as? Conv2D)
    #expect(copy.config == full.config)
    #expect(copy.name == "conv2d_7")
    #expect(copy.kernel.regularizer == Regularizer(l2: 1e-4))
    let layer = try registry.makeLayer(
      from: LayerDescription(
        type: "plexus.conv2d", name: "conv2d_1",
        config: .object(["filters": .number(6), "kernelSize": .array([.number(5), .number(5)])])))
    #expect((layer as? Conv2D)?.config == Conv2D.Config(filters: 6, kernelSize: [5, 5]))
  }

  @Test func malformedConfigsFromFilesAreRejected() throws {
    let registry = ConvolutionTesting.registry()
    let kernel = JSONValue.array([.number(3), .number(3)])
    let configs: [JSONValue] = [
      .object([
        "filters": .number(4), "kernelSize": kernel, "strides": .array([.number(0), .number(1)]),
      ]),
      .object(["filters": .number(4)]),
      .object(["filters": .number(4), "kernelSize": kernel, "padding": .string("full")]),
      .object([
        "filters": .number(4), "kernelSize": kernel,
        "padding": .object(["top": .number(1), "middle": .number(1)]),
      ]),
      .object(["filters": .number(4), "kernelSize": kernel, "kernel_size": kernel]),
      .object(["filters": .number(4), "kernelSize": .number(3)]),
    ]
    for config in configs {
      #expect(throws: PlexusError.self, "\(config)") {
        try registry.makeLayer(
          from: LayerDescription(type: "plexus.conv2d", name: "layer", config: config))
      }
    }
    do {
      _ = try registry.makeLayer(
        from: LayerDescription(
          type: "plexus.conv2d", name: "layer",
          config: .object(["filters": .number(4), "kernelSize": kernel, "strdes": kernel])))
      Issue.record("an unknown key must be rejected")
    } catch PlexusError.invalidConfiguration(let message) {
      #expect(message.contains("unknown key 'strdes'"), "\(message)")
      #expect(message.contains("did you mean 'strides'?"), "\(message)")
    }
  }

  @Test func configRefusesUnknownKeysAndDefaultsAllButFiltersAndKernelSize() throws {
    let registry = ConvolutionTesting.registry()
    try LayerHarness.checkConfigDecoding(
      Conv2D.self, registry: registry, minimal: #"{"filters": 4, "kernelSize": [3, 3]}"#,
      defaults: Conv2D.Config(
        filters: 4, kernelSize: [3, 3], strides: [1, 1], padding: .valid, dilation: [1, 1],
        activation: .linear, useBias: true, kernelInitializer: .glorotUniform,
        biasInitializer: .zeros),
      full: Conv2D.Config(
        filters: 2, kernelSize: [3, 2], strides: [2, 1], padding: .same, dilation: [1, 2],
        activation: .gelu, useBias: false, kernelInitializer: .lecunUniform,
        biasInitializer: .ones, kernelRegularizer: Regularizer(l2: 1e-4),
        biasRegularizer: Regularizer(l1: 1e-3), groups: 2),
      typo: #"{"kernel_size": [3, 3]}"#, suggestion: "kernelSize")
    // Explicit padding is an object of its own, checked the same way.
    do {
      _ = try registry.makeLayer(
        from: LayerDescription(
          type: Conv2D.typeName, name: "conv",
          config: .object([
            "filters": .number(4), "kernelSize": .array([.number(3), .number(3)]),
            "padding": .object(["top": .number(1), "bottm": .number(1)]),
          ])))
      Issue.record("an unknown padding key was accepted")
    } catch PlexusError.invalidConfiguration(let message) {
      #expect(
        message
          == "config of layer type 'plexus.conv2d': unknown key 'bottm' at .padding (did you "
          + "mean 'bottom'?); expected one of bottom, left, right, top")
    }
    #expect(
      try JSONValue(encoding: Padding.explicit(top: 1, bottom: 0, left: 0, right: 2))
        == .object([
          "top": .number(1), "bottom": .number(0), "left": .number(0), "right": .number(2),
        ]))
    #expect(
      try JSONValue.object(["left": .number(2)]).decode(Padding.self, context: "padding")
        == .explicit(top: 0, bottom: 0, left: 2, right: 0))
  }
}
