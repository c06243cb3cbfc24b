import PlexusCore
import PlexusPerceptron

/// A 2-D convolution over channels-last images: `y = activation(conv(x, kernel) + bias)`.
///
/// Input `[N, H, W, C]`, output `[N, OH, OW, filters]`. The kernel is stored HWIO
/// (`[KH, KW, C, filters]`) as in Keras; PyTorch and ONNX store OIHW. The convolution is
/// lowered to im2col and one BLAS `gemm` per tile of output positions. With `groups` > 1 the
/// channels are split into groups convolved apart (kernel `[KH, KW, C / groups, filters]`,
/// PyTorch's and Keras's `groups`).
///
/// ```swift
/// let conv = try Conv2D(filters: 16, kernelSize: 3, padding: .same, activation: .relu)
/// let strided = try Conv2D(1 => 8, kernelSize: 5, strides: 2)
/// ```
public final class Conv2D: UnaryLayer {
  /// The hyperparameters (see `ConvolutionConfig`).
  public typealias Config = ConvolutionConfig<[Int]>

  public static let typeName = "plexus.conv2d"
  public let state = LayerState()
  public var config: Config { weights.config }
  /// The HWIO kernel `[KH, KW, C / groups, filters]` (its shape is declared when the layer is
  /// built).
  public var kernel: Parameter { weights.kernel }
  /// The bias `[filters]` (when `useBias`).
  public var bias: Parameter? { weights.bias }
  /// The per-sample output shape `[OH, OW, filters]`, once built.
  public var outputShape: [Int]? { weights.outputShape }
  private let expectedChannels: Int?
  private let weights: WeightedConvolution<[Int], GroupedConvolution<ConvolutionLowering>>

  /// - Throws: `PlexusError.invalidConfiguration` for filters, kernel size, strides or
  ///   dilation out of range, or padding amounts out of range.
  public convenience init(config: Config) throws {
    try self.init(config: config, expectedChannels: nil)
  }

  /// A layer whose kernel parameter is called `kernelName` (`SeparableConv2D`'s
  /// `pointwise_kernel`); `kind` names the layer kind in configuration errors.
  init(
    config: Config, expectedChannels: Int?, kernelName: String = "kernel",
    kind: String = "conv2d"
  ) throws {
    try config.validate2D(layer: kind)
    if let expectedChannels,
      expectedChannels <= 0 || expectedChannels > ParameterAllocation.maximumSampleElements
    {
      throw PlexusError.invalidConfiguration(
        "conv2d input channels must be in 1...\(ParameterAllocation.maximumSampleElements), "
          + "got \(expectedChannels)")
    }
    self.expectedChannels = expectedChannels
    self.weights = WeightedConvolution(config: config, kernelName: kernelName)
  }

  /// Creates a convolution with a square kernel, strides and dilation.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` for sizes or padding out of range.
  public convenience init(
    filters: Int, kernelSize: Int, strides: Int = 1, padding: Padding = .valid, dilation: Int = 1,
    activation: ActivationFunction = .linear, useBias: Bool = true,
    kernelInitializer: Initializer = .glorotUniform, kernelRegularizer: Regularizer? = nil,
    name: String = ""
  ) throws {
    try self.init(
      config: Config(
        filters: filters, kernelSize: [kernelSize, kernelSize], strides: [strides, strides],
        padding: padding, dilation: [dilation, dilation], activation: activation, useBias: useBias,
        kernelInitializer: kernelInitializer, kernelRegularizer: kernelRegularizer),
      expectedChannels: nil)
    self.name = name
  }

  /// Creates a convolution written as `Conv2D(3 => 16, kernelSize: 3)`; the input channel
  /// count is checked when the layer is built.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` for sizes or padding out of range.
  public convenience init(
    _ channels: LayerSizes, kernelSize: Int, strides: Int = 1, padding: Padding = .valid,
    dilation: Int = 1, activation: ActivationFunction = .linear, useBias: Bool = true,
    name: String = ""
  ) throws {
    try self.init(
      config: Config(
        filters: channels.outputs, kernelSize: [kernelSize, kernelSize],
        strides: [strides, strides], padding: padding, dilation: [dilation, dilation],
        activation: activation, useBias: useBias),
      expectedChannels: channels.inputs)
    self.name = name
  }

  public var parameters: [Parameter] { weights.parameters }

  public func build(for inputShape: SymbolicShape) throws -> SymbolicShape {
    let expected = "[height, width, \(expectedChannels.map(String.init) ?? "channels")] (rank 3)"
    let shape = try Validate.input(inputShape, rank: 3, layer: name, expected: expected)
    let (height, width, channels) = (shape[0], shape[1], shape[2])
    if let expectedChannels, expectedChannels != channels {
      throw PlexusError.shapeMismatch(layer: name, expected: expected, found: shape)
    }
    try config.validateGroups(channels: channels, layer: "conv2d '\(name)'")
    let groups = config.groups
    let (kh, kw) = (config.kernelSize[0], config.kernelSize[1])
    let geometry = try config.geometry2D(
      height: height, width: width, groupChannels: channels / groups, shape: shape, layer: name)
    let filters = config.filters
    return try weights.build(
      outputShape: [geometry.outputHeight, geometry.outputWidth, filters],
      pass: GroupedConvolution(
        inner: ConvolutionLowering(geometry: geometry, filters: filters / groups), groups: groups,
        inputChannels: channels / groups, outputChannels: filters / groups,
        kernelColumns: filters / groups,
        depthwise: DepthwiseLowering.forGroups(
          geometry: geometry, groups: groups, channels: channels, filters: filters)),
      kernelShape: [kh, kw, channels / groups, filters], layer: name)
  }

  public func forward(_ input: Tensor, record: CallRecord) throws -> Tensor {
    try weights.forward(input, record: record, layer: name)
  }

  /// Accumulates the kernel and bias gradients; without `computingInputGradient` the input
  /// gradient's products are skipped and `nil` is returned.
  public func backward(_ outputGradient: Tensor, record: CallRecord, computingInputGradient: Bool)
    throws -> Tensor?
  {
    try weights.backward(
      outputGradient, record: record, computingInputGradient: computingInputGradient,
      layer: name)
  }
}
