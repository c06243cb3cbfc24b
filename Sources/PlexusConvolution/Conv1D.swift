import PlexusCore
import PlexusPerceptron

/// A 1-D convolution over sequences: `y = activation(conv(x, kernel) + bias)`.
///
/// Input `[N, T, C]`, output `[N, OT, filters]`. The kernel is stored `[K, C, filters]` as in
/// Keras. Explicit padding uses `left` (before the first step) and `right` only.
///
/// ```swift
/// let conv = try Conv1D(filters: 32, kernelSize: 5, padding: .same, activation: .relu)
/// ```
public final class Conv1D: UnaryLayer {
  /// The hyperparameters (see `ConvolutionConfig`).
  public typealias Config = ConvolutionConfig<Int>

  public static let typeName = "plexus.conv1d"
  public let state = LayerState()
  public var config: Config { weights.config }
  /// The kernel `[K, C, filters]` (its shape is declared when the layer is built).
  public var kernel: Parameter { weights.kernel }
  /// The bias `[filters]` (when `useBias`).
  public var bias: Parameter? { weights.bias }
  /// The per-sample output shape `[OT, filters]`, once built.
  public var outputShape: [Int]? { weights.outputShape }
  private let expectedChannels: Int?
  private let weights: WeightedConvolution<Int, GroupedConvolution<ConvolutionLowering>>

  /// - Throws: `PlexusError.invalidConfiguration` for filters, kernel size, stride or dilation
  ///   out of range, or padding amounts out of range (or on the top or bottom).
  public convenience init(config: Config) throws {
    try self.init(config: config, expectedChannels: nil)
  }

  private init(config: Config, expectedChannels: Int?) throws {
    try config.validateCommon(layer: "conv1d")
    try Validate.extent(config.kernelSize, what: "kernelSize", layer: "conv1d")
    try Validate.extent(config.strides, what: "strides", layer: "conv1d")
    try Validate.extent(config.dilation, what: "dilation", layer: "conv1d")
    if case .explicit(let top, let bottom, _, _) = config.padding, top != 0 || bottom != 0 {
      throw PlexusError.invalidConfiguration(
        "conv1d explicit padding takes only left and right amounts, got top \(top), bottom \(bottom)"
      )
    }
    if let expectedChannels,
      expectedChannels <= 0 || expectedChannels > ParameterAllocation.maximumSampleElements
    {
      throw PlexusError.invalidConfiguration(
        "conv1d input channels must be in 1...\(ParameterAllocation.maximumSampleElements), "
          + "got \(expectedChannels)")
    }
    self.expectedChannels = expectedChannels
    self.weights = WeightedConvolution(config: config)
  }

  /// Creates a 1-D convolution.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` for sizes or padding out of range.
  public convenience init(
    filters: Int, kernelSize: Int, strides: Int = 1, padding: Padding = .valid, dilation: Int = 1,
    activation: ActivationFunction = .linear, useBias: Bool = true,
    kernelInitializer: Initializer = .glorotUniform, name: String = ""
  ) throws {
    try self.init(
      config: Config(
        filters: filters, kernelSize: kernelSize, strides: strides, padding: padding,
        dilation: dilation, activation: activation, useBias: useBias,
        kernelInitializer: kernelInitializer),
      expectedChannels: nil)
    self.name = name
  }

  /// Creates a 1-D convolution written as `Conv1D(8 => 32, kernelSize: 3)`; the input channel
  /// count is checked when the layer is built.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` for sizes or padding out of range.
  public convenience init(
    _ channels: LayerSizes, kernelSize: Int, strides: Int = 1, padding: Padding = .valid,
    dilation: Int = 1, activation: ActivationFunction = .linear, name: String = ""
  ) throws {
    try self.init(
      config: Config(
        filters: channels.outputs, kernelSize: kernelSize, strides: strides, padding: padding,
        dilation: dilation, activation: activation),
      expectedChannels: channels.inputs)
    self.name = name
  }

  public var parameters: [Parameter] { weights.parameters }

  public func build(for inputShape: SymbolicShape) throws -> SymbolicShape {
    let expected = "[steps, \(expectedChannels.map(String.init) ?? "channels")] (rank 2)"
    let shape = try Validate.input(inputShape, rank: 2, layer: name, expected: expected)
    let (steps, channels) = (shape[0], shape[1])
    if let expectedChannels, expectedChannels != channels {
      throw PlexusError.shapeMismatch(layer: name, expected: expected, found: shape)
    }
    try config.validateGroups(channels: channels, layer: "conv1d '\(name)'")
    let groups = config.groups
    guard
      let resolved = config.padding.resolve(
        input: steps, kernel: config.kernelSize, stride: config.strides, dilation: config.dilation,
        axis: .width)
    else {
      throw PlexusError.shapeMismatch(
        layer: name,
        expected: "at least as many steps as the dilated kernel (size \(config.kernelSize), "
          + "dilation \(config.dilation)) after padding \(config.padding)",
        found: shape)
    }
    let geometry = ConvolutionGeometry(
      inputHeight: 1, inputWidth: steps, channels: channels / groups, kernelHeight: 1,
      kernelWidth: config.kernelSize, strideWidth: config.strides, dilationWidth: config.dilation,
      padLeft: resolved.before, outputHeight: 1, outputWidth: resolved.output)
    let filters = config.filters
    return try weights.build(
      outputShape: [resolved.output, filters],
      pass: GroupedConvolution(
        inner: ConvolutionLowering(geometry: geometry, filters: filters / groups), groups: groups,
        inputChannels: channels / groups, outputChannels: filters / groups,
        kernelColumns: filters / groups,
        depthwise: DepthwiseLowering.forGroups(
          geometry: geometry, groups: groups, channels: channels, filters: filters)),
      kernelShape: [config.kernelSize, channels / groups, filters], layer: name)
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
