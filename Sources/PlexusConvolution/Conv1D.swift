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
  /// The hyperparameters (see `ConvolutionConfig`).
  public typealias Config = ConvolutionConfig<Int>

  public static let typeName = "plexus.conv1d"
  public var name = ""
  public var config: Config { weights.config }
  /// The kernel `[K, C, filters]`, once built.
  public var kernel: Parameter? { weights.kernel }
  /// The bias `[filters]`, once built (and when `useBias`).
  public var bias: Parameter? { weights.bias }
  /// The per-sample output shape `[OT, filters]`, once built.
  public var outputShape: [Int]? { weights.outputShape }
  private var expectedChannels: Int?
  private var weights: WeightedConvolution<Int, ConvolutionLowering>

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
    self.weights = WeightedConvolution(config: config)
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

  public var parameters: [Parameter] { weights.parameters }

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
    return try weights.build(
      inputShape: inputShape, outputShape: [resolved.output, filters],
      pass: ConvolutionLowering(geometry: geometry, filters: filters),
      kernelShape: [config.kernelSize, channels, filters],
      fanIn: config.kernelSize * channels, fanOut: config.kernelSize * filters,
      generator: &generator)
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
