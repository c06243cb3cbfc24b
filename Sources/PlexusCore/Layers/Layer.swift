/// The configuration of a layer: hyperparameters only, no tensors. It encodes to JSON and is
/// what a model file stores as the layer's architecture.
public typealias LayerConfiguration = Codable & Sendable & Equatable

/// A per-sample shape in which a dimension may vary from one call to the next (`nil`), as a
/// sequence length does: `[nil, 8]` is a sequence of any length of 8 features. The batch
/// dimension is never part of it.
public typealias SymbolicShape = [Int?]

/// A layer of a neural network with a hand-written forward and backward pass.
///
/// The life of a layer:
/// 1. `init(config:)` takes hyperparameters only and creates the layer's `Parameter` objects
///    without values.
/// 2. `build(for:)` validates the per-sample input shapes, declares the parameters'
///    shapes and initializers (`Parameter.declare`) and returns the per-sample output shapes.
///    Models call it through `ensureBuilt(inputShapes:)`, once per layer: applying a built
///    layer again to compatible shapes reuses it (shared weights), an incompatible shape is an
///    error, and building never replaces trained weights.
/// 3. `initialize(using:)` draws the declared initial values (the model that builds the layer
///    calls it with a generator split from its seed; loading a file skips the draw).
/// 4. `forward(_:record:)` computes the outputs of one call. Whatever `backward` needs is kept
///    in the `CallRecord` that the model owns for that call — never in the layer — so one
///    layer can be applied at several places of a graph, and several tasks can run inference
///    on one model at once.
/// 5. `backward(_:record:computingInputGradients:)` takes the gradients of the loss with
///    respect to the outputs of that call, accumulates parameter gradients into
///    `Parameter.gradient` and returns the input gradients; without
///    `computingInputGradients` it may return `nil` for them (a model's first layer).
///
/// Layers with one input and one output conform to `UnaryLayer`, which has single-tensor
/// versions of these requirements.
///
/// Layers are registered under a namespaced `typeName` (`plexus.dense`; third parties use
/// their own prefix such as `com.example.gated`) so that models can be saved and loaded.
/// Layers are `Sendable`: keep mutable state in `state` (name, trainable flag, build record),
/// in `Parameter`s and in `BuildValue`s, so that a layer needs no `@unchecked` conformance.
public protocol Layer: AnyObject, Sendable {
  /// The layer's hyperparameters.
  associatedtype Config: LayerConfiguration

  /// The namespaced, stable type name under which the layer is registered.
  static var typeName: String { get }

  /// The base of automatic layer names (`dense` gives `dense_1`, `dense_2`, ...).
  static var defaultNamePrefix: String { get }

  /// The layer's mutable bookkeeping: name, trainable flag, build record, random stream.
  var state: LayerState { get }

  /// The hyperparameters this layer was created with.
  var config: Config { get }

  /// Creates an unbuilt layer from its configuration.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` when a hyperparameter is out of range.
  init(config: Config) throws

  /// Creates a layer from its configuration when loading a model; containers use `registry`
  /// to create their children. The default calls `init(config:)`.
  static func make(config: Config, registry: LayerRegistry) throws -> Self

  /// Validates the per-sample input shapes, declares the parameters' shapes and returns the
  /// per-sample output shapes. Called once per layer, by `ensureBuilt(inputShapes:)`.
  ///
  /// - Throws: `PlexusError.shapeMismatch` (or another `PlexusError`) for input shapes the
  ///   layer cannot accept.
  func build(for inputShapes: [SymbolicShape]) throws -> [SymbolicShape]

  /// Draws initial values for the declared parameters (and seeds any random stream the layer
  /// keeps). The default materializes `parameters` in order from `generator`.
  func initialize(using generator: inout SeededGenerator) throws

  /// Computes the outputs of one call for a batch (`[N] + inputShape` each). The model has
  /// stored the inputs in `record.inputs` and the mode in `record.isTraining`; the layer keeps
  /// what its backward pass needs in `record`.
  func forward(_ inputs: [Tensor], record: CallRecord) throws -> [Tensor]

  /// Propagates the output gradients of the call that `record` describes: accumulates
  /// parameter gradients and returns one input gradient per input (`nil` entries are allowed
  /// when `computingInputGradients` is false).
  func backward(
    _ outputGradients: [Tensor], record: CallRecord, computingInputGradients: Bool
  ) throws -> [Tensor?]

  /// The layer's parameters (for containers, all nested parameters, each once).
  var parameters: [Parameter] { get }

  /// The parameters that training updates: none when the layer is frozen.
  var trainableParameters: [Parameter] { get }

  /// The parameters with their full paths (`dense_1.kernel`). Containers prefix their
  /// children's paths with their own name.
  var namedParameters: [(path: String, parameter: Parameter)] { get }

  /// The layers a container holds (a nested model's layers); empty for plain layers.
  var sublayers: [any Layer] { get }

  /// Whether the layer passes its first input's `SequenceMask` on to its outputs when it sets
  /// none itself (elementwise and per-step layers). The default is `false`: the mask stops
  /// here.
  var propagatesSequenceMask: Bool { get }
}

extension Layer {
  public static func make(config: Config, registry: LayerRegistry) throws -> Self {
    try Self(config: config)
  }

  public var propagatesSequenceMask: Bool { false }

  public static var defaultNamePrefix: String {
    let base = typeName.split(separator: ".").last.map(String.init) ?? typeName
    return base.isEmpty ? "layer" : base
  }

  public var parameters: [Parameter] { [] }

  public var trainableParameters: [Parameter] {
    state.isTrainable ? parameters.filter(\.isTrainable) : []
  }

  public var sublayers: [any Layer] { [] }

  public func initialize(using generator: inout SeededGenerator) throws {
    for parameter in parameters { try parameter.materialize(using: &generator) }
  }

  public var namedParameters: [(path: String, parameter: Parameter)] {
    parameters.map { (path: "\(name).\($0.name)", parameter: $0) }
  }

  /// The layer's name, unique within a model (`dense_1`). Empty until a model names it.
  public var name: String {
    get { state.name }
    set { state.name = newValue }
  }

  /// Whether training updates this layer's parameters (`false` freezes it, as Keras's
  /// `layer.trainable = False`). Saved with the model.
  public var isTrainable: Bool {
    get { state.isTrainable }
    set { state.isTrainable = newValue }
  }

  /// The registered type name of this layer's class.
  public var typeName: String { Self.typeName }

  /// The total number of scalars in the parameters.
  public var parameterCount: Int { parameters.reduce(0) { $0 + $1.count } }

  /// Whether the layer has been built.
  public var isBuilt: Bool { state.builtShapes != nil }

  /// Resets all parameter gradients to zero.
  public func zeroGradients() {
    for parameter in parameters { parameter.zeroGradient() }
  }

  /// Builds the layer for `inputShapes` the first time; afterwards checks that the shapes are
  /// compatible with the ones it was built for (a dimension built as variable accepts any
  /// size) and returns the recorded output shapes. Building never replaces parameters.
  ///
  /// - Throws: `PlexusError.shapeMismatch` naming the layer when the shapes differ from the
  ///   ones it was built for; the layer's own build errors.
  @discardableResult
  public func ensureBuilt(inputShapes: [SymbolicShape]) throws -> [SymbolicShape] {
    if let built = state.builtShapes {
      guard built.inputs.count == inputShapes.count,
        zip(built.inputs, inputShapes).allSatisfy({ ShapeCheck.accepts($0, $1) })
      else {
        throw PlexusError.shapeMismatch(
          layer: name,
          expected: "inputs of shapes \(built.inputs.map(ShapeCheck.describe)) (the layer is "
            + "already built; a shared layer takes the same shapes at every call)",
          found: inputShapes.first.map(ShapeCheck.flatten) ?? [])
      }
      return built.outputs
    }
    for shape in inputShapes {
      guard shape.allSatisfy({ $0.map { $0 > 0 } ?? true }) else {
        throw PlexusError.shapeMismatch(
          layer: name, expected: "positive dimensions", found: ShapeCheck.flatten(shape))
      }
    }
    let outputs = try build(for: inputShapes)
    state.builtShapes = (inputs: inputShapes, outputs: outputs)
    return outputs
  }

  /// Builds a single-input layer (or a `Sequential`) for a per-sample shape and initializes
  /// the parameters it has not initialized yet from `seed` (a `Sequential` splits the
  /// generator per layer). Building again for the same shape keeps every weight.
  ///
  /// - Throws: as `ensureBuilt(inputShapes:)`.
  @discardableResult
  public func build(inputShape: SymbolicShape, seed: UInt64 = 0) throws -> SymbolicShape {
    var generator = SeededGenerator(seed: seed)
    let outputs = try ensureBuilt(inputShapes: [inputShape])
    try initialize(using: &generator)
    guard outputs.count == 1, let output = outputs.first else {
      throw PlexusError.invalidArgument(
        "layer '\(name)' has \(outputs.count) outputs; use it inside a model")
    }
    return output
  }

  /// Runs a built single-input, single-output layer on a batch outside a model; `record`
  /// receives what a later `backward` call needs (pass a new `CallRecord` per call).
  ///
  /// - Throws: `PlexusError` when the layer is not built or the input does not fit.
  public func callAsFunction(
    _ input: Tensor, training: Bool = false, record: CallRecord = CallRecord()
  ) throws -> Tensor {
    let outputs = try run([input], training: training, record: record)
    guard outputs.count == 1 else {
      throw PlexusError.invalidArgument(
        "layer '\(name)' has \(outputs.count) outputs; call run(_:training:record:)")
    }
    return outputs[0]
  }

  /// Runs a built layer on a call's inputs outside a model, checking the inputs against the
  /// shapes the layer was built for and storing the call in `record`.
  ///
  /// - Throws: `PlexusError` when the layer is not built or the inputs do not fit.
  public func run(
    _ inputs: [Tensor], training: Bool, record: CallRecord, inputMasks: [SequenceMask?] = []
  ) throws -> [Tensor] {
    guard let built = state.builtShapes else {
      throw PlexusError.notBuilt("layer '\(name)' must be built before it is run")
    }
    guard inputs.count == built.inputs.count else {
      throw PlexusError.invalidArgument(
        "layer '\(name)' takes \(built.inputs.count) inputs, got \(inputs.count)")
    }
    for (input, shape) in zip(inputs, built.inputs) {
      try ShapeCheck.requireBatch(input, matches: shape, layer: name)
    }
    record.begin(inputs: inputs, training: training)
    record.inputMasks = inputMasks
    let outputs = try forward(inputs, record: record)
    record.outputs = outputs
    return outputs
  }

  /// Propagates the output gradients of a call made by `run(_:training:record:)` or
  /// `callAsFunction`, checking their shapes against that call's outputs.
  ///
  /// - Throws: `PlexusError.shapeMismatch` for gradients that do not match the outputs.
  public func gradients(
    _ outputGradients: [Tensor], record: CallRecord, computingInputGradients: Bool = true
  ) throws -> [Tensor?] {
    guard outputGradients.count == record.outputs.count else {
      throw PlexusError.invalidArgument(
        "layer '\(name)' produced \(record.outputs.count) outputs in this call but "
          + "\(outputGradients.count) gradients were given (backward before forward?)")
    }
    for (gradient, output) in zip(outputGradients, record.outputs) {
      try ShapeCheck.requireGradient(gradient, matches: output.shape, layer: name)
    }
    return try backward(
      outputGradients, record: record, computingInputGradients: computingInputGradients)
  }
}

/// A layer with one input and one output. It implements single-tensor versions of `Layer`'s
/// requirements; the array-based ones come from this protocol.
public protocol UnaryLayer: Layer {
  /// Validates the per-sample input shape, declares parameters and returns the per-sample
  /// output shape.
  func build(for inputShape: SymbolicShape) throws -> SymbolicShape

  /// Computes the output of one call (the input is also in `record.inputs[0]`).
  func forward(_ input: Tensor, record: CallRecord) throws -> Tensor

  /// Accumulates parameter gradients and returns the input gradient of the call `record`
  /// describes (`nil` allowed without `computingInputGradient`).
  func backward(_ outputGradient: Tensor, record: CallRecord, computingInputGradient: Bool)
    throws -> Tensor?
}

extension UnaryLayer {
  public func build(for inputShapes: [SymbolicShape]) throws -> [SymbolicShape] {
    guard inputShapes.count == 1 else {
      throw PlexusError.invalidArgument(
        "layer '\(name)' takes one input, got \(inputShapes.count)")
    }
    return [try build(for: inputShapes[0])]
  }

  public func forward(_ inputs: [Tensor], record: CallRecord) throws -> [Tensor] {
    [try forward(inputs[0], record: record)]
  }

  public func backward(
    _ outputGradients: [Tensor], record: CallRecord, computingInputGradients: Bool
  ) throws -> [Tensor?] {
    [
      try backward(
        outputGradients[0], record: record, computingInputGradient: computingInputGradients)
    ]
  }
}

/// What one call of a layer keeps for its backward pass: the inputs and outputs (stored by
/// the model), tensors the layer saves, nested state (a nested model's tape) and the losses
/// the layer contributed in this call.
///
/// A record belongs to one call at a time; models keep one per graph node and reuse it from
/// one step to the next, so training allocates no records per batch.
public final class CallRecord {
  /// The inputs of the call.
  public internal(set) var inputs: [Tensor] = []
  /// The outputs of the call, once `forward` has returned.
  public internal(set) var outputs: [Tensor] = []
  /// Whether the call runs in training mode (dropout active, statistics updated).
  public internal(set) var isTraining = false
  /// Whether the call keeps what a backward pass needs. Inference through `predict` does not:
  /// its records hold neither inputs nor outputs, and layers may skip saving tensors.
  public internal(set) var isRecording = true
  /// Tensors the layer keeps for its backward pass (a pre-activation, a mask, indices).
  public var saved: [Tensor] = []
  /// Other per-call state the layer owns, reused from one call to the next (a nested
  /// model's tape, a lowering's scratch buffers).
  public var scratch: AnyObject?
  /// Losses the layer added to the training objective in this call, with their names (for
  /// the logs): activity regularization, a VAE's KL term. The layer adds their gradients to
  /// its own input gradients in `backward`.
  public private(set) var contributedLosses: [(name: String, value: Float)] = []
  /// The masks of the call's inputs (one per input, `nil` for an input without one; empty
  /// when no input has a mask).
  public internal(set) var inputMasks: [SequenceMask?] = []
  /// The masks of the call's outputs, set by a layer that makes or changes masks (empty:
  /// none, or the input's for a layer that propagates masks).
  public var outputMasks: [SequenceMask?] = []

  /// The mask of input `index`, if it has one.
  public func inputMask(_ index: Int = 0) -> SequenceMask? {
    index < inputMasks.count ? inputMasks[index] : nil
  }

  /// Creates an empty record.
  public init() {}

  /// Adds a loss term to the training objective of this call (training only: inference
  /// ignores it). Its gradient is the layer's business, in `backward`.
  public func addLoss(_ value: Float, name: String) {
    contributedLosses.append((name: name, value: value))
  }

  /// Starts a new call: stores its inputs and mode and clears what the last call kept
  /// (keeping the arrays' capacity).
  public func begin(inputs: [Tensor], training: Bool) {
    self.inputs = inputs
    outputs.removeAll(keepingCapacity: true)
    saved.removeAll(keepingCapacity: true)
    contributedLosses.removeAll(keepingCapacity: true)
    if !outputMasks.isEmpty { outputMasks.removeAll(keepingCapacity: true) }
    isTraining = training
    isRecording = true
  }

  /// Starts a call of one input, reusing the arrays' storage; without `recording` the input is
  /// not kept.
  func begin(input: Tensor, training: Bool, recording: Bool) {
    inputs.removeAll(keepingCapacity: true)
    if recording { inputs.append(input) }
    outputs.removeAll(keepingCapacity: true)
    if !saved.isEmpty { saved.removeAll(keepingCapacity: true) }
    if !contributedLosses.isEmpty { contributedLosses.removeAll(keepingCapacity: true) }
    if !outputMasks.isEmpty { outputMasks.removeAll(keepingCapacity: true) }
    isTraining = training
    isRecording = recording
  }

  /// Stores the one output of a call, reusing the array's storage.
  func finish(output: Tensor) {
    if isRecording { outputs.append(output) }
  }

  /// Drops the tensors of the last call (so an idle record holds no activations), also in a
  /// nested model's tape kept in `scratch`.
  public func clear() {
    (scratch as? GraphTape)?.clear()
    inputs.removeAll(keepingCapacity: true)
    outputs.removeAll(keepingCapacity: true)
    saved.removeAll(keepingCapacity: true)
    contributedLosses.removeAll(keepingCapacity: true)
  }
}

/// Shape checks shared by layers.
public enum ShapeCheck {
  /// Throws unless the per-sample shape has `rank` dimensions, each positive and fixed.
  public static func require(
    _ shape: [Int], rank: Int, layer: @autoclosure () -> String,
    expected: @autoclosure () -> String
  ) throws {
    guard shape.count == rank, shape.allSatisfy({ $0 > 0 }) else {
      throw PlexusError.shapeMismatch(layer: layer(), expected: expected(), found: shape)
    }
  }

  /// The shape with every dimension fixed, or an error naming the layer: for layers that
  /// need every dimension known when they are built.
  public static func fixed(
    _ shape: SymbolicShape, layer: @autoclosure () -> String, expected: @autoclosure () -> String
  ) throws -> [Int] {
    let dimensions = shape.compactMap { $0 }
    guard dimensions.count == shape.count, dimensions.allSatisfy({ $0 > 0 }) else {
      throw PlexusError.shapeMismatch(
        layer: layer(), expected: expected() + " with every dimension known",
        found: flatten(shape))
    }
    return dimensions
  }

  /// Like `require(_:rank:layer:expected:)` for a symbolic shape whose every dimension must be
  /// known; returns the fixed shape.
  public static func require(
    _ shape: SymbolicShape, rank: Int, layer: @autoclosure () -> String,
    expected: @autoclosure () -> String
  ) throws -> [Int] {
    let dimensions = try fixed(shape, layer: layer(), expected: expected())
    try require(dimensions, rank: rank, layer: layer(), expected: expected())
    return dimensions
  }

  /// Whether a shape a layer was built for accepts `shape` (same rank; every dimension equal,
  /// or variable in the built shape).
  public static func accepts(_ built: SymbolicShape, _ shape: SymbolicShape) -> Bool {
    built.count == shape.count
      && zip(built, shape).allSatisfy { builtDimension, dimension in
        builtDimension == nil || builtDimension == dimension
      }
  }

  /// Whether a per-sample shape of real data fits a symbolic shape.
  public static func accepts(_ built: SymbolicShape, sample shape: ArraySlice<Int>) -> Bool {
    built.count == shape.count
      && zip(built, shape).allSatisfy { builtDimension, dimension in
        builtDimension.map { $0 == dimension } ?? (dimension > 0)
      }
  }

  /// A symbolic shape with `-1` for its variable dimensions, for error messages.
  public static func flatten(_ shape: SymbolicShape) -> [Int] { shape.map { $0 ?? -1 } }

  /// A symbolic shape written for people: `[?, 8]`.
  public static func describe(_ shape: SymbolicShape) -> String {
    "[" + shape.map { $0.map(String.init) ?? "?" }.joined(separator: ", ") + "]"
  }

  /// A batch shape written for people: `[N, ?, 8]`.
  public static func describeBatch(_ shape: SymbolicShape) -> String {
    "[" + (["N"] + shape.map { $0.map(String.init) ?? "?" }).joined(separator: ", ") + "]"
  }

  /// Throws unless a batch tensor has the per-sample shape `sampleShape`.
  public static func requireBatch(
    _ input: Tensor, sampleShape: [Int]?, layer: @autoclosure () -> String
  ) throws {
    guard let sampleShape else {
      throw PlexusError.notBuilt("layer '\(layer())' must be built before it is run")
    }
    guard input.rank == sampleShape.count + 1, input.shape.dropFirst().elementsEqual(sampleShape)
    else {
      throw PlexusError.shapeMismatch(
        layer: layer(), expected: "[N] + \(sampleShape)", found: input.shape)
    }
  }

  /// Throws unless a batch tensor fits the symbolic per-sample shape.
  public static func requireBatch(
    _ input: Tensor, matches shape: SymbolicShape, layer: @autoclosure () -> String
  ) throws {
    guard input.rank == shape.count + 1, accepts(shape, sample: input.shape.dropFirst()) else {
      throw PlexusError.shapeMismatch(
        layer: layer(), expected: describeBatch(shape), found: input.shape)
    }
  }

  /// Throws unless a gradient has the shape of the forward output it belongs to.
  public static func requireGradient(
    _ gradient: Tensor, matches shape: [Int]?, layer: @autoclosure () -> String
  ) throws {
    guard let shape else {
      throw PlexusError.notBuilt("layer '\(layer())': backward called before forward")
    }
    guard gradient.shape == shape else {
      throw PlexusError.shapeMismatch(
        layer: layer(), expected: "gradient of shape \(shape)", found: gradient.shape)
    }
  }
}
