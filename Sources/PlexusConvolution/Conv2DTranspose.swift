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
  /// The hyperparameters (see `ConvolutionConfig`).
  public typealias Config = ConvolutionConfig<[Int]>

  public static let typeName = "plexus.conv2d_transpose"
  public var name = ""
  public var config: Config { weights.config }
  /// The kernel `[KH, KW, filters, C]`, once built.
  public var kernel: Parameter? { weights.kernel }
  /// The bias `[filters]`, once built (and when `useBias`).
  public var bias: Parameter? { weights.bias }
  /// The per-sample output shape `[OH, OW, filters]`, once built.
  public var outputShape: [Int]? { weights.outputShape }
  private var weights: WeightedConvolution<[Int], TransposedConvolutionLowering>

  /// - Throws: `PlexusError.invalidConfiguration` for non-positive filters, kernel size,
  ///   strides or dilation, or negative padding.
  public init(config: Config) throws {
    try config.validate2D(layer: "conv2d_transpose")
    self.weights = WeightedConvolution(config: config)
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
    return try weights.build(
      inputShape: inputShape, outputShape: [rows.output, columns.output, filters],
      pass: TransposedConvolutionLowering(geometry: geometry, inputChannels: channels),
      kernelShape: [kh, kw, filters, channels],
      fanIn: receptiveField * filters, fanOut: receptiveField * channels, generator: &generator)
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
