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
/// `Conv2DTranspose.Config`). In JSON `filters` and `kernelSize` are required; omitted fields
/// take the defaults of `init`, and an unknown key is an error.
public struct ConvolutionConfig<Extent: ConvolutionExtent>: DefaultedConfiguration {
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
  /// The number of channel groups (default 1): input channels and filters are split into
  /// `groups` blocks and block `g` of the output sees only block `g` of the input, so the
  /// kernel holds `channels / groups` input channels (`[KH, KW, C / groups, filters]` for
  /// `Conv2D`). Both channel counts must be divisible by it. Left out of descriptions while 1.
  public var groups: Int

  /// Creates a config.
  public init(
    filters: Int, kernelSize: Extent, strides: Extent = .unitExtent, padding: Padding = .valid,
    dilation: Extent = .unitExtent, activation: ActivationFunction = .linear,
    useBias: Bool = true, kernelInitializer: Initializer = .glorotUniform,
    biasInitializer: Initializer = .zeros, kernelRegularizer: Regularizer? = nil,
    biasRegularizer: Regularizer? = nil, groups: Int = 1
  ) {
    self.groups = groups
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

  public static var defaults: ConvolutionConfig {
    ConvolutionConfig(filters: 1, kernelSize: .unitExtent)
  }
  public static var fields: [ConfigField<ConvolutionConfig>] {
    [
      .required("filters", \.filters), .required("kernelSize", \.kernelSize),
      .init("strides", \.strides), .init("padding", \.padding), .init("dilation", \.dilation),
      .init("activation", \.activation), .init("useBias", \.useBias),
      .init("kernelInitializer", \.kernelInitializer),
      .init("biasInitializer", \.biasInitializer),
      .init("kernelRegularizer", \.kernelRegularizer),
      .init("biasRegularizer", \.biasRegularizer),
      .omitted("groups", \.groups, whenEqualTo: 1),
    ]
  }
}

extension ConvolutionConfig {
  /// Throws unless the filter count is in `1...ParameterAllocation.maximumSampleElements` and
  /// the padding is valid; `layer` names the layer kind in the message.
  func validateCommon(layer: String) throws {
    guard filters > 0, filters <= ParameterAllocation.maximumSampleElements else {
      throw PlexusError.invalidConfiguration(
        "\(layer) filters must be in 1...\(ParameterAllocation.maximumSampleElements), got \(filters)"
      )
    }
    try padding.validate(in: layer)
    guard groups > 0, groups <= filters else {
      throw PlexusError.invalidConfiguration(
        "\(layer) groups must be in 1...\(filters) (the filters), got \(groups)")
    }
    guard filters % groups == 0 else {
      throw PlexusError.invalidConfiguration(
        "\(layer) filters (\(filters)) must be divisible by groups (\(groups))")
    }
  }

  /// Throws unless `channels` (the input channels of a convolution, the output channels of a
  /// transposed one) is divisible by `groups`.
  func validateGroups(channels: Int, layer: String) throws {
    guard channels % groups == 0 else {
      throw PlexusError.invalidConfiguration(
        "\(layer) input channels (\(channels)) must be divisible by groups (\(groups))")
    }
  }
}

extension ConvolutionConfig where Extent == [Int] {
  /// Throws unless filters, kernel size, strides and dilation are in range and the padding is
  /// valid; `layer` names the layer kind in the message.
  func validate2D(layer: String) throws {
    try validateCommon(layer: layer)
    try Validate.extents(kernelSize, what: "kernelSize", layer: layer)
    try Validate.extents(strides, what: "strides", layer: layer)
    try Validate.extents(dilation, what: "dilation", layer: layer)
  }

  /// The sliding-window geometry of a 2-D convolution over `height x width` images with
  /// `groupChannels` channels per group.
  ///
  /// - Throws: `PlexusError.shapeMismatch` naming `layer` and the input `shape` when the
  ///   padded input is smaller than the dilated kernel.
  func geometry2D(height: Int, width: Int, groupChannels: Int, shape: [Int], layer: String)
    throws -> ConvolutionGeometry
  {
    let (kh, kw) = (kernelSize[0], kernelSize[1])
    guard
      let rows = padding.resolve(
        input: height, kernel: kh, stride: strides[0], dilation: dilation[0], axis: .height),
      let columns = padding.resolve(
        input: width, kernel: kw, stride: strides[1], dilation: dilation[1], axis: .width)
    else {
      throw PlexusError.shapeMismatch(
        layer: layer,
        expected: "an input at least as large as the dilated kernel \(kernelSize) "
          + "(dilation \(dilation)) after padding \(padding)",
        found: shape)
    }
    return ConvolutionGeometry(
      inputHeight: height, inputWidth: width, channels: groupChannels, kernelHeight: kh,
      kernelWidth: kw, strideHeight: strides[0], strideWidth: strides[1],
      dilationHeight: dilation[0], dilationWidth: dilation[1], padTop: rows.before,
      padLeft: columns.before, outputHeight: rows.output, outputWidth: columns.output)
  }
}

/// A lowered convolution pass: `ConvolutionLowering` or `TransposedConvolutionLowering`.
protocol ConvolutionPass: Sendable {
  /// Whether the pass applies a fusable activation (and its derivative) on its output tiles.
  var fusesActivation: Bool { get }

  /// Convolves a batch, adds the bias and applies `activation` (only when it fuses them),
  /// unrolling in the call's `scratch` tiles.
  func forward(
    input: Tensor, kernel: Tensor, bias: Tensor?, activation: ActivationFunction,
    outputShape: [Int], scratch: ConvolutionScratch
  ) -> Tensor

  /// Accumulates the kernel and bias gradients and returns the input gradient (`nil`, and
  /// not computed, without `computingInputGradient`); `activation` and `activationOutput` as
  /// in `ConvolutionLowering.backward`.
  func backward(
    gradient: Tensor, activation: ActivationFunction, activationOutput: Tensor, input: Tensor,
    kernel: Parameter, bias: Parameter?, computingInputGradient: Bool,
    scratch: ConvolutionScratch
  ) -> Tensor?
}

extension ConvolutionLowering: ConvolutionPass {
  var fusesActivation: Bool { true }
}

extension TransposedConvolutionLowering: ConvolutionPass {
  var fusesActivation: Bool { false }

  func forward(
    input: Tensor, kernel: Tensor, bias: Tensor?, activation: ActivationFunction,
    outputShape: [Int], scratch: ConvolutionScratch
  ) -> Tensor {
    forward(input: input, kernel: kernel, bias: bias, outputShape: outputShape, scratch: scratch)
  }

  func backward(
    gradient: Tensor, activation: ActivationFunction, activationOutput: Tensor, input: Tensor,
    kernel: Parameter, bias: Parameter?, computingInputGradient: Bool,
    scratch: ConvolutionScratch
  ) -> Tensor? {
    backward(
      gradient: gradient, input: input, kernel: kernel, bias: bias,
      computingInputGradient: computingInputGradient, scratch: scratch)
  }
}

/// What the weighted convolution layers share: the kernel and bias, the lowered pass worked
/// out in `build`, and the forward and backward passes with the fused activation. Nothing of
/// a call is kept here: the input and output are in the call's record, with the
/// pre-activation when the activation's derivative needs it and the scratch tiles.
struct WeightedConvolution<Extent: ConvolutionExtent, Pass: ConvolutionPass>: Sendable {
  /// What `build` works out: the pass and the per-sample output shape.
  struct Plan: Sendable {
    let pass: Pass
    let outputShape: [Int]
  }

  let config: ConvolutionConfig<Extent>
  /// The kernel (declared in `build`).
  let kernel: Parameter
  /// The bias `[filters]` (when `useBias`).
  let bias: Parameter?
  private let activation: FusedActivation
  private let plan = BuildValue<Plan>()

  /// Creates the kernel and, with `useBias`, the bias, without values.
  init(config: ConvolutionConfig<Extent>, kernelName: String = "kernel") {
    self.config = config
    self.activation = FusedActivation(config.activation)
    kernel = Parameter(name: kernelName, regularizer: config.kernelRegularizer)
    bias = config.useBias ? Parameter(name: "bias", regularizer: config.biasRegularizer) : nil
  }

  var parameters: [Parameter] { bias.map { [kernel, $0] } ?? [kernel] }

  /// The per-sample output shape, once built.
  var outputShape: [Int]? { plan.value?.outputShape }

  /// Declares the kernel of `kernelShape` (`[spatial..., inputs, outputs]`, initialized with
  /// fan-in `spatial * inputs` and fan-out `spatial * outputs`) and the bias (as many values
  /// as the output has channels, its last dimension),
  /// keeps the pass and returns the output shape.
  ///
  /// - Throws: `PlexusError.invalidShape` when the output samples or the kernel would be too
  ///   large (`layer` names the layer).
  func build(outputShape: [Int], pass: Pass, kernelShape: [Int], layer: String) throws
    -> SymbolicShape
  {
    try Validate.sampleSize(outputShape, layer: layer)
    // Overflow-checked first, so the fans below (its divisors) cannot overflow.
    let count = try ParameterAllocation.check(kernelShape)
    let rank = kernelShape.count
    let fanIn = count / kernelShape[rank - 1]
    let fanOut = count / kernelShape[rank - 2]
    try kernel.declare(
      shape: kernelShape, initializer: config.kernelInitializer, fanIn: fanIn, fanOut: fanOut)
    try bias?.declare(
      shape: [outputShape[outputShape.count - 1]], initializer: config.biasInitializer,
      fanIn: fanIn, fanOut: fanOut)
    plan.value = Plan(pass: pass, outputShape: outputShape)
    return outputShape.map { $0 }
  }

  /// Whether `pass` applies the activation on its tiles.
  private func fusesActivation(_ pass: Pass) -> Bool {
    pass.fusesActivation && activation.isFusable
  }

  /// Runs the convolution and the activation on a batch; `record` keeps the scratch tiles and,
  /// when the derivative needs it, the pre-activation.
  func forward(_ input: Tensor, record: CallRecord, layer: String) throws -> Tensor {
    let plan = try plan.get(layer: layer)
    let fused = fusesActivation(plan.pass)
    let z = plan.pass.forward(
      input: input, kernel: kernel.value, bias: bias?.value,
      activation: fused ? config.activation : .linear,
      outputShape: [input.batchCount] + plan.outputShape, scratch: ConvolutionScratch.of(record))
    return fused ? z : activation.apply(z, record: record)
  }

  /// Accumulates the parameter gradients of the call `record` describes and returns the input
  /// gradient (`nil`, and not computed, without `computingInputGradient`).
  func backward(
    _ outputGradient: Tensor, record: CallRecord, computingInputGradient: Bool, layer: String
  ) throws -> Tensor? {
    let plan = try plan.get(layer: layer)
    let fused = fusesActivation(plan.pass)
    // A fused activation's derivative is applied by the lowering, tile by tile.
    return plan.pass.backward(
      gradient: fused ? outputGradient : activation.backward(outputGradient, record: record),
      activation: fused ? config.activation : .linear, activationOutput: record.outputs[0],
      input: record.inputs[0], kernel: kernel, bias: bias,
      computingInputGradient: computingInputGradient, scratch: ConvolutionScratch.of(record))
  }
}
