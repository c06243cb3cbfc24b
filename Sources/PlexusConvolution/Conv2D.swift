import PlexusCore
import PlexusPerceptron

/// A 2-D convolution over channels-last images: `y = activation(conv(x, kernel) + bias)`.
///
/// Input `[N, H, W, C]`, output `[N, OH, OW, filters]`. The kernel is stored HWIO
/// (`[KH, KW, C, filters]`) as in Keras; PyTorch and ONNX store OIHW. The convolution is
/// lowered to im2col and one BLAS `gemm` per batch.
///
/// ```swift
/// let conv = try Conv2D(filters: 16, kernelSize: 3, padding: .same, activation: .relu)
/// let strided = try Conv2D(1 => 8, kernelSize: 5, strides: 2)
/// ```
public final class Conv2D: Layer {
  /// The hyperparameters of a 2-D convolution.
  public struct Config: LayerConfiguration {
    /// The number of output channels.
    public var filters: Int
    /// The kernel extent `[height, width]`.
    public var kernelSize: [Int]
    /// The strides `[height, width]` (default `[1, 1]`).
    public var strides: [Int]
    /// How borders are padded (default `valid`).
    public var padding: Padding
    /// The dilation `[height, width]` (default `[1, 1]`, no holes).
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

  public static let typeName = "plexus.conv2d"
  public var name = ""
  public let config: Config
  /// The HWIO kernel `[KH, KW, C, filters]`, once built.
  public private(set) var kernel: Parameter?
  /// The bias `[filters]`, once built (and when `useBias`).
  public private(set) var bias: Parameter?
  /// The per-sample output shape `[OH, OW, filters]`, once built.
  public private(set) var outputShape: [Int]?
  private var inputShape: [Int]?
  private var expectedChannels: Int?
  private var lowering: ConvolutionLowering?
  private var cachedInput: Tensor?
  private var activation: FusedActivation

  /// - Throws: `PlexusError.invalidConfiguration` for non-positive filters, kernel size,
  ///   strides or dilation, or negative padding.
  public init(config: Config) throws {
    guard config.filters > 0 else {
      throw PlexusError.invalidConfiguration(
        "conv2d filters must be positive, got \(config.filters)")
    }
    try Validate.positivePair(config.kernelSize, what: "kernelSize", layer: "conv2d")
    try Validate.positivePair(config.strides, what: "strides", layer: "conv2d")
    try Validate.positivePair(config.dilation, what: "dilation", layer: "conv2d")
    try config.padding.validate(in: "conv2d")
    self.config = config
    self.activation = FusedActivation(config.activation)
  }

  /// Creates a convolution with a square kernel, strides and dilation.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` for non-positive sizes or negative padding.
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
        kernelInitializer: kernelInitializer, kernelRegularizer: kernelRegularizer))
    self.name = name
  }

  /// Creates a convolution written as `Conv2D(3 => 16, kernelSize: 3)`; the input channel
  /// count is checked when the layer is built.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` for non-positive sizes or negative padding.
  public convenience init(
    _ channels: LayerSizes, kernelSize: Int, strides: Int = 1, padding: Padding = .valid,
    dilation: Int = 1, activation: ActivationFunction = .linear, useBias: Bool = true,
    name: String = ""
  ) throws {
    try self.init(
      filters: channels.outputs, kernelSize: kernelSize, strides: strides, padding: padding,
      dilation: dilation, activation: activation, useBias: useBias, name: name)
    self.expectedChannels = channels.inputs
  }

  public var parameters: [Parameter] { [kernel, bias].compactMap { $0 } }

  public func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    let expected = "[height, width, \(expectedChannels.map(String.init) ?? "channels")] (rank 3)"
    try ShapeCheck.require(inputShape, rank: 3, layer: name, expected: expected)
    let (height, width, channels) = (inputShape[0], inputShape[1], inputShape[2])
    if let expectedChannels, expectedChannels != channels {
      throw PlexusError.shapeMismatch(layer: name, expected: expected, found: inputShape)
    }
    let (kh, kw) = (config.kernelSize[0], config.kernelSize[1])
    guard
      let rows = config.padding.resolve(
        input: height, kernel: kh, stride: config.strides[0], dilation: config.dilation[0],
        axis: .height),
      let columns = config.padding.resolve(
        input: width, kernel: kw, stride: config.strides[1], dilation: config.dilation[1],
        axis: .width)
    else {
      throw PlexusError.shapeMismatch(
        layer: name,
        expected: "an input at least as large as the dilated kernel \(config.kernelSize) "
          + "(dilation \(config.dilation)) after padding \(config.padding)",
        found: inputShape)
    }
    let geometry = ConvolutionGeometry(
      inputHeight: height, inputWidth: width, channels: channels, kernelHeight: kh, kernelWidth: kw,
      strideHeight: config.strides[0], strideWidth: config.strides[1],
      dilationHeight: config.dilation[0], dilationWidth: config.dilation[1],
      padTop: rows.before, padLeft: columns.before, outputHeight: rows.output,
      outputWidth: columns.output)
    let filters = config.filters
    let receptiveField = kh * kw
    kernel = Parameter(
      name: "kernel",
      value: config.kernelInitializer.make(
        shape: [kh, kw, channels, filters], fanIn: receptiveField * channels,
        fanOut: receptiveField * filters, using: &generator),
      regularizer: config.kernelRegularizer)
    bias =
      config.useBias
      ? Parameter(
        name: "bias",
        value: config.biasInitializer.make(
          shape: [filters], fanIn: receptiveField * channels, fanOut: receptiveField * filters,
          using: &generator),
        regularizer: config.biasRegularizer)
      : nil
    lowering = ConvolutionLowering(geometry: geometry, filters: filters)
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
    let fused = activation.isFusable
    let z = lowering.forward(
      input: input, kernel: kernel.value, bias: bias?.value,
      activation: fused ? config.activation : .linear,
      outputShape: [input.batchCount] + outputShape)
    cachedInput = input
    if fused {
      activation.record(output: z)
      return z
    }
    return activation.apply(z)
  }

  public func backward(_ outputGradient: Tensor) throws -> Tensor {
    try ShapeCheck.requireGradient(outputGradient, matches: activation.output?.shape, layer: name)
    guard let kernel, let lowering, let cachedInput, let output = activation.output else {
      throw PlexusError.notBuilt("layer '\(name)': backward called before forward")
    }
    if activation.isFusable {
      // The lowering applies the derivative tile by tile.
      return lowering.backward(
        gradient: outputGradient, activation: config.activation, activationOutput: output,
        input: cachedInput,
        kernel: kernel, bias: bias)
    }
    return lowering.backward(
      gradient: activation.backward(outputGradient), activation: .linear, activationOutput: output,
      input: cachedInput, kernel: kernel, bias: bias)
  }
}
