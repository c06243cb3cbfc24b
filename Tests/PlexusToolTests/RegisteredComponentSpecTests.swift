import Foundation
import Plexus
import PlexusCommands
import Testing

/// A third-party classification loss: the softmax cross-entropy against class indices
/// smoothed toward the uniform distribution by `smoothing`.
private struct SmoothedCrossEntropy: RegistrableLoss {
  struct Config: DefaultedConfiguration {
    var smoothing: Float = 0.1
    static var defaults: Config { Config() }
    static var fields: [ConfigField<Config>] { [.init("smoothing", \.smoothing)] }
  }

  static let typeName = "com.example.smoothed_crossentropy"
  let config: Config
  var name: String { "smoothed_crossentropy" }
  var isClassification: Bool { true }

  init(config: Config) throws {
    guard config.smoothing >= 0, config.smoothing < 1 else {
      throw PlexusError.invalidConfiguration(
        "smoothed_crossentropy: smoothing must be in [0, 1), got \(config.smoothing)")
    }
    self.config = config
  }

  func validate(targets: Tensor, predictionShape: [Int]) throws {
    try CategoricalCrossEntropy(fromLogits: true).validate(
      targets: targets, predictionShape: predictionShape)
  }

  func compute(predictions: Tensor, targets: Tensor) throws -> (value: Float, gradient: Tensor) {
    try validate(targets: targets, predictionShape: predictions.shape)
    let (rows, classes) = (predictions.shape[0], predictions.shape[1])
    let off = config.smoothing / Float(classes)
    let labels = targets.scalars
    let smoothed = Tensor(shape: [rows, classes]) { buffer in
      for row in 0..<rows {
        for j in 0..<classes {
          buffer[row * classes + j] = off + (Int(labels[row]) == j ? 1 - config.smoothing : 0)
        }
      }
    }
    return try CategoricalCrossEntropy(fromLogits: true).compute(
      predictions: predictions, targets: smoothed)
  }
}

/// A third-party optimizer: steps of fixed size against the sign of each gradient.
private final class SignDescent: ConfiguredOptimizer {
  struct Configuration: OptimizerHyperparameters {
    var learningRate: Float = 0.01
    static var defaults: Configuration { Configuration() }
    static var fields: [ConfigField<Configuration>] { [.init("learningRate", \.learningRate)] }
    var slotNames: [String] { [] }
    func validate(optimizer: String) throws {
      try OptimizerCheck.learningRate(learningRate, optimizer: optimizer)
    }
  }

  static let typeName = "com.example.sign_descent"
  let storage: OptimizerStorage<Configuration>

  init(configuration: Configuration) throws {
    storage = try OptimizerStorage(configuration: configuration, for: Self.self)
  }

  func update(_ parameters: [Parameter]) {
    let rate = learningRate
    for parameter in parameters where parameter.isTrainable {
      storage.withSlots(of: parameter) { value, gradient, _ in
        for i in value.indices where gradient[i] != 0 {
          value[i] -= gradient[i] > 0 ? rate : -rate
        }
      }
    }
  }
}

/// A third-party activation: the softsign scaled by `gain`, `gain * x / (1 + |x|)`.
private struct ScaledSoftsign: ElementwiseActivationKernel {
  static let name = "com.example.scaled_softsign"
  static let defaultParameters: [String: Float] = ["gain": 1]
  let gain: Float

  init(parameters: [String: Float]) throws {
    gain = try Self.parameter("gain", in: parameters)
  }

  var parameters: [String: Float] { ["gain": gain] }
  func value(_ x: Float) -> Float { gain * x / (1 + abs(x)) }
  func derivative(at x: Float, output y: Float) -> Float {
    gain / ((1 + abs(x)) * (1 + abs(x)))
  }
}

@Suite struct RegisteredComponentSpecTests {
  private static func register() throws {
    try LossRegistry.shared.register(SmoothedCrossEntropy.self, module: "ToolTests")
    try OptimizerRegistry.shared.register(SignDescent.self, module: "ToolTests")
    try ActivationRegistry.shared.register(ScaledSoftsign.self, module: "ToolTests")
  }

  @Test func specTrainsWithRegisteredThirdPartyLossAndOptimizer() throws {
    try Self.register()
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let blobs = try writeBlobsSpec(in: folder, epochs: 4)
    let text = try String(contentsOf: blobs, encoding: .utf8)
      .replacingOccurrences(
        of: #""loss": "softmax_cross_entropy""#,
        with: #""loss": {"type": "com.example.smoothed_crossentropy", "smoothing": 0.05}"#
      )
      .replacingOccurrences(
        of: #"{"type": "adam", "learningRate": 0.05}"#,
        with: #"{"type": "com.example.sign_descent", "learningRate": 0.02}"#
      )
      .replacingOccurrences(
        of: #""activation": "tanh""#,
        with: #""activation": {"name": "com.example.scaled_softsign", "gain": 1.5}"#)
    #expect(text.contains("com.example.scaled_softsign"))
    let spec = try folder.write(text, to: "custom.json")
    let output = folder.file("custom.plexus")
    let report = try Train.run(
      TrainSettings(specPath: spec.path, outputPath: output.path, quiet: true),
      console: CapturedOutput())
    // The loss says it is a classification loss, so accuracy is reported.
    #expect((report.test["accuracy"] ?? 0) > 0.8, "\(report.test)")

    let file = try PlexusFile(contentsOf: output)
    #expect(
      file.metadata?.values[TrainingMetadata.lossKey]
        == #"{"smoothing":0.05,"type":"com.example.smoothed_crossentropy"}"#)
    #expect(
      file.metadata?.values[TrainingMetadata.optimizerKey]
        == #"{"learningRate":0.02,"type":"com.example.sign_descent"}"#)
    #expect(try file.optimizerState()?.typeName == "com.example.sign_descent")
    let model = try Sequential.load(from: file, registry: .standard())
    let dense = try #require(model.layers.first as? Dense)
    #expect(dense.config.activation.name == "com.example.scaled_softsign")
    #expect(dense.config.activation.parameters == ["gain": 1.5])
    let optimizer = try #require(try file.restoreOptimizer(for: model) as? SignDescent)

    // Training resumes from the file with the third-party activation, loss and optimizer.
    let data = try NumPy.read(contentsOf: folder.file("x.npy")).tensor()
    let labels = try NumPy.read(contentsOf: folder.file("y.npy")).tensor()
    let before = try model.evaluate(data, labels, loss: SmoothedCrossEntropy(config: .init()))
    let history = try model.fit(
      data, labels, loss: SmoothedCrossEntropy(config: .init(smoothing: 0.05)),
      optimizer: optimizer,
      options: TrainingOptions(epochs: 6, batchSize: 16, seed: 3, initialEpoch: 4))
    #expect(history.epochsCompleted == 2)
    let after = try model.evaluate(data, labels, loss: SmoothedCrossEntropy(config: .init()))
    #expect((after["loss"] ?? 1) <= (before["loss"] ?? 0) + 1e-3, "\(before) -> \(after)")

    // Evaluate reads the recorded third-party loss back through the registry.
    let logs = try Evaluate.run(
      EvaluateSettings(modelPath: output.path, data: [spec.path]), console: CapturedOutput())
    #expect(logs == report.test)
  }

  @Test func specErrorsListRegisteredNamesAndSuggestKeys() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    func specError(loss: String, optimizer: String) throws -> SpecError? {
      let spec = try folder.write(
        #"{"layers": [{"type": "plexus.dense", "config": {"units": 2}}], "loss": \#(loss), "optimizer": \#(optimizer), "data": {"source": "digits"}}"#,
        to: "spec.json")
      do {
        try Train.run(TrainSettings(specPath: spec.path, quiet: true), console: CapturedOutput())
        return nil
      } catch let error as SpecError {
        return error
      }
    }
    let unknownLoss = try #require(try specError(loss: #""plexus.mean""#, optimizer: #""sgd""#))
    #expect(unknownLoss.path == "$.loss")
    #expect(unknownLoss.message.contains("unknown loss 'plexus.mean'"))
    #expect(unknownLoss.message.contains("plexus.mse (mean_squared_error, mse)"))

    let misspelled = try #require(
      try specError(loss: #""mse""#, optimizer: #"{"type": "adam", "learningrate": 0.1}"#))
    #expect(misspelled.path == "$.optimizer")
    #expect(
      misspelled.message.contains("unknown key 'learningrate' (did you mean 'learningRate'?)"))

    let namespaced = try #require(
      try specError(loss: #""plexus.mse""#, optimizer: #"{"type": "plexus.sgd", "momentum": 2}"#))
    #expect(namespaced.path == "$.optimizer")
    #expect(namespaced.message.contains("plexus.sgd: momentum must be in [0, 1), got 2.0"))
  }
}
