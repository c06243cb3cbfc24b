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
public final class Conv1D: Layer {
  /// The hyperparameters of a 1-D convolution.
  public struct Config: LayerConfiguration {
    /// The number of output channels.
    public var filters: Int
    /// The kernel length.
    public var kernelSize: Int
    /// The stride (default 1).
    public var strides: Int
    /// How the ends are padded (default `valid`; explicit amounts use `left` and `right`).
    public var padding: Padding
    /// The dilation (default 1).
    public var dilation: Int
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
      filters: Int, kernelSize: Int, strides: Int = 1, padding: Padding = .valid, dilation: Int = 1,
      activation: ActivationFunction = .linear, useBias: Bool = true,
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
      kernelSize = try container.decode(Int.self, forKey: .kernelSize)
      strides = try container.decodeIfPresent(Int.self, forKey: .strides) ?? 1
      padding = try container.decodeIfPresent(Padding.self, forKey: .padding) ?? .valid
      dilation = try container.decodeIfPresent(Int.self, forKey: .dilation) ?? 1
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

  public static let typeName = "plexus.conv1d"
  public var name = ""
  public let config: Config
  /// The kernel `[K, C, filters]`, once built.
  public private(set) var kernel: Parameter?
  /// The bias `[filters]`, once built (and when `useBias`).
  public private(set) var bias: Parameter?
  /// The per-sample output shape `[OT, filters]`, once built.
  public private(set) var outputShape: [Int]?
  private var inputShape: [Int]?
  private var expectedChannels: Int?
  private var lowering: ConvolutionLowering?
  private var cachedInput: Tensor?
  private var activation: FusedActivation

  /// - Throws: `PlexusError.invalidConfiguration` for non-positive filters, kernel size,
  ///   stride or dilation, or negative (or top/bottom) padding.
  public init(config: Config) throws {
    guard config.filters > 0, config.kernelSize > 0, config.strides > 0, config.dilation > 0 else {
      throw PlexusError.invalidConfiguration(
        "conv1d filters, kernelSize, strides and dilation must be positive, got filters \(config.filters), "
          + "kernelSize \(config.kernelSize), strides \(config.strides), dilation \(config.dilation)"
      )
    }
    try config.padding.validate(in: "conv1d")
    if case .explicit(let top, let bottom, _, _) = config.padding, top != 0 || bottom != 0 {
      throw PlexusError.invalidConfiguration(
        "conv1d explicit padding takes only left and right amounts, got top \(top), bottom \(bottom)"
      )
    }
    self.config = config
    self.activation = FusedActivation(config.activation)
  }

  /// Creates a 1-D convolution.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` for non-positive sizes or negative padding.
  public convenience init(
    filters: Int, kernelSize: Int, strides: Int = 1, padding: Padding = .valid, dilation: Int = 1,
    activation: ActivationFunction = .linear, useBias: Bool = true,
    kernelInitializer: Initializer = .glorotUniform, name: String = ""
  ) throws {
    try self.init(
      config: Config(
        filters: filters, kernelSize: kernelSize, strides: strides, padding: padding,
        dilation: dilation,
        activation: activation, useBias: useBias, kernelInitializer: kernelInitializer))
    self.name = name
  }

  /// Creates a 1-D convolution written as `Conv1D(8 => 32, kernelSize: 3)`; the input channel
  /// count is checked when the layer is built.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` for non-positive sizes or negative padding.
  public convenience init(
    _ channels: LayerSizes, kernelSize: Int, strides: Int = 1, padding: Padding = .valid,
    dilation: Int = 1, activation: ActivationFunction = .linear, name: String = ""
  ) throws {
    try self.init(
      filters: channels.outputs, kernelSize: kernelSize, strides: strides, padding: padding,
      dilation: dilation, activation: activation, name: name)
    self.expectedChannels = channels.inputs
  }

  public var parameters: [Parameter] { [kernel, bias].compactMap { $0 } }

  public func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    let expected = "[steps, \(expectedChannels.map(String.init) ?? "channels")] (rank 2)"
    try ShapeCheck.require(inputShape, rank: 2, layer: name, expected: expected)
    let (steps, channels) = (inputShape[0], inputShape[1])
    if let expectedChannels, expectedChannels != channels {
      throw PlexusError.shapeMismatch(layer: name, expected: expected, found: inputShape)
    }
    guard
      let resolved = config.padding.resolve(
        input: steps, kernel: config.kernelSize, stride: config.strides, dilation: config.dilation,
        axis: .width)
    else {
      throw PlexusError.shapeMismatch(
        layer: name,
        expected: "at least as many steps as the dilated kernel (size \(config.kernelSize), "
          + "dilation \(config.dilation)) after padding \(config.padding)",
        found: inputShape)
    }
    let geometry = ConvolutionGeometry(
      inputHeight: 1, inputWidth: steps, channels: channels, kernelHeight: 1,
      kernelWidth: config.kernelSize, strideWidth: config.strides, dilationWidth: config.dilation,
      padLeft: resolved.before, outputHeight: 1, outputWidth: resolved.output)
    let filters = config.filters
    kernel = Parameter(
      name: "kernel",
      value: config.kernelInitializer.make(
        shape: [config.kernelSize, channels, filters], fanIn: config.kernelSize * channels,
        fanOut: config.kernelSize * filters, using: &generator),
      regularizer: config.kernelRegularizer)
    bias =
      config.useBias
      ? Parameter(
        name: "bias",
        value: config.biasInitializer.make(
          shape: [filters], fanIn: config.kernelSize * channels,
          fanOut: config.kernelSize * filters,
          using: &generator),
        regularizer: config.biasRegularizer)
      : nil
    lowering = ConvolutionLowering(geometry: geometry, filters: filters)
    self.inputShape = inputShape
    let output = [resolved.output, filters]
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
