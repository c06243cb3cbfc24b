import PlexusCore

/// A gated recurrent unit (Cho et al.), as Keras's `GRU`.
///
/// Input `[N, T, F]` (batch first; `T` may vary from call to call when the layer is built for
/// `[nil, F]`), optionally followed by the initial state `h0 [N, H]`. The kernels hold three
/// blocks of `H` columns in the Keras/ONNX order **z, r, h** (update, reset, candidate):
/// `kernel [F, 3H]`, `recurrent_kernel [H, 3H]`. With `resetAfter` (the default; Keras
/// `reset_after=True`, ONNX `linear_before_reset=1`, PyTorch's form) the bias is `[2, 3H]`
/// (row 0 for the input projection, row 1 for the recurrent one) and
///
/// ```
/// z = σ(x W_z + b_z + h U_z + c_z)   r = σ(x W_r + b_r + h U_r + c_r)
/// ĥ = tanh(x W_h + b_h + r * (h U_h + c_h))     h_t = z * h_{t-1} + (1 - z) * ĥ
/// ```
///
/// Without it (the original form, Keras's older default) the bias is `[3H]` and
/// `ĥ = tanh(x W_h + b_h + (r * h_{t-1}) U_h)`. Outputs: the last `h` `[N, H]`, or every step's
/// `[N, T, H]` with `returnSequences`; with `returnState` also the final `h`. With `goBackwards` the
/// sequence is read from its last step and the returned sequence is in processing order (as
/// Keras).
public final class GRU: Layer {
  /// The hyperparameters of a GRU. In JSON only `units` is required.
  public struct Config: DefaultedConfiguration, RecurrentConfiguration {
    /// The state size `H`.
    public var units: Int
    /// Whether to return the output of every step (`[N, T, H]`) instead of the last one.
    public var returnSequences: Bool
    /// Whether to return the final state `h` as an extra output.
    public var returnState: Bool
    /// Whether to process the sequence from its last step to its first.
    public var goBackwards: Bool
    /// Whether the reset gate multiplies the recurrent product (true, with bias `[2, 3H]`) or
    /// the previous state before the product (false, bias `[3H]`).
    public var resetAfter: Bool
    /// How the input kernel is initialized.
    public var kernelInitializer: Initializer
    /// How the recurrent kernel is initialized.
    public var recurrentInitializer: RecurrentKernelInitializer
    /// When set, a step whose features all equal this value is masked (padding): it carries
    /// the state unchanged, and a returned sequence repeats the previous output there (Keras's
    /// `Masking(mask_value)` before the layer; with an `Embedding` of `maskZero`, use 0).
    public var maskValue: Float?
    /// The fraction of input features dropped in training, in `[0, 1)` (Keras's `dropout`):
    /// one mask per sample, the same at every step.
    public var dropout: Float
    /// The fraction of state units dropped before the recurrent products in training, in
    /// `[0, 1)` (Keras's `recurrent_dropout`): one mask per sample, the same at every step.
    public var recurrentDropout: Float
    /// The seed of the dropout masks; `nil` derives it from the model's build seed.
    public var seed: UInt64?

    /// Creates a config.
    public init(
      units: Int, returnSequences: Bool = false, returnState: Bool = false,
      goBackwards: Bool = false, resetAfter: Bool = true,
      kernelInitializer: Initializer = .glorotUniform,
      recurrentInitializer: RecurrentKernelInitializer = .orthogonal, maskValue: Float? = nil,
      dropout: Float = 0, recurrentDropout: Float = 0, seed: UInt64? = nil
    ) {
      self.units = units
      self.returnSequences = returnSequences
      self.returnState = returnState
      self.goBackwards = goBackwards
      self.resetAfter = resetAfter
      self.kernelInitializer = kernelInitializer
      self.recurrentInitializer = recurrentInitializer
      self.maskValue = maskValue
      self.dropout = dropout
      self.recurrentDropout = recurrentDropout
      self.seed = seed
    }

    public static var defaults: Config { Config(units: 1) }
    public static var fields: [ConfigField<Config>] {
      recurrentFields(variant: .init("resetAfter", \.resetAfter))
    }
  }

  public static let typeName = "plexus.gru"
  public let state = LayerState()
  public let config: Config
  let core: RecurrentCore

  /// The input kernel `[F, 3H]`, gate blocks z, r, h.
  public var kernel: Parameter { core.kernel }
  /// The recurrent kernel `[H, 3H]`, gate blocks z, r, h.
  public var recurrentKernel: Parameter { core.recurrentKernel }
  /// The bias: `[2, 3H]` with `resetAfter` (input row, recurrent row), else `[3H]`.
  public var bias: Parameter { core.bias }

  /// - Throws: `PlexusError.invalidConfiguration` unless `units` is positive and not too large.
  public init(config: Config) throws {
    self.config = config
    core = try RecurrentCore(
      kind: .gru(resetAfter: config.resetAfter), config: config, layerType: "gru")
  }

  /// Creates a GRU of `units` states.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` unless `units` is positive.
  public convenience init(
    units: Int, returnSequences: Bool = false, returnState: Bool = false,
    goBackwards: Bool = false, resetAfter: Bool = true, name: String = ""
  ) throws {
    try self.init(
      config: Config(
        units: units, returnSequences: returnSequences, returnState: returnState,
        goBackwards: goBackwards, resetAfter: resetAfter))
    self.name = name
  }

  public var parameters: [Parameter] { core.parameters }

  public func initialize(using generator: inout SeededGenerator) throws {
    try core.initialize(state: state, seed: config.seed, using: &generator)
  }

  public func build(for inputShapes: [SymbolicShape]) throws -> [SymbolicShape] {
    try core.build(for: inputShapes, layer: name)
  }

  public func forward(_ inputs: [Tensor], record: CallRecord) throws -> [Tensor] {
    try core.forward(inputs, record: record, layer: name, state: state)
  }

  /// Stepwise inference (generation, streaming): runs one time step `x` (`[N, features]`) from
  /// the carried `states` (`h`, as the last call returned; empty for zeros) and returns
  /// the step's output `h` (`[N, units]`) and the new states. Stepping through a sequence
  /// gives the outputs of the full pass (`returnSequences`) step by step. Not for training.
  ///
  /// - Throws: `PlexusError.notBuilt` before the layer is built; `.shapeMismatch` for a step
  ///   that is not `[N, features]` or states of the wrong shape; `.invalidArgument` for the
  ///   wrong number of states.
  public func step(_ x: Tensor, states: [Tensor] = []) throws -> (output: Tensor, states: [Tensor])
  {
    guard state.builtShapes != nil else {
      throw PlexusError.notBuilt("layer '\(name)' must be built before it is stepped")
    }
    return try core.step(x, states: states, layer: name, state: state)
  }

  public func backward(
    _ outputGradients: [Tensor], record: CallRecord, computingInputGradients: Bool
  ) throws -> [Tensor?] {
    try core.backward(
      outputGradients, record: record, computingInputGradients: computingInputGradients,
      layer: name)
  }
}
