import PlexusCore

/// The recurrent family: `SimpleRNN`, `LSTM` and `GRU` over batch-first sequences `[N, T, F]`,
/// `Embedding` (ids to vectors), `Bidirectional` (both directions, merged) and
/// `TimeDistributed` (one layer applied at every step).
///
/// Parameter names and gate orders follow Keras (see `Formats/recurrent-layers.md` for the
/// mapping to PyTorch and ONNX):
///
/// | layer | `kernel` | `recurrent_kernel` | `bias` | gate order |
/// |---|---|---|---|---|
/// | `SimpleRNN` | `[F, H]` | `[H, H]` | `[H]` | — |
/// | `LSTM` | `[F, 4H]` | `[H, 4H]` | `[4H]` | i, f, c, o |
/// | `GRU` (`resetAfter`) | `[F, 3H]` | `[H, 3H]` | `[2, 3H]` | z, r, h |
/// | `GRU` (not `resetAfter`) | `[F, 3H]` | `[H, 3H]` | `[3H]` | z, r, h |
///
/// PyTorch orders an LSTM's gates i, f, g, o with two biases (`b_ih + b_hh`) and a GRU's
/// r, z, n; ONNX orders an LSTM's i, o, f, c (`W [dirs, 4H, in]`, `R [dirs, 4H, H]`,
/// `B [dirs, 8H]`) and a GRU's z, r, h.
public enum RecurrentLayers {
  /// The module name reported in registry errors.
  public static let module = "PlexusRecurrent"

  /// The layer types this module registers.
  public static let typeNames = [
    SimpleRNN.typeName, LSTM.typeName, GRU.typeName, Embedding.typeName, Bidirectional.typeName,
    TimeDistributed.typeName, Masking.typeName, LengthMasking.typeName,
  ]

  /// Registers the recurrent family's layers: `plexus.simple_rnn`, `plexus.lstm` and
  /// `plexus.gru`, `plexus.embedding`, `plexus.bidirectional`, `plexus.time_distributed`,
  /// `plexus.masking` and `plexus.length_masking`.
  public static func register(in registry: LayerRegistry) {
    registry.registerBuiltIn(SimpleRNN.self, module: module)
    registry.registerBuiltIn(LSTM.self, module: module)
    registry.registerBuiltIn(GRU.self, module: module)
    registry.registerBuiltIn(Embedding.self, module: module)
    registry.registerBuiltIn(Bidirectional.self, module: module)
    registry.registerBuiltIn(TimeDistributed.self, module: module)
    registry.registerBuiltIn(Masking.self, module: module)
    registry.registerBuiltIn(LengthMasking.self, module: module)
  }
}
