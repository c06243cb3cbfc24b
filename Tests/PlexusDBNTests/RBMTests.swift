import Foundation
import PlexusCore
import PlexusDBN
import PlexusTestSupport
import Testing

@Suite struct RBMTests {
  @Test func passesTheHarnessAsALayer() throws {
    var test = LayerTest(
      registry: dbnRegistry(), shapes: [.init([5], output: [3])], badShapes: [[[4]], [[5, 1]]]
    ) {
      // Weights well above the default 0.01 keep the input gradients far above the noise of
      // single-precision finite differences.
      try RBM(config: RBM.Config(visible: 5, hidden: 3, weightStandardDeviation: 0.5, seed: 4))
    }
    test.makeInputs = unitIntervalInputs
    try LayerHarness.run(test)
  }

  @Test func configDecodesWithDefaultsAndRefusesUnknownKeys() throws {
    let message = try LayerHarness.checkConfigDecoding(
      RBM.self, registry: dbnRegistry(), minimal: #"{"visible": 1, "hidden": 1}"#,
      defaults: RBM.Config(visible: 1, hidden: 1),
      full: RBM.Config(
        visible: 2, hidden: 3, visibleUnits: .gaussian, gibbsSteps: 5, persistent: true,
        sparsityTarget: 0.1, sparsityCost: 0.5, weightStandardDeviation: 0.1, seed: 9,
        monitorsLikelihood: false),
      typo: #"{"gibsSteps": 2}"#, suggestion: "gibbsSteps")
    #expect(message.hasPrefix("config of layer type 'plexus.rbm_model': unknown key 'gibsSteps'"))
  }

  @Test func numbersFromCallersAreChecked() throws {
    #expect(throws: PlexusError.self) { try RBM(visible: 0, hidden: 3) }
    #expect(throws: PlexusError.self) { try RBM(visible: 3, hidden: 0) }
    #expect(throws: PlexusError.self) { try RBM(visible: 3, hidden: 2, gibbsSteps: 0) }
    #expect(throws: PlexusError.self) { try RBM(visible: 3, hidden: 2, sparsityTarget: 1) }
    #expect(throws: PlexusError.self) { try RBM(visible: 3, hidden: 2, sparsityCost: -1) }
    let rbm = try RBM(visible: 3, hidden: 2)
    #expect(throws: PlexusError.self) { try rbm.sample(chains: 0, gibbsSteps: 1, seed: 0) }
    #expect(throws: PlexusError.self) { try rbm.sample(chains: 2, gibbsSteps: 0, seed: 0) }
    let wide = try RBM(visible: 1 << 16, hidden: 1)
    #expect { try wide.sample(chains: 1 << 14, gibbsSteps: 1, seed: 0) } throws: {
      "\($0)".contains("more than the 268435456")
    }
  }

  /// A tiny RBM with weights large enough to make the distribution interesting.
  static func tinyRBM(visibleUnits: RBMVisibleUnits = .bernoulli, persistent: Bool = false)
    throws -> RBM
  {
    let rbm = try RBM(
      visible: 4, hidden: 3, visibleUnits: visibleUnits, persistent: persistent, seed: 1)
    var generator = SeededGenerator(seed: 42)
    try rbm.layer.weights.assign(Tensor.normal([4, 3], standardDeviation: 0.8, using: &generator))
    try rbm.layer.visibleBias.assign(Tensor.normal([4], standardDeviation: 0.5, using: &generator))
    try rbm.layer.hiddenBias.assign(Tensor.normal([3], standardDeviation: 0.5, using: &generator))
    return rbm
  }

  static let tinyData = try! Tensor(
    shape: [4, 4], scalars: [1, 0, 1, 0, 1, 1, 0, 0, 0, 0, 1, 1, 1, 0, 1, 1])

  @Test(arguments: [RBMVisibleUnits.bernoulli, .gaussian])
  func freeEnergyGradientMatchesFiniteDifferences(visibleUnits: RBMVisibleUnits) throws {
    let rbm = try Self.tinyRBM(visibleUnits: visibleUnits)
    let data =
      visibleUnits == .bernoulli
      ? Self.tinyData
      : try Tensor(shape: [2, 4], scalars: [0.3, -1.2, 2, 0.5, -0.7, 0.1, 0.9, -2])
    let analytic = try rbm.freeEnergyGradient(data)
    func meanEnergy() throws -> Double {
      let energies = try rbm.freeEnergy(data)
      return energies.map(Double.init).reduce(0, +) / Double(energies.count)
    }
    let pairs: [(Parameter, Tensor)] = [
      (rbm.layer.weights, analytic.weights), (rbm.layer.visibleBias, analytic.visibleBias),
      (rbm.layer.hiddenBias, analytic.hiddenBias),
    ]
    let epsilon: Float = 1e-2
    for (parameter, gradient) in pairs {
      for index in 0..<parameter.count {
        let original = parameter.value.scalars
        var plus = original
        plus[index] += epsilon
        try parameter.assign(Tensor(shape: parameter.value.shape, scalars: plus))
        let up = try meanEnergy()
        var minus = original
        minus[index] -= epsilon
        try parameter.assign(Tensor(shape: parameter.value.shape, scalars: minus))
        let down = try meanEnergy()
        try parameter.assign(Tensor(shape: parameter.value.shape, scalars: original))
        let numeric = (up - down) / Double(2 * epsilon)
        let found = Double(gradient.scalars[index])
        #expect(
          abs(numeric - found) < 2e-3 + 1e-2 * abs(numeric),
          "\(parameter.name)[\(index)]: analytic \(found), numeric \(numeric)")
      }
    }
  }

  /// The exact gradient of the mean negative log-likelihood of `data`, by enumerating all
  /// 2^4 visible and 2^3 hidden states: `E_data[dF/dθ] - E_model[dF/dθ]`.
  static func exactGradient(_ rbm: RBM, data: Tensor) throws -> RBMGradient {
    let w = rbm.layer.weights.value.scalars
    let b = rbm.layer.visibleBias.value.scalars
    let c = rbm.layer.hiddenBias.value.scalars
    var weightMoment = [Double](repeating: 0, count: 12)
    var visibleMoment = [Double](repeating: 0, count: 4)
    var hiddenMoment = [Double](repeating: 0, count: 3)
    var partition: Double = 0
    for vBits in 0..<16 {
      let v = (0..<4).map { Double((vBits >> $0) & 1) }
      for hBits in 0..<8 {
        let h = (0..<3).map { Double((hBits >> $0) & 1) }
        var energy: Double = 0
        for i in 0..<4 { energy += Double(b[i]) * v[i] }
        for j in 0..<3 { energy += Double(c[j]) * h[j] }
        for i in 0..<4 { for j in 0..<3 { energy += v[i] * Double(w[i * 3 + j]) * h[j] } }
        let weight = exp(energy)
        partition += weight
        for i in 0..<4 {
          visibleMoment[i] += weight * v[i]
          for j in 0..<3 { weightMoment[i * 3 + j] += weight * v[i] * h[j] }
        }
        for j in 0..<3 { hiddenMoment[j] += weight * h[j] }
      }
    }
    var gradient = try rbm.freeEnergyGradient(data)
    // dF/dW = -v h^T and so on, so -E_model[dF/dθ] adds the model's moments.
    func add(_ moments: [Double], to tensor: inout Tensor) {
      tensor.withUnsafeMutableBufferPointer { buffer in
        for index in buffer.indices { buffer[index] += Float(moments[index] / partition) }
      }
    }
    add(weightMoment, to: &gradient.weights)
    add(visibleMoment, to: &gradient.visibleBias)
    add(hiddenMoment, to: &gradient.hiddenBias)
    return gradient
  }

  @Test func longChainContrastiveDivergenceMatchesTheExactLikelihoodGradient() throws {
    let rbm = try Self.tinyRBM()
    let exact = try Self.exactGradient(rbm, data: Self.tinyData)
    // Many chains from the data, run long enough to forget it.
    let copies = 4000
    let replicated = try Tensor(
      shape: [4 * copies, 4],
      scalars: Array((0..<copies).map { _ in Self.tinyData.scalars }.joined()))
    let estimate = try rbm.contrastiveDivergenceGradient(replicated, gibbsSteps: 50, seed: 3)
    let oneStep = try rbm.contrastiveDivergenceGradient(replicated, gibbsSteps: 1, seed: 3)
    var largest: Float = 0
    var oneStepLargest: Float = 0
    for (found, (wanted, short)) in zip(
      estimate.weights.scalars + estimate.visibleBias.scalars + estimate.hiddenBias.scalars,
      zip(
        exact.weights.scalars + exact.visibleBias.scalars + exact.hiddenBias.scalars,
        oneStep.weights.scalars + oneStep.visibleBias.scalars + oneStep.hiddenBias.scalars))
    {
      largest = max(largest, abs(found - wanted))
      oneStepLargest = max(oneStepLargest, abs(short - wanted))
    }
    #expect(largest < 0.02, "CD-50 differs from the exact gradient by up to \(largest)")
    // CD-1 is biased here: the long chains are what makes the estimate match.
    #expect(oneStepLargest > largest, "CD-1 \(oneStepLargest) vs CD-50 \(largest)")
  }

  @Test func pseudoLikelihoodMatchesTheExactConditionals() throws {
    let rbm = try Self.tinyRBM()
    let w = rbm.layer.weights.value.scalars
    let b = rbm.layer.visibleBias.value.scalars
    let c = rbm.layer.hiddenBias.value.scalars
    // The unnormalized marginal of a visible state, summing the joint over all hidden states.
    func marginal(_ v: [Double]) -> Double {
      var total: Double = 0
      for hBits in 0..<8 {
        let h = (0..<3).map { Double((hBits >> $0) & 1) }
        var energy: Double = 0
        for i in 0..<4 { energy += Double(b[i]) * v[i] }
        for j in 0..<3 { energy += Double(c[j]) * h[j] }
        for i in 0..<4 { for j in 0..<3 { energy += v[i] * Double(w[i * 3 + j]) * h[j] } }
        total += exp(energy)
      }
      return total
    }
    let rows = Self.tinyData.scalars.map(Double.init)
    var exact: Double = 0
    for sample in 0..<4 {
      let v = Array(rows[(sample * 4)..<(sample * 4 + 4)])
      for i in 0..<4 {
        var flipped = v
        flipped[i] = 1 - flipped[i]
        exact += log(marginal(v) / (marginal(v) + marginal(flipped)))
      }
    }
    exact /= 4
    let copies = 2000
    let replicated = try Tensor(
      shape: [4 * copies, 4],
      scalars: Array((0..<copies).map { _ in Self.tinyData.scalars }.joined()))
    let values = try rbm.pseudoLikelihood(replicated, seed: 4)
    let estimate = values.map(Double.init).reduce(0, +) / Double(values.count)
    #expect(abs(estimate - exact) < 0.03 * abs(exact), "estimate \(estimate), exact \(exact)")
    let gaussian = try Self.tinyRBM(visibleUnits: .gaussian)
    #expect(throws: PlexusError.self) { try gaussian.pseudoLikelihood(Self.tinyData, seed: 0) }
  }

  @Test func persistentChainsAreKeptAndSeeded() throws {
    func train() throws -> [Float] {
      let rbm = try Self.tinyRBM(persistent: true)
      try rbm.fit(
        Self.tinyData, optimizer: SGD(learningRate: 0.1),
        options: TrainingOptions(epochs: 3, batchSize: 2, seed: 2))
      return rbm.layer.weights.value.scalars
    }
    let first = try train()
    #expect(first == (try train()))
    let cd = try Self.tinyRBM(persistent: false)
    try cd.fit(
      Self.tinyData, optimizer: SGD(learningRate: 0.1),
      options: TrainingOptions(epochs: 3, batchSize: 2, seed: 2))
    #expect(cd.layer.weights.value.scalars != first)
  }

  @Test func fitLogsTheMonitoringValuesAndSamplingIsSeeded() throws {
    let rbm = try RBM(visible: 4, hidden: 3, gibbsSteps: 2, sparsityTarget: 0.1, sparsityCost: 0.5)
    let history = try rbm.fit(
      Self.tinyData, optimizer: SGD(learningRate: 0.1, momentum: 0.5),
      options: TrainingOptions(epochs: 4, batchSize: 2, seed: 1, validationSplit: 0.5))
    #expect(history["reconstruction_error"]?.count == 4)
    #expect(history["free_energy"]?.count == 4)
    #expect(history["pseudo_likelihood"]?.count == 4)
    #expect(history["val_pseudo_likelihood"]?.count == 4)
    #expect(history["val_reconstruction_error"]?.count == 4)
    #expect(history["loss"] == history["reconstruction_error"])
    // Without the likelihood figures a step logs the reconstruction error only, and trains
    // exactly as before.
    let quiet = try RBM(
      config: RBM.Config(
        visible: 4, hidden: 3, gibbsSteps: 2, sparsityTarget: 0.1, sparsityCost: 0.5,
        monitorsLikelihood: false))
    let quietHistory = try quiet.fit(
      Self.tinyData, optimizer: SGD(learningRate: 0.1, momentum: 0.5),
      options: TrainingOptions(epochs: 4, batchSize: 2, seed: 1, validationSplit: 0.5))
    #expect(quietHistory["reconstruction_error"] == history["reconstruction_error"])
    #expect(quietHistory["free_energy"] == nil && quietHistory["pseudo_likelihood"] == nil)
    #expect(quietHistory["val_pseudo_likelihood"] == history["val_pseudo_likelihood"])
    #expect(quiet.layer.weights.value == rbm.layer.weights.value)
    let fromData = try rbm.sample(from: Self.tinyData, gibbsSteps: 3, seed: 7)
    #expect(fromData.shape == [4, 4])
    #expect(
      fromData.scalars == (try rbm.sample(from: Self.tinyData, gibbsSteps: 3, seed: 7)).scalars)
    let fromNoise = try rbm.sample(chains: 6, gibbsSteps: 3, seed: 7)
    #expect(fromNoise.shape == [6, 4])
    #expect(fromNoise.scalars.allSatisfy { $0 >= 0 && $0 <= 1 })
  }

  @Test func badInputIsAClearError() throws {
    let rbm = try RBM(visible: 4, hidden: 3)
    let outside = try Tensor(shape: [1, 4], scalars: [0, 2, 0, 1])
    #expect { try rbm.transform(outside) } throws: { "\($0)".contains("[0, 1]") }
    #expect { try rbm.fit(outside, optimizer: SGD()) } throws: { "\($0)".contains("[0, 1]") }
    let wrongWidth = Tensor.zeros([2, 5])
    #expect { try rbm.transform(wrongWidth) } throws: { "\($0)".contains("[N, 4]") }
    #expect(throws: PlexusError.self) { try rbm.fit(wrongWidth, optimizer: SGD()) }
    #expect(throws: PlexusError.self) { try rbm.sample(from: wrongWidth, gibbsSteps: 1, seed: 0) }
  }

  @Test func saveAndLoadRoundTripBitIdentically() throws {
    let rbm = try RBM(visible: 4, hidden: 3, gibbsSteps: 3, persistent: true, seed: 8)
    try rbm.fit(
      Self.tinyData, optimizer: SGD(learningRate: 0.2), options: TrainingOptions(epochs: 2))
    let url = FileManager.default.temporaryDirectory.appendingPathComponent(
      "rbm-\(UUID().uuidString).plexus")
    defer { try? FileManager.default.removeItem(at: url) }
    try rbm.save(to: url)
    let loaded = try #require(try loadModel(from: url, registry: dbnRegistry()) as? RBM)
    #expect(loaded.config == rbm.config)
    #expect(
      loaded.namedParameters.map(\.path) == ["rbm.weights", "rbm.visible_bias", "rbm.hidden_bias"])
    for (a, b) in zip(rbm.namedParameters, loaded.namedParameters) {
      #expect(a.parameter.value.scalars == b.parameter.value.scalars, "\(a.path)")
    }
    #expect(
      (try loaded.transform(Self.tinyData)).scalars == (try rbm.transform(Self.tinyData)).scalars)
  }
}
