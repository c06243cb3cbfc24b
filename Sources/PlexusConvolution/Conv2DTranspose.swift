import PlexusCore
import PlexusPerceptron

/// A 2-D transposed convolution (sometimes called deconvolution): the adjoint of `Conv2D`,
/// which upsamples by its strides. Used by convolutional autoencoders and decoders.
///
/// Input `[N, H, W, C]`, output `[N, OH, OW, filters]` with, per axis,
/// `OH = (H - 1) * stride + dilatedKernel` for `valid`, `OH = H * stride` for `same`, and
/// `OH = (H - 1) * stride + dilatedKernel - top - bottom` for explicit padding (padding crops
/// the output, as in Keras and PyTorch). The kernel is stored `[KH, KW, filters, C]` as in
/// Keras (PyTorch stores `[C, filters, KH, KW]`); with `groups` > 1 it is
/// `[KH, KW, filters / groups, C]`, each group of input channels producing its own block of
/// output channels.
///
/// ```swift
/// let up = try Conv2DTranspose(filters: 16, kernelSize: 3, strides: 2, padding: .same)
/// ```
public final class Conv2DTranspose: UnaryLayer {
  /// The hyperparameters (see `ConvolutionConfig`).
  public typealias Config = ConvolutionConfig<[Int]>

  public static let typeName = "plexus.conv2d_transpose"
  public let state = LayerState()
  public var config: Config { weights.config }
  /// The kernel `[KH, KW, filters, C]` (its shape is declared when the layer is built).
  public var kernel: Parameter { weights.kernel }
  /// The bias `[filters]` (when `useBias`).
  public var bias: Parameter? { weights.bias }
  /// The per-sample output shape `[OH, OW, filters]`, once built.
  public var outputShape: [Int]? { weights.outputShape }
  private let weights: WeightedConvolution<[Int], GroupedConvolution<TransposedConvolutionLowering>>

  /// - Throws: `PlexusError.invalidConfiguration` for filters, kernel size, strides or
  ///   dilation out of range, or padding amounts out of range.
  public init(config: Config) throws {
    try config.validate2D(layer: "conv2d_transpose")
    self.weights = WeightedConvolution(config: config)
  }

  /// Creates a transposed convolution with a square kernel, strides and dilation.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` for sizes or padding out of range.
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

  public var parameters: [Parameter] { weights.parameters }

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

  public func build(for inputShape: SymbolicShape) throws -> SymbolicShape {
    let shape = try Validate.input(
      inputShape, rank: 3, layer: name, expected: "[height, width, channels] (rank 3)")
    let (height, width, channels) = (shape[0], shape[1], shape[2])
    guard let rows = resolve(input: height, axis: 0), let columns = resolve(input: width, axis: 1)
    else {
      throw PlexusError.shapeMismatch(
        layer: name,
        expected:
          "an input whose transposed output stays non-empty after padding \(config.padding)",
        found: shape)
    }
    try config.validateGroups(channels: channels, layer: "conv2d_transpose '\(name)'")
    let groups = config.groups
    let (kh, kw) = (config.kernelSize[0], config.kernelSize[1])
    let filters = config.filters
    let geometry = ConvolutionGeometry(
      inputHeight: rows.output, inputWidth: columns.output, channels: filters / groups,
      kernelHeight: kh,
      kernelWidth: kw, strideHeight: config.strides[0], strideWidth: config.strides[1],
      dilationHeight: config.dilation[0], dilationWidth: config.dilation[1], padTop: rows.before,
      padLeft: columns.before, outputHeight: height, outputWidth: width)
    return try weights.build(
      outputShape: [rows.output, columns.output, filters],
      pass: GroupedConvolution(
        inner: TransposedConvolutionLowering(geometry: geometry, inputChannels: channels / groups),
        groups: groups, inputChannels: channels / groups, outputChannels: filters / groups,
        kernelColumns: channels / groups),
      kernelShape: [kh, kw, filters / groups, channels], layer: name)
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
