import PlexusCore

/// A long short-term memory layer (Hochreiter & Schmidhuber), as Keras's `LSTM`.
///
/// Input `[N, T, F]` (batch first; `T` may vary from call to call when the layer is built for
/// `[nil, F]`), optionally followed by the initial states `h0 [N, H]` and `c0 [N, H]`. Per step,
/// with `z = x_t · kernel + h_{t-1} · recurrent_kernel + bias` split into four blocks of `H`
/// columns in the Keras order **i, f, c, o**:
///
/// ```
/// i = σ(z_i)   f = σ(z_f)   g = tanh(z_c)   o = σ(z_o)
/// c_t = f * c_{t-1} + i * g      h_t = o * tanh(c_t)
/// ```
///
/// Parameters: `kernel [F, 4H]`, `recurrent_kernel [H, 4H]`, `bias [4H]` (one bias, as Keras;
/// PyTorch's `b_ih + b_hh` sum to it). With `unitForgetBias` (the default) the forget block of
/// the bias starts at 1. Outputs: the last `h` `[N, H]`, or every step's `[N, T, H]` with
/// `returnSequences`; with `returnState` also the final `h` and `c`. With `goBackwards` the
/// sequence is read from its last step and the returned sequence is in processing order (as
/// Keras).
public final class LSTM: Layer {
  /// The hyperparameters of an LSTM. In JSON only `units` is required.
  public struct Config: DefaultedConfiguration, RecurrentConfiguration {
    /// The state size `H`.
    public var units: Int
    /// Whether to return the output of every step (`[N, T, H]`) instead of the last one.
    public var returnSequences: Bool
    /// Whether to return the final states `h` and `c` as extra outputs.
    public var returnState: Bool
    /// Whether to process the sequence from its last step to its first.
    public var goBackwards: Bool
    /// Whether the forget gate's bias starts at 1 (Keras's `unit_forget_bias`).
    public var unitForgetBias: Bool
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
      goBackwards: Bool = false, unitForgetBias: Bool = true,
      kernelInitializer: Initializer = .glorotUniform,
      recurrentInitializer: RecurrentKernelInitializer = .orthogonal, maskValue: Float? = nil,
      dropout: Float = 0, recurrentDropout: Float = 0, seed: UInt64? = nil
    ) {
      self.units = units
      self.returnSequences = returnSequences
      self.returnState = returnState
      self.goBackwards = goBackwards
      self.unitForgetBias = unitForgetBias
      self.kernelInitializer = kernelInitializer
      self.recurrentInitializer = recurrentInitializer
      self.maskValue = maskValue
      self.dropout = dropout
      self.recurrentDropout = recurrentDropout
      self.seed = seed
    }

    public static var defaults: Config { Config(units: 1) }
    public static var fields: [ConfigField<Config>] {
      recurrentFields(variant: .init("unitForgetBias", \.unitForgetBias))
    }
  }

  public static let typeName = "plexus.lstm"
  public let state = LayerState()
  public let config: Config
  let core: RecurrentCore

  /// The input kernel `[F, 4H]`, gate blocks i, f, c, o.
  public var kernel: Parameter { core.kernel }
  /// The recurrent kernel `[H, 4H]`, gate blocks i, f, c, o.
  public var recurrentKernel: Parameter { core.recurrentKernel }
  /// The bias `[4H]`, gate blocks i, f, c, o.
  public var bias: Parameter { core.bias }

  /// - Throws: `PlexusError.invalidConfiguration` unless `units` is positive and not too large.
  public init(config: Config) throws {
    self.config = config
    core = try RecurrentCore(
      kind: .lstm, config: config, unitForgetBias: config.unitForgetBias, layerType: "lstm")
  }

  /// Creates an LSTM of `units` states.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` unless `units` is positive.
  public convenience init(
    units: Int, returnSequences: Bool = false, returnState: Bool = false,
    goBackwards: Bool = false, name: String = ""
  ) throws {
    try self.init(
      config: Config(
        units: units, returnSequences: returnSequences, returnState: returnState,
        goBackwards: goBackwards))
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
  /// the carried `states` (`h` and `c`, as the last call returned; empty for zeros) and returns
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
