/// Which steps of a batch of sequences are padding: a `Masking` layer, an `Embedding` with
/// `maskZero` or a `LengthMasking` layer makes one, the model passes it along with the tensor,
/// and recurrent layers skip the masked steps (the state carries over unchanged), as Keras's
/// masks do.
///
/// A model hands each layer the masks of its inputs in `CallRecord.inputMasks`. A layer sets
/// `CallRecord.outputMasks` for outputs that carry a mask; otherwise a layer whose
/// `propagatesSequenceMask` is `true` (elementwise layers such as `Dropout` and `Activation`,
/// `TimeDistributed`, a recurrent layer returning sequences) passes its first input's mask to
/// its outputs, and any other layer drops it.
public struct SequenceMask: Sendable, Equatable {
  /// The number of sequences.
  public let batch: Int
  /// The number of steps of each.
  public let steps: Int
  /// Per sequence and step, row-major `[batch, steps]`: `true` where the step is padding.
  public let masked: [Bool]

  /// Creates a mask.
  ///
  /// - Throws: `PlexusError.invalidArgument` unless `masked` holds `batch * steps` values.
  public init(batch: Int, steps: Int, masked: [Bool]) throws {
    guard batch >= 0, steps >= 0,
      batch.multipliedReportingOverflow(by: steps).partialValue
        == masked.count, !batch.multipliedReportingOverflow(by: steps).overflow
    else {
      throw PlexusError.invalidArgument(
        "a sequence mask of \(batch) sequences of \(steps) steps needs \(batch) x \(steps) "
          + "values, got \(masked.count)")
    }
    self.batch = batch
    self.steps = steps
    self.masked = masked
  }

  /// Whether step `step` of sequence `sample` is padding.
  public func isMasked(sample: Int, step: Int) -> Bool { masked[sample * steps + step] }

  /// Whether any step is padding.
  public var hasMaskedSteps: Bool { masked.contains(true) }
}
