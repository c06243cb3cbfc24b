import PlexusCore
import PlexusTestSupport
import Testing

@testable import PlexusRecurrent

/// A recurrent layer the shared checks below can build from its config.
protocol RecurrentLayerUnderTest: Layer where Config: RecurrentConfiguration {
  /// The shared machinery, for the naive reference.
  var core: RecurrentCore { get }
  /// How many states the layer carries (and takes as optional initial inputs).
  static var carriedStates: Int { get }
}

extension SimpleRNN: RecurrentLayerUnderTest {
  static var carriedStates: Int { 1 }
}

extension LSTM: RecurrentLayerUnderTest {
  static var carriedStates: Int { 2 }
}

extension GRU: RecurrentLayerUnderTest {
  static var carriedStates: Int { 1 }
}

/// The checks `SimpleRNNTests`, `LSTMTests` and `GRUTests` share, each run for one layer type
/// with its defaults for everything not named.
enum RecurrentLayerChecks {
  static let registry: LayerRegistry = {
    let registry = LayerRegistry()
    RecurrentLayers.register(in: registry)
    return registry
  }()

  /// The return-sequences, return-state, initial-state and go-backwards combinations the
  /// gradients through time are checked for.
  static let gradientCases: [(Bool, Bool, Bool, Bool)] = [
    (false, false, false, false), (true, false, false, false), (false, true, false, false),
    (true, true, true, false), (false, false, true, true), (true, true, true, true),
  ]

  /// A layer of `L` with the given options and the config's defaults otherwise.
  static func layer<L: RecurrentLayerUnderTest>(
    _ type: L.Type, units: Int, returnSequences: Bool = false, returnState: Bool = false,
    goBackwards: Bool = false
  ) throws -> L {
    var config = L.Config.defaults
    config.units = units
    config.returnSequences = returnSequences
    config.returnState = returnState
    config.goBackwards = goBackwards
    return try L(config: config)
  }

  /// The harness cases: the last output of 4 units, with and without initial states, and bad
  /// shapes (rank, initial states of the wrong size or count); then every step's output and
  /// the final states, read backwards.
  static func harnessTests<L: RecurrentLayerUnderTest>(_ type: L.Type) -> [LayerTest] {
    let states = L.carriedStates
    let initialStates = Array(repeating: [4], count: states)
    let wrongStateSize = [[5, 3], [3]] + Array(repeating: [4], count: states - 1)
    let wrongStateCount = [[5, 3]] + Array(repeating: [4], count: states == 1 ? 2 : states - 1)
    var test = LayerTest(
      registry: registry,
      shapes: [
        .init([5, 3], output: [4]),
        .init(inputs: [[6, 2]] + initialStates, outputs: [[4]]),
      ],
      badShapes: [[[3]], [[5, 3, 2]], wrongStateSize, wrongStateCount]
    ) { try Self.layer(L.self, units: 4) }
    test.batch = 3
    // Float32 noise through six steps of saturating gates needs a wider step than the default.
    test.epsilon = 1e-2
    test.gradientTolerance = 2e-2
    var sequences = LayerTest(
      registry: registry,
      shapes: [.init(inputs: [[5, 3]], outputs: [[5, 4]] + initialStates)]
    ) {
      try Self.layer(L.self, units: 4, returnSequences: true, returnState: true, goBackwards: true)
    }
    sequences.batch = 2
    sequences.epsilon = 1e-2
    sequences.gradientTolerance = 2e-2
    return [test, sequences]
  }

  /// The largest finite-difference gradient error through time for one of `gradientCases`.
  static func gradientError<L: RecurrentLayerUnderTest>(
    _ type: L.Type, returnSequences: Bool, returnState: Bool, initialState: Bool,
    goBackwards: Bool
  ) throws -> Double {
    let layer = try Self.layer(
      L.self, units: 4, returnSequences: returnSequences, returnState: returnState,
      goBackwards: goBackwards)
    return try RecurrentReference.gradientError(
      layer, features: 3, units: 4, states: initialState ? L.carriedStates : 0)
  }

  /// The largest difference between the layer (every step and the final states, given initial
  /// states) and the naive per-step reference.
  static func forwardDifference<L: RecurrentLayerUnderTest>(
    _ type: L.Type, goBackwards: Bool
  ) throws -> Double {
    let layer = try Self.layer(
      L.self, units: 5, returnSequences: true, returnState: true, goBackwards: goBackwards)
    let states = L.carriedStates
    try RecurrentReference.prepare(
      layer, inputShapes: [[nil, 3]] + Array(repeating: [5], count: states))
    var generator = SeededGenerator(seed: 9)
    let x = Tensor.normal([3, 7, 3], using: &generator)
    let h0 = Tensor.normal([3, 5], using: &generator)
    let c0 = states == 2 ? Tensor.normal([3, 5], using: &generator) : nil
    return try RecurrentReference.maximumDifference(
      layer: layer, core: layer.core, x: x, h0: h0, c0: c0)
  }

  /// Expects a layer built for `[nil, 2]` to match the reference for 5, 1 and 9 steps.
  static func checkSequenceLengthVaries<L: RecurrentLayerUnderTest>(
    _ type: L.Type, sourceLocation: SourceLocation = #_sourceLocation
  ) throws {
    let layer = try Self.layer(L.self, units: 4)
    try RecurrentReference.prepare(layer, inputShapes: [[nil, 2]])
    var generator = SeededGenerator(seed: 4)
    for steps in [5, 1, 9] {
      let x = Tensor.normal([2, steps, 2], using: &generator)
      #expect(
        try RecurrentReference.maximumDifference(layer: layer, core: layer.core, x: x) < 1e-5,
        sourceLocation: sourceLocation)
    }
  }

  /// Expects wrong features, ranks, an empty sequence, a feature-less build and zero units to
  /// be refused with errors that say so; `layerName` is the name the core is called with.
  static func checkBadInputErrors<L: RecurrentLayerUnderTest>(
    _ type: L.Type, layerName: String
  ) throws {
    let layer = try Self.layer(L.self, units: 4)
    try layer.build(inputShape: [nil, 3])
    RecurrentReference.expectError("[N, ?, 3]") {
      _ = try layer(Tensor.zeros([2, 5, 4]))
    }
    RecurrentReference.expectError("[N, ?, 3]") { _ = try layer(Tensor.zeros([2, 3])) }
    RecurrentReference.expectError("[N, ?, 3]") { _ = try layer(Tensor.zeros([2, 0, 3])) }
    let core = layer.core
    RecurrentReference.expectError("empty sequence") {
      _ = try core.forward(
        [Tensor.zeros([2, 0, 3])], record: CallRecord(), layer: layerName, state: layer.state)
    }
    RecurrentReference.expectError("features") {
      _ = try Self.layer(L.self, units: 4).build(inputShape: [3])
    }
    RecurrentReference.expectError("units") { _ = try Self.layer(L.self, units: 0) }
  }

  /// Expects masked steps to carry the state unchanged for every config of `configs`, and a
  /// non-finite `maskValue` to be refused.
  static func checkMasking<L: RecurrentLayerUnderTest>(
    _ type: L.Type, configs: [L.Config], sourceLocation: SourceLocation = #_sourceLocation
  ) throws {
    for config in configs {
      let layer = try L(config: config)
      let error = try RecurrentReference.maskedCheck(layer, core: layer.core, features: 3)
      #expect(error < 1e-2, "\(config)", sourceLocation: sourceLocation)
    }
    var notANumber = L.Config.defaults
    notANumber.units = 2
    notANumber.maskValue = .nan
    RecurrentReference.expectError("maskValue") { _ = try L(config: notANumber) }
  }

  /// Checks the config JSON: `{"units": 8}` gives the defaults, `full` (every key set away
  /// from its default) round-trips, and a typo of `returnSequences` is refused with a
  /// suggestion.
  static func checkConfigDecoding<L: RecurrentLayerUnderTest>(_ type: L.Type, full: L.Config)
    throws
  {
    var defaults = L.Config.defaults
    defaults.units = 8
    try LayerHarness.checkConfigDecoding(
      L.self, registry: registry, minimal: #"{"units": 8}"#, defaults: defaults, full: full,
      typo: #"{"returnSequence": true}"#, suggestion: "returnSequences")
  }
}
