import PlexusCore
import PlexusPerceptron

/// A depthwise separable 2-D convolution, as Keras's `SeparableConv2D`: a depthwise
/// convolution (each input channel with its own `depthMultiplier` filters, no bias) followed
/// by a pointwise 1x1 convolution to `filters` channels, the bias and the activation.
///
/// Input `[N, H, W, C]`, output `[N, OH, OW, filters]`. Parameters: `depthwise_kernel`
/// `[KH, KW, C, depthMultiplier]`, `pointwise_kernel` `[1, 1, C * depthMultiplier, filters]`
/// and `bias` `[filters]` (when `useBias`).
///
/// ```swift
/// let separable = try SeparableConv2D(filters: 32, kernelSize: 3, padding: .same)
/// ```
public final class SeparableConv2D: UnaryLayer {
  /// The hyperparameters of a separable convolution. In JSON `filters` and `kernelSize` are
  /// required; omitted fields take the defaults of `init`, and an unknown key is an error.
  public struct Config: DefaultedConfiguration {
    /// The output channels of the pointwise convolution.
    public var filters: Int
    /// The depthwise kernel extent `[height, width]`.
    public var kernelSize: [Int]
    /// The depthwise strides (default `[1, 1]`).
    public var strides: [Int]
    /// How the depthwise convolution pads borders (default `valid`).
    public var padding: Padding
    /// The depthwise dilation (default `[1, 1]`).
    public var dilation: [Int]
    /// The depthwise filters per input channel (default 1).
    public var depthMultiplier: Int
    /// The activation after the bias (default linear).
    public var activation: ActivationFunction
    /// Whether the layer adds a bias `[filters]`.
    public var useBias: Bool
    /// How the depthwise kernel is initialized.
    public var depthwiseInitializer: Initializer
    /// How the pointwise kernel is initialized.
    public var pointwiseInitializer: Initializer
    /// How the bias is initialized.
    public var biasInitializer: Initializer
    /// An optional penalty on the depthwise kernel.
    public var depthwiseRegularizer: Regularizer?
    /// An optional penalty on the pointwise kernel.
    public var pointwiseRegularizer: Regularizer?
    /// An optional penalty on the bias.
    public var biasRegularizer: Regularizer?

    /// Creates a config.
    public init(
      filters: Int, kernelSize: [Int], strides: [Int] = [1, 1], padding: Padding = .valid,
      dilation: [Int] = [1, 1], depthMultiplier: Int = 1, activation: ActivationFunction = .linear,
      useBias: Bool = true, depthwiseInitializer: Initializer = .glorotUniform,
      pointwiseInitializer: Initializer = .glorotUniform, biasInitializer: Initializer = .zeros,
      depthwiseRegularizer: Regularizer? = nil, pointwiseRegularizer: Regularizer? = nil,
      biasRegularizer: Regularizer? = nil
    ) {
      self.filters = filters
      self.kernelSize = kernelSize
      self.strides = strides
      self.padding = padding
      self.dilation = dilation
      self.depthMultiplier = depthMultiplier
      self.activation = activation
      self.useBias = useBias
      self.depthwiseInitializer = depthwiseInitializer
      self.pointwiseInitializer = pointwiseInitializer
      self.biasInitializer = biasInitializer
      self.depthwiseRegularizer = depthwiseRegularizer
      self.pointwiseRegularizer = pointwiseRegularizer
      self.biasRegularizer = biasRegularizer
    }

    public static var defaults: Config { Config(filters: 1, kernelSize: [1, 1]) }
    public static var fields: [ConfigField<Config>] {
      [
        .required("filters", \.filters), .required("kernelSize", \.kernelSize),
        .init("strides", \.strides), .init("padding", \.padding), .init("dilation", \.dilation),
        .init("depthMultiplier", \.depthMultiplier), .init("activation", \.activation),
        .init("useBias", \.useBias), .init("depthwiseInitializer", \.depthwiseInitializer),
        .init("pointwiseInitializer", \.pointwiseInitializer),
        .init("biasInitializer", \.biasInitializer),
        .init("depthwiseRegularizer", \.depthwiseRegularizer),
        .init("pointwiseRegularizer", \.pointwiseRegularizer),
        .init("biasRegularizer", \.biasRegularizer),
      ]
    }

    /// The depthwise stage: no bias, no activation.
    var depthwise: DepthwiseConv2D.Config {
      DepthwiseConv2D.Config(
        kernelSize: kernelSize, strides: strides, padding: padding, dilation: dilation,
        depthMultiplier: depthMultiplier, useBias: false,
        kernelInitializer: depthwiseInitializer, kernelRegularizer: depthwiseRegularizer)
    }

    /// The pointwise stage: a 1x1 convolution with the bias and the activation.
    var pointwise: Conv2D.Config {
      Conv2D.Config(
        filters: filters, kernelSize: [1, 1], activation: activation, useBias: useBias,
        kernelInitializer: pointwiseInitializer, biasInitializer: biasInitializer,
        kernelRegularizer: pointwiseRegularizer, biasRegularizer: biasRegularizer)
    }
  }

  /// The records of one call's two stages, kept in the call's `scratch`.
  private final class StageRecords {
    let depthwise = CallRecord()
    let pointwise = CallRecord()

    static func of(_ record: CallRecord) -> StageRecords {
      if let records = record.scratch as? StageRecords { return records }
      let records = StageRecords()
      record.scratch = records
      return records
    }
  }

  public static let typeName = "plexus.separable_conv2d"
  public let state = LayerState()
  public let config: Config
  /// The depthwise kernel `[KH, KW, C, depthMultiplier]` (declared when the layer is built).
  public var depthwiseKernel: Parameter { depthwise.kernel }
  /// The pointwise kernel `[1, 1, C * depthMultiplier, filters]`.
  public var pointwiseKernel: Parameter { pointwise.kernel }
  /// The bias `[filters]` (when `useBias`).
  public var bias: Parameter? { pointwise.bias }
  private let depthwise: DepthwiseConv2D
  private let pointwise: Conv2D

  /// - Throws: `PlexusError.invalidConfiguration` for filters, depth multiplier, kernel size,
  ///   strides or dilation out of range, or padding amounts out of range.
  public init(config: Config) throws {
    depthwise = try DepthwiseConv2D(
      config: config.depthwise, kernelName: "depthwise_kernel", kind: "separable_conv2d")
    pointwise = try Conv2D(
      config: config.pointwise, expectedChannels: nil, kernelName: "pointwise_kernel",
      kind: "separable_conv2d")
    self.config = config
  }

  /// Creates a separable convolution with a square kernel, strides and dilation.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` for sizes or padding out of range.
  public convenience init(
    filters: Int, kernelSize: Int, strides: Int = 1, padding: Padding = .valid, dilation: Int = 1,
    depthMultiplier: Int = 1, activation: ActivationFunction = .linear, useBias: Bool = true,
    name: String = ""
  ) throws {
    try self.init(
      config: Config(
        filters: filters, kernelSize: [kernelSize, kernelSize], strides: [strides, strides],
        padding: padding, dilation: [dilation, dilation], depthMultiplier: depthMultiplier,
        activation: activation, useBias: useBias))
    self.name = name
  }

  public var parameters: [Parameter] { depthwise.parameters + pointwise.parameters }

  public func build(for inputShape: SymbolicShape) throws -> SymbolicShape {
    _ = try Validate.input(
      inputShape, rank: 3, layer: name, expected: "[height, width, channels] (rank 3)")
    depthwise.name = name
    pointwise.name = name
    let middle = try depthwise.ensureBuilt(inputShapes: [inputShape])
    return try pointwise.ensureBuilt(inputShapes: middle)[0]
  }

  public func forward(_ input: Tensor, record: CallRecord) throws -> Tensor {
    let stages = StageRecords.of(record)
    let training = record.isTraining
    let middle = try depthwise.run([input], training: training, record: stages.depthwise)
    return try pointwise.run(middle, training: training, record: stages.pointwise)[0]
  }

  /// Accumulates the kernel and bias gradients; without `computingInputGradient` the input
  /// gradient of the depthwise stage is not computed and `nil` is returned.
  public func backward(_ outputGradient: Tensor, record: CallRecord, computingInputGradient: Bool)
    throws -> Tensor?
  {
    let stages = StageRecords.of(record)
    guard let middle = try pointwise.gradients([outputGradient], record: stages.pointwise)[0]
    else {
      throw PlexusError.invalidArgument(
        "separable_conv2d '\(name)': the pointwise stage returned no gradient")
    }
    return try depthwise.gradients(
      [middle], record: stages.depthwise, computingInputGradients: computingInputGradient)[0]
  }
}
