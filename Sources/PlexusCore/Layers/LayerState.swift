import Synchronization

/// The mutable bookkeeping every layer has: its name, whether it is trainable, the shapes it
/// was built for and an optional random stream (dropout masks, noise).
///
/// A layer holds one as `public let state = LayerState()`; the class is thread safe, so layers
/// stay `Sendable` without `@unchecked`.
public final class LayerState: Sendable {
  private struct Storage {
    var name: String
    var isTrainable = true
    var builtShapes: (inputs: [SymbolicShape], outputs: [SymbolicShape])?
    var random: SeededGenerator?
  }

  private let storage: Mutex<Storage>

  /// Creates the state of an unbuilt, trainable layer.
  public init(name: String = "") {
    storage = Mutex(Storage(name: name))
  }

  /// The layer's name within its model.
  public var name: String {
    get { storage.withLock { $0.name } }
    set { storage.withLock { $0.name = newValue } }
  }

  /// Whether training updates the layer's parameters.
  public var isTrainable: Bool {
    get { storage.withLock { $0.isTrainable } }
    set { storage.withLock { $0.isTrainable = newValue } }
  }

  /// The per-sample input and output shapes the layer was built for, once built.
  public var builtShapes: (inputs: [SymbolicShape], outputs: [SymbolicShape])? {
    get { storage.withLock { $0.builtShapes } }
    set { storage.withLock { $0.builtShapes = newValue } }
  }

  /// The input shapes the layer was built for.
  public var inputShapes: [SymbolicShape]? { builtShapes?.inputs }

  /// The output shapes the layer was built for.
  public var outputShapes: [SymbolicShape]? { builtShapes?.outputs }

  /// Seeds the layer's random stream from `seed` or, without one, from `generator` — once:
  /// a stream that is already seeded keeps going, so rebuilding a model does not replay it.
  public func seedRandomStream(seed: UInt64?, from generator: inout SeededGenerator) {
    let derived = seed.map(SeededGenerator.init(seed:)) ?? generator.split()
    storage.withLock { storage in
      if storage.random == nil { storage.random = derived }
    }
  }

  /// The layer's random stream as it stands (`nil` when never seeded or used): read to save
  /// it with the model, set to continue a saved run with the same draws.
  public var randomStream: SeededGenerator? {
    get { storage.withLock { $0.random } }
    set { storage.withLock { $0.random = newValue } }
  }

  /// Runs `body` with the layer's random stream (seeded from 0 when never seeded). Training
  /// uses it, with exclusive access to the model.
  public func withRandomStream<Result>(_ body: (inout SeededGenerator) -> Result) -> Result {
    storage.withLock { storage in
      var generator = storage.random ?? SeededGenerator(seed: 0)
      defer { storage.random = generator }
      return body(&generator)
    }
  }
}

/// A value a layer works out when it is built (a convolution's geometry, an expected input
/// size) and reads in every call. Thread safe, so layers stay `Sendable`.
public final class BuildValue<Value: Sendable>: Sendable {
  private let storage: Mutex<Value?>

  /// Creates an empty slot (or one holding `initial`).
  public init(_ initial: Value? = nil) {
    storage = Mutex(initial)
  }

  /// The value, or `nil` before it is set.
  public var value: Value? {
    get { storage.withLock { $0 } }
    set { storage.withLock { $0 = newValue } }
  }

  /// The value, or a `PlexusError.notBuilt` naming `layer`.
  public func get(layer: String) throws -> Value {
    guard let value = storage.withLock({ $0 }) else {
      throw PlexusError.notBuilt("layer '\(layer)' must be built before it is run")
    }
    return value
  }
}
