import Foundation
import PlexusConvolution
import PlexusCore
import PlexusTestSupport
import Testing

@Suite struct GroupedConvolutionTests {
  @Test func aGroupedConv2DPassesTheLayerHarness() throws {
    var test = LayerTest(
      registry: ConvolutionTesting.registry(),
      shapes: [
        LayerShapeCase([6, 5, 4], output: [2, 2, 6]),
        LayerShapeCase([3, 3, 2], output: [1, 1, 6]),
      ],
      badShapes: [[[6, 5]], [[6, 5, 3]], [[6, 5, 4, 1]]]
    ) {
      try Conv2D(
        config: .init(
          filters: 6, kernelSize: [3, 3], strides: [2, 2], activation: .tanh, groups: 2))
    }
    test.epsilon = 1e-2
    try LayerHarness.run(test)
  }

  @Test(arguments: [Padding.valid, .same, .explicit(top: 2, bottom: 0, left: 1, right: 1)])
  func groupedConv2DMatchesTheReference(padding: Padding) throws {
    var generator = SeededGenerator(seed: 31)
    var compared = 0
    for (channels, filters, groups) in [(4, 6, 2), (6, 6, 3), (3, 6, 3), (4, 4, 4), (2, 8, 2)] {
      for (kh, kw) in [(1, 1), (3, 3), (2, 3)] {
        for strides in [(1, 1), (2, 2), (1, 2)] {
          for dilation in [(1, 1), (2, 1)] {
            let layer = try Conv2D(
              config: .init(
                filters: filters, kernelSize: [kh, kw], strides: [strides.0, strides.1],
                padding: padding, dilation: [dilation.0, dilation.1],
                biasInitializer: .glorotUniform, groups: groups))
            _ = try layer.build(inputShape: [6, 7, channels], seed: UInt64(compared))
            #expect(layer.kernel.value.shape == [kh, kw, channels / groups, filters])
            let input = Tensor.uniform([2, 6, 7, channels], low: -1, high: 1, using: &generator)
            let reference = try #require(
              Reference.conv2d(
                input: input, kernel: layer.kernel.value, bias: layer.bias?.value,
                strides: strides, dilation: dilation, padding: padding, groups: groups))
            let label = "C\(channels) F\(filters) g\(groups) k\(kh)x\(kw) s\(strides) d\(dilation)"
            let output = try layer(input)
            #expect(output.shape == reference.shape, "\(label)")
            #expect(try output.maxAbsoluteDifference(to: reference) < 1e-5, "\(label)")
            compared += 1
          }
        }
      }
    }
    #expect(compared == 90)
  }

  struct GradientCase: Sendable, CustomStringConvertible {
    var kernel: [Int]
    var strides: [Int] = [1, 1]
    var padding: Padding = .valid
    var dilation: [Int] = [1, 1]
    var activation: ActivationFunction = .linear
    var useBias = true
    var channels = 4
    var filters = 6
    var groups = 2
    /// The seed of the weights and inputs (for ReLU, one whose pre-activations stay farther
    /// than the step from the kink, which a central difference cannot straddle).
    var seed: UInt64 = 1
    var description: String {
      "k\(kernel) s\(strides) \(padding) d\(dilation) \(activation.name) bias \(useBias) "
        + "C\(channels) F\(filters) g\(groups)"
    }
  }

  static let gradientCases: [GradientCase] = [
    GradientCase(kernel: [3, 3], padding: .same),
    GradientCase(kernel: [3, 3], strides: [2, 2], padding: .same, activation: .tanh),
    GradientCase(kernel: [2, 3], strides: [2, 1], dilation: [2, 1], activation: .sigmoid),
    GradientCase(
      kernel: [3, 2], strides: [1, 2], padding: .explicit(top: 1, bottom: 2, left: 0, right: 1),
      useBias: false),
    GradientCase(kernel: [1, 1], groups: 2),
    GradientCase(kernel: [3, 3], padding: .same, activation: .relu, groups: 2, seed: 4),
    GradientCase(kernel: [3, 3], padding: .same, groups: 4),
    GradientCase(kernel: [3, 3], padding: .same, activation: .gelu, channels: 6, groups: 3),
    GradientCase(kernel: [2, 2], strides: [2, 2], channels: 3, filters: 3, groups: 3),
  ]

  @Test(arguments: gradientCases)
  func groupedGradientsMatchFiniteDifferences(_ testCase: GradientCase) throws {
    let filters = testCase.groups == 4 ? 8 : testCase.filters
    let layer = try Conv2D(
      config: .init(
        filters: filters, kernelSize: testCase.kernel, strides: testCase.strides,
        padding: testCase.padding, dilation: testCase.dilation, activation: testCase.activation,
        useBias: testCase.useBias, biasInitializer: .glorotUniform, groups: testCase.groups))
    layer.name = "grouped"
    let report = try ConvolutionTesting.gradientReport(
      layer, batchShape: [2, 6, 7, testCase.channels], seed: testCase.seed,
      epsilon: testCase.activation == .relu ? 1e-3 : 3e-3, floor: 0.1)
    #expect(report.maximumError < 1e-2, "\(testCase): \(report)")
    #expect(report.parameterErrors.count == (testCase.useBias ? 2 : 1))
  }

  @Test func groupedGradientsMatchFiniteDifferencesAcrossThreads() throws {
    try ConvolutionTesting.withThreads {
      let layer = try Conv2D(
        config: .init(
          filters: 4, kernelSize: [3, 3], padding: .same, activation: .tanh,
          biasInitializer: .glorotUniform, groups: 2))
      let report = try ConvolutionTesting.gradientReport(
        layer, batchShape: [4, 5, 5, 4], epsilon: 3e-3, floor: 0.1)
      #expect(report.maximumError < 1e-2, "\(report)")
    }
  }

  @Test func skippingTheInputGradientKeepsTheParameterGradients() throws {
    try ConvolutionTesting.expectSkippingTheInputGradientKeepsParameterGradients(
      Conv2D(config: .init(filters: 4, kernelSize: [3, 3], activation: .relu, groups: 2)),
      inputShape: [5, 5, 6])
    try ConvolutionTesting.expectSkippingTheInputGradientKeepsParameterGradients(
      Conv1D(config: .init(filters: 4, kernelSize: 2, groups: 4)), inputShape: [5, 4])
    try ConvolutionTesting.expectSkippingTheInputGradientKeepsParameterGradients(
      Conv2DTranspose(config: .init(filters: 4, kernelSize: [2, 2], strides: [2, 2], groups: 2)),
      inputShape: [3, 3, 2])
  }

  @Test func groupsThatDoNotDivideTheChannelsAreRefusedNamingBothNumbers() throws {
    do {
      _ = try Conv2D(config: .init(filters: 6, kernelSize: [3, 3], groups: 4))
      Issue.record("6 filters in 4 groups were accepted")
    } catch PlexusError.invalidConfiguration(let message) {
      #expect(message == "conv2d filters (6) must be divisible by groups (4)")
    }
    for groups in [0, -2, 7] {
      #expect(throws: PlexusError.self, "groups \(groups)") {
        try Conv2D(config: .init(filters: 6, kernelSize: [3, 3], groups: groups))
      }
    }
    let layer = try Conv2D(config: .init(filters: 6, kernelSize: [3, 3], groups: 3))
    layer.name = "grouped"
    do {
      _ = try layer.build(inputShape: [5, 5, 4], seed: 0)
      Issue.record("4 channels in 3 groups were accepted")
    } catch PlexusError.invalidConfiguration(let message) {
      #expect(message == "conv2d 'grouped' input channels (4) must be divisible by groups (3)")
    }
    let transposed = try Conv2DTranspose(config: .init(filters: 4, kernelSize: [2, 2], groups: 2))
    #expect(throws: PlexusError.self) { try transposed.build(inputShape: [3, 3, 3], seed: 0) }
    let oneD = try Conv1D(config: .init(filters: 4, kernelSize: 2, groups: 2))
    #expect(throws: PlexusError.self) { try oneD.build(inputShape: [5, 3], seed: 0) }
    // From a file, the same checks.
    #expect(throws: PlexusError.self) {
      try ConvolutionTesting.registry().makeLayer(
        from: LayerDescription(
          type: Conv2D.typeName, name: "conv",
          config: .object([
            "filters": .number(5), "kernelSize": .array([.number(1), .number(1)]),
            "groups": .number(2),
          ])))
    }
  }

  @Test func groupsIsLeftOutOfDescriptionsWhileItIsOne() throws {
    let plain = try Conv2D(filters: 4, kernelSize: 3)
    guard case .object(let members) = try LayerDescription(plain).config else {
      Issue.record("a conv2d config is not an object")
      return
    }
    #expect(members["groups"] == nil)
    let grouped = try Conv2D(config: .init(filters: 4, kernelSize: [3, 3], groups: 2))
    guard case .object(let groupedMembers) = try LayerDescription(grouped).config else {
      Issue.record("a conv2d config is not an object")
      return
    }
    #expect(groupedMembers["groups"] == .number(2))
    let copy = try LayerHarness.roundTripConfig(
      of: grouped, registry: ConvolutionTesting.registry())
    #expect((copy as? Conv2D)?.config.groups == 2)
  }

  @Test func aGroupedConv1DIsTheGroupedConv2DOfOneRow() throws {
    let oneD = try Conv1D(
      config: .init(
        filters: 6, kernelSize: 3, strides: 2, padding: .same, dilation: 1, activation: .tanh,
        biasInitializer: .glorotUniform, groups: 3))
    _ = try oneD.build(inputShape: [9, 6], seed: 4)
    #expect(oneD.kernel.value.shape == [3, 2, 6])
    var generator = SeededGenerator(seed: 5)
    let input = Tensor.uniform([2, 9, 6], low: -1, high: 1, using: &generator)
    let reference = try #require(
      Reference.conv2d(
        input: input.reshaped([2, 1, 9, 6]), kernel: oneD.kernel.value.reshaped([1, 3, 2, 6]),
        bias: oneD.bias?.value, strides: (1, 2), dilation: (1, 1), padding: .same, groups: 3))
    let output = try oneD(input)
    #expect(
      try output.maxAbsoluteDifference(to: reference.reshaped([2, 5, 6]).map { Float(tanh($0)) })
        < 1e-5)
    let layer = try Conv1D(
      config: .init(
        filters: 4, kernelSize: 3, dilation: 2, biasInitializer: .glorotUniform, groups: 2))
    let report = try ConvolutionTesting.gradientReport(
      layer, batchShape: [2, 8, 4], epsilon: 3e-3, floor: 0.1)
    #expect(report.maximumError < 1e-2, "\(report)")
  }

  @Test func aGroupedTransposedConvolutionIsOneTransposedConvolutionPerGroup() throws {
    let layer = try Conv2DTranspose(
      config: .init(
        filters: 4, kernelSize: [3, 3], strides: [2, 2], padding: .same,
        biasInitializer: .glorotUniform, groups: 2))
    _ = try layer.build(inputShape: [3, 4, 6], seed: 8)
    #expect(layer.kernel.value.shape == [3, 3, 2, 6])
    var generator = SeededGenerator(seed: 9)
    let input = Tensor.uniform([2, 3, 4, 6], low: -1, high: 1, using: &generator)
    let output = try layer(input)
    #expect(output.shape == [2, 6, 8, 4])
    let kernel = layer.kernel.value.scalars
    let bias = try #require(layer.bias).value.scalars
    for group in 0..<2 {
      // Group g: input channels 3g..<3g+3, kernel columns 3g..<3g+3, outputs 2g..<2g+2.
      let groupInput = Tensor(shape: [2, 3, 4, 3]) { buffer in
        for index in buffer.indices {
          buffer[index] = input.scalars[index / 3 * 6 + group * 3 + index % 3]
        }
      }
      let groupKernel = Tensor(shape: [3, 3, 2, 3]) { buffer in
        for index in buffer.indices {
          buffer[index] = kernel[index / 3 * 6 + group * 3 + index % 3]
        }
      }
      let groupBias = try Tensor(shape: [2], scalars: Array(bias[(2 * group)..<(2 * group + 2)]))
      let reference = Reference.conv2dTranspose(
        input: groupInput, kernel: groupKernel, bias: groupBias, strides: (2, 2),
        dilation: (1, 1), padding: .same)
      var worst: Float = 0
      for index in 0..<reference.count {
        let value = output.scalars[index / 2 * 4 + group * 2 + index % 2]
        worst = max(worst, abs(value - reference.scalars[index]))
      }
      #expect(worst < 1e-5, "group \(group)")
    }
    let checked = try Conv2DTranspose(
      config: .init(
        filters: 4, kernelSize: [2, 2], strides: [2, 1], activation: .tanh,
        biasInitializer: .glorotUniform, groups: 2))
    let report = try ConvolutionTesting.gradientReport(
      checked, batchShape: [2, 3, 3, 4], epsilon: 1e-2, floor: 1e-2)
    #expect(report.maximumError < 1e-2, "\(report)")
  }
}
