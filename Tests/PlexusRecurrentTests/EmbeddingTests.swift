import PlexusCore
import PlexusTestSupport
import Testing

@testable import PlexusRecurrent

@Suite struct EmbeddingTests {
  static let registry: LayerRegistry = {
    let registry = LayerRegistry()
    RecurrentLayers.register(in: registry)
    return registry
  }()

  static func ids(_ shape: [Int], below count: Int, seed: UInt64) -> Tensor {
    var generator = SeededGenerator(seed: seed)
    return Tensor.uniform(shape, low: 0, high: Float(count), using: &generator)
      .map { $0.rounded(.down) }
  }

  @Test(arguments: [false, true])
  func passesTheHarness(maskZero: Bool) throws {
    var test = LayerTest(
      registry: Self.registry,
      shapes: [.init([6], output: [6, 4]), .init([2], output: [2, 4])],
      badShapes: [[[2, 3]], [[]]]
    ) { try Embedding(inputDim: 9, outputDim: 4, maskZero: maskZero) }
    test.makeInputs = { shapes, generator in
      shapes.map {
        Tensor.uniform($0, low: 0, high: 9, using: &generator).map { $0.rounded(.down) }
      }
    }
    // Ids are discrete: only the table's gradient is compared.
    test.checksInputGradients = false
    try LayerHarness.run(test)
  }

  @Test func looksUpRowsAndAccumulatesTheirGradients() throws {
    let layer = try Embedding(inputDim: 5, outputDim: 3, maskZero: true)
    try layer.build(inputShape: [nil])
    let ids = try Tensor(shape: [2, 3], scalars: [1, 0, 4, 4, 4, 2])
    let record = CallRecord()
    let output = try layer(ids, training: true, record: record)
    let table = layer.embeddings.value.scalars
    #expect(output.shape == [2, 3, 3])
    let values = output.scalars
    for (index, id) in ids.scalars.enumerated() {
      let expected = id == 0 ? [0, 0, 0] : Array(table[Int(id) * 3..<Int(id) * 3 + 3])
      #expect(Array(values[index * 3..<index * 3 + 3]) == expected)
    }
    layer.zeroGradients()
    _ = try layer.gradients([Tensor(shape: output.shape, repeating: 1)], record: record)
    // Row 4 appears three times, rows 1 and 2 once, padding row 0 gets nothing.
    #expect(
      layer.embeddings.gradient.scalars == [0, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 3, 3, 3])
    // The sequence length varies between calls.
    #expect(try layer(Self.ids([3, 7], below: 5, seed: 2)).shape == [3, 7, 3])
  }

  @Test func badIdsNameTheSampleAndTheStep() throws {
    let layer = try Embedding(inputDim: 5, outputDim: 2)
    try layer.build(inputShape: [nil])
    RecurrentReference.expectError("id 5.0 at sample 1, step 2 is out of range") {
      _ = try layer(Tensor(shape: [2, 3], scalars: [0, 1, 2, 3, 4, 5]))
    }
    RecurrentReference.expectError("id 1.5 at sample 0, step 1 is not an integer") {
      _ = try layer(Tensor(shape: [2, 3], scalars: [0, 1.5, 2, 3, 4, 4]))
    }
    RecurrentReference.expectError("id -1.0 at sample 0, step 0 is out of range") {
      _ = try layer(Tensor(shape: [1, 2], scalars: [-1, 0]))
    }
    RecurrentReference.expectError("not an integer") {
      _ = try layer(Tensor(shape: [1, 2], scalars: [.nan, 0]))
    }
    RecurrentReference.expectError("inputDim") { _ = try Embedding(inputDim: 0, outputDim: 2) }
    RecurrentReference.expectError("outputDim") { _ = try Embedding(inputDim: 3, outputDim: -1) }
    RecurrentReference.expectError("maskZero") {
      _ = try Embedding(inputDim: 1, outputDim: 2, maskZero: true)
    }
  }

  @Test func feedsAnLSTM() throws {
    let model = Sequential([
      try Embedding(inputDim: 6, outputDim: 4), try LSTM(units: 3, returnSequences: true),
    ])
    try model.build(inputShape: [nil], seed: 3)
    #expect(try model.predict(Self.ids([2, 5], below: 6, seed: 1)).shape == [2, 5, 3])
  }

  @Test func paddingIdsWithAMaskedLSTMGiveTheOutputOfTheUnpaddedSequence() throws {
    let model = Sequential([
      try Embedding(inputDim: 6, outputDim: 4, maskZero: true),
      try LSTM(config: .init(units: 3, maskValue: 0)),
    ])
    try model.build(inputShape: [nil], seed: 5)
    let short = try model.predict(try Tensor(shape: [1, 3], scalars: [3, 1, 5]))
    let padded = try model.predict(try Tensor(shape: [1, 6], scalars: [0, 3, 1, 0, 5, 0]))
    #expect(padded.shape == [1, 3])
    for (a, b) in zip(short.scalars, padded.scalars) { #expect(abs(a - b) < 1e-6) }
  }

  @Test func configRefusesUnknownKeys() throws {
    try LayerHarness.checkConfigDecoding(
      Embedding.self, registry: Self.registry, minimal: #"{"inputDim": 10, "outputDim": 3}"#,
      defaults: Embedding.Config(inputDim: 10, outputDim: 3),
      full: Embedding.Config(
        inputDim: 10, outputDim: 3, maskZero: true, embeddingsInitializer: .heNormal),
      typo: #"{"maskZeros": true}"#, suggestion: "maskZero")
  }
}
