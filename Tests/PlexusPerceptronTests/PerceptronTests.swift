import PlexusCore
import PlexusPerceptron
import PlexusTestSupport
import Testing

/// Truth tables over two binary inputs.
private let truthTableInputs: [Float] = [0, 0, 0, 1, 1, 0, 1, 1]

/// A linearly separable set: points uniform in `[-1, 1]^features`, labeled by a known random
/// hyperplane, keeping only points at least `margin` away from it.
private func separableSet(
  count: Int, features: Int, margin: Float, seed: UInt64
) throws -> (inputs: Tensor, labels: [Int]) {
  var generator = SeededGenerator(seed: seed)
  let normal = (0..<features).map { _ in generator.nextNormal() }
  let length = normal.reduce(0) { $0 + $1 * $1 }.squareRoot()
  let offset = generator.nextFloat(in: -0.2..<0.2)
  var scalars: [Float] = []
  var labels: [Int] = []
  while labels.count < count {
    let point = (0..<features).map { _ in generator.nextFloat(in: -1..<1) }
    let distance = (zip(point, normal).reduce(0) { $0 + $1.0 * $1.1 } + offset) / length
    guard abs(distance) >= margin else { continue }
    scalars += point
    labels.append(distance >= 0 ? 1 : 0)
  }
  return (try Tensor(shape: [count, features], scalars: scalars), labels)
}

@Suite struct PerceptronTests {
  @Test func passesTheHarness() throws {
    let registry = LayerRegistry()
    PerceptronLayers.register(in: registry)
    var test = LayerTest(
      registry: registry, shapes: [.init([3], output: [2])], badShapes: [[[3, 1]]]
    ) { try Perceptron(config: .init(units: 2, kernelInitializer: .glorotUniform)) }
    // The step has no gradient: backpropagation does not train a perceptron (its own rule
    // does, below).
    test.checksTraining = false
    try LayerHarness.run(test)
  }

  @Test(arguments: [("AND", [0, 0, 0, 1]), ("OR", [0, 1, 1, 1])])
  func convergesOnLinearlySeparableGate(gate: String, labels: [Int]) throws {
    let perceptron = try Perceptron(units: 1, name: gate)
    let inputs = try Tensor(shape: [4, 2], scalars: truthTableInputs)
    let result = try perceptron.train(inputs: inputs, labels: labels, maximumEpochs: 50)
    #expect(result.converged, "\(gate): \(result)")
    #expect(result.epochs < 50)
    #expect(result.mistakesPerEpoch.last == 0)
    #expect(try perceptron.predict(inputs) == labels)
    let output = try perceptron(inputs)
    #expect(output.scalars == labels.map(Float.init))
  }

  @Test func readmeExampleConvergesAsDocumented() throws {
    // The README's example: AND from zero weights, samples in order, learning rate 1.
    let perceptron = try Perceptron(units: 1)
    let inputs = try Tensor(shape: [4, 2], scalars: truthTableInputs)
    let result = try perceptron.train(inputs: inputs, labels: [0, 0, 0, 1], maximumEpochs: 20)
    #expect(result.description == "converged after 6 epochs")
    #expect(perceptron.kernel.value.scalars == [2, 1])
    #expect(perceptron.bias?.value.scalars == [-3])
  }

  @Test func reportsNonConvergenceOnXOR() throws {
    let perceptron = try Perceptron(units: 1)
    let inputs = try Tensor(shape: [4, 2], scalars: truthTableInputs)
    let result = try perceptron.train(inputs: inputs, labels: [0, 1, 1, 0], maximumEpochs: 40)
    #expect(!result.converged)
    #expect(result.epochs == 40)
    #expect(result.mistakesPerEpoch.count == 40)
    #expect(result.mistakesPerEpoch.allSatisfy { $0 > 0 })
    #expect(
      result.description
        == "did not converge after 40 epochs (\(result.mistakesPerEpoch[39]) mistakes in the last epoch)"
    )
    #expect(try perceptron.predict(inputs) != [0, 1, 1, 0])
  }

  @Test(arguments: [UInt64(3), 11, 29])
  func convergesOnRandomSeparableSet(seed: UInt64) throws {
    let data = try separableSet(count: 200, features: 5, margin: 0.1, seed: seed)
    #expect(Set(data.labels) == [0, 1])
    let perceptron = try Perceptron(units: 1)
    let result = try perceptron.train(
      inputs: data.inputs, labels: data.labels, maximumEpochs: 1000, learningRate: 0.5,
      shuffleSeed: seed)
    #expect(result.converged, "\(result)")
    #expect(try perceptron.predict(data.inputs) == data.labels)
  }

  @Test func shuffledTrainingIsReproducible() throws {
    let data = try separableSet(count: 100, features: 4, margin: 0.05, seed: 5)
    let first = try Perceptron(units: 1)
    let second = try Perceptron(units: 1)
    let a = try first.train(
      inputs: data.inputs, labels: data.labels, maximumEpochs: 500, shuffleSeed: 9)
    let b = try second.train(
      inputs: data.inputs, labels: data.labels, maximumEpochs: 500, shuffleSeed: 9)
    #expect(a == b)
    #expect(first.kernel.value == second.kernel.value)
    #expect(first.bias?.value == second.bias?.value)
  }

  @Test func separatesThreeClassesOneVersusRest() throws {
    var generator = SeededGenerator(seed: 17)
    let centers: [(Float, Float)] = [(4, 0), (-2, 3.5), (-2, -3.5)]
    var scalars: [Float] = []
    var labels: [Int] = []
    for sample in 0..<150 {
      let label = sample % 3
      let center = centers[label]
      scalars += [
        center.0 + generator.nextFloat(in: -1..<1), center.1 + generator.nextFloat(in: -1..<1),
      ]
      labels.append(label)
    }
    let inputs = try Tensor(shape: [150, 2], scalars: scalars)
    let perceptron = try Perceptron(units: 3)
    #expect(perceptron.classCount == 3)
    let result = try perceptron.train(
      inputs: inputs, labels: labels, maximumEpochs: 200, shuffleSeed: 1)
    #expect(result.converged, "\(result)")
    #expect(try perceptron.predict(inputs) == labels)
    // With every unit right, exactly one unit fires per sample: the one of its class.
    let output = try perceptron(inputs)
    #expect(output.argmaxPerSample() == labels)
    #expect(output.sum() == 150)
  }

  @Test func rejectsBadTrainingData() throws {
    let inputs = try Tensor(shape: [4, 2], scalars: truthTableInputs)
    #expect(throws: PlexusError.invalidData("perceptron 'p': 3 labels for 4 samples")) {
      try Perceptron(units: 1, name: "p").train(inputs: inputs, labels: [0, 1, 1])
    }
    #expect(throws: PlexusError.invalidData("perceptron 'p': label 2 of sample 1 is outside 0..<2"))
    {
      try Perceptron(units: 1, name: "p").train(inputs: inputs, labels: [0, 2, 1, 0])
    }
    #expect(throws: PlexusError.invalidArgument("maximumEpochs must be positive, got 0")) {
      try Perceptron(units: 1, name: "p").train(
        inputs: inputs, labels: [0, 1, 1, 0], maximumEpochs: 0)
    }
    let trained = try Perceptron(units: 1, name: "p")
    try trained.train(inputs: inputs, labels: [0, 0, 0, 1])
    #expect(throws: PlexusError.shapeMismatch(layer: "p", expected: "[N, 2]", found: [4, 1])) {
      try trained.train(
        inputs: try Tensor(shape: [4, 1], scalars: [0, 1, 0, 1]), labels: [0, 1, 0, 1])
    }
    #expect(throws: PlexusError.invalidConfiguration("perceptron units must be positive, got 0")) {
      try Perceptron(config: Perceptron.Config(units: 0))
    }
  }

  @Test func backpropagationThroughTheStepIsZero() throws {
    let perceptron = try Perceptron(units: 2, name: "perceptron_1")
    try perceptron.build(inputShape: [3])
    try perceptron.kernel.assign(try Tensor(shape: [3, 2], scalars: [1, -1, 0.5, 2, -1, 0.5]))
    try perceptron.bias?.assign(Tensor([0.3, -0.2]))
    // Scores stay at least 0.1 away from the threshold, so finite differences see the flat step.
    let input = try Tensor(shape: [4, 3], scalars: [1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1])
    let scores = try perceptron.scores(input)
    #expect(scores.scalars.allSatisfy { abs($0) >= 0.1 })
    let report = try GradientCheck.check(layer: perceptron, input: input)
    #expect(report.maximumError == 0, "\(report)")
    #expect(report.parameterErrors.keys.sorted() == ["perceptron_1.bias", "perceptron_1.kernel"])

    perceptron.zeroGradients()
    let record = CallRecord()
    _ = try perceptron(input, training: true, record: record)
    let gradient = try perceptron.gradients([Tensor(shape: [4, 2], repeating: 1)], record: record)
    #expect(gradient[0] == Tensor.zeros([4, 3]))
    #expect(perceptron.parameters.allSatisfy { $0.gradient.scalars.allSatisfy { $0 == 0 } })
    #expect(
      throws: PlexusError.shapeMismatch(
        layer: "perceptron_1", expected: "gradient of shape [4, 2]", found: [4, 3])
    ) {
      try perceptron.gradients([Tensor.zeros([4, 3])], record: record)
    }
  }

  @Test func isRegisteredAndRoundTripsItsConfig() throws {
    let registry = LayerRegistry()
    PerceptronLayers.register(in: registry)
    #expect(registry.contains("plexus.perceptron"))
    #expect(registry.module(of: "plexus.perceptron") == "PlexusPerceptron")
    let layer = try Perceptron(units: 4, useBias: false, name: "perceptron_3")
    let copy = try LayerHarness.roundTripConfig(of: layer, registry: registry)
    #expect((copy as? Perceptron)?.config == layer.config)
    #expect(copy.name == "perceptron_3")
    let minimal = try registry.makeLayer(
      from: LayerDescription(
        type: "plexus.perceptron", name: "p", config: .object(["units": .number(1)])))
    #expect((minimal as? Perceptron)?.config == Perceptron.Config(units: 1))
  }

  @Test func trainedPerceptronRunsInsideAModel() throws {
    let perceptron = try Perceptron(units: 1)
    let inputs = try Tensor(shape: [4, 2], scalars: truthTableInputs)
    try perceptron.train(inputs: inputs, labels: [0, 1, 1, 1])
    let model = Sequential([perceptron])
    #expect(perceptron.name == "perceptron_1")
    // Building the model keeps the trained weights.
    let kernel = perceptron.kernel.value
    let bias = perceptron.bias?.value
    try model.build(inputShape: [2], seed: 5)
    #expect(perceptron.kernel.value == kernel)
    #expect(perceptron.bias?.value == bias)
    #expect(try model.predict(inputs).scalars == [0, 1, 1, 1])
  }

  @Test func configRefusesUnknownKeysAndDefaultsAllButUnits() throws {
    let registry = LayerRegistry()
    PerceptronLayers.register(in: registry)
    try LayerHarness.checkConfigDecoding(
      Perceptron.self, registry: registry, minimal: #"{"units": 1}"#,
      defaults: Perceptron.Config(units: 1, useBias: true, kernelInitializer: .zeros),
      full: Perceptron.Config(units: 3, useBias: false, kernelInitializer: .glorotUniform),
      typo: #"{"usebias": false}"#, suggestion: "useBias")
  }
}
