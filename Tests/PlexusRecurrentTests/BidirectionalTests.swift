import PlexusCore
import PlexusTestSupport
import Testing

@testable import PlexusRecurrent

@Suite struct BidirectionalTests {
  static let registry: LayerRegistry = {
    let registry = LayerRegistry()
    RecurrentLayers.register(in: registry)
    return registry
  }()

  @Test(arguments: BidirectionalMerge.allCases)
  func passesTheHarness(mergeMode: BidirectionalMerge) throws {
    let width = mergeMode == .concat ? 6 : 3
    var test = LayerTest(
      registry: Self.registry,
      shapes: [.init([5, 2], output: [5, width]), .init([7, 2], output: [7, width])],
      badShapes: [[[2]], [[5, 2], [3]]]
    ) { try Bidirectional(try GRU(units: 3, returnSequences: true), mergeMode: mergeMode) }
    test.epsilon = 1e-2
    test.gradientTolerance = 2e-2
    try LayerHarness.run(test)
  }

  @Test(arguments: BidirectionalMerge.allCases, [false, true])
  func gradientsThroughTime(mergeMode: BidirectionalMerge, returnSequences: Bool) throws {
    let layer = try Bidirectional(
      try LSTM(units: 4, returnSequences: returnSequences), mergeMode: mergeMode)
    let error = try RecurrentReference.gradientError(layer, features: 3, units: 4, states: 0)
    #expect(error < 1e-2)
  }

  @Test(arguments: BidirectionalMerge.allCases)
  func mergesTheTwoDirectionsInTimeOrder(mergeMode: BidirectionalMerge) throws {
    let layer = try Bidirectional(
      try SimpleRNN(units: 3, returnSequences: true), mergeMode: mergeMode)
    try RecurrentReference.prepare(layer, inputShapes: [[nil, 2]])
    var generator = SeededGenerator(seed: 3)
    let x = Tensor.normal([2, 6, 2], using: &generator)
    let output = try layer(x).scalars
    let forward = try layer.forwardLayer(x).scalars
    let backward = try layer.backwardLayer(x).scalars
    for n in 0..<2 {
      for t in 0..<6 {
        for j in 0..<3 {
          let a = forward[(n * 6 + t) * 3 + j]
          // The backward direction's step for time t is its (T - 1 - t)-th processed step.
          let b = backward[(n * 6 + 5 - t) * 3 + j]
          switch mergeMode {
          case .concat:
            #expect(output[(n * 6 + t) * 6 + j] == a)
            #expect(output[(n * 6 + t) * 6 + 3 + j] == b)
          case .sum: #expect(output[(n * 6 + t) * 3 + j] == a + b)
          case .average: #expect(output[(n * 6 + t) * 3 + j] == (a + b) / 2)
          case .multiply: #expect(output[(n * 6 + t) * 3 + j] == a * b)
          }
        }
      }
    }
    #expect(layer.namedParameters.count == 6)
  }

  @Test func refusesLayersItCannotReverse() throws {
    RecurrentReference.expectError("goBackwards") {
      _ = try Bidirectional(try Embedding(inputDim: 3, outputDim: 2))
    }
    RecurrentReference.expectError("returnState") {
      _ = try Bidirectional(try LSTM(units: 2, returnState: true))
    }
  }

  @Test func configRefusesUnknownKeys() throws {
    let inner = LayerDescription(
      type: "plexus.gru", name: "forward", config: .object(["units": .number(3)]))
    let layer = try Bidirectional(config: .init(layer: inner))
    try LayerHarness.checkConfigDecoding(
      Bidirectional.self, registry: Self.registry,
      minimal: #"{"layer": {"type": "plexus.gru", "name": "forward", "config": {"units": 3}}}"#,
      defaults: layer.config,
      full: Bidirectional.Config(layer: layer.config.layer, mergeMode: .sum),
      typo: #"{"merge_mode": "sum"}"#, suggestion: "mergeMode")
  }
}
