import PlexusCore
import Synchronization

/// The gradient of an RBM objective with respect to its three parameters.
public struct RBMGradient: Sendable {
  /// With respect to the weights, `[visible, hidden]`.
  public var weights: Tensor
  /// With respect to the visible biases, `[visible]`.
  public var visibleBias: Tensor
  /// With respect to the hidden biases, `[hidden]`.
  public var hiddenBias: Tensor

  /// Creates a gradient.
  public init(weights: Tensor, visibleBias: Tensor, hiddenBias: Tensor) {
    self.weights = weights
    self.visibleBias = visibleBias
    self.hiddenBias = hiddenBias
  }
}

/// A restricted Boltzmann machine trained by contrastive divergence (CD-k) or persistent
/// contrastive divergence (PCD), as a model: `fit` gives it batching, shuffling, callbacks,
/// progress and history, and its own `trainStep` replaces backpropagation.
///
/// Its graph maps the visible units to the hidden probabilities through one ``RBMLayer``
/// (named `rbm`), so `predict` and ``transform(_:)`` give features, and a saved model keeps the
/// weights and both biases. Registered as `plexus.rbm_model`.
///
/// ## Training
/// Each step estimates the gradient of the negative log-likelihood,
/// `E_data[dF/dθ] - E_model[dF/dθ]` with the free energy `F`: the data term from the batch and
/// its hidden probabilities, the model term from `gibbsSteps` steps of block Gibbs sampling —
/// started at the batch (CD-k) or continuing persistent chains kept in the model (PCD; the
/// chains start at the first batch trained on, and their number is that batch's size). The
/// model term uses the sampled visible states and their hidden probabilities. With a
/// `sparsityTarget` `t` the hidden biases' gradient gets `sparsityCost * (q - t)`, `q` the
/// batch's mean hidden probability of each unit.
///
/// The estimate is written into the parameters' gradients and the optimizer passed to `fit`
/// applies it, so the learning rate, its schedule, momentum and weight decay are the
/// optimizer's: `SGD(learningRate: 0.05, momentum: 0.5)` is the classic rule
/// `Δθ = momentum · Δθ - rate · gradient`, and any other optimizer (Adam) works too. Gradient
/// clipping from the training options applies.
///
/// The step logs `loss` and `reconstruction_error` (the mean squared difference between the
/// batch and its mean-field reconstruction `E[v | h = p(h | v)]`, per visible unit) and
/// `free_energy` (the batch's mean free energy) and, for Bernoulli units,
/// `pseudo_likelihood` (see ``pseudoLikelihood(_:seed:)``); evaluation reports the same. With
/// `monitorsLikelihood` off the step logs the reconstruction error only, which halves the time
/// of a CD-1 step on a small RBM and leaves the training itself unchanged.
///
/// Gibbs sampling is seeded by `seed`: training runs repeat exactly.
public final class RBM: SingleGraphModel, TrainingStateHolder {
  /// The hyperparameters. In JSON `visible` and `hidden` are required.
  public struct Config: DefaultedConfiguration {
    /// The number of visible units.
    public var visible: Int
    /// The number of hidden units.
    public var hidden: Int
    /// The kind of the visible units.
    public var visibleUnits: RBMVisibleUnits
    /// The Gibbs steps of the negative phase (`k` of CD-k).
    public var gibbsSteps: Int
    /// Whether the negative phase continues persistent chains (PCD) rather than starting at
    /// the batch (CD-k).
    public var persistent: Bool
    /// The target mean activation of each hidden unit (`nil`: no sparsity term).
    public var sparsityTarget: Float?
    /// The weight of the sparsity term.
    public var sparsityCost: Float
    /// The standard deviation of the initial weights.
    public var weightStandardDeviation: Float
    /// The seed of the initial weights and of Gibbs sampling during training.
    public var seed: UInt64
    /// Whether each training step also logs `free_energy` and `pseudo_likelihood`. They cost
    /// two softplus passes over the batch's hidden units, about as much as the rest of a CD-1
    /// step of a small RBM; without them a step logs `reconstruction_error` only (evaluation
    /// always reports all three).
    public var monitorsLikelihood: Bool

    /// Creates a config.
    public init(
      visible: Int, hidden: Int, visibleUnits: RBMVisibleUnits = .bernoulli, gibbsSteps: Int = 1,
      persistent: Bool = false, sparsityTarget: Float? = nil, sparsityCost: Float = 0,
      weightStandardDeviation: Float = 0.01, seed: UInt64 = 0, monitorsLikelihood: Bool = true
    ) {
      self.visible = visible
      self.hidden = hidden
      self.visibleUnits = visibleUnits
      self.gibbsSteps = gibbsSteps
      self.persistent = persistent
      self.sparsityTarget = sparsityTarget
      self.sparsityCost = sparsityCost
      self.weightStandardDeviation = weightStandardDeviation
      self.seed = seed
      self.monitorsLikelihood = monitorsLikelihood
    }

    public static var defaults: Config { Config(visible: 1, hidden: 1) }
    public static var fields: [ConfigField<Config>] {
      [
        .required("visible", \.visible), .required("hidden", \.hidden),
        .init("visibleUnits", \.visibleUnits), .init("gibbsSteps", \.gibbsSteps),
        .init("persistent", \.persistent), .init("sparsityTarget", \.sparsityTarget),
        .init("sparsityCost", \.sparsityCost),
        .init("weightStandardDeviation", \.weightStandardDeviation), .init("seed", \.seed),
        .init("monitorsLikelihood", \.monitorsLikelihood),
      ]
    }
  }

  /// The most Gibbs steps a config or a sampling call may ask for.
  public static let maximumGibbsSteps = 100_000

  /// The most values (chains times visible units) one call of `sample(chains:...)` may
  /// allocate (2^28).
  public static let maximumSampleValues = 1 << 28

  public static let typeName = "plexus.rbm_model"
  public let state = LayerState()
  public let config: Config
  /// The layer holding the RBM's parameters.
  public let layer: RBMLayer
  /// The model's graph.
  public let graph: Graph

  private struct SamplerState: Sendable {
    var generator: SeededGenerator
    /// Draws the units the pseudo-likelihood flips (apart, so monitoring leaves the Gibbs
    /// chains' draws unchanged).
    var monitor: SeededGenerator
    var chains: Tensor?
  }
  private let sampler: Mutex<SamplerState>

  /// Creates an RBM and draws its initial weights from `config.seed`.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` for a size, step count or sparsity setting
  ///   out of range.
  public init(config: Config) throws {
    guard config.visible > 0, config.visible <= ParameterAllocation.maximumSampleElements else {
      throw PlexusError.invalidConfiguration(
        "rbm visible must be in 1...\(ParameterAllocation.maximumSampleElements), got \(config.visible)"
      )
    }
    guard (1...Self.maximumGibbsSteps).contains(config.gibbsSteps) else {
      throw PlexusError.invalidConfiguration(
        "rbm gibbsSteps must be in 1...\(Self.maximumGibbsSteps), got \(config.gibbsSteps)")
    }
    if let target = config.sparsityTarget, !(target > 0 && target < 1) {
      throw PlexusError.invalidConfiguration(
        "rbm sparsityTarget must lie strictly between 0 and 1, got \(target)")
    }
    guard config.sparsityCost.isFinite, config.sparsityCost >= 0 else {
      throw PlexusError.invalidConfiguration(
        "rbm sparsityCost must be finite and non-negative, got \(config.sparsityCost)")
    }
    self.config = config
    layer = try RBMLayer(
      hiddenUnits: config.hidden, visibleUnits: config.visibleUnits,
      weightStandardDeviation: config.weightStandardDeviation, name: "rbm")
    let input = try Input(shape: [config.visible], name: "visible")
    graph = try Graph(inputs: [input], outputs: [try layer(input)], outputNames: ["hidden"])
    var generator = SeededGenerator(seed: config.seed)
    try graph.initialize(using: &generator)
    sampler = Mutex(
      SamplerState(
        generator: SeededGenerator(seed: config.seed ^ 0x5DEE_CE66D),
        monitor: SeededGenerator(seed: config.seed ^ 0x9E37_79B9), chains: nil))
    state.builtShapes = (inputs: [[config.visible]], outputs: [[config.hidden]])
  }

  /// Creates an RBM.
  ///
  /// - Throws: as `init(config:)`.
  public convenience init(
    visible: Int, hidden: Int, visibleUnits: RBMVisibleUnits = .bernoulli, gibbsSteps: Int = 1,
    persistent: Bool = false, sparsityTarget: Float? = nil, sparsityCost: Float = 0,
    seed: UInt64 = 0, name: String = ""
  ) throws {
    try self.init(
      config: Config(
        visible: visible, hidden: hidden, visibleUnits: visibleUnits, gibbsSteps: gibbsSteps,
        persistent: persistent, sparsityTarget: sparsityTarget, sparsityCost: sparsityCost,
        seed: seed))
    self.name = name
  }

  /// `true`: contrastive divergence needs no targets.
  public var learnsWithoutTargets: Bool { true }

  /// Refuses visible values outside `[0, 1]` (Bernoulli units), naming the sample.
  public func validateData(inputs: [Tensor], role: String) throws {
    guard let visible = inputs.first else { return }
    do {
      try layer.validateVisible(visible)
    } catch PlexusError.invalidData(let message) {
      throw PlexusError.invalidData("\(role) data: \(message)")
    }
  }

  public func build(for inputShapes: [SymbolicShape]) throws -> [SymbolicShape] {
    guard inputShapes.count == 1, ShapeCheck.accepts([config.visible], inputShapes[0]) else {
      throw PlexusError.shapeMismatch(
        layer: name, expected: "[\(config.visible)] (one value per visible unit)",
        found: inputShapes.first.map(ShapeCheck.flatten) ?? [])
    }
    return [[config.hidden]]
  }

  // MARK: Inference

  /// The hidden probabilities `p(h = 1 | v)` of each sample, `[N, hidden]`.
  ///
  /// - Throws: `PlexusError.shapeMismatch` for a batch that is not `[N, visible]`,
  ///   `PlexusError.invalidData` for values outside `[0, 1]` (Bernoulli units) or not finite.
  public func transform(_ visible: Tensor) throws -> Tensor {
    try layer.validateVisible(visible)
    return try predict(visible)
  }

  /// The free energy `F(v)` of each sample: `-b·v - Σ_j softplus(c_j + (vW)_j)` for Bernoulli
  /// units, `|v - b|^2 / 2 - Σ_j softplus(c_j + (vW)_j)` for Gaussian ones; `p(v) ∝ e^-F(v)`.
  ///
  /// - Throws: as `transform(_:)`.
  public func freeEnergy(_ visible: Tensor) throws -> [Float] {
    try layer.validateVisible(visible)
    return try freeEnergyUnchecked(visible)
  }

  private func freeEnergyUnchecked(_ visible: Tensor) throws -> [Float] {
    freeEnergies(
      visible,
      activations: try RBMMath.hiddenActivations(
        visible, weights: layer.weights.value, bias: layer.hiddenBias.value))
  }

  /// The free energies given the visible states and their hidden activations `v W + c`.
  private func freeEnergies(_ visible: Tensor, activations: Tensor) -> [Float] {
    freeEnergies(visible, softplusSums: RBMMath.softplusRowSums(activations))
  }

  /// The free energies given the visible states and `Σ_j softplus(c_j + (vW)_j)` of each.
  private func freeEnergies(_ visible: Tensor, softplusSums softplus: [Float]) -> [Float] {
    let visibleCount = config.visible
    let gaussian = config.visibleUnits == .gaussian
    return layer.visibleBias.value.withUnsafeBufferPointer { bias in
      visible.withUnsafeBufferPointer { v in
        softplus.enumerated().map { sample, softplusSum in
          var energy: Float = 0
          let row = sample * visibleCount
          for i in 0..<visibleCount {
            let value = v[row + i]
            energy += gaussian ? 0.5 * (value - bias[i]) * (value - bias[i]) : -bias[i] * value
          }
          return energy - softplusSum
        }
      }
    }
  }

  /// The mean over the batch of the free energy's gradient with respect to the parameters.
  ///
  /// - Throws: as `transform(_:)`.
  public func freeEnergyGradient(_ visible: Tensor) throws -> RBMGradient {
    try layer.validateVisible(visible)
    let hidden = try RBMMath.hiddenProbabilities(
      visible, weights: layer.weights.value, bias: layer.hiddenBias.value)
    var gradient = RBMGradient(
      weights: .zeros([config.visible, config.hidden]), visibleBias: .zeros([config.visible]),
      hiddenBias: .zeros([config.hidden]))
    try accumulateFreeEnergyGradient(
      visible: visible, hidden: hidden, scale: 1, into: &gradient)
    return gradient
  }

  /// Adds `scale` times the batch mean of `dF/dθ` given the visible states and their hidden
  /// probabilities.
  private func accumulateFreeEnergyGradient(
    visible: Tensor, hidden: Tensor, scale: Float, into gradient: inout RBMGradient
  ) throws {
    let count = visible.shape[0]
    let factor = scale / Float(count)
    // dF/dW = -v^T p(h|v); dF/dc = -p(h|v); dF/db = -v (Bernoulli) or b - v (Gaussian).
    try Tensor.matmul(
      visible, hidden, transposeA: true, into: &gradient.weights, alpha: -factor, beta: 1)
    let visibleSum = try visible.sumOverBatch().scalars
    let hiddenSum = try hidden.sumOverBatch().scalars
    let gaussian = config.visibleUnits == .gaussian
    let bias = layer.visibleBias.value.scalars
    gradient.visibleBias.withUnsafeMutableBufferPointer { g in
      for i in g.indices {
        g[i] += -factor * visibleSum[i] + (gaussian ? scale * bias[i] : 0)
      }
    }
    gradient.hiddenBias.withUnsafeMutableBufferPointer { g in
      for j in g.indices { g[j] -= factor * hiddenSum[j] }
    }
  }

  // MARK: Sampling

  private func sampleBernoulli(_ probabilities: Tensor, using generator: inout SeededGenerator)
    -> Tensor
  {
    var result = probabilities
    result.withUnsafeMutableBufferPointer { buffer in
      for index in buffer.indices {
        buffer[index] = generator.nextUnitFloat() < buffer[index] ? 1 : 0
      }
    }
    return result
  }

  /// `E[v | h]`: `sigmoid(h W^T + b)` for Bernoulli units, `h W^T + b` for Gaussian ones.
  private func visibleMean(_ hidden: Tensor) throws -> Tensor {
    var result = try RBMMath.visibleActivations(
      hidden, weights: layer.weights.value, bias: layer.visibleBias.value)
    if config.visibleUnits == .bernoulli { RBMMath.applySigmoid(&result) }
    return result
  }

  /// The visible means `E[v | h]` of hidden states or probabilities `[N, hidden]`: the
  /// visible probabilities for Bernoulli units, the means for Gaussian ones.
  ///
  /// - Throws: `PlexusError.shapeMismatch` for a batch that is not `[N, hidden]`,
  ///   `PlexusError.invalidData` for values outside `[0, 1]`.
  public func visibleMean(givenHidden hidden: Tensor) throws -> Tensor {
    guard hidden.rank == 2, hidden.shape[1] == config.hidden else {
      throw PlexusError.shapeMismatch(
        layer: name, expected: "[N, \(config.hidden)] (one value per hidden unit)",
        found: hidden.shape)
    }
    if let bad = hidden.withUnsafeBufferPointer({ $0.firstIndex { !($0 >= 0 && $0 <= 1) } }) {
      throw PlexusError.invalidData(
        "rbm '\(name)': hidden value \(bad % config.hidden) of sample \(bad / config.hidden) "
          + "is outside [0, 1]")
    }
    return try visibleMean(hidden)
  }

  private func sampleVisible(_ mean: Tensor, using generator: inout SeededGenerator) -> Tensor {
    guard config.visibleUnits == .gaussian else { return sampleBernoulli(mean, using: &generator) }
    var result = mean
    result.withUnsafeMutableBufferPointer { buffer in
      for index in buffer.indices { buffer[index] += generator.nextNormal() }
    }
    return result
  }

  /// Runs `steps` steps of block Gibbs sampling from visible states whose hidden
  /// probabilities are known; returns the last visible sample, its hidden probabilities and
  /// the last visible mean.
  private func gibbs(
    from visible: Tensor, hiddenProbabilities: Tensor, steps: Int,
    using generator: inout SeededGenerator
  ) throws -> (visible: Tensor, hidden: Tensor, visibleMean: Tensor) {
    var hidden = hiddenProbabilities
    var current = visible
    var mean = visible
    for _ in 0..<steps {
      mean = try visibleMean(sampleBernoulli(hidden, using: &generator))
      current = sampleVisible(mean, using: &generator)
      hidden = try RBMMath.hiddenProbabilities(
        current, weights: layer.weights.value, bias: layer.hiddenBias.value)
    }
    return (current, hidden, mean)
  }

  /// Runs Gibbs chains from the given visible states and returns the visible means `E[v | h]`
  /// after the last step (probabilities for Bernoulli units).
  ///
  /// - Throws: `PlexusError.invalidArgument` for a step count outside
  ///   `1...maximumGibbsSteps`; as `transform(_:)` for the start states.
  public func sample(from start: Tensor, gibbsSteps: Int, seed: UInt64) throws -> Tensor {
    try Self.checkSteps(gibbsSteps)
    try layer.validateVisible(start)
    var generator = SeededGenerator(seed: seed)
    let hidden = try RBMMath.hiddenProbabilities(
      start, weights: layer.weights.value, bias: layer.hiddenBias.value)
    return try gibbs(from: start, hiddenProbabilities: hidden, steps: gibbsSteps, using: &generator)
      .visibleMean
  }

  /// Runs `chains` Gibbs chains from noise (uniform Bernoulli states, or standard normal
  /// values for Gaussian units) and returns the visible means after the last step.
  ///
  /// - Throws: `PlexusError.invalidArgument` for a chain count outside `1...65536`, more than
  ///   `maximumSampleValues` values in all, or a step count outside `1...maximumGibbsSteps`.
  public func sample(chains: Int, gibbsSteps: Int, seed: UInt64) throws -> Tensor {
    guard (1...65_536).contains(chains) else {
      throw PlexusError.invalidArgument("chains must be in 1...65536, got \(chains)")
    }
    try Self.checkSteps(gibbsSteps)
    let values = try Tensor.elementCount(of: [chains, config.visible])
    guard values <= Self.maximumSampleValues else {
      throw PlexusError.invalidArgument(
        "\(chains) chains of \(config.visible) visible units would hold \(values) values, more "
          + "than the \(Self.maximumSampleValues) one call may sample")
    }
    var generator = SeededGenerator(seed: seed)
    var noise = Tensor.zeros([chains, config.visible])
    let gaussian = config.visibleUnits == .gaussian
    noise.withUnsafeMutableBufferPointer { buffer in
      for index in buffer.indices {
        buffer[index] =
          gaussian ? generator.nextNormal() : (generator.nextUnitFloat() < 0.5 ? 1 : 0)
      }
    }
    let hidden = try RBMMath.hiddenProbabilities(
      noise, weights: layer.weights.value, bias: layer.hiddenBias.value)
    return try gibbs(from: noise, hiddenProbabilities: hidden, steps: gibbsSteps, using: &generator)
      .visibleMean
  }

  private static func checkSteps(_ steps: Int) throws {
    guard (1...maximumGibbsSteps).contains(steps) else {
      throw PlexusError.invalidArgument(
        "gibbsSteps must be in 1...\(maximumGibbsSteps), got \(steps)")
    }
  }

  /// The Gibbs sampler's generator (`gibbs`), the pseudo-likelihood monitor's (`monitor`) and,
  /// once a PCD step ran, the persistent chains (`chains`, `[chains, visible]`): what the next
  /// training step continues, saved with the model so a resumed run draws what an
  /// uninterrupted one would.
  public var trainingState: TrainingState {
    sampler.withLock { sampler in
      TrainingState(
        streams: ["gibbs": sampler.generator, "monitor": sampler.monitor],
        tensors: sampler.chains.map { ["chains": $0] } ?? [:])
    }
  }

  /// Continues a saved sampler state (see ``trainingState``).
  ///
  /// - Throws: `PlexusError.invalidArgument` for an unknown key, a missing generator or chains
  ///   that are not `[n, visible]` with `n` in `1...65536`.
  public func restoreTrainingState(_ state: TrainingState) throws {
    let streamKeys: Set<String> = ["gibbs", "monitor"]
    if let key = state.streams.keys.sorted().first(where: { !streamKeys.contains($0) })
      ?? state.tensors.keys.sorted().first(where: { $0 != "chains" })
    {
      throw PlexusError.invalidArgument(
        "RBM '\(name)' keeps no training state '\(key)' (it keeps gibbs, monitor, chains)")
    }
    guard let gibbs = state.streams["gibbs"], let monitor = state.streams["monitor"] else {
      throw PlexusError.invalidArgument(
        "RBM '\(name)': the saved training state lacks the 'gibbs' or 'monitor' generator")
    }
    if let chains = state.tensors["chains"] {
      guard chains.shape.count == 2, chains.shape[1] == config.visible,
        (1...65_536).contains(chains.shape[0])
      else {
        throw PlexusError.invalidArgument(
          "RBM '\(name)': the saved persistent chains have shape \(chains.shape), expected "
            + "[n, \(config.visible)] with n in 1...65536")
      }
      guard chains.withUnsafeBufferPointer({ $0.allSatisfy(\.isFinite) }) else {
        throw PlexusError.invalidArgument(
          "RBM '\(name)': the saved persistent chains hold a non-finite value")
      }
    }
    sampler.withLock { sampler in
      sampler.generator = gibbs
      sampler.monitor = monitor
      sampler.chains = state.tensors["chains"]
    }
  }

  /// Forgets the persistent chains; the next PCD step starts new ones at its batch.
  public func resetPersistentChains() {
    sampler.withLock { $0.chains = nil }
  }

  // MARK: Training

  /// The CD-k estimate of the negative log-likelihood's gradient on `data`, with chains started
  /// at the data and a generator seeded by `seed` (the model and its persistent chains are not
  /// changed). The sparsity term is not included.
  ///
  /// - Throws: as `sample(from:gibbsSteps:seed:)`.
  public func contrastiveDivergenceGradient(_ data: Tensor, gibbsSteps: Int, seed: UInt64)
    throws -> RBMGradient
  {
    try Self.checkSteps(gibbsSteps)
    try layer.validateVisible(data)
    var generator = SeededGenerator(seed: seed)
    var chains: Tensor? = nil
    return try estimate(
      data, steps: gibbsSteps, persistent: false, chains: &chains, generator: &generator
    ).gradient
  }

  private func estimate(
    _ data: Tensor, steps: Int, persistent: Bool, chains: inout Tensor?,
    generator: inout SeededGenerator
  ) throws -> (gradient: RBMGradient, dataHidden: Tensor, dataActivations: Tensor) {
    let dataActivations = try RBMMath.hiddenActivations(
      data, weights: layer.weights.value, bias: layer.hiddenBias.value)
    var dataHidden = dataActivations
    RBMMath.applySigmoid(&dataHidden)
    let start = persistent ? (chains ?? data) : data
    let startHidden =
      persistent && chains != nil
      ? try RBMMath.hiddenProbabilities(
        start, weights: layer.weights.value, bias: layer.hiddenBias.value) : dataHidden
    let negative = try gibbs(
      from: start, hiddenProbabilities: startHidden, steps: steps, using: &generator)
    if persistent { chains = negative.visible }
    var gradient = RBMGradient(
      weights: .zeros([config.visible, config.hidden]), visibleBias: .zeros([config.visible]),
      hiddenBias: .zeros([config.hidden]))
    try accumulateFreeEnergyGradient(
      visible: data, hidden: dataHidden, scale: 1, into: &gradient)
    try accumulateFreeEnergyGradient(
      visible: negative.visible, hidden: negative.hidden, scale: -1, into: &gradient)
    return (gradient, dataHidden, dataActivations)
  }

  /// One CD-k or PCD update on the batch: the gradient estimate (plus the sparsity term) goes
  /// into the parameters' gradients and the optimizer applies it.
  ///
  /// - Throws: as `transform(_:)` for a bad batch; the optimizer's errors.
  public func trainStep(_ batch: TrainingBatch, context: TrainingStepContext) throws
    -> TrainingStepResult
  {
    guard batch.inputs.count == 1 else {
      throw PlexusError.invalidArgument("an RBM trains on one input, got \(batch.inputs.count)")
    }
    let data = batch.inputs[0]
    try layer.validateVisible(data)
    let (gradient, dataHidden, dataActivations, flips) = try sampler.withLock { sampler in
      let (gradient, dataHidden, dataActivations) = try estimate(
        data, steps: config.gibbsSteps, persistent: config.persistent, chains: &sampler.chains,
        generator: &sampler.generator)
      return (
        gradient, dataHidden, dataActivations,
        flippedUnits(count: data.shape[0], using: &sampler.monitor)
      )
    }
    var hiddenGradient = gradient.hiddenBias
    if let target = config.sparsityTarget, config.sparsityCost > 0 {
      let mean = try dataHidden.sumOverBatch().scalars
      let count = Float(data.shape[0])
      let cost = config.sparsityCost
      hiddenGradient.withUnsafeMutableBufferPointer { g in
        for j in g.indices { g[j] += cost * (mean[j] / count - target) }
      }
    }
    context.zeroGradients()
    layer.weights.gradient = gradient.weights
    layer.visibleBias.gradient = gradient.visibleBias
    layer.hiddenBias.gradient = hiddenGradient
    let logs: (reconstruction: Float, logs: [String: Float])
    if config.monitorsLikelihood {
      logs = try monitoring(
        data, hidden: dataHidden, activations: dataActivations, flippedUnits: flips)
    } else {
      let error = try squaredReconstructionError(data, hidden: dataHidden)
      logs = (error, ["reconstruction_error": error])
    }
    try context.applyGradients()
    return TrainingStepResult(loss: logs.reconstruction, outputs: [dataHidden], logs: logs.logs)
  }

  /// Reports `loss` and `reconstruction_error` (equal), `free_energy` and, for Bernoulli
  /// units, `pseudo_likelihood` on the batch.
  ///
  /// - Throws: as `transform(_:)`.
  public func testStep(_ batch: TrainingBatch, context: TrainingStepContext) throws
    -> TrainingStepResult
  {
    let data = batch.inputs[0]
    try layer.validateVisible(data)
    let (activations, hidden) = try hiddenLayer(data)
    var generator = SeededGenerator(seed: config.seed &+ UInt64(context.batch))
    let logs = try monitoring(
      data, hidden: hidden, activations: activations,
      flippedUnits: flippedUnits(count: data.shape[0], using: &generator))
    return TrainingStepResult(loss: logs.reconstruction, outputs: [hidden], logs: logs.logs)
  }

  /// The mean squared error of the mean-field reconstruction, per visible unit.
  ///
  /// - Throws: as `transform(_:)`.
  public func reconstructionError(_ visible: Tensor) throws -> Float {
    try layer.validateVisible(visible)
    let hidden = try RBMMath.hiddenProbabilities(
      visible, weights: layer.weights.value, bias: layer.hiddenBias.value)
    return try squaredReconstructionError(visible, hidden: hidden)
  }

  /// The stochastic pseudo-log-likelihood of each sample, as scikit-learn's `score_samples`:
  /// with one visible unit `i` drawn at random per sample (seeded by `seed`),
  /// `V · log sigmoid(F(ṽ) - F(v))`, where `ṽ` is the sample with unit `i` replaced by
  /// `1 - v_i`. For binary data its expectation over `i` is `Σ_i log p(v_i | v_-i)`. Training
  /// steps log its batch mean as `pseudo_likelihood` (Bernoulli units only).
  ///
  /// - Throws: `PlexusError.invalidArgument` for Gaussian visible units; as `transform(_:)`.
  public func pseudoLikelihood(_ visible: Tensor, seed: UInt64) throws -> [Float] {
    guard config.visibleUnits == .bernoulli else {
      throw PlexusError.invalidArgument(
        "the pseudo-likelihood is defined here for Bernoulli visible units only")
    }
    try layer.validateVisible(visible)
    var generator = SeededGenerator(seed: seed)
    let units = flippedUnits(count: visible.shape[0], using: &generator)
    let activations = try RBMMath.hiddenActivations(
      visible, weights: layer.weights.value, bias: layer.hiddenBias.value)
    return pseudoLikelihood(
      visible, activations: activations,
      softplusSums: RBMMath.softplusRowSums(activations), units: units)
  }

  private func flippedUnits(count: Int, using generator: inout SeededGenerator) -> [Int] {
    let visibleCount = UInt64(config.visible)
    return (0..<count).map { _ in Int(generator.next() % visibleCount) }
  }

  /// `v W + c` and its sigmoid.
  private func hiddenLayer(_ visible: Tensor) throws -> (activations: Tensor, hidden: Tensor) {
    let activations = try RBMMath.hiddenActivations(
      visible, weights: layer.weights.value, bias: layer.hiddenBias.value)
    var hidden = activations
    RBMMath.applySigmoid(&hidden)
    return (activations, hidden)
  }

  /// Flipping unit `i` of sample `v` changes its free energy by `-b_i δ` in the visible term
  /// (`δ = 1 - 2 v_i`) and moves its hidden activations by `δ W_i`, so each flipped energy
  /// costs one row update and one softplus sum rather than a matrix product.
  private func pseudoLikelihood(
    _ visible: Tensor, activations: Tensor, softplusSums: [Float], units: [Int]
  ) -> [Float] {
    let visibleCount = config.visible
    let hiddenCount = config.hidden
    var row = [Float](repeating: 0, count: hiddenCount)
    return layer.weights.value.withUnsafeBufferPointer { weights in
      layer.visibleBias.value.withUnsafeBufferPointer { bias in
        visible.withUnsafeBufferPointer { v in
          activations.withUnsafeBufferPointer { a in
            row.withUnsafeMutableBufferPointer { flipped in
              units.enumerated().map { sample, unit in
                let delta = 1 - 2 * v[sample * visibleCount + unit]
                let activationRow = sample * hiddenCount
                let weightRow = unit * hiddenCount
                for j in 0..<hiddenCount {
                  flipped[j] = a[activationRow + j] + delta * weights[weightRow + j]
                }
                let flippedSum = VectorMath.softplusSum(UnsafeBufferPointer(flipped))
                // F(ṽ) - F(v) = -b_i δ - (Σ softplus(ṽ) - Σ softplus(v)).
                let difference = -bias[unit] * delta - (flippedSum - softplusSums[sample])
                // log sigmoid(x) = -softplus(-x).
                return -Float(visibleCount) * RBMMath.softplus(-difference)
              }
            }
          }
        }
      }
    }
  }

  /// The mean squared difference between `data` and `E[v | h = hidden]`, per visible unit.
  private func squaredReconstructionError(_ data: Tensor, hidden: Tensor) throws -> Float {
    let reconstruction = try visibleMean(hidden)
    var squared: Float = 0
    data.withUnsafeBufferPointer { v in
      reconstruction.withUnsafeBufferPointer { r in
        squared = zip(v, r).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
      }
    }
    return squared / Float(max(data.count, 1))
  }

  private func monitoring(
    _ data: Tensor, hidden: Tensor, activations: Tensor, flippedUnits: [Int]?
  ) throws -> (reconstruction: Float, logs: [String: Float]) {
    let error = try squaredReconstructionError(data, hidden: hidden)
    let softplusSums = RBMMath.softplusRowSums(activations)
    let energies = freeEnergies(data, softplusSums: softplusSums)
    let meanEnergy = energies.reduce(0, +) / Float(max(energies.count, 1))
    var logs = ["reconstruction_error": error, "free_energy": meanEnergy]
    if let flippedUnits, config.visibleUnits == .bernoulli {
      let values = pseudoLikelihood(
        data, activations: activations, softplusSums: softplusSums, units: flippedUnits)
      logs["pseudo_likelihood"] = values.reduce(0, +) / Float(max(values.count, 1))
    }
    return (error, logs)
  }
}
