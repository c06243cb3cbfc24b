import Foundation
import PlexusCore
import Testing

/// Runs an optimizer over a one-element parameter starting at 1 with the gradient sequence
/// 0.5, -0.2, 1.0 (unless given), next to a frozen parameter that must not move.
private func trajectory(_ optimizer: any Optimizer, gradients: [Float] = [0.5, -0.2, 1.0]) throws
  -> [Float]
{
  let weight = Parameter(name: "w", value: Tensor([1]))
  let frozen = Parameter(name: "frozen", value: Tensor([3]), isTrainable: false)
  var values: [Float] = []
  for gradient in gradients {
    weight.gradient = Tensor([gradient])
    frozen.gradient = Tensor([gradient])
    optimizer.step([weight, frozen])
    values.append(weight.value[0])
  }
  #expect(frozen.value[0] == 3)
  return values
}

private func expectClose(_ actual: [Float], _ expected: [Double], tolerance: Double = 2e-6) {
  #expect(actual.count == expected.count)
  for (a, e) in zip(actual, expected) {
    #expect(abs(Double(a) - e) < tolerance, "\(actual) vs \(expected)")
  }
}

@Suite struct OptimizerTests {
  // Expected numbers follow each optimizer's documented formula, worked by hand from
  // w0 = 1 and gradients 0.5, -0.2, 1.0.

  @Test func sgdPlainMomentumNesterovAndDecay() throws {
    // w -= 0.1 g: 0.95, 0.97, 0.87.
    expectClose(try trajectory(SGD(learningRate: 0.1)), [0.95, 0.97, 0.87])
    // b = 0.5, 0.25, 1.225; w -= 0.1 b.
    expectClose(try trajectory(SGD(learningRate: 0.1, momentum: 0.9)), [0.95, 0.925, 0.8025])
    // d = g + 0.9 b: 0.95, 0.025, 2.1025.
    expectClose(
      try trajectory(SGD(learningRate: 0.1, momentum: 0.9, nesterov: true)),
      [0.905, 0.9025, 0.69225])
    // d = g + 0.1 w: 0.6, -0.106, 1.09506.
    expectClose(try trajectory(SGD(learningRate: 0.1, weightDecay: 0.1)), [0.94, 0.9506, 0.841094])
  }

  @Test func adamFollowsPyTorch() throws {
    // Step 1: m̂ = 0.5, v̂ = 0.25, so w = 1 - 0.1 * 0.5 / (0.5 + 1e-8).
    expectClose(
      try trajectory(Adam(learningRate: 0.1)),
      [0.900000002, 0.8654394181165108, 0.7965256089766646])
    // L2 weight decay enters the gradient: d1 = 0.5 + 0.1 * 1 = 0.6.
    expectClose(
      try trajectory(Adam(learningRate: 0.1, weightDecay: 0.1)),
      [0.9000000016666666, 0.8475190629593703, 0.7719549538028279])
    // AMSGrad differs once the second moment shrinks (gradients 1, 0.01, 0.01).
    let gradients: [Float] = [1, 0.01, 0.01]
    expectClose(
      try trajectory(Adam(learningRate: 0.1), gradients: gradients),
      [0.900000001, 0.832253058026447, 0.7792477091273107])
    expectClose(
      try trajectory(Adam(learningRate: 0.1, amsgrad: true), gradients: gradients),
      [0.900000001, 0.8322835510128204, 0.7793259045394781])
  }

  @Test func vectorizedAndScalarPathsAgree() throws {
    // 19 equal elements: 16 go through the eight-lane path, 3 through the scalar tail.
    for optimizer in [Adam(learningRate: 0.1), AdamW(learningRate: 0.1, weightDecay: 0.1)] as [Adam]
    {
      let wide = Parameter(name: "w", value: Tensor(shape: [19], repeating: 1))
      for gradient: Float in [0.5, -0.2, 1.0] {
        wide.gradient = Tensor(shape: [19], repeating: gradient)
        optimizer.step([wide])
      }
      let expected: Float = optimizer is AdamW ? 0.7691602147756995 : 0.7965256089766646
      #expect(wide.value.scalars.allSatisfy { abs($0 - expected) < 2e-6 }, "\(wide.value.scalars)")
      #expect(Set(wide.value.scalars).count == 1)
    }
    // A large parameter is split across threads; every element still gets the same update.
    let large = Parameter(name: "large", value: Tensor(shape: [40_003], repeating: 1))
    let optimizer = Adam(learningRate: 0.1)
    for gradient: Float in [0.5, -0.2, 1.0] {
      large.gradient = Tensor(shape: [40_003], repeating: gradient)
      optimizer.step([large])
    }
    #expect(
      Set(large.value.scalars) == [try #require(try trajectory(Adam(learningRate: 0.1)).last)])
  }

  @Test func adamWDecouplesWeightDecay() throws {
    // w = 1 * (1 - 0.1 * 0.1) = 0.99, then the plain Adam step of 0.1: 0.89.
    expectClose(
      try trajectory(AdamW(learningRate: 0.1, weightDecay: 0.1)),
      [0.890000002, 0.8465394180965108, 0.7691602147756995])
    // With a zero gradient only the decay acts: 1 * 0.99 * 0.99.
    let weight = Parameter(name: "w", value: Tensor([1]))
    let optimizer = AdamW(learningRate: 0.1, weightDecay: 0.1)
    for _ in 0..<2 {
      weight.zeroGradient()
      optimizer.step([weight])
    }
    #expect(abs(weight.value[0] - 0.9801) < 1e-6)
  }

  @Test func rmsPropFollowsPyTorch() throws {
    // s1 = 0.01 * 0.25 = 0.0025, w = 1 - 0.01 * 0.5 / 0.05 = 0.9.
    expectClose(
      try trajectory(RMSProp(learningRate: 0.01)),
      [0.900000019999996, 0.9373002053730881, 0.8490711200449244])
    expectClose(
      try trajectory(RMSProp(learningRate: 0.01, momentum: 0.9, centered: true)),
      [0.899496238676095, 0.8463996203515588, 0.7098046536217836], tolerance: 1e-5)
  }

  @Test func adaGradFollowsPyTorch() throws {
    // s = 0.25, 0.29, 1.29; w -= 0.1 g / sqrt(s).
    expectClose(
      try trajectory(AdaGrad(learningRate: 0.1)),
      [0.90000000002, 0.9371390676485138, 0.8490939770237034])
    expectClose(
      try trajectory(
        AdaGrad(learningRate: 0.1, learningRateDecay: 0.5, initialAccumulatorValue: 0.1)),
      [0.9154845745414341, 0.9368349950453602, 0.8944255485649587])
  }

  private static let configurations: [OptimizerConfig] = [
    .sgd(.init(learningRate: 0.05)),
    .sgd(.init(learningRate: 0.05, momentum: 0.9, nesterov: true, weightDecay: 0.01)),
    .adam(.init(learningRate: 0.01)),
    .adam(.init(learningRate: 0.01, weightDecay: 0.01, amsgrad: true)),
    .adamW(.init(learningRate: 0.01, weightDecay: 0.05)),
    .rmsProp(.init(learningRate: 0.01, momentum: 0.5, centered: true)),
    .adaGrad(.init(learningRate: 0.1, learningRateDecay: 0.1)),
  ]

  @Test(arguments: configurations)
  func exportedStateResumesIdentically(config: OptimizerConfig) throws {
    var generator = SeededGenerator(seed: 21)
    func makeParameters() -> [Parameter] {
      var copy = SeededGenerator(seed: 3)
      return [
        Parameter(name: "kernel", value: .normal([3, 4], using: &copy)),
        Parameter(name: "moving_mean", value: .normal([4], using: &copy), isTrainable: false),
        Parameter(name: "bias", value: .normal([4], using: &copy)),
      ]
    }
    let gradients = (0..<5).map { _ in
      [
        Tensor.normal([3, 4], using: &generator), Tensor.normal([4], using: &generator),
        Tensor.normal([4], using: &generator),
      ]
    }
    func apply(_ step: Int, _ optimizer: any Optimizer, _ parameters: [Parameter]) {
      for (parameter, gradient) in zip(parameters, gradients[step]) {
        parameter.gradient = gradient
      }
      optimizer.step(parameters)
    }

    let uninterrupted = makeParameters()
    let first = try config.makeOptimizer()
    for step in 0..<5 { apply(step, first, uninterrupted) }

    let resumed = makeParameters()
    let before = try config.makeOptimizer()
    for step in 0..<3 { apply(step, before, resumed) }
    let state = try before.exportState(for: resumed)
    #expect(state.step == 3)
    #expect(state.typeName == config.typeName)
    #expect(
      state.slots.keys.allSatisfy { !$0.hasPrefix("1.") }, "no slots for the frozen parameter")
    let after = try OptimizerConfig.restore(state, for: resumed)
    #expect(try after.exportState(for: resumed) == state)
    for step in 3..<5 { apply(step, after, resumed) }

    for (a, b) in zip(uninterrupted, resumed) { #expect(a.value == b.value, "\(a.name)") }
  }

  @Test func adamSlotNamesAndImportValidation() throws {
    let parameters = [
      Parameter(name: "kernel", value: Tensor.zeros([2, 2])),
      Parameter(name: "frozen", value: Tensor.zeros([2]), isTrainable: false),
    ]
    let adam = Adam(learningRate: 0.01)
    for parameter in parameters { parameter.gradient.fill(1) }
    adam.step(parameters)
    let state = try adam.exportState(for: parameters)
    #expect(state.slots.keys.sorted() == ["0.m", "0.v"])
    #expect(state.typeName == "plexus.adam")
    #expect(state.config["type"] == nil, "the type is the state's, not the config's")
    #expect(state.config["beta1"] == .number(0.9))

    let fresh = Adam()
    var wrongShape = state
    wrongShape.slots["0.m"] = Tensor.zeros([4])
    #expect(throws: PlexusError.self) { try fresh.importState(wrongShape, for: parameters) }
    var unknownSlot = state
    unknownSlot.slots["0.velocity"] = Tensor.zeros([2, 2])
    #expect(throws: PlexusError.self) { try fresh.importState(unknownSlot, for: parameters) }
    var outOfRange = state
    outOfRange.slots["5.m"] = Tensor.zeros([2, 2])
    #expect(throws: PlexusError.self) { try fresh.importState(outOfRange, for: parameters) }
    var frozenSlot = state
    frozenSlot.slots["1.m"] = Tensor.zeros([2])
    frozenSlot.slots["1.v"] = Tensor.zeros([2])
    #expect(throws: PlexusError.self) { try fresh.importState(frozenSlot, for: parameters) }
    var partial = state
    partial.slots["0.v"] = nil
    #expect(throws: PlexusError.self) { try fresh.importState(partial, for: parameters) }
    var malformed = state
    malformed.slots["m"] = Tensor.zeros([2, 2])
    #expect(throws: PlexusError.self) { try fresh.importState(malformed, for: parameters) }
    var negativeStep = state
    negativeStep.step = -1
    #expect(throws: PlexusError.self) { try fresh.importState(negativeStep, for: parameters) }
    #expect(
      throws: PlexusError.invalidData(
        "optimizer state is of type 'plexus.adam', expected 'plexus.sgd'")
    ) {
      try SGD().importState(state, for: parameters)
    }
    // A state written before the registry: the short name and the config with its type.
    var legacy = state
    legacy.typeName = "adam"
    legacy.config = .object(
      ["type": .string("adam"), "learningRate": .number(0.01), "beta1": .number(0.8)])
    let restored = Adam()
    try restored.importState(legacy, for: parameters)
    #expect(restored.configuration == Adam.Configuration(learningRate: 0.01, beta1: 0.8))
    var mislabeled = legacy
    mislabeled.config = .object(["type": .string("sgd")])
    #expect(
      throws: PlexusError.invalidData(
        "optimizer state of type 'plexus.adam' holds a config of type string(\"sgd\")")
    ) { try Adam().importState(mislabeled, for: parameters) }
    #expect(throws: PlexusError.self) { try AdamW().importState(state, for: parameters) }
    // A failed import leaves the optimizer untouched.
    #expect(fresh.stepCount == 0)
    try fresh.importState(state, for: parameters)
    #expect(fresh.stepCount == 1)
  }

  @Test func optimizerConfigJSON() throws {
    func decode(_ json: String) throws -> OptimizerConfig {
      try JSONDecoder().decode(OptimizerConfig.self, from: Data(json.utf8))
    }
    #expect(
      try decode("{\"type\": \"adam\", \"learningRate\": 0.01}") == .adam(.init(learningRate: 0.01))
    )
    #expect(try decode("{\"type\": \"adamw\"}") == .adamW(.init(weightDecay: 0.01)))
    #expect(
      try decode(
        "{\"type\": \"sgd\", \"learningRate\": 0.1, \"momentum\": 0.9, \"nesterov\": true}")
        == .sgd(.init(learningRate: 0.1, momentum: 0.9, nesterov: true)))
    #expect(try decode("{\"type\": \"rmsprop\"}") == .rmsProp(.init()))
    #expect(
      try decode("{\"type\": \"adagrad\", \"epsilon\": 1e-6}") == .adaGrad(.init(epsilon: 1e-6)))
    #expect(throws: PlexusError.self) {
      try decode("{\"type\": \"adam\", \"learning_rate\": 0.01}")
    }
    #expect(throws: PlexusError.self) { try decode("{\"type\": \"lamb\"}") }
    #expect(throws: PlexusError.self) { try decode("{\"learningRate\": 0.01}") }
    #expect(throws: PlexusError.self) { try decode("[\"adam\"]") }
    // A bare name takes every default; the namespaced name and the short one are the same.
    #expect(try decode("\"adam\"") == .adam(.init()))
    #expect(try decode("{\"type\": \"plexus.rmsprop\"}") == .rmsProp(.init()))
    #expect(throws: PlexusError.self) {
      try decode("{\"type\": \"adam\", \"beta1\": 1}").makeOptimizer()
    }
    #expect(throws: PlexusError.self) {
      try decode("{\"type\": \"sgd\", \"learningRate\": -1}").makeOptimizer()
    }
    #expect(throws: PlexusError.self) {
      try decode("{\"type\": \"sgd\", \"nesterov\": true}").makeOptimizer()
    }
    #expect(throws: PlexusError.self) {
      try decode("{\"type\": \"rmsprop\", \"alpha\": 1.5}").makeOptimizer()
    }

    for config in Self.configurations {
      let data = try JSONEncoder().encode(config)
      #expect(try JSONDecoder().decode(OptimizerConfig.self, from: data) == config)
      let optimizer = try config.makeOptimizer()
      #expect(optimizer.learningRate == config.learningRate)
    }
    #expect(try OptimizerConfig.adamW(.init()).makeOptimizer() is AdamW)
  }

  @Test func importRestoresHyperparametersAsPyTorch() throws {
    let parameters = [Parameter(name: "w", value: Tensor([1, 2]))]
    let source = SGD(learningRate: 0.3, momentum: 0.5)
    parameters[0].gradient = Tensor([1, 1])
    source.step(parameters)
    let target = SGD(learningRate: 0.01)
    try target.importState(try source.exportState(for: parameters), for: parameters)
    #expect(target.learningRate == 0.3)
    #expect(target.configuration.momentum == 0.5)
  }
}
