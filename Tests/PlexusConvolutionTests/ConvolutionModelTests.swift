import PlexusConvolution
import PlexusCore
import PlexusPerceptron
import PlexusTestSupport
import Synchronization
import Testing

/// Convolution layers inside models: the input-gradient request reaching the first layer,
/// shared layers with one record per call, and concurrent inference on one model.
@Suite struct ConvolutionModelTests {
  @Test func aNestedModelPassesTheInputGradientRequestToItsFirstLayer() throws {
    let probe = InputGradientProbe(
      try Conv2D(filters: 3, kernelSize: 3, padding: .same, activation: .relu))
    let model = Sequential([
      Sequential([probe, try MaxPool2D(poolSize: 2)]),
      Flatten(),
      try Dense(units: 4),
    ])
    try model.build(inputShape: [4, 4, 2], seed: 3)
    var generator = SeededGenerator(seed: 5)
    let input = Tensor.uniform([2, 4, 4, 2], low: -1, high: 1, using: &generator)
    let gradient = Tensor.uniform([2, 4], low: -1, high: 1, using: &generator)
    let record = CallRecord()
    _ = try model.run([input], training: true, record: record)
    model.zeroGradients()
    let inputGradient = try #require(try model.gradients([gradient], record: record)[0])
    #expect(inputGradient.shape == input.shape)
    let with = model.parameters.map(\.gradient)
    model.zeroGradients()
    let skipped = try model.gradients([gradient], record: record, computingInputGradients: false)
    #expect(skipped.count == 1 && skipped[0] == nil)
    #expect(model.parameters.map(\.gradient) == with)
    model.zeroGradients()
    #expect(try model.gradients([gradient], record: record)[0] == inputGradient)
    #expect(probe.requests == [true, false, true])
  }

  @Test func leadingParameterlessLayersAreSkipped() throws {
    let model = Sequential([Flatten(), try Dense(units: 3, activation: .tanh), try Dense(units: 2)])
    try model.build(inputShape: [2, 3], seed: 1)
    var generator = SeededGenerator(seed: 2)
    let input = Tensor.uniform([4, 2, 3], low: -1, high: 1, using: &generator)
    let gradient = Tensor.uniform([4, 2], low: -1, high: 1, using: &generator)
    let record = CallRecord()
    _ = try model.run([input], training: true, record: record)
    model.zeroGradients()
    #expect(try model.gradients([gradient], record: record)[0]?.shape == [4, 2, 3])
    let with = model.parameters.map(\.gradient)
    model.zeroGradients()
    #expect(
      try model.gradients([gradient], record: record, computingInputGradients: false) == [nil])
    #expect(model.parameters.map(\.gradient) == with)
    let parameterless = Sequential([Flatten()])
    try parameterless.build(inputShape: [2, 3], seed: 0)
    let flatRecord = CallRecord()
    _ = try parameterless.run([input], training: true, record: flatRecord)
    let flatGradient = try input.reshaped([4, 6])
    #expect(
      try parameterless.gradients(
        [flatGradient], record: flatRecord, computingInputGradients: false)
        == [nil])
  }

  @Test(arguments: [ActivationFunction.linear, .relu, .tanh, .gelu])
  func denseParameterGradientsDoNotDependOnTheInputGradient(activation: ActivationFunction)
    throws
  {
    try ConvolutionTesting.expectSkippingTheInputGradientKeepsParameterGradients(
      try Dense(units: 5, activation: activation), inputShape: [4])
  }

  /// Trains two copies of a small CNN with the same seed; in the second the first layer always
  /// computes its input gradient. The weights must be identical.
  @Test func skippingTheFirstInputGradientGivesTheSameWeights() throws {
    func model(forcingTheInputGradient: Bool) throws -> Sequential {
      let first = try Conv2D(filters: 4, kernelSize: 3, padding: .same, activation: .relu)
      return Sequential([
        forcingTheInputGradient ? InputGradientProbe(first, forcesInputGradient: true) : first,
        try MaxPool2D(poolSize: 2),
        Flatten(),
        try Dense(units: 8, activation: .relu),
        try Dense(units: 3),
      ])
    }
    var generator = SeededGenerator(seed: 9)
    let x = Tensor.uniform([24, 6, 6, 1], low: -1, high: 1, using: &generator)
    let oneHot = (0..<24).flatMap { sample in (0..<3).map { Float($0 == sample % 3 ? 1 : 0) } }
    let y = try Tensor(shape: [24, 3], scalars: oneHot)
    var weights: [[Tensor]] = []
    for forcing in [false, true] {
      let network = try model(forcingTheInputGradient: forcing)
      try network.fit(
        x, y, loss: CategoricalCrossEntropy(fromLogits: true),
        optimizer: Adam(learningRate: 0.01),
        options: TrainingOptions(epochs: 3, batchSize: 8, seed: 4))
      weights.append(network.parameters.map(\.value))
    }
    #expect(weights[0].count == 6)
    #expect(weights[0] == weights[1])
  }

  /// One convolution applied twice: each call keeps its own record, and the kernel's gradient
  /// sums both calls.
  @Test func aSharedConvolutionKeepsOneRecordPerCall() throws {
    let shared = try Conv2D(filters: 2, kernelSize: 3, padding: .same, activation: .tanh)
    let input = try Input(shape: [5, 5, 2] as SymbolicShape, name: "image")
    let output = try shared(try shared(input))
    let model = try Model(input: input, output: output, seed: 6)
    #expect(model.graph.nodes.count == 2)
    #expect(model.namedParameters.map(\.path) == ["conv2d_1.kernel", "conv2d_1.bias"])
    var generator = SeededGenerator(seed: 7)
    let batch = Tensor.normal([3, 5, 5, 2], using: &generator)
    let report = try GradientCheck.check(
      layer: model, input: batch, epsilon: 3e-3, maximumEntries: 48, floor: 0.1)
    #expect(report.maximumError < 1e-2, "\(report)")
    #expect(report.parameterErrors.count == 2)
  }

  /// Each inference call has its own tape, so the lowering's scratch tiles and the pooling
  /// routing are never shared between tasks.
  @Test func severalTasksCanRunInferenceOnOneModelAtOnce() async throws {
    let model = Sequential([
      try Conv2D(filters: 8, kernelSize: 3, padding: .same, activation: .relu),
      try BatchNormalization(),
      try MaxPool2D(poolSize: 2),
      try Conv2DTranspose(filters: 4, kernelSize: 3, strides: 2, padding: .same),
      try Conv2D(4 => 3, kernelSize: 3, activation: .gelu),
      GlobalMaxPool2D(),
      try Dense(units: 5),
    ])
    try model.build(inputShape: [12, 12, 4], seed: 3)
    var generator = SeededGenerator(seed: 4)
    let batches = (0..<6).map { _ in Tensor.normal([5, 12, 12, 4], using: &generator) }
    let expected = try batches.map { try model.predict($0) }
    #expect(Set(expected.map(\.scalars)).count == batches.count)
    let results = try await withThrowingTaskGroup(of: (Int, Tensor).self) { group in
      for _ in 0..<4 {
        for (index, batch) in batches.enumerated() {
          group.addTask { (index, try model.predict(batch)) }
        }
      }
      var results: [(Int, Tensor)] = []
      for try await result in group { results.append(result) }
      return results
    }
    #expect(results.count == 4 * batches.count)
    for (index, output) in results { #expect(output == expected[index], "batch \(index)") }
  }
}

/// Wraps a layer to record the input-gradient requests its backward pass receives; with
/// `forcesInputGradient` it computes the input gradient whatever the request.
final class InputGradientProbe: UnaryLayer {
  struct Config: LayerConfiguration {}
  static let typeName = "test.input_gradient_probe"
  let state = LayerState()
  let config = Config()
  let inner: any Layer
  let forcesInputGradient: Bool
  private let receivedRequests = Mutex<[Bool]>([])

  init(_ inner: any Layer, forcesInputGradient: Bool = false) {
    self.inner = inner
    self.forcesInputGradient = forcesInputGradient
  }

  init(config: Config) throws {
    throw PlexusError.invalidConfiguration("test.input_gradient_probe wraps a layer")
  }

  /// The `computingInputGradient` of every backward call so far.
  var requests: [Bool] { receivedRequests.withLock { $0 } }

  var parameters: [Parameter] { inner.parameters }

  func build(for inputShape: SymbolicShape) throws -> SymbolicShape {
    try inner.ensureBuilt(inputShapes: [inputShape])[0]
  }

  func forward(_ input: Tensor, record: CallRecord) throws -> Tensor {
    try inner.forward([input], record: record)[0]
  }

  func backward(_ outputGradient: Tensor, record: CallRecord, computingInputGradient: Bool)
    throws -> Tensor?
  {
    receivedRequests.withLock { $0.append(computingInputGradient) }
    return try inner.backward(
      [outputGradient], record: record,
      computingInputGradients: forcesInputGradient || computingInputGradient)[0]
  }
}
