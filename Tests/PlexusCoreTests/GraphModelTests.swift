import Foundation
import PlexusCore
import PlexusTestSupport
import Testing

/// A layer that adds an L1 activity penalty on its input to the training objective and
/// passes the input through: `loss += rate * sum|x| / N`.
final class ActivityPenalty: UnaryLayer {
  struct Config: LayerConfiguration { var rate: Float }
  static let typeName = "test.activity_penalty"
  let state = LayerState()
  let config: Config
  init(config: Config) { self.config = config }

  func build(for inputShape: SymbolicShape) throws -> SymbolicShape { inputShape }

  func forward(_ input: Tensor, record: CallRecord) throws -> Tensor {
    if record.isTraining {
      let total = input.scalars.reduce(Float(0)) { $0 + abs($1) }
      record.addLoss(config.rate * total / Float(input.batchCount), name: "activity")
    }
    return input
  }

  func backward(_ outputGradient: Tensor, record: CallRecord, computingInputGradient: Bool)
    throws -> Tensor?
  {
    var gradient = outputGradient
    let input = record.inputs[0]
    let scale = config.rate / Float(input.batchCount)
    gradient.withUnsafeMutableBufferPointer { g in
      input.withUnsafeBufferPointer { x in
        for i in g.indices { g[i] += scale * (x[i] > 0 ? 1 : (x[i] < 0 ? -1 : 0)) }
      }
    }
    return gradient
  }
}

func graphRegistry() throws -> LayerRegistry {
  let registry = LayerRegistry()
  try registry.register(TestLinear.self, module: "PlexusCoreTests")
  try registry.register(FeatureScale.self, module: "PlexusCoreTests")
  try registry.register(ActivityPenalty.self, module: "PlexusCoreTests")
  return registry
}

/// A model with two inputs, a skip connection and a layer applied twice.
func twoInputResidualModel(seed: UInt64 = 3) throws -> Model {
  let a = try Input(shape: [4], name: "a")
  let b = try Input(shape: [4], name: "b")
  let shared = try TestLinear(units: 4)
  shared.name = "shared"
  let ha = try Activation(.tanh)(try shared(a))
  let hb = try shared(b)
  let skip = try Add(name: "skip")([ha, a])
  let joined = try Concatenate(name: "joined")([skip, hb])
  let head = try TestLinear(units: 2)
  head.name = "head"
  return try Model(inputs: [a, b], outputs: [try head(joined)], name: "residual", seed: seed)
}

@Suite struct GraphModelTests {
  @Test func sharedLayerAccumulatesItsGradientOnce() throws {
    // y = x1 · W + x2 · W with one TestLinear: dL/dW = x1^T g + x2^T g for g = 1.
    let a = try Input(shape: [3], name: "a")
    let b = try Input(shape: [3], name: "b")
    let linear = try TestLinear(units: 2)
    let sum = try Add()([try linear(a), try linear(b)])
    let model = try Model(inputs: [a, b], outputs: [sum])
    #expect(model.parameters.count == 2)
    #expect(model.namedParameters.map(\.path) == ["linear_1.kernel", "linear_1.bias"])
    let x1 = try Tensor(shape: [1, 3], scalars: [1, 0, 0])
    let x2 = try Tensor(shape: [1, 3], scalars: [0, 0, 5])
    let record = CallRecord()
    model.zeroGradients()
    _ = try model.run([x1, x2], training: true, record: record)
    _ = try model.gradients([Tensor(shape: [1, 2], repeating: 1)], record: record)
    #expect(linear.kernel.gradient.scalars == [1, 1, 0, 0, 5, 5])
    #expect(linear.bias.gradient.scalars == [2, 2])
  }

  @Test func gradientsThroughFanOutMergesSharedLayersAndNesting() throws {
    let model = try twoInputResidualModel()
    let report = try GradientCheck.check(layer: model, batchInputShapes: [[3, 4], [3, 4]])
    #expect(report.maximumError < 1e-2, "\(report)")
    #expect(report.parameterErrors.count == 4)

    // A nested model inside another, with fan-out to two heads merged by every merge layer.
    let x = try Input(shape: [4], name: "x")
    let inner = try Model(
      inputs: [x], outputs: [try Activation(.sigmoid)(try TestLinear(units: 4)(x))])
    let outer = try Input(shape: [4], name: "outer")
    let encoded = try inner(outer)
    let left = try TestLinear(units: 3)(encoded)
    let right = try TestLinear(units: 3)(encoded)
    let merged = try Concatenate()([
      try Add()([left, right]), try Subtract()([left, right]), try Multiply()([left, right]),
      try Average()([left, right]),
    ])
    let parts = try Split(sizes: [7, 5]).call([merged])
    let sliced = try SliceLayer(start: 2, length: 5)(parts[0])
    let nested = try Model(inputs: [outer], outputs: [sliced, parts[1]], seed: 4)
    let nestedReport = try GradientCheck.check(
      layer: nested, batchInputShapes: [[2, 4]], epsilon: 5e-3)
    #expect(nestedReport.maximumError < 1e-2, "\(nestedReport)")
    #expect(nestedReport.parameterErrors.keys.contains("model_1.linear_1.kernel"))
  }

  @Test func graphMatchesTheSameComputationByHand() throws {
    let model = try twoInputResidualModel(seed: 8)
    guard let shared = model.layer(named: "shared") as? TestLinear,
      let head = model.layer(named: "head") as? TestLinear
    else {
      Issue.record("layers not found")
      return
    }
    var generator = SeededGenerator(seed: 1)
    let a = Tensor.normal([5, 4], using: &generator)
    let b = Tensor.normal([5, 4], using: &generator)
    let output = try model.predict([a, b])[0]
    // By hand: head(concat(tanh(shared(a)) + a, shared(b))).
    func linear(_ layer: TestLinear, _ x: Tensor) throws -> Tensor {
      var y = Tensor.zeros([x.batchCount, layer.config.units])
      try y.addToLastAxis(layer.bias.value)
      try Tensor.matmul(x, layer.kernel.value, into: &y, beta: 1)
      return y
    }
    let skip = try ActivationFunction.tanh.apply(linear(shared, a)) + a
    let hb = try linear(shared, b)
    var joined = Tensor.zeros([5, 8])
    for row in 0..<5 {
      for column in 0..<4 {
        joined[row, column] = skip[row, column]
        joined[row, column + 4] = hb[row, column]
      }
    }
    #expect(try output.maxAbsoluteDifference(to: linear(head, joined)) < 1e-6)
  }

  @Test func concurrentInferenceMatchesSerialResults() async throws {
    let model = try twoInputResidualModel()
    var generator = SeededGenerator(seed: 2)
    let batches = (0..<8).map { _ in
      (Tensor.normal([16, 4], using: &generator), Tensor.normal([16, 4], using: &generator))
    }
    let serial = try batches.map { try model.predict([$0.0, $0.1])[0] }
    let concurrent = try await withThrowingTaskGroup(of: (Int, Tensor).self) { group in
      for (index, batch) in batches.enumerated() {
        group.addTask {
          var last = Tensor.zeros([1])
          for _ in 0..<20 { last = try model.predict([batch.0, batch.1])[0] }
          return (index, last)
        }
      }
      var results = [Tensor?](repeating: nil, count: batches.count)
      for try await (index, tensor) in group { results[index] = tensor }
      return results
    }
    for (index, tensor) in concurrent.enumerated() { #expect(tensor == serial[index]) }
  }

  @Test func invalidGraphsAreErrorsNamingTheNode() throws {
    let a = try Input(shape: [4], name: "a")
    let b = try Input(shape: [4], name: "b")
    let h = try TestLinear(units: 4)(a)
    // An input not connected to any output.
    #expect {
      try Model(inputs: [a, b], outputs: [h])
    } throws: { "\($0)".contains("input 'b' is not connected") }
    // An output that depends on an input not among the model's inputs.
    let c = try Input(shape: [4], name: "c")
    let both = try Add()([h, c])
    #expect {
      try Model(inputs: [a], outputs: [both])
    } throws: { "\($0)".contains("input 'c'") && "\($0)".contains("not among the model's inputs") }
    // Two different layers with one name.
    let first = try TestLinear(units: 4)
    first.name = "twin"
    let second = try TestLinear(units: 4)
    second.name = "twin"
    let twins = try second(try first(a))
    #expect {
      try Model(inputs: [a], outputs: [twins])
    } throws: { "\($0)".contains("named 'twin'") }
    // Shape mismatch at a merge names the layer.
    let wide = try TestLinear(units: 5)(a)
    #expect {
      try Add(name: "bad_add")([h, wide])
    } throws: { "\($0)".contains("bad_add") }
    // A shared layer applied to another shape.
    let layer = try TestLinear(units: 2)
    layer.name = "fixed"
    _ = try layer(a)
    #expect {
      try layer(try Input(shape: [3], name: "d"))
    } throws: { "\($0)".contains("fixed") && "\($0)".contains("already built") }
    // A non-input tensor as a model input.
    #expect(throws: PlexusError.self) { try Model(inputs: [h], outputs: [h]) }
  }

  @Test func storedGraphsWithCyclesOrBadReferencesAreRefused() throws {
    let registry = try graphRegistry()
    let linear = LayerDescription(
      type: "test.linear", name: "l1", config: .object(["units": .number(4)]))
    let cyclic = Model.Config(
      inputs: [.init(name: "x", shape: [4])], layers: [linear],
      nodes: [.init(layer: "l1", inputs: [.init(source: "l1", call: 0, output: 0)])],
      outputs: [.init(name: "y", tensor: .init(source: "l1"))])
    #expect {
      try Model(config: cyclic, registry: registry)
    } throws: { "\($0)".contains("node 0 ('l1') reads") }
    let unknown = Model.Config(
      inputs: [.init(name: "x", shape: [4])], layers: [linear],
      nodes: [.init(layer: "l2", inputs: [.init(source: "x")])],
      outputs: [.init(name: "y", tensor: .init(source: "l2"))])
    #expect {
      try Model(config: unknown, registry: registry)
    } throws: { "\($0)".contains("calls layer 'l2'") }
    let unreachable = Model.Config(
      inputs: [.init(name: "x", shape: [4])], layers: [linear],
      nodes: [.init(layer: "l1", inputs: [.init(source: "x")])],
      outputs: [.init(name: "y", tensor: .init(source: "l1", call: 1))])
    #expect {
      try Model(config: unreachable, registry: registry)
    } throws: { "\($0)".contains("output 'y'") }
    let duplicate = Model.Config(
      inputs: [.init(name: "x", shape: [4])], layers: [linear, linear],
      nodes: [.init(layer: "l1", inputs: [.init(source: "x")])],
      outputs: [.init(name: "y", tensor: .init(source: "l1"))])
    #expect {
      try Model(config: duplicate, registry: registry)
    } throws: { "\($0)".contains("duplicate name 'l1'") }
  }

  @Test func configRoundTripsAndSavedGraphsLoadBitIdenticallyUnderEveryCodec() throws {
    let registry = try graphRegistry()
    let model = try twoInputResidualModel()
    let copy = try LayerHarness.roundTripConfig(of: model, registry: registry)
    #expect((copy as? Model)?.config == model.config)
    var generator = SeededGenerator(seed: 9)
    let inputs = [
      Tensor.normal([6, 4], using: &generator), Tensor.normal([6, 4], using: &generator),
    ]
    let expected = try model.predict(inputs)
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
      "plexus-graph-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    for codec in TensorCodec.allCases {
      let url = folder.appendingPathComponent("graph-\(codec.rawValue).plexus")
      try model.save(to: url, options: SaveOptions(codec: codec))
      let loaded = try Model.load(from: url, registry: registry)
      #expect(try loaded.predict(inputs) == expected)
      #expect(loaded.config == model.config)
      #expect(loaded.namedParameters.count == 4)
    }
  }

  @Test func multiOutputTrainingWeighsLossesAndNamesTheLogs() throws {
    let x = try Input(shape: [2], name: "x")
    let hidden = try Activation(.tanh)(try TestLinear(units: 8)(x))
    let value = try TestLinear(units: 1)(hidden)
    let logits = try TestLinear(units: 2)(hidden)
    let model = try Model(
      inputs: [x], outputs: [value, logits], outputNames: ["value", "class"], seed: 5)
    let (data, labels) = TrainingData.blobs(count: 64, seed: 3)
    let history = try model.fit(
      inputs: ["x": data], targets: ["value": labels.reshaped([64, 1]), "class": labels],
      losses: ["value": MeanSquaredError(), "class": CategoricalCrossEntropy(fromLogits: true)],
      lossWeights: ["value": 0.5], metrics: ["class": [.accuracy]],
      optimizer: Adam(learningRate: 0.05),
      options: TrainingOptions(epochs: 30, batchSize: 16, seed: 1))
    func last(_ key: String) -> Float? { history[key]?.last }
    #expect(["loss", "value_loss", "class_loss", "class_accuracy"].allSatisfy { last($0) != nil })
    let total = last("loss") ?? 0
    let parts = 0.5 * (last("value_loss") ?? 0) + (last("class_loss") ?? 0)
    #expect(abs(total - parts) < 1e-4)
    #expect((last("class_accuracy") ?? 0) > 0.95)
    #expect {
      try model.fit(
        inputs: ["x": data], targets: ["valu": labels], losses: ["value": MeanSquaredError()],
        optimizer: SGD(learningRate: 0.1))
    } throws: { "\($0)".contains("'valu'") }
  }

  @Test func layerLossesJoinTheObjectiveAndTheLogs() throws {
    let x = try Input(shape: [2], name: "x")
    let linear = try TestLinear(units: 3)
    let penalized = try ActivityPenalty(config: .init(rate: 0.1))(try linear(x))
    let model = try Model(inputs: [x], outputs: [try TestLinear(units: 1)(penalized)], seed: 2)
    let report = try GradientCheck.check(layer: model, batchInputShapes: [[3, 2]])
    #expect(report.maximumError < 1e-2, "\(report)")
    let (data, targets) = TrainingData.linear(count: 32, seed: 4)
    let history = try model.fit(
      data, targets, loss: MeanSquaredError(), optimizer: SGD(learningRate: 0.0),
      options: TrainingOptions(epochs: 1, batchSize: 32, shuffle: false))
    let activity = try #require(history["activity"]?.first)
    let hidden = try Model(inputs: [x], outputs: [try linear(x)]).predict(data)
    let expected = 0.1 * hidden.scalars.reduce(Float(0)) { $0 + abs($1) } / 32
    #expect(abs(activity - expected) < 1e-4)
    let plain = try model.evaluate(data, targets, loss: MeanSquaredError())["loss"] ?? 0
    #expect(abs((history["loss"]?.first ?? 0) - (plain + activity)) < 1e-4)
  }

  @Test func aLayerLossOnABranchWithoutAnOutputLossStillTrains() throws {
    let x = try Input(shape: [2], name: "x")
    let side = try TestLinear(units: 3)
    let penalized = try ActivityPenalty(config: .init(rate: 1))(try side(x))
    let main = try TestLinear(units: 1)(x)
    let model = try Model(inputs: [x], outputs: [main, penalized], seed: 4)
    let (data, targets) = TrainingData.linear(count: 32, seed: 2)
    let before = side.kernel.value.scalars.reduce(Float(0)) { $0 + abs($1) }
    let history = try model.fit(
      inputs: [data], targets: [targets, nil], losses: [OutputLoss(MeanSquaredError()), nil],
      optimizer: SGD(learningRate: 0.05), options: TrainingOptions(epochs: 5, batchSize: 8))
    let after = side.kernel.value.scalars.reduce(Float(0)) { $0 + abs($1) }
    #expect(
      after < before * 0.8, "the activity penalty moved the side branch: \(before) -> \(after)")
    #expect(history["activity"] != nil)
  }

  @Test func frozenEncoderKeepsItsWeightsBitForBitAndIsSaved() throws {
    // Train an encoder, wrap it with a new head, freeze it, fit, check it is unchanged.
    let (data, labels) = TrainingData.blobs(count: 64, seed: 5)
    let encoder = Sequential(name: "encoder", [try TestLinear(units: 4), Activation(.tanh)])
    let pretraining = Sequential([encoder, try TestLinear(units: 2)])
    try pretraining.fit(
      data, labels, loss: CategoricalCrossEntropy(fromLogits: true),
      optimizer: Adam(learningRate: 0.05), options: TrainingOptions(epochs: 3, seed: 1))
    let trained = encoder.parameters.map(\.value)
    let x = try Input(shape: [2], name: "x")
    let head = try TestLinear(units: 2)
    let classifier = try Model(inputs: [x], outputs: [try head(try encoder(x))], seed: 9)
    #expect(encoder.parameters.map(\.value) == trained)  // building kept the weights
    encoder.isTrainable = false
    #expect(classifier.trainableParameters.count == 2)
    let headBefore = head.kernel.value
    try classifier.fit(
      data, labels, loss: CategoricalCrossEntropy(fromLogits: true),
      optimizer: Adam(learningRate: 0.05), options: TrainingOptions(epochs: 3, seed: 2))
    #expect(encoder.parameters.map(\.value) == trained)
    #expect(head.kernel.value != headBefore)
    #expect(classifier.summary().contains("(frozen)"))
    // Frozen layers get no gradient check entries, and the flag survives a file.
    let report = try GradientCheck.check(layer: classifier, input: data.samples(0..<4))
    #expect(report.parameterErrors.keys.sorted() == ["linear_1.bias", "linear_1.kernel"])
    let url = FileManager.default.temporaryDirectory.appendingPathComponent(
      "plexus-frozen-\(UUID().uuidString).plexus")
    defer { try? FileManager.default.removeItem(at: url) }
    try classifier.save(to: url)
    let loaded = try Model.load(from: url, registry: try graphRegistry())
    #expect(loaded.layer(named: "encoder")?.isTrainable == false)
    #expect(loaded.trainableParameters.count == 2)
  }

  @Test func sequentialAddAfterTrainingKeepsTrainedWeights() throws {
    let (data, labels) = TrainingData.blobs(count: 32, seed: 6)
    let model = Sequential([try TestLinear(units: 3)])
    try model.fit(
      data, Tensor.zeros([32, 3]), loss: MeanSquaredError(), optimizer: SGD(learningRate: 0.1),
      options: TrainingOptions(epochs: 2))
    let trained = model.parameters.map(\.value)
    model.add(try TestLinear(units: 1))
    try model.fit(
      data, labels.reshaped([32, 1]), loss: MeanSquaredError(), optimizer: SGD(learningRate: 0),
      options: TrainingOptions(epochs: 1))
    #expect(Array(model.parameters.map(\.value).prefix(2)) == trained)
    #expect(throws: PlexusError.self) { try model.build(inputShape: [5]) }
  }

  @Test func variableDimensionsAcceptSequencesOfAnyLength() throws {
    let x = try Input(shape: [nil, 3], name: "sequence")
    let model = try Model(inputs: [x], outputs: [try Activation(.relu)(x)])
    #expect(model.summary().contains("[N, ?, 3]"))
    for length in [1, 4, 9] {
      let input = Tensor(shape: [2, length, 3], repeating: -1)
      #expect(try model.predict(input).shape == [2, length, 3])
    }
    #expect(throws: PlexusError.self) { try model.predict(Tensor.zeros([2, 4, 2])) }
    #expect(throws: PlexusError.self) { try Flatten()(x) }
  }

  @Test func summaryShowsConnectionsAndNestedModels() throws {
    let model = try twoInputResidualModel()
    let summary = model.summary()
    #expect(summary.contains("Connected to"))
    #expect(summary.contains("a; b"))  // the shared layer's two calls
    #expect(summary.contains("activation_1, a"))  // ... and the skip connection
    let outer = Sequential([Sequential(name: "inner", [try TestLinear(units: 2)])])
    try outer.build(inputShape: [3])
    #expect(outer.summary().contains("  linear_1"))
  }
}

/// A model trained by its own step: it moves its one weight toward the mean of the data,
/// with no loss and no backpropagation.
final class MeanTracker: ModelProtocol {
  struct Config: LayerConfiguration { var features: Int }
  static let typeName = "test.mean_tracker"
  let state = LayerState()
  let config: Config
  let mean = Parameter(name: "mean")
  private let graph: Graph

  init(config: Config) throws {
    self.config = config
    let x = try Input(shape: [config.features], name: "x")
    graph = try Graph(inputs: [x], outputs: [x])
    try mean.declare(shape: [config.features], filledWith: 0)
    var generator = SeededGenerator(seed: 0)
    try mean.materialize(using: &generator)
    state.builtShapes = (inputs: [[config.features]], outputs: [[config.features]])
  }

  func builtGraph() throws -> Graph { graph }
  func build(for inputShapes: [SymbolicShape]) throws -> [SymbolicShape] { inputShapes }
  var parameters: [Parameter] { [mean] }

  func trainStep(_ batch: TrainingBatch, context: TrainingStepContext) throws
    -> TrainingStepResult
  {
    let batchMean = try batch.inputs[0].sumOverBatch() * (1 / Float(batch.sampleCount))
    let rate = context.optimizer?.learningRate ?? 0
    try mean.value = mean.value * (1 - rate) + batchMean * rate
    let distance = try (mean.value - batchMean).scalars.reduce(Float(0)) { $0 + $1 * $1 }
    return TrainingStepResult(loss: distance, logs: ["distance": distance])
  }
}

@Suite struct CustomTrainingStepTests {
  @Test func fitDrivesACustomStepWithBatchingCallbacksAndHistory() throws {
    let tracker = try MeanTracker(config: .init(features: 2))
    let data = Tensor(shape: [40, 2], repeating: 3)
    let stopping = EarlyStopping(monitor: "distance", patience: 1, minDelta: 10)
    let history = try tracker.fit(
      data, optimizer: SGD(learningRate: 0.5),
      options: TrainingOptions(epochs: 10, batchSize: 8), callbacks: [stopping])
    #expect(try tracker.mean.value.maxAbsoluteDifference(to: Tensor([3, 3])) < 1e-2)
    #expect(history.epochsCompleted < 10 && history.stoppedEarly)
    #expect(history["distance"]?.first ?? 0 > history["distance"]?.last ?? 0)
  }
}
