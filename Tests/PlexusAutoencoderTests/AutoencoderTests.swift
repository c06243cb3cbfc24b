import Foundation
import PlexusAutoencoder
import PlexusConvolution
import PlexusCore
import PlexusDatasets
import PlexusPerceptron
import PlexusTestSupport
import Testing

@Suite struct AutoencoderTests {
  @Test func passesTheHarnessAsALayer() throws {
    var test = LayerTest(
      registry: autoencoderRegistry(), shapes: [.init([6], output: [6])], badShapes: [[[5]]]
    ) {
      try Autoencoder(
        encoder: Sequential([try Dense(units: 3, activation: .tanh)]),
        decoder: Sequential([try Dense(units: 6)]), inputShape: [6], seed: 2)
    }
    test.gradientTolerance = 1e-2
    try LayerHarness.run(test)
  }

  @Test func configRefusesUnknownKeys() throws {
    let built = try Autoencoder(
      encoder: Sequential([try Dense(units: 2)]), decoder: Sequential([try Dense(units: 4)]),
      inputShape: [4])
    let (encoder, decoder) = (built.config.encoder, built.config.decoder)
    func json(_ description: LayerDescription) throws -> String {
      String(decoding: try JSONEncoder().encode(description), as: UTF8.self)
    }
    let minimal =
      #"{"encoder": \#(try json(encoder)), "decoder": \#(try json(decoder)), "inputShape": [4]}"#
    try LayerHarness.checkConfigDecoding(
      Autoencoder.self, registry: autoencoderRegistry(), minimal: minimal,
      defaults: Autoencoder.Config(encoder: encoder, decoder: decoder, inputShape: [4]),
      full: Autoencoder.Config(
        encoder: encoder, decoder: decoder, inputShape: [4], loss: .meanAbsoluteError,
        threshold: 0.5),
      typo: #"{"treshold": 0.5}"#, suggestion: "threshold")
    // A half that is not a model is refused.
    var notAModel = built.config
    notAModel.encoder = try LayerDescription(try Dense(units: 2, name: "encoder"))
    #expect(throws: PlexusError.self) {
      try autoencoderRegistry().makeLayer(
        from: LayerDescription(
          type: Autoencoder.typeName, name: "ae", config: try JSONValue(encoding: notAModel)))
    }
  }

  @Test func refusesADecoderOfTheWrongShapeAndBadThresholds() throws {
    #expect(throws: PlexusError.self) {
      try Autoencoder(
        encoder: Sequential([try Dense(units: 2)]), decoder: Sequential([try Dense(units: 3)]),
        inputShape: [4])
    }
    let model = try denseAutoencoder()
    #expect(throws: PlexusError.self) { try model.isAnomalous(Tensor(shape: [1, 64])) }
    #expect(throws: PlexusError.self) { try model.setThreshold(-1) }
    #expect(throws: PlexusError.self) { try model.setThreshold(.nan) }
    #expect(throws: PlexusError.self) {
      try model.fitThreshold(Tensor(shape: [2, 64]), quantile: 1.5)
    }
  }

  /// The 64-32-16-32-64 autoencoder on the digits: test MSE at most 0.02 (PyTorch with Adam
  /// reaches about 0.0198 in 50 epochs).
  @Test func denseAutoencoderReconstructsTheDigits() throws {
    let (train, test) = try scaledDigits()
    let model = try denseAutoencoder()
    let start = Date()
    let history = try model.fit(
      train, optimizer: Adam(learningRate: 0.002),
      options: TrainingOptions(epochs: 50, batchSize: 32, seed: 3))
    let seconds = Date().timeIntervalSince(start)
    let testMSE = mean(try model.reconstructionErrors(test))
    print("dense autoencoder 64-32-16-32-64: test MSE \(testMSE) after 50 epochs in \(seconds) s")
    #expect(testMSE <= 0.02, "test MSE \(testMSE)")
    let first = try #require(history["reconstruction_loss"]?.first)
    let last = try #require(history["reconstruction_loss"]?.last)
    #expect(last < first)

    // encode, decode and reconstruct agree with each other.
    let codes = try model.encode(test)
    #expect(codes.shape == [test.shape[0], 16])
    let decoded = try model.decode(codes)
    #expect(decoded == (try model.reconstruct(test)))

    // Anomaly scores rank uniform noise and inverted digits above held-out digits.
    try model.fitThreshold(train, quantile: 0.99)
    var generator = SeededGenerator(seed: 9)
    let noise = Tensor.uniform([200, 64], low: 0, high: 1, using: &generator)
    let inverted = test.map { 1 - $0 }
    let normal = try model.scores(test)
    let noiseAUC = rocAUC(positive: try model.scores(noise), negative: normal)
    let invertedAUC = rocAUC(positive: try model.scores(inverted), negative: normal)
    print("anomaly ROC AUC: noise \(noiseAUC), inverted digits \(invertedAUC)")
    #expect(noiseAUC >= 0.95)
    #expect(invertedAUC >= 0.95)
    let flaggedNoise = try model.isAnomalous(noise).filter { $0 }.count
    let flaggedTest = try model.isAnomalous(test).filter { $0 }.count
    print("flagged: noise \(flaggedNoise)/200, test digits \(flaggedTest)/\(test.shape[0])")
    #expect(flaggedNoise == 200)
    #expect(Double(flaggedTest) < 0.1 * Double(test.shape[0]))
  }

  @Test func savesAndLoadsTheModelWithItsThresholdAndTheEncoderAlone() throws {
    let (train, test) = try scaledDigits()
    let model = try denseAutoencoder()
    _ = try model.fit(
      train.samples(0..<256), optimizer: Adam(learningRate: 0.003),
      options: TrainingOptions(epochs: 2, batchSize: 32, seed: 1))
    try model.fitThreshold(train.samples(0..<256), quantile: 0.9)
    let folder = try ScratchFolder()
    let url = folder.file("ae.plexus")
    try model.save(to: url)
    let loaded = try #require(
      try loadModel(from: url, registry: autoencoderRegistry()) as? Autoencoder)
    #expect(loaded.namedParameters.map(\.path) == model.namedParameters.map(\.path))
    #expect(loaded.namedParameters.map(\.path).first == "encoder.dense_1.kernel")
    #expect(loaded.threshold == model.threshold)
    let batch = test.samples(0..<20)
    #expect(try loaded.reconstruct(batch) == (try model.reconstruct(batch)))

    // The encoder alone.
    let encoderURL = folder.file("encoder.plexus")
    try model.encoder.save(to: encoderURL)
    let encoder = try loadModel(from: encoderURL, registry: autoencoderRegistry())
    #expect(try encoder.predict(batch) == (try model.encode(batch)))
  }

  @Test func aFrozenEncoderKeepsItsWeightsInsideAClassifier() throws {
    let (train, _) = try scaledDigits()
    let (digits, _) = try Digits.standardSplit()
    let autoencoder = try denseAutoencoder()
    _ = try autoencoder.fit(
      train.samples(0..<256), optimizer: Adam(learningRate: 0.003),
      options: TrainingOptions(epochs: 2, batchSize: 32, seed: 1))
    let encoder = autoencoder.encoder
    let before = encoder.parameters.map(\.value)
    let labels = digits.labels.samples(0..<256)

    encoder.isTrainable = false
    let input = try Input(shape: [64], name: "pixels")
    let head = try Dense(units: 10)
    let classifier = try Model(input: input, output: try head(try encoder(input)), seed: 4)
    #expect(classifier.trainableParameters.count == 2)
    let headBefore = head.kernel.value
    _ = try classifier.fit(
      train.samples(0..<256), labels, loss: CategoricalCrossEntropy(fromLogits: true),
      optimizer: Adam(learningRate: 0.01),
      options: TrainingOptions(epochs: 2, batchSize: 32, seed: 2))
    #expect(encoder.parameters.map(\.value) == before)  // bit-identical
    #expect(head.kernel.value != headBefore)

    // Fine-tuned: the encoder's weights move.
    encoder.isTrainable = true
    let tuned = try Model(input: input, output: try head(try encoder(input)), seed: 4)
    _ = try tuned.fit(
      train.samples(0..<256), labels, loss: CategoricalCrossEntropy(fromLogits: true),
      optimizer: Adam(learningRate: 0.01),
      options: TrainingOptions(epochs: 1, batchSize: 32, seed: 2))
    #expect(encoder.parameters.map(\.value) != before)
  }

  /// A validation split works without targets: the validation step measures reconstruction.
  @Test func fitWithAValidationSplitLogsTheValidationReconstruction() throws {
    let (train, _) = try scaledDigits()
    let model = try denseAutoencoder()
    let history = try model.fit(
      train.samples(0..<300), optimizer: Adam(learningRate: 0.003),
      options: TrainingOptions(epochs: 3, batchSize: 32, seed: 1, validationSplit: 0.2))
    let validation = try #require(history["val_reconstruction_loss"])
    #expect(validation.count == 3)
    #expect(validation.last! < validation.first!)
    #expect(history["val_loss"] != nil)
  }
}
