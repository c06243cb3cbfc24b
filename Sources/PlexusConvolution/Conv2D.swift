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
  /// The hyperparameters (see `ConvolutionConfig`).
  public typealias Config = ConvolutionConfig<[Int]>

  public static let typeName = "plexus.conv2d"
  public var name = ""
  public var config: Config { weights.config }
  /// The HWIO kernel `[KH, KW, C, filters]`, once built.
  public var kernel: Parameter? { weights.kernel }
  /// The bias `[filters]`, once built (and when `useBias`).
  public var bias: Parameter? { weights.bias }
  /// The per-sample output shape `[OH, OW, filters]`, once built.
  public var outputShape: [Int]? { weights.outputShape }
  private var expectedChannels: Int?
  private var weights: WeightedConvolution<[Int], ConvolutionLowering>

  /// - Throws: `PlexusError.invalidConfiguration` for non-positive filters, kernel size,
  ///   strides or dilation, or negative padding.
  public init(config: Config) throws {
    try config.validate2D(layer: "conv2d")
    self.weights = WeightedConvolution(config: config)
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

  public var parameters: [Parameter] { weights.parameters }

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
    return try weights.build(
      inputShape: inputShape, outputShape: [rows.output, columns.output, filters],
      pass: ConvolutionLowering(geometry: geometry, filters: filters),
      kernelShape: [kh, kw, channels, filters],
      fanIn: receptiveField * channels, fanOut: receptiveField * filters, generator: &generator)
  }

  public func forward(_ input: Tensor, training: Bool) throws -> Tensor {
    try weights.forward(input, layer: name)
  }

  public func backward(_ outputGradient: Tensor) throws -> Tensor {
    try weights.backward(outputGradient, layer: name)
  }

  public func backward(_ outputGradient: Tensor, computingInputGradient: Bool) throws -> Tensor? {
    try weights.backward(
      outputGradient, computingInputGradient: computingInputGradient, layer: name)
  }
}
