import PlexusCore
import PlexusPerceptron

/// A dense layer whose kernel is the transpose of another `Dense` layer's kernel: `y =
/// activation(x · Wᵀ + bias)` for the tied layer's `W` of shape `[units, inputs]`. The decoder
/// of a tied-weights autoencoder: `Dense(64 => 16)` encodes, `DenseTied(tiedTo:)` decodes
/// back to 64 with the same matrix.
///
/// The kernel is one `Parameter` object shared with the tied layer: both calls add their
/// gradients to it, the optimizer steps it once and the model file stores it once, under the
/// tied layer's path (`dense_1.kernel`). The bias is the layer's own. The config names the
/// tied layer (`tiedTo`); a model made from a config links the two before it builds
/// (`ParameterSharing`). Loaded in a model without that layer (a decoder saved alone), the
/// layer keeps a kernel of its own of shape `[units, inputs]`, saved as `<name>.kernel`.
///
/// Freezing only the tied `Dense` does not freeze the shared kernel while this layer trains.
public final class DenseTied: UnaryLayer, ParameterSharingLayer {
  /// The hyperparameters of a tied dense layer.
  public struct Config: DefaultedConfiguration {
    /// The name of the `Dense` layer whose kernel is transposed.
    public var tiedTo: String
    /// The number of outputs: the number of inputs of the tied layer.
    public var units: Int
    /// The fused activation (default: linear).
    public var activation: ActivationFunction
    /// Whether the layer adds a bias of its own.
    public var useBias: Bool
    /// How the bias is initialized.
    public var biasInitializer: Initializer

    /// Creates a config.
    public init(
      tiedTo: String, units: Int, activation: ActivationFunction = .linear, useBias: Bool = true,
      biasInitializer: Initializer = .zeros
    ) {
      self.tiedTo = tiedTo
      self.units = units
      self.activation = activation
      self.useBias = useBias
      self.biasInitializer = biasInitializer
    }

    public static var defaults: Config { Config(tiedTo: "", units: 1) }
    public static var fields: [ConfigField<Config>] {
      [
        .required("tiedTo", \.tiedTo), .required("units", \.units),
        .init("activation", \.activation), .init("useBias", \.useBias),
        .init("biasInitializer", \.biasInitializer),
      ]
    }
  }

  public static let typeName = "plexus.dense_tied"
  public let state = LayerState()
  private let storedConfig: Config
  private let tied = BuildValue<Dense>()
  /// The kernel used while the layer is not linked to a `Dense`.
  private let ownKernel = Parameter(name: "kernel")
  /// The bias `[units]` (when `useBias`).
  public let bias: Parameter?
  private let keepsPreActivation: Bool

  /// - Throws: `PlexusError.invalidConfiguration` unless `units` is positive and in range and
  ///   `tiedTo` is not empty.
  public init(config: Config) throws {
    guard config.units > 0, config.units <= ParameterAllocation.maximumSampleElements else {
      throw PlexusError.invalidConfiguration(
        "dense_tied units must be in 1...\(ParameterAllocation.maximumSampleElements), got "
          + "\(config.units)")
    }
    guard !config.tiedTo.isEmpty else {
      throw PlexusError.invalidConfiguration("dense_tied needs the name of a dense layer (tiedTo)")
    }
    storedConfig = config
    bias = config.useBias ? Parameter(name: "bias") : nil
    keepsPreActivation = config.activation.derivativeNeedsInput
  }

  /// Creates a layer tied to `dense`. `units` defaults to the number of inputs of a built
  /// `dense`.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` when `units` is missing for an unbuilt
  ///   `dense`, or differs from a built one's inputs.
  public convenience init(
    tiedTo dense: Dense, units: Int? = nil, activation: ActivationFunction = .linear,
    useBias: Bool = true, name: String = ""
  ) throws {
    let inputs = dense.kernel.declaredShape?.first
    guard let units = units ?? inputs else {
      throw PlexusError.invalidConfiguration(
        "dense_tied: give units (the inputs of '\(dense.name)') or build that layer first")
    }
    try self.init(
      config: Config(
        tiedTo: dense.name.isEmpty ? "dense" : dense.name, units: units, activation: activation,
        useBias: useBias))
    try link(to: dense)
    self.name = name
  }

  public var config: Config {
    var config = storedConfig
    if let dense = tied.value, !dense.name.isEmpty { config.tiedTo = dense.name }
    return config
  }

  /// The `Dense` layer whose kernel this layer uses, once linked.
  public var tiedLayer: Dense? { tied.value }

  /// The kernel `[units, inputs]`: the tied layer's, or the layer's own before it is linked.
  public var kernel: Parameter { tied.value?.kernel ?? ownKernel }

  public var sharedLayerName: String { config.tiedTo }

  public var isLinked: Bool { tied.value != nil }

  public func link(to layer: any Layer) throws {
    guard let dense = layer as? Dense else {
      throw PlexusError.invalidConfiguration(
        "dense_tied '\(name)' is tied to '\(layer.name)', a \(layer.typeName), not a plexus.dense")
    }
    if let shape = dense.kernel.declaredShape {
      guard shape[0] == storedConfig.units else {
        throw PlexusError.invalidConfiguration(
          "dense_tied '\(name)' has \(storedConfig.units) units but '\(dense.name)' has "
            + "\(shape[0]) inputs")
      }
      if let own = ownKernel.declaredShape, own != shape {
        throw PlexusError.invalidConfiguration(
          "dense_tied '\(name)' was built for a kernel \(own), '\(dense.name)' has \(shape)")
      }
    }
    tied.value = dense
  }

  public var parameters: [Parameter] { bias.map { [kernel, $0] } ?? [kernel] }

  public func build(for inputShape: SymbolicShape) throws -> SymbolicShape {
    let shape = try ShapeCheck.require(
      inputShape, rank: 1, layer: name, expected: "[features] (rank 1)")
    let features = shape[0]
    let units = storedConfig.units
    if let dense = tied.value {
      guard let kernelShape = dense.kernel.declaredShape else {
        throw PlexusError.notBuilt(
          "dense_tied '\(name)': its dense layer '\(dense.name)' must be built (applied) first")
      }
      guard kernelShape == [units, features] else {
        throw PlexusError.shapeMismatch(
          layer: name, expected: "[\(kernelShape[1])] (the units of '\(dense.name)')",
          found: shape)
      }
    } else {
      try ownKernel.declare(
        shape: [units, features], initializer: .glorotUniform, fanIn: features, fanOut: units)
    }
    try bias?.declare(
      shape: [units], initializer: storedConfig.biasInitializer, fanIn: features, fanOut: units)
    return [units]
  }

  public func forward(_ input: Tensor, record: CallRecord) throws -> Tensor {
    let batch = input.batchCount
    let units = storedConfig.units
    let features = input.shape[1]
    let kernelValue = kernel.value
    guard kernelValue.shape == [units, features] else {
      throw PlexusError.shapeMismatch(
        layer: name, expected: "a tied kernel [\(units), \(features)]", found: kernelValue.shape)
    }
    let biasValue = bias?.value
    var output = Tensor(unsafeUninitializedShape: [batch, units]) { result in
      guard let destination = result.baseAddress else { return }
      if let biasValue {
        biasValue.withUnsafeBufferPointer { source in
          for row in 0..<batch {
            (destination + row * units).update(from: source.baseAddress!, count: units)
          }
        }
      }
      input.withUnsafeBufferPointer { x in
        kernelValue.withUnsafeBufferPointer { w in
          BLAS.gemm(
            transposeA: false, transposeB: true, m: batch, n: units, k: features,
            a: x.baseAddress!, lda: features, b: w.baseAddress!, ldb: features,
            beta: biasValue == nil ? 0 : 1, c: destination, ldc: units)
        }
      }
    }
    let activation = storedConfig.activation
    if activation == .linear { return output }
    if keepsPreActivation && record.isRecording { record.saved = [output] }
    output.withUnsafeMutableBufferPointer { activation.applyInPlace($0, lastDimension: units) }
    return output
  }

  /// Adds `gradientᵀ · x` to the shared kernel's gradient (so both tied layers' contributions
  /// sum) and the bias gradient.
  public func backward(_ outputGradient: Tensor, record: CallRecord, computingInputGradient: Bool)
    throws -> Tensor?
  {
    let activation = storedConfig.activation
    let output = record.outputs[0]
    let gradient =
      activation == .linear
      ? outputGradient
      : activation.backward(
        input: record.saved.first ?? output, output: output, outputGradient: outputGradient)
    let kernel = self.kernel
    try Tensor.matmul(gradient, record.inputs[0], transposeA: true, into: &kernel.gradient, beta: 1)
    if let bias { try bias.gradient += gradient.sumOverBatch() }
    return computingInputGradient ? try Tensor.matmul(gradient, kernel.value) : nil
  }
}
