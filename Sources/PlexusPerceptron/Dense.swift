import PlexusCore

/// A fully connected layer: `y = activation(x · kernel + bias)`.
///
/// The kernel is stored `[inputs, units]` as in Keras (PyTorch's `Linear.weight` is the
/// transpose). Input `[N, inputs]`, output `[N, units]`.
///
/// ```swift
/// let hidden = Dense(64 => 128, activation: .relu)
/// let logits = Dense(units: 10)
/// ```
public final class Dense: UnaryLayer {
  /// The hyperparameters of a dense layer. In JSON only `units` is required; the other keys
  /// take the defaults of `init`, and an unknown key is an error.
  public struct Config: DefaultedConfiguration {
    /// The number of outputs.
    public var units: Int
    /// The fused activation (default: linear).
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
      units: Int, activation: ActivationFunction = .linear, useBias: Bool = true,
      kernelInitializer: Initializer = .glorotUniform, biasInitializer: Initializer = .zeros,
      kernelRegularizer: Regularizer? = nil, biasRegularizer: Regularizer? = nil
    ) {
      self.units = units
      self.activation = activation
      self.useBias = useBias
      self.kernelInitializer = kernelInitializer
      self.biasInitializer = biasInitializer
      self.kernelRegularizer = kernelRegularizer
      self.biasRegularizer = biasRegularizer
    }

    public static var defaults: Config { Config(units: 1) }
    public static var fields: [ConfigField<Config>] {
      [
        .required("units", \.units), .init("activation", \.activation),
        .init("useBias", \.useBias), .init("kernelInitializer", \.kernelInitializer),
        .init("biasInitializer", \.biasInitializer),
        .init("kernelRegularizer", \.kernelRegularizer),
        .init("biasRegularizer", \.biasRegularizer),
      ]
    }
  }

  public static let typeName = "plexus.dense"
  public let state = LayerState()
  public let config: Config
  /// The weight matrix `[inputs, units]` (declared when the layer is built).
  public let kernel: Parameter
  /// The bias `[units]` (when `useBias`).
  public let bias: Parameter?
  private let expectedInputs: Int?
  /// Whether the activation is the identity (decided once, not per call).
  private let isLinear: Bool
  /// Whether the activation's derivative needs the pre-activation.
  private let keepsPreActivation: Bool

  /// - Throws: `PlexusError.invalidConfiguration` unless `units > 0`.
  public convenience init(config: Config) throws {
    try self.init(config: config, expectedInputs: nil)
  }

  private init(config: Config, expectedInputs: Int?) throws {
    guard config.units > 0 else {
      throw PlexusError.invalidConfiguration("dense units must be positive, got \(config.units)")
    }
    guard config.units <= ParameterAllocation.maximumSampleElements else {
      throw PlexusError.invalidConfiguration(
        "dense units must be at most \(ParameterAllocation.maximumSampleElements), got \(config.units)"
      )
    }
    if let expectedInputs, expectedInputs <= 0 {
      throw PlexusError.invalidConfiguration(
        "dense inputs must be positive, got \(expectedInputs)")
    }
    self.config = config
    self.expectedInputs = expectedInputs
    isLinear = config.activation == .linear
    keepsPreActivation = config.activation.derivativeNeedsInput
    kernel = Parameter(name: "kernel", regularizer: config.kernelRegularizer)
    bias = config.useBias ? Parameter(name: "bias", regularizer: config.biasRegularizer) : nil
  }

  /// Creates a dense layer with `units` outputs; the input size comes from `build`.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` unless `units > 0`.
  public convenience init(
    units: Int, activation: ActivationFunction = .linear, useBias: Bool = true,
    kernelInitializer: Initializer = .glorotUniform, kernelRegularizer: Regularizer? = nil,
    name: String = ""
  ) throws {
    try self.init(
      config: Config(
        units: units, activation: activation, useBias: useBias,
        kernelInitializer: kernelInitializer, kernelRegularizer: kernelRegularizer),
      expectedInputs: nil)
    self.name = name
  }

  /// Creates a dense layer written as the math reads: `Dense(64 => 128, activation: .relu)`.
  /// The input size is checked when the layer is built.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` unless both sizes are positive.
  public convenience init(
    _ sizes: LayerSizes, activation: ActivationFunction = .linear, useBias: Bool = true,
    kernelInitializer: Initializer = .glorotUniform, name: String = ""
  ) throws {
    try self.init(
      config: Config(
        units: sizes.outputs, activation: activation, useBias: useBias,
        kernelInitializer: kernelInitializer),
      expectedInputs: sizes.inputs)
    self.name = name
  }

  public var parameters: [Parameter] { bias.map { [kernel, $0] } ?? [kernel] }

  public func build(for inputShape: SymbolicShape) throws -> SymbolicShape {
    let expected = expectedInputs.map { "[\($0)]" } ?? "[features] (rank 1)"
    let shape = try ShapeCheck.require(inputShape, rank: 1, layer: name, expected: expected)
    let features = shape[0]
    if let expectedInputs, expectedInputs != features {
      throw PlexusError.shapeMismatch(layer: name, expected: expected, found: shape)
    }
    let units = config.units
    try kernel.declare(
      shape: [features, units], initializer: config.kernelInitializer, fanIn: features,
      fanOut: units)
    try bias?.declare(
      shape: [units], initializer: config.biasInitializer, fanIn: features, fanOut: units)
    return [units]
  }

  public func forward(_ input: Tensor, record: CallRecord) throws -> Tensor {
    let batch = input.batchCount
    let units = config.units
    let inputs = input.shape[1]
    let kernelValue = kernel.value
    let biasValue = bias?.value
    var output = Tensor(unsafeUninitializedShape: [batch, units]) { result in
      guard let destination = result.baseAddress else { return }
      if let biasValue {
        // Start from the broadcast bias and accumulate the product into it (beta = 1).
        biasValue.withUnsafeBufferPointer { source in
          for row in 0..<batch {
            (destination + row * units).update(from: source.baseAddress!, count: units)
          }
        }
      }
      input.withUnsafeBufferPointer { x in
        kernelValue.withUnsafeBufferPointer { w in
          BLAS.gemm(
            transposeA: false, transposeB: false, m: batch, n: units, k: inputs,
            a: x.baseAddress!, lda: inputs, b: w.baseAddress!, ldb: units,
            beta: biasValue == nil ? 0 : 1, c: destination, ldc: units)
        }
      }
    }
    if isLinear { return output }
    // Keep the pre-activation only when the derivative needs it; otherwise activate in place.
    if keepsPreActivation && record.isRecording { record.saved = [output] }
    let activation = config.activation
    output.withUnsafeMutableBufferPointer { activation.applyInPlace($0, lastDimension: units) }
    return output
  }

  /// Accumulates the kernel and bias gradients; skips the input gradient's product without
  /// `computingInputGradient`.
  public func backward(_ outputGradient: Tensor, record: CallRecord, computingInputGradient: Bool)
    throws -> Tensor?
  {
    let output = record.outputs[0]
    let gradient =
      isLinear
      ? outputGradient
      : config.activation.backward(
        input: record.saved.first ?? output, output: output, outputGradient: outputGradient)
    try Tensor.matmul(record.inputs[0], gradient, transposeA: true, into: &kernel.gradient, beta: 1)
    if let bias { try bias.gradient += gradient.sumOverBatch() }
    return computingInputGradient
      ? try Tensor.matmul(gradient, kernel.value, transposeB: true) : nil
  }
}

/// Input and output sizes written `inputs => outputs`, as in `Dense(64 => 128)`.
public struct LayerSizes: Sendable, Equatable {
  /// The number of inputs.
  public let inputs: Int
  /// The number of outputs.
  public let outputs: Int
}

infix operator => : AdditionPrecedence

/// Pairs input and output sizes: `64 => 128`.
public func => (inputs: Int, outputs: Int) -> LayerSizes {
  LayerSizes(inputs: inputs, outputs: outputs)
}
