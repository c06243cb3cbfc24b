import PlexusCore

/// Marks padded steps of `[N, T, features...]` sequences: a step whose features all equal
/// `maskValue` is masked for the layers downstream (recurrent layers carry their state over
/// it unchanged), and, as Keras's `Masking`, its output is set to zero. Other steps pass
/// through unchanged; so do the gradients of unmasked steps (masked steps get none).
/// Registered as `plexus.masking`.
public final class Masking: UnaryLayer {
  /// The hyperparameters of a masking layer.
  public struct Config: DefaultedConfiguration {
    /// The value that marks padding (every feature of a step equal to it).
    public var maskValue: Float

    /// Creates a config.
    public init(maskValue: Float = 0) { self.maskValue = maskValue }

    public static var defaults: Config { Config() }
    public static var fields: [ConfigField<Config>] { [.init("maskValue", \.maskValue)] }
  }

  public static let typeName = "plexus.masking"
  public let state = LayerState()
  public let config: Config

  /// - Throws: `PlexusError.invalidConfiguration` for a mask value that is not finite.
  public init(config: Config) throws {
    guard config.maskValue.isFinite else {
      throw PlexusError.invalidConfiguration(
        "masking maskValue must be a finite number, got \(config.maskValue)")
    }
    self.config = config
  }

  /// Creates a masking layer.
  ///
  /// - Throws: as `init(config:)`.
  public convenience init(maskValue: Float = 0, name: String = "") throws {
    try self.init(config: Config(maskValue: maskValue))
    self.name = name
  }

  public func build(for inputShape: SymbolicShape) throws -> SymbolicShape {
    guard inputShape.count >= 2 else {
      throw PlexusError.shapeMismatch(
        layer: name, expected: "[T, features...] (sequences)",
        found: inputShape.map { $0 ?? -1 })
    }
    return inputShape
  }

  /// Per sample and step, whether every feature of the step equals the mask value.
  public func mask(of input: Tensor) throws -> SequenceMask {
    guard input.rank >= 3 else {
      throw PlexusError.shapeMismatch(
        layer: name, expected: "[N, T, features...]", found: input.shape)
    }
    let (batch, steps) = (input.shape[0], input.shape[1])
    let width = input.count / max(batch * steps, 1)
    let value = config.maskValue
    let masked = input.withUnsafeBufferPointer { x in
      (0..<(batch * steps)).map { row in
        !x[(row * width)..<((row + 1) * width)].contains { $0 != value }
      }
    }
    return try SequenceMask(batch: batch, steps: steps, masked: masked)
  }

  public func forward(_ input: Tensor, record: CallRecord) throws -> Tensor {
    var mask = try mask(of: input)
    if let incoming = record.inputMask(0), incoming.batch == mask.batch,
      incoming.steps == mask.steps
    {
      mask = try SequenceMask(
        batch: mask.batch, steps: mask.steps,
        masked: zip(mask.masked, incoming.masked).map { $0 || $1 })
    }
    record.outputMasks = [mask]
    return Self.zeroingMaskedSteps(input, mask)
  }

  public func backward(_ outputGradient: Tensor, record: CallRecord, computingInputGradient: Bool)
    throws -> Tensor?
  {
    guard computingInputGradient, let mask = record.outputMasks.first ?? nil else {
      return computingInputGradient ? outputGradient : nil
    }
    return Self.zeroingMaskedSteps(outputGradient, mask)
  }

  /// `tensor` (`[N, T, ...]`) with the masked steps set to zero.
  static func zeroingMaskedSteps(_ tensor: Tensor, _ mask: SequenceMask) -> Tensor {
    guard mask.hasMaskedSteps else { return tensor }
    var result = tensor
    let width = tensor.count / max(mask.batch * mask.steps, 1)
    result.withUnsafeMutableBufferPointer { values in
      for (row, masked) in mask.masked.enumerated() where masked {
        for index in (row * width)..<((row + 1) * width) { values[index] = 0 }
      }
    }
    return result
  }
}

/// Masks the steps of each sequence from its length on: inputs are the sequences
/// `[N, T, features...]` and the lengths `[N]` (or `[N, 1]`), integers in `0...T`; the output is
/// the sequences, with step `t` of sample `n` masked for the layers downstream when
/// `t >= length[n]` (PyTorch's packed sequences, expressed as a mask). The output's masked
/// steps are left as they are; gradients reach the sequences, not the lengths. Registered as
/// `plexus.length_masking`.
public final class LengthMasking: Layer {
  /// A length masking layer has no hyperparameters.
  public struct Config: DefaultedConfiguration {
    /// Creates a config.
    public init() {}
    public static var defaults: Config { Config() }
    public static var fields: [ConfigField<Config>] { [] }
  }

  public static let typeName = "plexus.length_masking"
  public let state = LayerState()
  public let config: Config

  public init(config: Config) { self.config = config }

  /// Creates a length masking layer.
  public convenience init(name: String = "") {
    self.init(config: Config())
    self.name = name
  }

  public func build(for inputShapes: [SymbolicShape]) throws -> [SymbolicShape] {
    guard inputShapes.count == 2, inputShapes[0].count >= 2,
      inputShapes[1].isEmpty || inputShapes[1] == [1]
    else {
      throw PlexusError.shapeMismatch(
        layer: name, expected: "two inputs: sequences [T, features...] and lengths [] or [1]",
        found: inputShapes.first.map(ShapeCheck.flatten) ?? [])
    }
    return [inputShapes[0]]
  }

  public func forward(_ inputs: [Tensor], record: CallRecord) throws -> [Tensor] {
    let (sequences, lengths) = (inputs[0], inputs[1])
    let (batch, steps) = (sequences.shape[0], sequences.shape[1])
    guard lengths.count == batch else {
      throw PlexusError.shapeMismatch(
        layer: name, expected: "one length per sequence ([\(batch)])", found: lengths.shape)
    }
    let values = lengths.scalars
    for (sample, length) in values.enumerated() {
      guard length.isFinite, length.rounded() == length, length >= 0, length <= Float(steps)
      else {
        throw PlexusError.invalidData(
          "layer '\(name)': the length of sample \(sample) is \(length); lengths must be "
            + "integers in 0...\(steps) (the sequences' steps)")
      }
    }
    var masked = [Bool](repeating: false, count: batch * steps)
    for (sample, length) in values.enumerated() {
      for step in Int(length)..<steps { masked[sample * steps + step] = true }
    }
    if let incoming = record.inputMask(0), incoming.masked.count == masked.count {
      masked = zip(masked, incoming.masked).map { $0 || $1 }
    }
    record.outputMasks = [try SequenceMask(batch: batch, steps: steps, masked: masked)]
    return [sequences]
  }

  public func backward(
    _ outputGradients: [Tensor], record: CallRecord, computingInputGradients: Bool
  ) throws -> [Tensor?] {
    // The lengths are integers: no gradient flows to them.
    computingInputGradients
      ? [outputGradients[0], Tensor.zeros(record.inputs[1].shape)] : [nil, nil]
  }
}
