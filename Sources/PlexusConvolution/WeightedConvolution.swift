import PlexusCore

/// The type of a convolution's kernel size, strides and dilation: one `Int` for `Conv1D`,
/// `[height, width]` for `Conv2D` and `Conv2DTranspose`.
public protocol ConvolutionExtent: Codable, Sendable, Equatable {
  /// The default strides and dilation (`1`, `[1, 1]`).
  static var unitExtent: Self { get }
}

extension Int: ConvolutionExtent {
  /// `1`: the default stride and dilation of a 1-D convolution.
  public static var unitExtent: Int { 1 }
}

extension Array: ConvolutionExtent where Element == Int {
  /// `[1, 1]`: the default strides and dilation of a 2-D convolution.
  public static var unitExtent: [Int] { [1, 1] }
}

/// The hyperparameters of a weighted convolution (`Conv1D.Config`, `Conv2D.Config`,
/// `Conv2DTranspose.Config`). Omitted JSON fields take the defaults of `init`.
public struct ConvolutionConfig<Extent: ConvolutionExtent>: LayerConfiguration {
  /// The number of output channels.
  public var filters: Int
  /// The kernel extent (`[height, width]` in 2-D).
  public var kernelSize: Extent
  /// The strides (the upsampling factors of a transposed convolution; default 1 per axis).
  public var strides: Extent
  /// How borders are padded, or for a transposed convolution how its output is cropped
  /// (default `valid`; a 1-D convolution takes explicit amounts in `left` and `right` only).
  public var padding: Padding
  /// The dilation (default 1 per axis, no holes).
  public var dilation: Extent
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
    filters: Int, kernelSize: Extent, strides: Extent = .unitExtent, padding: Padding = .valid,
    dilation: Extent = .unitExtent, activation: ActivationFunction = .linear,
    useBias: Bool = true, kernelInitializer: Initializer = .glorotUniform,
    biasInitializer: Initializer = .zeros, kernelRegularizer: Regularizer? = nil,
    biasRegularizer: Regularizer? = nil
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
    kernelSize = try container.decode(Extent.self, forKey: .kernelSize)
    strides = try container.decodeIfPresent(Extent.self, forKey: .strides) ?? .unitExtent
    padding = try container.decodeIfPresent(Padding.self, forKey: .padding) ?? .valid
    dilation = try container.decodeIfPresent(Extent.self, forKey: .dilation) ?? .unitExtent
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

extension ConvolutionConfig where Extent == [Int] {
  /// Throws unless filters, kernel size, strides and dilation are positive pairs and the
  /// padding is valid; `layer` names the layer kind in the message.
  func validate2D(layer: String) throws {
    guard filters > 0 else {
      throw PlexusError.invalidConfiguration("\(layer) filters must be positive, got \(filters)")
    }
    try Validate.positivePair(kernelSize, what: "kernelSize", layer: layer)
    try Validate.positivePair(strides, what: "strides", layer: layer)
    try Validate.positivePair(dilation, what: "dilation", layer: layer)
    try padding.validate(in: layer)
  }
}

/// A lowered convolution pass: `ConvolutionLowering` or `TransposedConvolutionLowering`.
protocol ConvolutionPass {
  /// Whether the pass applies a fusable activation (and its derivative) on its output tiles.
  static var fusesActivation: Bool { get }

  /// Convolves a batch, adds the bias and applies `activation` (only when it fuses them).
  func forward(
    input: Tensor, kernel: Tensor, bias: Tensor?, activation: ActivationFunction, outputShape: [Int]
  ) -> Tensor

  /// Accumulates the kernel and bias gradients and returns the input gradient (`nil`, and
  /// not computed, without `computingInputGradient`); `activation` and `activationOutput` as
  /// in `ConvolutionLowering.backward`.
  func backward(
    gradient: Tensor, activation: ActivationFunction, activationOutput: Tensor, input: Tensor,
    kernel: Parameter, bias: Parameter?, computingInputGradient: Bool
  ) -> Tensor?
}

extension ConvolutionLowering: ConvolutionPass {
  static var fusesActivation: Bool { true }
}

extension TransposedConvolutionLowering: ConvolutionPass {
  static var fusesActivation: Bool { false }

  func forward(
    input: Tensor, kernel: Tensor, bias: Tensor?, activation: ActivationFunction, outputShape: [Int]
  ) -> Tensor {
    forward(input: input, kernel: kernel, bias: bias, outputShape: outputShape)
  }

  func backward(
    gradient: Tensor, activation: ActivationFunction, activationOutput: Tensor, input: Tensor,
    kernel: Parameter, bias: Parameter?, computingInputGradient: Bool
  ) -> Tensor? {
    backward(
      gradient: gradient, input: input, kernel: kernel, bias: bias,
      computingInputGradient: computingInputGradient)
  }
}

/// The state and passes shared by the weighted convolution layers: the kernel and bias, the
/// lowered convolution, the shapes, the cached input and the fused activation. The layers
/// check their input shapes and work out the geometry in `build`.
struct WeightedConvolution<Extent: ConvolutionExtent, Pass: ConvolutionPass> {
  let config: ConvolutionConfig<Extent>
  private(set) var kernel: Parameter?
  private(set) var bias: Parameter?
  /// The per-sample output shape, once built.
  private(set) var outputShape: [Int]?
  private var inputShape: [Int]?
  private var pass: Pass?
  private var cachedInput: Tensor?
  private var activation: FusedActivation

  init(config: ConvolutionConfig<Extent>) {
    self.config = config
    self.activation = FusedActivation(config.activation)
  }

  var parameters: [Parameter] { [kernel, bias].compactMap { $0 } }

  /// Creates the kernel (of `kernelShape`) and, with `useBias`, the bias `[filters]`, both
  /// initialized with the given fans, and keeps the pass and the shapes.
  mutating func build(
    inputShape: [Int], outputShape: [Int], pass: Pass, kernelShape: [Int], fanIn: Int,
    fanOut: Int, generator: inout SeededGenerator
  ) throws -> [Int] {
    kernel = Parameter(
      name: "kernel",
      value: try config.kernelInitializer.make(
        shape: kernelShape, fanIn: fanIn, fanOut: fanOut, using: &generator),
      regularizer: config.kernelRegularizer)
    bias =
      config.useBias
      ? Parameter(
        name: "bias",
        value: try config.biasInitializer.make(
          shape: [config.filters], fanIn: fanIn, fanOut: fanOut, using: &generator),
        regularizer: config.biasRegularizer)
      : nil
    self.pass = pass
    self.inputShape = inputShape
    self.outputShape = outputShape
    return outputShape
  }

  /// Runs the convolution and the activation on a batch and caches what backward needs.
  mutating func forward(_ input: Tensor, layer: String) throws -> Tensor {
    try ShapeCheck.requireBatch(input, sampleShape: inputShape, layer: layer)
    guard let kernel, let pass, let outputShape else {
      throw PlexusError.notBuilt("layer '\(layer)' must be built before it is run")
    }
    let fused = Pass.fusesActivation && activation.isFusable
    let z = pass.forward(
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

  /// Accumulates the parameter gradients and returns the input gradient (`nil`, and not
  /// computed, without `computingInputGradient`).
  func backward(
    _ outputGradient: Tensor, computingInputGradient: Bool, layer: String
  ) throws -> Tensor? {
    try ShapeCheck.requireGradient(outputGradient, matches: activation.output?.shape, layer: layer)
    guard let kernel, let pass, let cachedInput, let output = activation.output else {
      throw PlexusError.notBuilt("layer '\(layer)': backward called before forward")
    }
    if Pass.fusesActivation && activation.isFusable {
      // The lowering applies the derivative tile by tile.
      return pass.backward(
        gradient: outputGradient, activation: config.activation, activationOutput: output,
        input: cachedInput, kernel: kernel, bias: bias,
        computingInputGradient: computingInputGradient)
    }
    return pass.backward(
      gradient: activation.backward(outputGradient), activation: .linear,
      activationOutput: output, input: cachedInput, kernel: kernel, bias: bias,
      computingInputGradient: computingInputGradient)
  }

  /// The input gradient, for `Layer.backward(_:)`.
  func backward(_ outputGradient: Tensor, layer: String) throws -> Tensor {
    guard let gradient = try backward(outputGradient, computingInputGradient: true, layer: layer)
    else {
      preconditionFailure("a convolution's backward pass returned no input gradient")
    }
    return gradient
  }
}
