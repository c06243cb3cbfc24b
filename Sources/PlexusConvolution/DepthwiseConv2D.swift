import PlexusCore
import PlexusPerceptron

/// A depthwise 2-D convolution over channels-last images: each input channel is convolved with
/// its own `depthMultiplier` filters, `y = activation(depthwise(x, kernel) + bias)`.
///
/// Input `[N, H, W, C]`, output `[N, OH, OW, C * depthMultiplier]`; output channel
/// `c * depthMultiplier + m` is input channel `c` convolved with filter `m`. The kernel is
/// `[KH, KW, C, depthMultiplier]` as in Keras's `DepthwiseConv2D` (PyTorch writes it as a
/// `Conv2d` with `groups = C` and weight `[C * depthMultiplier, 1, KH, KW]`). It computes the
/// grouped convolution with one group per input channel, with direct loops over contiguous
/// channels instead of a column matrix per channel.
///
/// ```swift
/// let depthwise = try DepthwiseConv2D(kernelSize: 3, padding: .same, activation: .relu)
/// ```
public final class DepthwiseConv2D: UnaryLayer {
  /// The hyperparameters of a depthwise convolution. In JSON `kernelSize` is required; omitted
  /// fields take the defaults of `init`, and an unknown key is an error.
  public struct Config: DefaultedConfiguration {
    /// The kernel extent `[height, width]`.
    public var kernelSize: [Int]
    /// The strides (default `[1, 1]`).
    public var strides: [Int]
    /// How borders are padded (default `valid`).
    public var padding: Padding
    /// The dilation (default `[1, 1]`).
    public var dilation: [Int]
    /// The filters per input channel (default 1).
    public var depthMultiplier: Int
    /// The fused activation (default linear).
    public var activation: ActivationFunction
    /// Whether the layer adds a bias `[C * depthMultiplier]`.
    public var useBias: Bool
    /// How the kernel is initialized.
    public var kernelInitializer: Initializer
    /// How the bias is initialized.
    public var biasInitializer: Initializer
    /// An optional penalty on the kernel.
    public var kernelRegularizer: Regularizer?
    /// An optional penalty on the bias.
    public var biasRegularizer: Regularizer?

    /// Creates a config.
    public init(
      kernelSize: [Int], strides: [Int] = [1, 1], padding: Padding = .valid,
      dilation: [Int] = [1, 1], depthMultiplier: Int = 1, activation: ActivationFunction = .linear,
      useBias: Bool = true, kernelInitializer: Initializer = .glorotUniform,
      biasInitializer: Initializer = .zeros, kernelRegularizer: Regularizer? = nil,
      biasRegularizer: Regularizer? = nil
    ) {
      self.kernelSize = kernelSize
      self.strides = strides
      self.padding = padding
      self.dilation = dilation
      self.depthMultiplier = depthMultiplier
      self.activation = activation
      self.useBias = useBias
      self.kernelInitializer = kernelInitializer
      self.biasInitializer = biasInitializer
      self.kernelRegularizer = kernelRegularizer
      self.biasRegularizer = biasRegularizer
    }

    public static var defaults: Config { Config(kernelSize: [1, 1]) }
    public static var fields: [ConfigField<Config>] {
      [
        .required("kernelSize", \.kernelSize), .init("strides", \.strides),
        .init("padding", \.padding), .init("dilation", \.dilation),
        .init("depthMultiplier", \.depthMultiplier), .init("activation", \.activation),
        .init("useBias", \.useBias), .init("kernelInitializer", \.kernelInitializer),
        .init("biasInitializer", \.biasInitializer),
        .init("kernelRegularizer", \.kernelRegularizer),
        .init("biasRegularizer", \.biasRegularizer),
      ]
    }

    /// The same window as a convolution config (its `filters` is the depth multiplier).
    var convolution: ConvolutionConfig<[Int]> {
      ConvolutionConfig(
        filters: depthMultiplier, kernelSize: kernelSize, strides: strides, padding: padding,
        dilation: dilation, activation: activation, useBias: useBias,
        kernelInitializer: kernelInitializer, biasInitializer: biasInitializer,
        kernelRegularizer: kernelRegularizer, biasRegularizer: biasRegularizer)
    }
  }

  public static let typeName = "plexus.depthwise_conv2d"
  public let state = LayerState()
  public let config: Config
  /// The kernel `[KH, KW, C, depthMultiplier]` (its shape is declared when the layer is built).
  public var kernel: Parameter { weights.kernel }
  /// The bias `[C * depthMultiplier]` (when `useBias`).
  public var bias: Parameter? { weights.bias }
  /// The per-sample output shape `[OH, OW, C * depthMultiplier]`, once built.
  public var outputShape: [Int]? { weights.outputShape }
  private let weights: WeightedConvolution<[Int], DepthwiseLowering>

  /// - Throws: `PlexusError.invalidConfiguration` for a depth multiplier, kernel size, strides
  ///   or dilation out of range, or padding amounts out of range.
  public convenience init(config: Config) throws {
    try self.init(config: config, kernelName: "kernel")
  }

  /// A layer whose kernel parameter is called `kernelName` (`SeparableConv2D`'s
  /// `depthwise_kernel`); `kind` names the layer kind in configuration errors.
  init(config: Config, kernelName: String, kind: String = "depthwise_conv2d") throws {
    guard config.depthMultiplier > 0,
      config.depthMultiplier <= ParameterAllocation.maximumSampleElements
    else {
      throw PlexusError.invalidConfiguration(
        "\(kind) depthMultiplier must be in "
          + "1...\(ParameterAllocation.maximumSampleElements), got \(config.depthMultiplier)")
    }
    try config.convolution.validate2D(layer: kind)
    self.config = config
    self.weights = WeightedConvolution(config: config.convolution, kernelName: kernelName)
  }

  /// Creates a depthwise convolution with a square kernel, strides and dilation.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` for sizes or padding out of range.
  public convenience init(
    kernelSize: Int, strides: Int = 1, padding: Padding = .valid, dilation: Int = 1,
    depthMultiplier: Int = 1, activation: ActivationFunction = .linear, useBias: Bool = true,
    kernelInitializer: Initializer = .glorotUniform, name: String = ""
  ) throws {
    try self.init(
      config: Config(
        kernelSize: [kernelSize, kernelSize], strides: [strides, strides], padding: padding,
        dilation: [dilation, dilation], depthMultiplier: depthMultiplier, activation: activation,
        useBias: useBias, kernelInitializer: kernelInitializer))
    self.name = name
  }

  public var parameters: [Parameter] { weights.parameters }

  public func build(for inputShape: SymbolicShape) throws -> SymbolicShape {
    let shape = try Validate.input(
      inputShape, rank: 3, layer: name, expected: "[height, width, channels] (rank 3)")
    let (height, width, channels) = (shape[0], shape[1], shape[2])
    let multiplier = config.depthMultiplier
    let (outputChannels, overflow) = channels.multipliedReportingOverflow(by: multiplier)
    guard !overflow, outputChannels <= ParameterAllocation.maximumSampleElements else {
      throw PlexusError.invalidShape(
        "depthwise_conv2d '\(name)': \(channels) channels times depthMultiplier "
          + "\(multiplier) is more than \(ParameterAllocation.maximumSampleElements) outputs")
    }
    let geometry = try config.convolution.geometry2D(
      height: height, width: width, groupChannels: channels, shape: shape, layer: name)
    return try weights.build(
      outputShape: [geometry.outputHeight, geometry.outputWidth, outputChannels],
      pass: DepthwiseLowering(geometry: geometry, multiplier: multiplier),
      kernelShape: [config.kernelSize[0], config.kernelSize[1], channels, multiplier],
      layer: name)
  }

  public func forward(_ input: Tensor, record: CallRecord) throws -> Tensor {
    try weights.forward(input, record: record, layer: name)
  }

  /// Accumulates the kernel and bias gradients; without `computingInputGradient` the input
  /// gradient is not computed and `nil` is returned.
  public func backward(_ outputGradient: Tensor, record: CallRecord, computingInputGradient: Bool)
    throws -> Tensor?
  {
    try weights.backward(
      outputGradient, record: record, computingInputGradient: computingInputGradient,
      layer: name)
  }
}
