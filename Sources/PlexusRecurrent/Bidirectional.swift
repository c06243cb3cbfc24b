import PlexusCore

/// How `Bidirectional` combines the outputs of its two directions.
public enum BidirectionalMerge: String, Codable, Sendable, CaseIterable {
  /// Forward then backward features side by side (`2H` features).
  case concat
  /// Their sum.
  case sum
  /// Their mean.
  case average
  /// Their elementwise product.
  case multiply
}

/// Runs a recurrent layer over the sequence in both directions and merges the results, as
/// Keras's `Bidirectional`.
///
/// The wrapped layer (`SimpleRNN`, `LSTM` or `GRU`, without `returnState`) is the forward
/// direction; a copy of its config with `goBackwards` flipped is the backward one. With
/// `returnSequences` the backward direction's sequence is put back in time order before
/// merging, so step `t` of the output sees the whole sequence. The parameters are named
/// `forward.*` and `backward.*` under the wrapper's name (`bidirectional_1.forward.kernel`).
/// Input `[N, T, F]`; output `[N, T, H']` or `[N, H']`, with `H' = 2H` for `concat`, else `H`.
public final class Bidirectional: Layer {
  /// The wrapped layer and the merge. In JSON `layer` is required.
  public struct Config: DefaultedConfiguration {
    /// The forward direction's layer description.
    public var layer: LayerDescription
    /// How the two directions' outputs combine.
    public var mergeMode: BidirectionalMerge

    /// Creates a config.
    public init(layer: LayerDescription, mergeMode: BidirectionalMerge = .concat) {
      self.layer = layer
      self.mergeMode = mergeMode
    }

    public static var defaults: Config {
      Config(layer: LayerDescription(type: LSTM.typeName, name: "", config: .object([:])))
    }
    public static var fields: [ConfigField<Config>] {
      [.required("layer", \.layer), .init("mergeMode", \.mergeMode)]
    }
  }

  /// The per-call records of the two directions.
  private final class Tape {
    let forward = CallRecord()
    let backward = CallRecord()
  }

  public static let typeName = "plexus.bidirectional"
  public let state = LayerState()
  /// The forward direction.
  public let forwardLayer: any Layer
  /// The backward direction (the forward layer's config with `goBackwards` flipped).
  public let backwardLayer: any Layer
  /// How the outputs merge.
  public let mergeMode: BidirectionalMerge
  private let returnsSequences: Bool

  public var config: Config {
    do {
      return Config(layer: try LayerDescription(forwardLayer), mergeMode: mergeMode)
    } catch {
      // The wrapped layer's config was decoded from JSON, so it encodes.
      preconditionFailure("a recurrent layer config failed to encode: \(error)")
    }
  }

  /// Creates the wrapper with the recurrent layers of this module.
  ///
  /// - Throws: as `make(config:registry:)`.
  public convenience init(config: Config) throws {
    let registry = LayerRegistry()
    RecurrentLayers.register(in: registry)
    try self.init(config: config, registry: registry)
  }

  public static func make(config: Config, registry: LayerRegistry) throws -> Self {
    try Self(config: config, registry: registry)
  }

  /// Creates the wrapper, making both directions through `registry`.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` when the wrapped layer is not a recurrent
  ///   layer with `goBackwards` or returns its state; the registry's errors.
  public init(config: Config, registry: LayerRegistry) throws {
    guard case .object(var members) = config.layer.config else {
      throw PlexusError.invalidConfiguration(
        "bidirectional: the wrapped layer's config is not an object")
    }
    let forward = try registry.makeLayer(from: config.layer)
    guard
      case .object(let encoded) = try JSONValue(encoding: forward.config),
      case .bool(let goesBackwards) = encoded["goBackwards"] ?? .null,
      case .bool(let returnsSequences) = encoded["returnSequences"] ?? .null
    else {
      throw PlexusError.invalidConfiguration(
        "bidirectional wraps a recurrent layer with goBackwards (plexus.simple_rnn, "
          + "plexus.lstm, plexus.gru); got '\(config.layer.type)'")
    }
    guard encoded["returnState"] != .bool(true) else {
      throw PlexusError.invalidConfiguration(
        "bidirectional: the wrapped layer must not set returnState")
    }
    members["goBackwards"] = .bool(!goesBackwards)
    var backwardDescription = config.layer
    backwardDescription.config = .object(members)
    backwardDescription.name = "backward"
    let backward = try registry.makeLayer(from: backwardDescription)
    forward.name = "forward"
    forwardLayer = forward
    backwardLayer = backward
    mergeMode = config.mergeMode
    self.returnsSequences = returnsSequences
  }

  /// Wraps `layer` (a `SimpleRNN`, `LSTM` or `GRU`).
  ///
  /// - Throws: as `init(config:registry:)`.
  public convenience init(
    _ layer: any Layer, mergeMode: BidirectionalMerge = .concat, name: String = ""
  ) throws {
    try self.init(config: Config(layer: try LayerDescription(layer), mergeMode: mergeMode))
    self.name = name
  }

  public var sublayers: [any Layer] { [forwardLayer, backwardLayer] }
  public var parameters: [Parameter] { forwardLayer.parameters + backwardLayer.parameters }
  public var trainableParameters: [Parameter] {
    state.isTrainable
      ? forwardLayer.trainableParameters + backwardLayer.trainableParameters : []
  }
  public var namedParameters: [(path: String, parameter: Parameter)] {
    (forwardLayer.namedParameters + backwardLayer.namedParameters).map {
      (path: "\(name).\($0.path)", parameter: $0.parameter)
    }
  }

  public func build(for inputShapes: [SymbolicShape]) throws -> [SymbolicShape] {
    guard inputShapes.count == 1 else {
      throw PlexusError.invalidArgument(
        "layer '\(name)' takes one sequence [T, features], got \(inputShapes.count) inputs")
    }
    let forward = try forwardLayer.ensureBuilt(inputShapes: inputShapes)
    _ = try backwardLayer.ensureBuilt(inputShapes: inputShapes)
    guard forward.count == 1, var shape = forward.first, let units = shape.last ?? nil else {
      throw PlexusError.invalidConfiguration(
        "layer '\(name)': the wrapped layer has several outputs")
    }
    if mergeMode == .concat { shape[shape.count - 1] = 2 * units }
    return [shape]
  }

  public func initialize(using generator: inout SeededGenerator) throws {
    try forwardLayer.initialize(using: &generator)
    try backwardLayer.initialize(using: &generator)
  }

  /// The sequence `[N, T, H]` with its time axis reversed.
  private static func reversedInTime(_ tensor: Tensor) -> Tensor {
    let (batch, steps, width) = (tensor.shape[0], tensor.shape[1], tensor.shape[2])
    return Tensor(unsafeUninitializedShape: tensor.shape) { out in
      tensor.withUnsafeBufferPointer { source in
        for n in 0..<batch {
          for t in 0..<steps {
            (out.baseAddress! + (n * steps + t) * width).update(
              from: source.baseAddress! + (n * steps + steps - 1 - t) * width, count: width)
          }
        }
      }
    }
  }

  private func tape(of record: CallRecord) -> Tape {
    if let tape = record.scratch as? Tape { return tape }
    let tape = Tape()
    record.scratch = tape
    return tape
  }

  public func forward(_ inputs: [Tensor], record: CallRecord) throws -> [Tensor] {
    let tape = tape(of: record)
    let forward = try forwardLayer.run(
      inputs, training: record.isTraining, record: tape.forward, inputMasks: record.inputMasks)[0]
    var backward = try backwardLayer.run(
      inputs, training: record.isTraining, record: tape.backward, inputMasks: record.inputMasks)[0]
    if returnsSequences {
      backward = Self.reversedInTime(backward)
      // Both directions' sequences are in input order here, so the input's mask holds.
      if let mask = record.inputMask(0) { record.outputMasks = [mask] }
    }
    if returnsSequences && mergeMode == .multiply { record.saved = [forward, backward] }
    switch mergeMode {
    case .concat: return [try Tensor.concatenate([forward, backward], axis: forward.rank - 1)]
    case .sum: return [try forward.zipMap(backward, +)]
    case .average: return [try forward.zipMap(backward) { ($0 + $1) / 2 }]
    case .multiply: return [try forward.zipMap(backward, *)]
    }
  }

  public func backward(
    _ outputGradients: [Tensor], record: CallRecord, computingInputGradients: Bool
  ) throws -> [Tensor?] {
    guard let tape = record.scratch as? Tape else {
      throw PlexusError.notBuilt("layer '\(name)': backward called before forward")
    }
    let gradient = outputGradients[0]
    var forwardGradient: Tensor
    var backwardGradient: Tensor
    switch mergeMode {
    case .concat:
      let width = gradient.shape[gradient.rank - 1] / 2
      forwardGradient = try gradient.slice(axis: gradient.rank - 1, range: 0..<width)
      backwardGradient = try gradient.slice(axis: gradient.rank - 1, range: width..<(2 * width))
    case .sum:
      forwardGradient = gradient
      backwardGradient = gradient
    case .average:
      forwardGradient = gradient.map { $0 / 2 }
      backwardGradient = forwardGradient
    case .multiply:
      let forward = returnsSequences ? record.saved[0] : tape.forward.outputs[0]
      let backward = returnsSequences ? record.saved[1] : tape.backward.outputs[0]
      forwardGradient = try gradient.zipMap(backward, *)
      backwardGradient = try gradient.zipMap(forward, *)
    }
    if returnsSequences { backwardGradient = Self.reversedInTime(backwardGradient) }
    let forwardInputs = try forwardLayer.backward(
      [forwardGradient], record: tape.forward, computingInputGradients: computingInputGradients)
    let backwardInputs = try backwardLayer.backward(
      [backwardGradient], record: tape.backward,
      computingInputGradients: computingInputGradients)
    guard computingInputGradients, let a = forwardInputs[0], let b = backwardInputs[0] else {
      return [nil]
    }
    return [try a.zipMap(b, +)]
  }
}
