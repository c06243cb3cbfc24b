import Foundation
import PlexusAutoencoder
import PlexusCore
import PlexusPerceptron
import PlexusTestSupport
import Testing

@Suite struct DenseTiedTests {
  /// Alone (not linked to a dense layer), the layer keeps a kernel of its own.
  @Test func passesTheHarnessUnlinked() throws {
    try LayerHarness.run(
      LayerTest(
        registry: autoencoderRegistry(), shapes: [.init([3], output: [5])],
        badShapes: [[[3, 2]]]
      ) { try DenseTied(config: .init(tiedTo: "elsewhere", units: 5, activation: .tanh)) })
  }

  @Test func configRefusesUnknownKeysAndBadValues() throws {
    try LayerHarness.checkConfigDecoding(
      DenseTied.self, registry: autoencoderRegistry(), minimal: #"{"tiedTo": "d", "units": 4}"#,
      defaults: DenseTied.Config(tiedTo: "d", units: 4),
      full: DenseTied.Config(
        tiedTo: "e", units: 3, activation: .sigmoid, useBias: false, biasInitializer: .ones),
      typo: #"{"activaton": "relu"}"#, suggestion: "activation")
    #expect(throws: PlexusError.self) { try DenseTied(config: .init(tiedTo: "d", units: 0)) }
    #expect(throws: PlexusError.self) { try DenseTied(config: .init(tiedTo: "", units: 2)) }
    // Units that differ from the dense layer's inputs, an unbuilt dense without units.
    let dense = try Dense(4 => 3)
    try dense.build(inputShape: [4])
    #expect(throws: PlexusError.self) { try DenseTied(tiedTo: dense, units: 5) }
    #expect(throws: PlexusError.self) { try DenseTied(tiedTo: try Dense(units: 3)) }
    #expect(throws: PlexusError.self) {
      try DenseTied(config: .init(tiedTo: "x", units: 4)).link(to: Activation(.relu))
    }
  }

  /// The gradient of the shared kernel sums the encoder's and the decoder's contributions.
  @Test func sharedKernelGradientPassesTheGradientCheck() throws {
    let dense = try Dense(4 => 3, activation: .tanh)
    let model = Sequential([dense, try DenseTied(tiedTo: dense, units: 4, activation: .sigmoid)])
    try model.build(inputShape: [4], seed: 3)
    #expect(model.parameters.count == 3)
    let report = try GradientCheck.check(
      layer: model, batchInputShapes: [[3, 4]], epsilon: 5e-3)
    #expect(report.maximumError < 1e-2, "\(report)")
  }

  /// A tied 64-16-64 autoencoder on the digits: one kernel, stored once, identical after a
  /// round trip, and linked again on load.
  @Test func tiedAutoencoderSavesTheKernelOnceAndReloadsItTied() throws {
    let (train, test) = try scaledDigits()
    let code = try Dense(64 => 16, activation: .relu, name: "code")
    let tied = try DenseTied(tiedTo: code, units: 64, activation: .sigmoid)
    let model = try Autoencoder(
      encoder: Sequential([code]), decoder: Sequential([tied]), inputShape: [64], seed: 4)
    #expect(tied.kernel === code.kernel)
    #expect(
      model.namedParameters.map(\.path) == [
        "encoder.code.kernel", "encoder.code.bias", "decoder.dense_tied_1.bias",
      ])
    let testMSE = try fitAndMeasure(
      model, train: train, test: test, learningRate: 0.003, epochs: 30, seed: 2,
      label: "tied 64-16-64 autoencoder")
    #expect(testMSE < 0.03)
    #expect(tied.kernel === code.kernel)

    let folder = try ScratchFolder()
    let url = folder.file("tied.plexus")
    try model.save(to: url)
    let file = try PlexusFile(contentsOf: url)
    #expect(
      file.tensors.filter { $0.group == TensorIndexEntry.modelGroup }.map(\.name).sorted() == [
        "decoder.dense_tied_1.bias", "encoder.code.bias", "encoder.code.kernel",
      ])
    let loaded = try #require(
      try loadModel(from: url, registry: autoencoderRegistry()) as? Autoencoder)
    let loadedCode = try #require(loaded.encoder.layer(named: "code") as? Dense)
    let loadedTied = try #require(loaded.decoder.layer(named: "dense_tied_1") as? DenseTied)
    #expect(loadedTied.isLinked)
    #expect(loadedTied.kernel === loadedCode.kernel)
    #expect(loadedCode.kernel.value == code.kernel.value)
    #expect(try loaded.reconstruct(test) == (try model.reconstruct(test)))

    // Training the loaded model moves the one kernel both layers use.
    let before = loadedCode.kernel.value
    _ = try loaded.fit(
      train.samples(0..<64), optimizer: Adam(learningRate: 0.003),
      options: TrainingOptions(epochs: 1, batchSize: 32, seed: 2))
    #expect(loadedCode.kernel.value != before)
    #expect(loadedTied.kernel === loadedCode.kernel)

    // The decoder saved alone keeps a kernel of its own.
    let decoderURL = folder.file("decoder.plexus")
    try model.decoder.save(to: decoderURL)
    let decoder = try loadModel(from: decoderURL, registry: autoencoderRegistry())
    #expect(
      decoder.namedParameters.map(\.path) == [
        "decoder.dense_tied_1.kernel", "decoder.dense_tied_1.bias",
      ])
    let codes = try model.encode(test.samples(0..<10))
    #expect(try decoder.predict(codes) == (try model.decode(codes)))
  }

  /// A tie across a graph model and a nested one is linked when the model is loaded.
  @Test func tieInsideAGraphModelSurvivesAFile() throws {
    let x = try Input(shape: [6], name: "x")
    let dense = try Dense(6 => 3, activation: .relu, name: "down")
    let code = try dense(x)
    let inner = try Input(shape: [3], name: "code")
    let up = try Model(
      input: inner, output: try DenseTied(tiedTo: dense, units: 6)(inner), name: "up")
    let model = try Model(input: x, output: try up(code), seed: 2)
    #expect(model.parameters.count == 3)
    let folder = try ScratchFolder()
    let url = folder.file("graph.plexus")
    try model.save(to: url)
    let loaded = try Model.load(from: url, registry: autoencoderRegistry())
    #expect(loaded.parameters.count == 3)
    var generator = SeededGenerator(seed: 1)
    let batch = Tensor.normal([4, 6], using: &generator)
    #expect(try loaded.predict(batch) == (try model.predict(batch)))
  }

  /// A name that matches layers at two depths is ambiguous: loading refuses it.
  @Test func anAmbiguousTieIsRefusedOnLoad() throws {
    let inner = try Dense(3 => 2, name: "d")
    let model = Sequential([
      Sequential([inner]), try DenseTied(tiedTo: inner, units: 3), try Dense(units: 2, name: "d"),
    ])
    try model.build(inputShape: [3], seed: 1)
    let description = try LayerDescription(model)
    #expect {
      try autoencoderRegistry().makeLayer(from: description)
    } throws: { error in
      "\(error)".contains("2 layers of that name")
    }
  }
}
