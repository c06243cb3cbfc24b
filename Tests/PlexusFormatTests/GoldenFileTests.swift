import Foundation
import Plexus
import Testing

/// Golden files in Formats/examples/: small model files written by an earlier version, with
/// their expected `inspect --json` output and predictions on a fixed input. A change that stops
/// old files from loading, or changes what they contain, fails here.
///
/// To add or regenerate them (only when the format changes on purpose, with a version bump):
/// `PLEXUS_REGENERATE_GOLDEN=1 swift test --filter GoldenFileTests`.
@Suite struct GoldenFileTests {
  struct Golden: Sendable, CustomStringConvertible {
    let name: String
    let sample: SampleModel
    let options: @Sendable () -> SaveOptions
    var description: String { name }
  }

  static let created = "2026-11-29T00:00:00Z"

  static let goldens: [Golden] = [
    Golden(
      name: "perceptron-dense", sample: SampleModels.dense,
      options: {
        SaveOptions(metadata: ModelMetadata(created: created, description: "three dense layers"))
      }),
    Golden(
      name: "core-layers",
      sample: SampleModel(
        make: {
          Sequential([
            try Reshape([2, 3]), Flatten(),
            Sequential([try Dense(units: 4, activation: .tanh), try Dropout(rate: 0.2, seed: 3)]),
            Activation(.relu), try Dense(units: 2, activation: .softmax),
          ])
        }, inputShape: [6]),
      options: {
        SaveOptions(metadata: ModelMetadata(created: created, description: "every core layer"))
      }),
    Golden(
      name: "dense-f16-raw", sample: SampleModels.dense,
      options: { SaveOptions(codec: .raw, dtype: .f16, metadata: ModelMetadata(created: created)) }),
    Golden(
      name: "dense-bf16-deflate", sample: SampleModels.dense,
      options: {
        SaveOptions(codec: .deflate, dtype: .bf16, metadata: ModelMetadata(created: created))
      }),
    Golden(
      name: "dense-i8-optimizer", sample: SampleModels.dense,
      options: {
        SaveOptions(
          dtype: .int8,
          metadata: ModelMetadata(
            created: created, description: "int8 weights with an optimizer state",
            values: ["dataset": "synthetic"],
            history: .object(["loss": .array([.number(1.25), .number(0.5)])])),
          optimizerState: OptimizerState(
            typeName: "sgd",
            config: .object(["learningRate": .number(0.01), "momentum": .number(0.9)]), step: 7,
            slots: [
              "0.velocity": Tensor(shape: [6, 8], repeating: 0.25),
              "1.velocity": Tensor(shape: [8], repeating: -1),
            ]))
      }),
    Golden(
      name: "convolution-layers", sample: SampleModels.convolution,
      options: {
        SaveOptions(
          metadata: ModelMetadata(created: created, description: "every convolution-family layer"))
      }),
    Golden(
      name: "mobile-convolutions",
      sample: SampleModel(
        make: {
          Sequential([
            try Pad2D(top: 1, bottom: 0, left: 1, right: 2, mode: .reflect),
            try Conv2D(
              config: .init(filters: 4, kernelSize: [3, 3], activation: .relu, groups: 2)),
            try DepthwiseConv2D(
              kernelSize: 3, strides: 2, padding: .same, depthMultiplier: 2, activation: .relu),
            try SeparableConv2D(filters: 3, kernelSize: 2, activation: .tanh),
            try Pad2D(top: 0, bottom: 1, left: 0, right: 1, mode: .edge),
            Flatten(), try Dense(units: 2, activation: .softmax),
          ])
        }, inputShape: [7, 6, 2]),
      options: {
        SaveOptions(
          metadata: ModelMetadata(
            created: created, description: "grouped, depthwise and separable convolutions, Pad2D"))
      }),
    Golden(
      name: "recurrent-layers",
      sample: SampleModel(
        make: {
          Sequential([
            try Masking(maskValue: 0),
            try Bidirectional(try LSTM(units: 3, returnSequences: true), mergeMode: .concat),
            try GRU(config: GRU.Config(units: 3, returnSequences: true, resetAfter: false)),
            TimeDistributed(try Dense(units: 2, activation: .tanh)),
            try SimpleRNN(units: 2), try Dense(units: 2),
          ])
        }, inputShape: [5, 2]),
      options: {
        SaveOptions(
          metadata: ModelMetadata(created: created, description: "the recurrent family's layers"))
      }),
    Golden(
      name: "autoencoder-dbn",
      sample: SampleModel(
        make: {
          let down = try Dense(units: 3, activation: .sigmoid, name: "down")
          let autoencoder = try Autoencoder(
            encoder: Sequential([
              try ContractiveDense(units: 4, activation: .sigmoid, weight: 0.1), down,
            ]),
            decoder: Sequential([try DenseTied(tiedTo: down, units: 4, activation: .sigmoid)]),
            inputShape: [4], seed: 2)
          return Sequential([
            try Dense(units: 4, activation: .sigmoid), autoencoder,
            try DBN(
              config: DBN.Config(
                sizes: [4, 3, 2], weightStandardDeviation: 0.5, classes: 2, seed: 4)),
          ])
        }, inputShape: [3]),
      options: {
        SaveOptions(
          metadata: ModelMetadata(
            created: created, description: "autoencoder with tied and contractive layers, DBN"))
      }),
  ]

  static let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("Formats/examples")

  struct Predictions: Codable {
    var inputShape: [Int]
    var input: [Float]
    var outputShape: [Int]
    var output: [Float]
  }

  @Test(arguments: goldens)
  func goldenFileLoadsAndMatches(golden: Golden) throws {
    let url = Self.examples.appendingPathComponent("\(golden.name).plexus")
    let inspectURL = Self.examples.appendingPathComponent("\(golden.name).inspect.json")
    let predictionsURL = Self.examples.appendingPathComponent("\(golden.name).predictions.json")
    if ProcessInfo.processInfo.environment["PLEXUS_REGENERATE_GOLDEN"] == "1" {
      let model = try golden.sample.built()
      try model.save(to: url, options: golden.options())
      let input = golden.sample.input()
      let output = try Sequential.load(from: url, registry: LayerRegistry.standard()).predict(input)
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
      try encoder.encode(
        Predictions(
          inputShape: input.shape, input: input.scalars, outputShape: output.shape,
          output: output.scalars)
      ).write(to: predictionsURL)
      try Data(try PlexusInspection.inspect(url).renderJSON().utf8).write(to: inspectURL)
    }
    let expectedInspection = try String(contentsOf: inspectURL, encoding: .utf8)
    #expect(try PlexusInspection.inspect(url).renderJSON() == expectedInspection)
    let predictions = try JSONDecoder().decode(
      Predictions.self, from: Data(contentsOf: predictionsURL))
    let model = try Sequential.load(from: url, registry: LayerRegistry.standard())
    let output = try model.predict(
      try Tensor(shape: predictions.inputShape, scalars: predictions.input))
    #expect(output.shape == predictions.outputShape)
    for (found, expected) in zip(output.scalars, predictions.output) {
      #expect(
        abs(found - expected) <= 1e-5 * max(1, abs(expected)),
        "\(golden.name): \(found) vs \(expected)")
    }
  }

  /// The golden graph model (format 1.1): two inputs, a layer shared by both, a skip
  /// connection, a concatenation and a frozen nested `Sequential`.
  static func graphModel() throws -> Model {
    let a = try Input(shape: [4], name: "a")
    let b = try Input(shape: [4], name: "b")
    let shared = try Dense(units: 4, activation: .tanh, name: "shared")
    let skip = try Add(name: "skip")([try shared(a), a])
    let joined = try Concatenate(name: "joined")([skip, try shared(b)])
    let block = Sequential(
      name: "block", [try Dense(units: 6, activation: .relu), try Dropout(rate: 0.1, seed: 2)])
    let head = try Dense(units: 3, activation: .softmax, name: "head")
    let model = try Model(
      inputs: [a, b], outputs: [try head(try block(joined))], name: "graph", seed: 11)
    block.isTrainable = false
    return model
  }

  struct TensorValues: Codable {
    var shape: [Int]
    var values: [Float]
  }

  struct GraphPredictions: Codable {
    var inputs: [TensorValues]
    var outputs: [TensorValues]
  }

  @Test func graphGoldenFileLoadsAndMatches() throws {
    let name = "graph-two-inputs"
    let url = Self.examples.appendingPathComponent("\(name).plexus")
    let inspectURL = Self.examples.appendingPathComponent("\(name).inspect.json")
    let predictionsURL = Self.examples.appendingPathComponent("\(name).predictions.json")
    if ProcessInfo.processInfo.environment["PLEXUS_REGENERATE_GOLDEN"] == "1" {
      let model = try Self.graphModel()
      try model.save(
        to: url,
        options: SaveOptions(
          metadata: ModelMetadata(
            created: Self.created, description: "two inputs, a shared layer, a skip connection")))
      var generator = SeededGenerator(seed: 5)
      let inputs = [
        Tensor.normal([3, 4], using: &generator), Tensor.normal([3, 4], using: &generator),
      ]
      let outputs = try Model.load(from: url, registry: LayerRegistry.standard()).predict(inputs)
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
      try encoder.encode(
        GraphPredictions(
          inputs: inputs.map { TensorValues(shape: $0.shape, values: $0.scalars) },
          outputs: outputs.map { TensorValues(shape: $0.shape, values: $0.scalars) })
      ).write(to: predictionsURL)
      try Data(try PlexusInspection.inspect(url).renderJSON().utf8).write(to: inspectURL)
    }
    #expect(
      try PlexusInspection.inspect(url).renderJSON()
        == String(contentsOf: inspectURL, encoding: .utf8))
    let predictions = try JSONDecoder().decode(
      GraphPredictions.self, from: Data(contentsOf: predictionsURL))
    let model = try Model.load(from: url, registry: LayerRegistry.standard())
    #expect(model.layer(named: "block")?.isTrainable == false)
    #expect(model.graph.nodes.filter { $0.layer.name == "shared" }.count == 2)
    let outputs = try model.predict(
      try predictions.inputs.map { try Tensor(shape: $0.shape, scalars: $0.values) })
    for (output, expected) in zip(outputs, predictions.outputs) {
      #expect(output.shape == expected.shape)
      for (found, value) in zip(output.scalars, expected.values) {
        #expect(abs(found - value) <= 1e-5 * max(1, abs(value)), "\(found) vs \(value)")
      }
    }
  }
}
