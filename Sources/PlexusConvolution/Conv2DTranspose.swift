import PlexusCore
import PlexusPerceptron

/// A 2-D transposed convolution (sometimes called deconvolution): the adjoint of `Conv2D`,
/// which upsamples by its strides. Used by convolutional autoencoders and decoders.
///
/// Input `[N, H, W, C]`, output `[N, OH, OW, filters]` with, per axis,
/// `OH = (H - 1) * stride + dilatedKernel` for `valid`, `OH = H * stride` for `same`, and
/// `OH = (H - 1) * stride + dilatedKernel - top - bottom` for explicit padding (padding crops
/// the output, as in Keras and PyTorch). The kernel is stored `[KH, KW, filters, C]` as in
/// Keras (PyTorch stores `[C, filters, KH, KW]`).
///
/// ```swift
/// let up = try Conv2DTranspose(filters: 16, kernelSize: 3, strides: 2, padding: .same)
/// ```
public final class Conv2DTranspose: Layer {
  /// The hyperparameters of a transposed convolution.
  public struct Config: LayerConfiguration {
    /// The number of output channels.
    public var filters: Int
    /// The kernel extent `[height, width]`.
    public var kernelSize: [Int]
    /// The strides `[height, width]` (the upsampling factors; default `[1, 1]`).
    public var strides: [Int]
    /// How the output is cropped (default `valid`: not at all).
    public var padding: Padding
    /// The dilation `[height, width]` (default `[1, 1]`).
    public var dilation: [Int]
    /// The fused activation (default linear).
    public var activation: ActivationFunction
    /// Whether the layer adds a bias.
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
      filters: Int, kernelSize: [Int], strides: [Int] = [1, 1], padding: Padding = .valid,
      dilation: [Int] = [1, 1], activation: ActivationFunction = .linear, useBias: Bool = true,
      kernelInitializer: Initializer = .glorotUniform, biasInitializer: Initializer = .zeros,
      kernelRegularizer: Regularizer? = nil, biasRegularizer: Regularizer? = nil
    ) {
      self.filters = filters
      self.kernelSize = kernelSize
      self.strides = strides
      self.padding = padding
      self.dilation = dilation
      self.activation = activation
      self.useBias = useBias
      self.kernelInitializer = kernelInitializer
      self.biasInitializer = biasInitializer
      self.kernelRegularizer = kernelRegularizer
      self.biasRegularizer = biasRegularizer
    }

    private enum CodingKeys: String, CodingKey {
      case filters, kernelSize, strides, padding, dilation, activation, useBias, kernelInitializer,
        biasInitializer, kernelRegularizer, biasRegularizer
    }

    public init(from decoder: Decoder) throws {
      let container = try decoder.container(keyedBy: CodingKeys.self)
      filters = try container.decode(Int.self, forKey: .filters)
      kernelSize = try container.decode([Int].self, forKey: .kernelSize)
      strides = try container.decodeIfPresent([Int].self, forKey: .strides) ?? [1, 1]
      padding = try container.decodeIfPresent(Padding.self, forKey: .padding) ?? .valid
      dilation = try container.decodeIfPresent([Int].self, forKey: .dilation) ?? [1, 1]
      activation =
        try container.decodeIfPresent(ActivationFunction.self, forKey: .activation) ?? .linear
      useBias = try container.decodeIfPresent(Bool.self, forKey: .useBias) ?? true
      kernelInitializer =
        try container.decodeIfPresent(Initializer.self, forKey: .kernelInitializer)
        ?? .glorotUniform
      biasInitializer =
        try container.decodeIfPresent(Initializer.self, forKey: .biasInitializer) ?? .zeros
      kernelRegularizer = try container.decodeIfPresent(
        Regularizer.self, forKey: .kernelRegularizer)
      biasRegularizer = try container.decodeIfPresent(Regularizer.self, forKey: .biasRegularizer)
    }
  }

  public static let typeName = "plexus.conv2d_transpose"
  public var name = ""
  public let config: Config
  /// The kernel `[KH, KW, filters, C]`, once built.
  public private(set) var kernel: Parameter?
  /// The bias `[filters]`, once built (and when `useBias`).
  public private(set) var bias: Parameter?
  /// The per-sample output shape `[OH, OW, filters]`, once built.
  public private(set) var outputShape: [Int]?
  private var inputShape: [Int]?
  private var lowering: TransposedConvolutionLowering?
  private var cachedInput: Tensor?
  private var activation: FusedActivation

  /// - Throws: `PlexusError.invalidConfiguration` for non-positive filters, kernel size,
  ///   strides or dilation, or negative padding.
  public init(config: Config) throws {
    guard config.filters > 0 else {
      throw PlexusError.invalidConfiguration(
        "conv2d_transpose filters must be positive, got \(config.filters)")
    }
    try Validate.positivePair(config.kernelSize, what: "kernelSize", layer: "conv2d_transpose")
    try Validate.positivePair(config.strides, what: "strides", layer: "conv2d_transpose")
    try Validate.positivePair(config.dilation, what: "dilation", layer: "conv2d_transpose")
    try config.padding.validate(in: "conv2d_transpose")
    self.config = config
    self.activation = FusedActivation(config.activation)
  }

  /// Creates a transposed convolution with a square kernel, strides and dilation.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` for non-positive sizes or negative padding.
  public convenience init(
    filters: Int, kernelSize: Int, strides: Int = 1, padding: Padding = .valid, dilation: Int = 1,
    activation: ActivationFunction = .linear, useBias: Bool = true,
    kernelInitializer: Initializer = .glorotUniform, name: String = ""
  ) throws {
    try self.init(
      config: Config(
        filters: filters, kernelSize: [kernelSize, kernelSize], strides: [strides, strides],
        padding: padding, dilation: [dilation, dilation], activation: activation, useBias: useBias,
        kernelInitializer: kernelInitializer))
    self.name = name
  }

  public var parameters: [Parameter] { [kernel, bias].compactMap { $0 } }

  /// The output extent and the forward convolution's padding before, along one axis.
  private func resolve(input: Int, axis: Int) -> (output: Int, before: Int)? {
    let kernel = config.kernelSize[axis]
    let stride = config.strides[axis]
    let effective = config.dilation[axis] * (kernel - 1) + 1
    switch config.padding {
    case .valid:
      return ((input - 1) * stride + effective, 0)
    case .same:
      let output = input * stride
      return (output, Swift.max((input - 1) * stride + effective - output, 0) / 2)
    case .explicit(let top, let bottom, let left, let right):
      let (before, after) = axis == 0 ? (top, bottom) : (left, right)
      let output = (input - 1) * stride + effective - before - after
      return output > 0 ? (output, before) : nil
    }
  }

  public func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    try ShapeCheck.require(
      inputShape, rank: 3, layer: name, expected: "[height, width, channels] (rank 3)")
    let (height, width, channels) = (inputShape[0], inputShape[1], inputShape[2])
    guard let rows = resolve(input: height, axis: 0), let columns = resolve(input: width, axis: 1)
    else {
      throw PlexusError.shapeMismatch(
        layer: name,
        expected:
          "an input whose transposed output stays non-empty after padding \(config.padding)",
        found: inputShape)
    }
    let (kh, kw) = (config.kernelSize[0], config.kernelSize[1])
    let filters = config.filters
    let geometry = ConvolutionGeometry(
      inputHeight: rows.output, inputWidth: columns.output, channels: filters, kernelHeight: kh,
      kernelWidth: kw, strideHeight: config.strides[0], strideWidth: config.strides[1],
      dilationHeight: config.dilation[0], dilationWidth: config.dilation[1], padTop: rows.before,
      padLeft: columns.before, outputHeight: height, outputWidth: width)
    let receptiveField = kh * kw
    kernel = Parameter(
      name: "kernel",
      value: config.kernelInitializer.make(
        shape: [kh, kw, filters, channels], fanIn: receptiveField * filters,
        fanOut: receptiveField * channels, using: &generator),
      regularizer: config.kernelRegularizer)
    bias =
      config.useBias
      ? Parameter(
        name: "bias",
        value: config.biasInitializer.make(
          shape: [filters], fanIn: receptiveField * filters, fanOut: receptiveField * channels,
          using: &generator),
        regularizer: config.biasRegularizer)
      : nil
    lowering = TransposedConvolutionLowering(geometry: geometry, inputChannels: channels)
    self.inputShape = inputShape
    let output = [rows.output, columns.output, filters]
    outputShape = output
    return output
  }

  public func forward(_ input: Tensor, training: Bool) throws -> Tensor {
    try ShapeCheck.requireBatch(input, sampleShape: inputShape, layer: name)
    guard let kernel, let lowering, let outputShape else {
      throw PlexusError.notBuilt("layer '\(name)' must be built before it is run")
    }
    let z = lowering.forward(
      input: input, kernel: kernel.value, bias: bias?.value,
      outputShape: [input.batchCount] + outputShape)
    cachedInput = input
    return activation.apply(z)
  }

  public func backward(_ outputGradient: Tensor) throws -> Tensor {
    try ShapeCheck.requireGradient(outputGradient, matches: activation.output?.shape, layer: name)
    guard let kernel, let lowering, let cachedInput else {
      throw PlexusError.notBuilt("layer '\(name)': backward called before forward")
    }
    let gradient = activation.backward(outputGradient)
    return lowering.backward(gradient: gradient, input: cachedInput, kernel: kernel, bias: bias)
  }
}
