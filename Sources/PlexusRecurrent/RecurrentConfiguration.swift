import PlexusCore

/// The hyperparameters `SimpleRNN`, `LSTM` and `GRU` share: each layer's config adds one field
/// of its own (its variant) and gets its JSON fields and its core from here.
protocol RecurrentConfiguration: DefaultedConfiguration {
  /// The state size `H`.
  var units: Int { get set }
  /// Whether to return the output of every step (`[N, T, H]`) instead of the last one.
  var returnSequences: Bool { get set }
  /// Whether to return the final state(s) as extra outputs.
  var returnState: Bool { get set }
  /// Whether to process the sequence from its last step to its first.
  var goBackwards: Bool { get set }
  /// How the input kernel is initialized.
  var kernelInitializer: Initializer { get set }
  /// How the recurrent kernel is initialized.
  var recurrentInitializer: RecurrentKernelInitializer { get set }
  /// The padding value that masks a step, if any.
  var maskValue: Float? { get set }
  /// The fraction of input features dropped in training, in `[0, 1)`.
  var dropout: Float { get set }
  /// The fraction of state units dropped before the recurrent products in training, in
  /// `[0, 1)`.
  var recurrentDropout: Float { get set }
  /// The seed of the dropout masks; `nil` derives it from the model's build seed.
  var seed: UInt64? { get set }
}

extension RecurrentConfiguration {
  /// The JSON fields of a recurrent config, in their encoded order: the shared ones with the
  /// layer's own `variant` field after `goBackwards`. Only `units` is required. The dropout
  /// keys are left out of a description while they are 0 (descriptions written before they
  /// existed stay the same).
  static func recurrentFields(variant: ConfigField<Self>) -> [ConfigField<Self>] {
    [
      .required("units", \.units), .init("returnSequences", \.returnSequences),
      .init("returnState", \.returnState), .init("goBackwards", \.goBackwards),
      variant,
      .init("kernelInitializer", \.kernelInitializer),
      .init("recurrentInitializer", \.recurrentInitializer), .init("maskValue", \.maskValue),
      .omitted("dropout", \.dropout, whenEqualTo: 0),
      .omitted("recurrentDropout", \.recurrentDropout, whenEqualTo: 0), .init("seed", \.seed),
    ]
  }
}
