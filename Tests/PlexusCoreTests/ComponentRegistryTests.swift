import Dispatch
import Foundation
import PlexusCore
import Synchronization
import Testing

/// A folder under the temporary directory, removed by `remove()`.
private struct ScratchFolder {
  let url = FileManager.default.temporaryDirectory.appendingPathComponent(
    "plexus-components-\(UUID())")

  init() throws {
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
  }

  func file(_ name: String) -> URL { url.appendingPathComponent(name) }
  func remove() { try? FileManager.default.removeItem(at: url) }
}

private func json(_ text: String) throws -> JSONValue {
  try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
}

/// The message of a thrown `PlexusError`, or a description of what happened instead.
private func message(_ body: () throws -> Any) -> String {
  do {
    _ = try body()
    return "no error"
  } catch let error as PlexusError {
    switch error {
    case .invalidConfiguration(let text), .invalidData(let text): return text
    default: return "\(error)"
    }
  } catch {
    return "\(error)"
  }
}

private func layerRegistry() throws -> LayerRegistry {
  let registry = LayerRegistry()
  try registry.register(TestLinear.self, module: "PlexusCoreTests")
  return registry
}

private func makeModel() throws -> Sequential {
  let model = Sequential([try TestLinear(units: 3), Activation(.tanh), try TestLinear(units: 1)])
  try model.build(inputShape: [2], seed: 2)
  return model
}

@Suite struct ThirdPartyComponentTests {
  @Test func optimizerLossAndMetricTrainSaveAndResumeThroughTheRegistries() throws {
    try ThirdPartyComponents.register()
    let optimizerConfig = try OptimizerConfig(
      json: json(#"{"type": "com.example.lion", "learningRate": 0.02, "weightDecay": 0.01}"#))
    #expect(
      optimizerConfig
        == OptimizerConfig(Lion.self, configuration: .init(learningRate: 0.02, weightDecay: 0.01)))
    let lossFunction = try LossFunction(
      json: json(#"{"type": "com.example.log_cosh", "weight": 2}"#))
    let metric = try Metric(
      json: json(#"{"type": "com.example.within_tolerance", "tolerance": 1}"#))
    #expect(metric.name == "within_tolerance")
    // Through JSON and back.
    #expect(
      try JSONDecoder().decode(OptimizerConfig.self, from: JSONEncoder().encode(optimizerConfig))
        == optimizerConfig)
    #expect(
      try JSONDecoder().decode(LossFunction.self, from: JSONEncoder().encode(lossFunction))
        == lossFunction)
    #expect(try JSONDecoder().decode(Metric.self, from: JSONEncoder().encode(metric)) == metric)
    #expect(
      lossFunction.description == #"{"type":"com.example.log_cosh","weight":2}"#)

    let (x, y) = TrainingData.linear(count: 24, seed: 11)
    func options(epochs: Int, initialEpoch: Int = 0) -> TrainingOptions {
      var options = TrainingOptions(
        epochs: epochs, batchSize: 8, seed: 6, metrics: [metric, .meanAbsoluteError])
      options.initialEpoch = initialEpoch
      return options
    }
    let loss = try lossFunction.makeLoss()
    #expect(!loss.isClassification)

    let uninterrupted = try makeModel()
    let full = try uninterrupted.fit(
      x, y, loss: loss, optimizer: optimizerConfig.makeOptimizer(), options: options(epochs: 4))
    let tolerance = try #require(full["within_tolerance"])
    #expect(tolerance.count == 4 && tolerance.allSatisfy { $0 >= 0 && $0 <= 1 })
    let losses = try #require(full["loss"])
    #expect(losses.count == 4 && losses[3] < losses[0], "\(losses)")

    let first = try makeModel()
    let optimizer = try optimizerConfig.makeOptimizer()
    let history = try first.fit(x, y, loss: loss, optimizer: optimizer, options: options(epochs: 2))
    let folder = try ScratchFolder()
    defer { folder.remove() }
    let url = folder.file("lion.plexus")
    try first.save(to: url, history: history, optimizer: optimizer)

    let file = try PlexusFile(contentsOf: url)
    let state = try #require(try file.optimizerState())
    #expect(state.typeName == "com.example.lion")
    #expect(state.step == 6)
    #expect(state.slots.keys.sorted() == ["0.m", "1.m", "2.m", "3.m"])
    let resumed = try Sequential.load(from: file, registry: layerRegistry())
    let restored = try #require(try file.restoreOptimizer(for: resumed))
    let lion = try #require(restored as? Lion)
    #expect(lion.stepCount == 6)
    #expect(lion.configuration == Lion.Configuration(learningRate: 0.02, weightDecay: 0.01))
    try resumed.fit(
      x, y, loss: loss, optimizer: restored, options: options(epochs: 4, initialEpoch: 2))
    #expect(resumed.parameters.map(\.value) == uninterrupted.parameters.map(\.value))
  }

  @Test func customMetricIsMeasuredByEvaluate() throws {
    try ThirdPartyComponents.register()
    let model = Sequential([try TestLinear(units: 1)])
    try model.build(inputShape: [1], seed: 0)
    try model.parameters[0].assign(Tensor(shape: [1, 1], repeating: 1))
    // Predictions equal the inputs: errors 0, 0.4, 2 (tolerance 0.5 keeps two of three).
    let x = try Tensor(shape: [3, 1], scalars: [1, 2, 3])
    let y = try Tensor(shape: [3, 1], scalars: [1, 2.4, 5])
    let logs = try model.evaluate(
      x, y, loss: MeanSquaredError(), batchSize: 2,
      metrics: [
        try MetricRegistry.shared.metric(type: "com.example.within_tolerance"), .meanAbsoluteError,
        .meanSquaredError,
      ])
    #expect(abs(try #require(logs["within_tolerance"]) - 2.0 / 3) < 1e-6)
    #expect(abs(try #require(logs["mae"]) - 2.4 / 3) < 1e-6)
    #expect(abs(try #require(logs["mse"]) - 4.16 / 3) < 1e-5)
  }
}

@Suite struct LegacyOptimizerStateTests {
  /// Files written before the registry: "adam"/"sgd" state types, configs with a "type".
  @Test(arguments: ["legacy-adam", "legacy-sgd-momentum"])
  func filesWithShortTypeNamesRestoreAndResume(name: String) throws {
    let url = try #require(
      Bundle.module.url(
        forResource: name, withExtension: "plexus", subdirectory: "Fixtures/optimizer"))
    let file = try PlexusFile(contentsOf: url)
    let state = try #require(try file.optimizerState())
    #expect(!state.typeName.contains("."), "the fixture holds a short name: \(state.typeName)")
    let resumed = try Sequential.load(from: file, registry: layerRegistry())
    let optimizer = try #require(try file.restoreOptimizer(for: resumed))
    let expected: OptimizerConfig =
      name == "legacy-adam"
      ? .adam(.init(learningRate: 0.05))
      : .sgd(.init(learningRate: 0.05, momentum: 0.9, nesterov: true))
    #expect(optimizer.typeName == expected.typeName)
    let exported = try optimizer.exportState(for: resumed.trainableParameters)
    #expect(exported.typeName == expected.typeName)
    #expect(exported.config["type"] == nil)
    #expect(exported.step == 6)

    // The fixture is two epochs of this run; resuming matches four uninterrupted epochs.
    let (x, y) = TrainingData.linear(count: 24, seed: 11)
    let uninterrupted = try makeModel()
    try uninterrupted.fit(
      x, y, loss: MeanSquaredError(), optimizer: expected.makeOptimizer(),
      options: TrainingOptions(epochs: 4, batchSize: 8, seed: 6))
    var options = TrainingOptions(epochs: 4, batchSize: 8, seed: 6)
    options.initialEpoch = 2
    try resumed.fit(x, y, loss: MeanSquaredError(), optimizer: optimizer, options: options)
    #expect(resumed.parameters.map(\.value) == uninterrupted.parameters.map(\.value))
  }
}

@Suite struct ComponentRegistryRuleTests {
  /// An optimizer whose name has no namespace.
  final class Unspaced: ConfiguredOptimizer {
    static let typeName = "lion"
    let storage: OptimizerStorage<Lion.Configuration>
    init(configuration: Lion.Configuration) throws {
      storage = try OptimizerStorage(configuration: configuration, for: Self.self)
    }
    func update(_ parameters: [Parameter]) {}
  }

  /// Two metrics that claim the same name.
  struct ClashingA: RunningMetric {
    static let typeName = "com.example.clash"
    var name: String { "clash" }
    let config = EmptyConfiguration()
    init(config: EmptyConfiguration) {}
    mutating func accumulate(predictions: Tensor, targets: Tensor, context: MetricContext) {}
    var result: Float { 1 }
  }

  struct ClashingB: RunningMetric {
    static let typeName = "com.example.clash"
    var name: String { "clash" }
    let config = EmptyConfiguration()
    init(config: EmptyConfiguration) {}
    mutating func accumulate(predictions: Tensor, targets: Tensor, context: MetricContext) {}
    var result: Float { 2 }
  }

  /// A loss whose config has a `type` key, which the flat JSON form cannot hold.
  struct TypedConfigLoss: RegistrableLoss {
    struct Config: DefaultedConfiguration {
      var type = "x"
      static var defaults: Config { Config() }
      static var fields: [ConfigField<Config>] { [.init("type", \.type)] }
    }
    static let typeName = "com.example.typed"
    let config: Config
    init(config: Config) { self.config = config }
    func compute(predictions: Tensor, targets: Tensor) throws -> (value: Float, gradient: Tensor) {
      (0, predictions)
    }
  }

  @Test func namesMustBeNamespacedAndUnique() throws {
    let optimizers = OptimizerRegistry()
    #expect(
      message { try optimizers.register(Unspaced.self, module: "M") }
        == "optimizer type name 'lion' must be namespaced, such as 'com.example.lion'")
    try optimizers.register(Lion.self, module: "ExampleOptimizers")
    try optimizers.register(Lion.self, module: "ExampleOptimizers")
    #expect(optimizers.module(of: "com.example.lion") == "ExampleOptimizers")

    let metrics = MetricRegistry()
    try metrics.register(ClashingA.self, module: "A")
    try metrics.register(ClashingA.self, module: "A")
    #expect(
      message { try metrics.register(ClashingB.self, module: "B") }
        == "metric type name 'com.example.clash' is already registered by module A")
    #expect(try metrics.metric(type: "com.example.clash").prototype is ClashingA)

    #expect(
      message { try LossRegistry().register(TypedConfigLoss.self, module: "M") }
        == "loss 'com.example.typed': its config cannot have a key 'type', which names the loss in JSON"
    )
  }

  @Test func aliasesAndRegisteredNames() throws {
    let optimizers = OptimizerRegistry()
    #expect(
      optimizers.typeNames == [
        "plexus.adagrad", "plexus.adam", "plexus.adamw", "plexus.rmsprop", "plexus.sgd",
      ])
    #expect(optimizers.canonicalName(of: "adamw") == "plexus.adamw")
    #expect(optimizers.canonicalName(of: "plexus.sgd") == "plexus.sgd")
    #expect(optimizers.canonicalName(of: "lamb") == nil)
    #expect(optimizers.contains("rmsprop") && !optimizers.contains("com.example.lion"))
    #expect(try optimizers.makeOptimizer(type: "adamw") is AdamW)
    // AdamW shares Adam's configuration but has its own default weight decay.
    #expect(try optimizers.config(type: "adamw") == .adamW(.init(weightDecay: 0.01)))
    #expect(try optimizers.config(type: "adam") == .adam(.init(weightDecay: 0)))
    #expect(AdamW().configuration.weightDecay == 0.01)

    let losses = LossRegistry()
    #expect(
      losses.canonicalName(of: "sparse_categorical_crossentropy")
        == "plexus.categorical_crossentropy")
    #expect(
      try losses.function(type: "softmax_cross_entropy")
        == .categoricalCrossEntropy(fromLogits: true))
    #expect(
      try losses.function(type: "categorical_crossentropy")
        == .categoricalCrossEntropy(fromLogits: false))
    #expect(losses.module(of: "mse") == "PlexusCore")

    let metrics = MetricRegistry()
    #expect(try metrics.metric(type: "accuracy") == .accuracy)
    #expect(try metrics.metric(from: .string("plexus.mae")) == .meanAbsoluteError)
    #expect(Metric.meanSquaredError.name == "mse" && Metric.accuracy.typeName == "plexus.accuracy")
    #expect(try JSONEncoder().encode([Metric.accuracy]) == Data(#"["plexus.accuracy"]"#.utf8))
    #expect(
      try JSONDecoder().decode([Metric].self, from: Data(#"["accuracy", "mse"]"#.utf8)) == [
        .accuracy, .meanSquaredError,
      ])
  }

  @Test func unknownNamesListTheRegisteredOnesAndSuggest() throws {
    let optimizers = OptimizerRegistry()
    #expect(
      message { try optimizers.config(type: "lamb") }
        == "unknown optimizer 'lamb'; registered: plexus.adagrad (adagrad), plexus.adam (adam), "
        + "plexus.adamw (adamw), plexus.rmsprop (rmsprop), plexus.sgd (sgd)")
    #expect(
      message { try optimizers.config(type: "adma") }.hasPrefix(
        "unknown optimizer 'adma' (did you mean 'adam'?)"))
    #expect(
      message { try LossRegistry().function(type: "mean_squared_eror") }.hasPrefix(
        "unknown loss 'mean_squared_eror' (did you mean 'mean_squared_error'?); registered: plexus.binary_crossentropy (binary_crossentropy), plexus.categorical_crossentropy (categorical_crossentropy, softmax_cross_entropy, sparse_categorical_crossentropy)"
      ))
    #expect(
      message { try MetricRegistry().metric(type: "cross") }
        == "unknown metric 'cross'; registered: plexus.accuracy (accuracy), plexus.f1 (f1), "
        + "plexus.mae (mae), plexus.mse (mse), plexus.precision (precision), plexus.recall "
        + "(recall), plexus.top_k_accuracy (top_k_accuracy)"
    )

    // A first-party name whose module is not registered names that module.
    let empty = OptimizerRegistry(registeringBuiltIns: false)
    #expect(empty.typeNames.isEmpty)
    #expect(
      message { try empty.config(type: "adam") }
        == "optimizer 'adam' is not registered: it is provided by module PlexusCore; "
        + "create the registry with OptimizerRegistry() to have the built-in optimizers")
    #expect(
      message { try LossRegistry(registeringBuiltIns: false).function(type: "plexus.hinge") }
        .contains("provided by module PlexusCore"))
    #expect(
      message { try MetricRegistry(registeringBuiltIns: false).metric(type: "nothing") }
        == "unknown metric 'nothing'; registered: none")

    // A saved state of an unregistered type.
    let state = OptimizerState(
      typeName: "com.example.unregistered", config: .object([:]), step: 1, slots: [:])
    #expect(
      message { try OptimizerRegistry().restore(state, for: []) }.hasPrefix(
        "unknown optimizer 'com.example.unregistered'"))
    // JSON of the wrong shape.
    #expect(
      message { try OptimizerConfig(json: .number(1)) }
        == #"the optimizer must be a name or an object such as {"type": "adam", "learningRate": 0.001}"#
    )
  }

  @Test func unknownConfigKeysSuggestTheNearestKey() throws {
    try ThirdPartyComponents.register()
    #expect(
      message { try OptimizerConfig(json: json(#"{"type": "adam", "learning_rate": 0.01}"#)) }
        == "optimizer 'adam': unknown key 'learning_rate' (did you mean 'learningRate'?); "
        + "expected one of amsgrad, beta1, beta2, epsilon, learningRate, weightDecay")
    #expect(
      message { try OptimizerConfig(json: json(#"{"type": "sgd", "lr": 0.01}"#)) }
        == "optimizer 'sgd': unknown key 'lr'; expected one of learningRate, momentum, nesterov, weightDecay"
    )
    #expect(
      message { try LossFunction(json: json(#"{"type": "com.example.log_cosh", "wieght": 2}"#)) }
        == "loss 'com.example.log_cosh': unknown key 'wieght' (did you mean 'weight'?); expected one of weight"
    )
    #expect(
      message {
        try Metric(json: json(#"{"type": "com.example.within_tolerance", "tolerence": 1}"#))
      }
        == "metric 'com.example.within_tolerance': unknown key 'tolerence' (did you mean 'tolerance'?); expected one of tolerance"
    )
    #expect(
      message { try Metric(json: json(#"{"type": "accuracy", "threshold": 0.5}"#)) }
        == "metric 'accuracy': unknown key 'threshold'; expected no keys")
    // Values are still range-checked by the component.
    #expect(
      message { try LossFunction(json: json(#"{"type": "com.example.log_cosh", "weight": -1}"#)) }
        == "log_cosh: weight must be positive, got -1.0")
    #expect(
      message { try OptimizerConfig(json: json(#"{"type": "com.example.lion", "beta1": 1}"#)) }
        == "com.example.lion: beta1 must be in [0, 1), got 1.0")
  }

  @Test func registriesAreSafeToUseFromManyThreads() throws {
    let metrics = MetricRegistry()
    let optimizers = OptimizerRegistry()
    let outcomes = Mutex((a: 0, b: 0, failedA: 0, failedB: 0, lookupFailures: 0))
    DispatchQueue.concurrentPerform(iterations: 200) { index in
      // Two types race for one name: whichever registers first keeps it.
      do {
        if index % 2 == 0 {
          try metrics.register(ClashingA.self, module: "A")
          outcomes.withLock { $0.a += 1 }
        } else {
          try metrics.register(ClashingB.self, module: "B")
          outcomes.withLock { $0.b += 1 }
        }
      } catch {
        outcomes.withLock {
          if index % 2 == 0 { $0.failedA += 1 } else { $0.failedB += 1 }
        }
      }
      do {
        if index % 5 == 0 { try optimizers.register(Lion.self, module: "ExampleOptimizers") }
        _ = try optimizers.makeOptimizer(type: "adam")
        _ = try metrics.metric(type: "accuracy")
        _ = optimizers.typeNames
      } catch {
        outcomes.withLock { $0.lookupFailures += 1 }
      }
    }
    let result = outcomes.withLock { $0 }
    #expect(result.lookupFailures == 0)
    #expect(
      (result.a == 100 && result.failedB == 100) || (result.b == 100 && result.failedA == 100))
    #expect(optimizers.contains("com.example.lion"))
    let winner = try metrics.metric(type: "com.example.clash").prototype
    #expect((winner is ClashingA) == (result.a == 100))
  }
}

@Suite struct DefaultedConfigurationTests {
  struct Inner: DefaultedConfiguration {
    var rate: Float = 0.5
    static var defaults: Inner { Inner() }
    static var fields: [ConfigField<Inner>] { [.init("rate", \.rate)] }
  }

  struct Sample: DefaultedConfiguration {
    var units: Int
    var useBias = true
    var regularizer: Regularizer?
    var inner = Inner()
    static var defaults: Sample { Sample(units: 1) }
    static var fields: [ConfigField<Sample>] {
      [
        .required("units", \.units), .init("useBias", \.useBias),
        .init("regularizer", \.regularizer), .init("inner", \.inner),
      ]
    }
  }

  private func decode(_ text: String) throws -> Sample {
    try JSONDecoder().decode(Sample.self, from: Data(text.utf8))
  }

  @Test func missingKeysTakeDefaultsAndRequiredKeysMustBePresent() throws {
    #expect(try decode(#"{"units": 3}"#) == Sample(units: 3))
    #expect(
      try decode(
        #"{"units": 3, "useBias": false, "regularizer": {"l1": 0, "l2": 0.1}, "inner": {}}"#)
        == Sample(units: 3, useBias: false, regularizer: Regularizer(l2: 0.1)))
    #expect(try decode(#"{"units": 3, "regularizer": null}"#).regularizer == nil)
    #expect(throws: DecodingError.self) { try decode(#"{"useBias": true}"#) }
    // A value the field's type cannot hold names the key, the value and the type.
    #expect(throws: PlexusError.invalidConfiguration("key 'useBias': null is not a valid Bool")) {
      try decode(#"{"units": 3, "useBias": null}"#)
    }
    #expect(throws: PlexusError.invalidConfiguration(#"key 'units': "3" is not a valid Int"#)) {
      try decode(#"{"units": "3"}"#)
    }
    #expect(throws: PlexusError.invalidConfiguration("key 'units': 2.5 is not a valid Int")) {
      try decode(#"{"units": 2.5}"#)
    }
    #expect(
      message { try Sample.decode(json(#"{"useBias": true}"#), context: "sample") }
        == "sample: missing key 'units' at the top level")
  }

  @Test func unknownKeysNameTheirPathAndTheNearestKey() throws {
    #expect(
      message { try decode(#"{"units": 3, "usebias": false}"#) }
        == "unknown key 'usebias' (did you mean 'useBias'?); expected one of inner, regularizer, units, useBias"
    )
    #expect(
      message { try decode(#"{"units": 3, "inner": {"rtae": 1}}"#) }
        == "unknown key 'rtae' at .inner (did you mean 'rate'?); expected one of rate")
    #expect(
      message { try decode(#"{"units": 3, "kernelSize": 2}"#) }
        == "unknown key 'kernelSize'; expected one of inner, regularizer, units, useBias")
  }

  @Test func encodingLeavesOutNilAndRoundTrips() throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    let plain = Sample(units: 2)
    #expect(
      String(decoding: try encoder.encode(plain), as: UTF8.self)
        == #"{"inner":{"rate":0.5},"units":2,"useBias":true}"#)
    let full = Sample(
      units: 2, useBias: false, regularizer: Regularizer(l1: 0.1), inner: Inner(rate: 2))
    #expect(try JSONDecoder().decode(Sample.self, from: encoder.encode(full)) == full)
    #expect(Sample.keys == ["units", "useBias", "regularizer", "inner"])
    // Decoding with other defaults (as AdamW does with Adam's configuration).
    #expect(
      try Sample.decode(
        json(#"{"units": 4}"#), defaults: Sample(units: 0, useBias: false), context: "sample")
        == Sample(units: 4, useBias: false))
    #expect(
      try JSONDecoder().decode(EmptyConfiguration.self, from: Data("{}".utf8))
        == EmptyConfiguration())
    #expect(
      message { try JSONDecoder().decode(EmptyConfiguration.self, from: Data(#"{"a": 1}"#.utf8)) }
        == "unknown key 'a'; expected no keys")
  }
}

@Suite struct LossClassificationTests {
  @Test func classificationIsAPropertyOfTheLoss() throws {
    let classification: [any Loss] = [
      BinaryCrossEntropy(fromLogits: true), CategoricalCrossEntropy(fromLogits: false), Hinge(),
    ]
    let regression: [any Loss] = [MeanSquaredError(), MeanAbsoluteError(), Huber(delta: 2)]
    #expect(classification.map(\.isClassification) == [true, true, true])
    #expect(regression.map(\.isClassification) == [false, false, false])
    #expect(try LossFunction(name: "softmax_cross_entropy").isClassification)
    #expect(try !LossFunction(name: "huber").isClassification)
  }
}
