import PlexusCore

/// Applies one layer to every step of a sequence, as Keras's `TimeDistributed`: input
/// `[N, T, ...]`, the wrapped layer sees `[N * T, ...]` (one call, shared weights) and the
/// output is `[N, T, ...]` of its outputs. `T` may vary from call to call.
///
/// The wrapped layer takes one input and gives one output; its parameters are named under
/// the wrapper (`time_distributed_1.layer.kernel`; the wrapped layer is called `layer` unless
/// its description names it).
public final class TimeDistributed: Layer {
  /// The wrapped layer. In JSON `layer` is required.
  public struct Config: DefaultedConfiguration {
    /// The description of the layer applied at every step.
    public var layer: LayerDescription

    /// Creates a config.
    public init(layer: LayerDescription) { self.layer = layer }

    public static var defaults: Config {
      Config(layer: LayerDescription(type: "plexus.flatten", name: "", config: .object([:])))
    }
    public static var fields: [ConfigField<Config>] { [.required("layer", \.layer)] }
  }

  public static let typeName = "plexus.time_distributed"
  public let state = LayerState()
  /// `true`: each step's output depends on that step alone, so a sequence mask holds.
  public var propagatesSequenceMask: Bool { true }
  /// The layer applied at every step.
  public let layer: any Layer

  public var config: Config {
    do {
      return Config(layer: try LayerDescription(layer))
    } catch {
      // The wrapped layer's config was decoded from JSON or validated by its initializer.
      preconditionFailure("a layer config failed to encode: \(error)")
    }
  }

  /// Creates the wrapper with the core and recurrent layers; use `make(config:registry:)`
  /// (or `init(_:)`) for layers of other modules.
  ///
  /// - Throws: the registry's errors.
  public convenience init(config: Config) throws {
    let registry = LayerRegistry()
    RecurrentLayers.register(in: registry)
    try self.init(config: config, registry: registry)
  }

  public static func make(config: Config, registry: LayerRegistry) throws -> Self {
    try Self(config: config, registry: registry)
  }

  /// Creates the wrapper, making the wrapped layer through `registry`.
  ///
  /// - Throws: the registry's errors.
  public init(config: Config, registry: LayerRegistry) throws {
    layer = try registry.makeLayer(from: config.layer)
    if layer.name.isEmpty { layer.name = "layer" }
  }

  /// Wraps an existing layer (unnamed layers are called `layer`).
  public init(_ layer: any Layer, name: String = "") {
    self.layer = layer
    if layer.name.isEmpty { layer.name = "layer" }
    state.name = name
  }

  /// The record of the wrapped layer's call.
  private final class Tape {
    let record = CallRecord()
  }

  public var sublayers: [any Layer] { [layer] }
  public var parameters: [Parameter] { layer.parameters }
  public var trainableParameters: [Parameter] {
    state.isTrainable ? layer.trainableParameters : []
  }
  public var namedParameters: [(path: String, parameter: Parameter)] {
    layer.namedParameters.map { (path: "\(name).\($0.path)", parameter: $0.parameter) }
  }

  public func build(for inputShapes: [SymbolicShape]) throws -> [SymbolicShape] {
    guard inputShapes.count == 1, let shape = inputShapes.first, shape.count >= 2 else {
      throw PlexusError.shapeMismatch(
        layer: name, expected: "one sequence [T, ...] of rank 2 or more",
        found: inputShapes.first.map(ShapeCheck.flatten) ?? [])
    }
    let outputs = try layer.ensureBuilt(inputShapes: [Array(shape.dropFirst())])
    guard outputs.count == 1 else {
      throw PlexusError.invalidConfiguration(
        "layer '\(name)': the wrapped layer has \(outputs.count) outputs; it needs one")
    }
    return [[shape[0]] + outputs[0]]
  }

  public func initialize(using generator: inout SeededGenerator) throws {
    try layer.initialize(using: &generator)
  }

  private func tape(of record: CallRecord) -> Tape {
    if let tape = record.scratch as? Tape { return tape }
    let tape = Tape()
    record.scratch = tape
    return tape
  }

  public func forward(_ inputs: [Tensor], record: CallRecord) throws -> [Tensor] {
    let x = inputs[0]
    let (batch, steps) = (x.shape[0], x.shape[1])
    let (rows, overflow) = batch.multipliedReportingOverflow(by: steps)
    guard !overflow else {
      throw PlexusError.invalidShape("layer '\(name)': \(batch) x \(steps) steps overflow")
    }
    let flat = try x.reshaped([rows] + x.shape.dropFirst(2))
    let output = try layer.run(
      [flat], training: record.isTraining, record: tape(of: record).record)[0]
    return [try output.reshaped([batch, steps] + output.shape.dropFirst())]
  }

  public func backward(
    _ outputGradients: [Tensor], record: CallRecord, computingInputGradients: Bool
  ) throws -> [Tensor?] {
    guard let tape = record.scratch as? Tape, let x = record.inputs.first,
      let inner = tape.record.outputs.first
    else {
      throw PlexusError.notBuilt("layer '\(name)': backward called before forward")
    }
    let gradient = try outputGradients[0].reshaped(inner.shape)
    let inputGradient = try layer.backward(
      [gradient], record: tape.record, computingInputGradients: computingInputGradients)[0]
    return [try inputGradient.map { try $0.reshaped(x.shape) }]
  }
}
