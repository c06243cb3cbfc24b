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
public final class Dense: Layer {
  /// The hyperparameters of a dense layer.
  public struct Config: LayerConfiguration {
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

    private enum CodingKeys: String, CodingKey {
      case units, activation, useBias, kernelInitializer, biasInitializer, kernelRegularizer,
        biasRegularizer
    }

    public init(from decoder: Decoder) throws {
      let container = try decoder.container(keyedBy: CodingKeys.self)
      units = try container.decode(Int.self, forKey: .units)
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

  public static let typeName = "plexus.dense"
  public var name = ""
  public let config: Config
  /// The weight matrix `[inputs, units]`, once built.
  public private(set) var kernel: Parameter?
  /// The bias `[units]`, once built (and when `useBias`).
  public private(set) var bias: Parameter?
  private var inputs = 0
  private var cachedInput: Tensor?
  private var cachedPreActivation: Tensor?
  private var cachedOutput: Tensor?

  /// - Throws: `PlexusError.invalidConfiguration` unless `units > 0`.
  public convenience init(config: Config) throws {
    guard config.units > 0 else {
      throw PlexusError.invalidConfiguration("dense units must be positive, got \(config.units)")
    }
    self.init(checked: config)
  }

  private init(checked config: Config) {
    self.config = config
  }

  /// Creates a dense layer with `units` outputs; the input size comes from `build`.
  ///
  /// - Precondition: `units > 0` (use `init(config:)` for validated input from data).
  public convenience init(
    units: Int, activation: ActivationFunction = .linear, useBias: Bool = true,
    kernelInitializer: Initializer = .glorotUniform, kernelRegularizer: Regularizer? = nil,
    name: String = ""
  ) {
    precondition(units > 0, "dense units must be positive, got \(units)")
    self.init(
      checked: Config(
        units: units, activation: activation, useBias: useBias,
        kernelInitializer: kernelInitializer,
        kernelRegularizer: kernelRegularizer))
    self.name = name
  }

  /// Creates a dense layer written as the math reads: `Dense(64 => 128, activation: .relu)`.
  /// The input size is checked when the layer is built.
  public convenience init(
    _ sizes: LayerSizes, activation: ActivationFunction = .linear, useBias: Bool = true,
    kernelInitializer: Initializer = .glorotUniform, name: String = ""
  ) {
    self.init(
      units: sizes.outputs, activation: activation, useBias: useBias,
      kernelInitializer: kernelInitializer, name: name)
    self.expectedInputs = sizes.inputs
  }

  private var expectedInputs: Int?

  public var parameters: [Parameter] { [kernel, bias].compactMap { $0 } }

  public func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    guard inputShape.count == 1, let features = inputShape.first, features > 0,
      expectedInputs.map({ $0 == features }) ?? true
    else {
      let expected = expectedInputs.map { "[\($0)]" } ?? "[features] (rank 1)"
      throw PlexusError.shapeMismatch(layer: name, expected: expected, found: inputShape)
    }
    inputs = features
    let kernelValue = try config.kernelInitializer.make(
      shape: [features, config.units], fanIn: features, fanOut: config.units, using: &generator)
    kernel = Parameter(name: "kernel", value: kernelValue, regularizer: config.kernelRegularizer)
    if config.useBias {
      let biasValue = try config.biasInitializer.make(
        shape: [config.units], fanIn: features, fanOut: config.units, using: &generator)
      bias = Parameter(name: "bias", value: biasValue, regularizer: config.biasRegularizer)
    } else {
      bias = nil
    }
    return [config.units]
  }

  public func forward(_ input: Tensor, training: Bool) throws -> Tensor {
    guard let kernel else {
      throw PlexusError.notBuilt("layer '\(name)' must be built before it is run")
    }
    try ShapeCheck.requireBatch(input, sampleShape: [inputs], layer: name)
    let batch = input.batchCount
    let units = config.units
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
        kernel.value.withUnsafeBufferPointer { w in
          BLAS.gemm(
            transposeA: false, transposeB: false, m: batch, n: units, k: inputs,
            a: x.baseAddress!, lda: inputs, b: w.baseAddress!, ldb: units,
            beta: biasValue == nil ? 0 : 1, c: destination, ldc: units)
        }
      }
    }
    cachedInput = input
    if config.activation == .linear {
      cachedPreActivation = nil
      cachedOutput = output
      return output
    }
    // Keep the pre-activation only when the derivative needs it; otherwise activate in place.
    cachedPreActivation = config.activation.derivativeNeedsInput ? output : nil
    let activation = config.activation
    output.withUnsafeMutableBufferPointer { activation.applyInPlace($0, lastDimension: units) }
    cachedOutput = output
    return output
  }

  public func backward(_ outputGradient: Tensor) throws -> Tensor {
    let (gradient, kernel) = try accumulateParameterGradients(outputGradient)
    return Tensor.matmul(gradient, kernel.value, transposeB: true)
  }

  /// Accumulates the parameter gradients; skips the input gradient's product without
  /// `computingInputGradient`.
  public func backward(_ outputGradient: Tensor, computingInputGradient: Bool) throws -> Tensor? {
    let (gradient, kernel) = try accumulateParameterGradients(outputGradient)
    return computingInputGradient ? Tensor.matmul(gradient, kernel.value, transposeB: true) : nil
  }

  /// Accumulates the kernel and bias gradients and returns the gradient before the
  /// activation, with the kernel.
  private func accumulateParameterGradients(_ outputGradient: Tensor) throws -> (
    Tensor, Parameter
  ) {
    try ShapeCheck.requireGradient(outputGradient, matches: cachedOutput?.shape, layer: name)
    guard let kernel, let cachedInput, let cachedOutput else {
      throw PlexusError.notBuilt("layer '\(name)': backward called before forward")
    }
    let gradient =
      config.activation == .linear
      ? outputGradient
      : config.activation.backward(
        input: cachedPreActivation ?? cachedOutput, output: cachedOutput,
        outputGradient: outputGradient)
    Tensor.matmul(cachedInput, gradient, transposeA: true, into: &kernel.gradient, beta: 1)
    if let bias { bias.gradient += gradient.sumOverBatch() }
    return (gradient, kernel)
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
