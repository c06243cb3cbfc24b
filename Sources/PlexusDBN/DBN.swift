import PlexusCore
import PlexusPerceptron

/// A deep belief network: a stack of RBMs pretrained greedily, layer by layer, then fine-tuned
/// by backpropagation as a feed-forward network, registered as `plexus.dbn`.
///
/// ```swift
/// let dbn = try DBN(sizes: [64, 100, 100], classes: 10, seed: 1)
/// try dbn.pretrain(x, optimizer: { SGD(learningRate: 0.02, momentum: 0.9) },
///                  options: TrainingOptions(epochs: 20, batchSize: 10))
/// try dbn.fit(x, labels, loss: CategoricalCrossEntropy(fromLogits: true),
///             optimizer: Adam(learningRate: 0.003), options: TrainingOptions(epochs: 30))
/// ```
///
/// The model's graph is the up-pass: the visible units, then each RBM (`rbm_1`, `rbm_2`, ...)
/// mapping its input to hidden probabilities `sigmoid(v W + c)` — exactly a `Dense` sigmoid
/// layer — then, with `classes`, a `Dense(classes)` head named `classifier` (linear logits by
/// default). So `fit` with a loss fine-tunes the whole stack and `predict` classifies.
/// ``pretrain(_:optimizer:options:layers:callbacks:layerCallbacks:)`` trains each RBM by contrastive divergence
/// first. A saved DBN keeps every RBM whole (weights, hidden and visible biases): a file
/// saved after pretraining is the pretraining state, which resumes or is shared, and a
/// fine-tuned one still generates (``generate(samples:gibbsSteps:seed:)``).
/// ``unrolled(classes:headActivation:seed:)`` copies the stack into plain `Dense` layers
/// instead, leaving the RBMs as they are.
public final class DBN: SingleGraphModel {
  /// The architecture. In JSON `sizes` is required.
  public struct Config: DefaultedConfiguration {
    /// The layer sizes, `[visible, hidden1, hidden2, ...]` (at least two).
    public var sizes: [Int]
    /// The kind of the bottom RBM's visible units (the others are Bernoulli: they see the
    /// probabilities of the layer below).
    public var visibleUnits: RBMVisibleUnits
    /// The Gibbs steps of each RBM's negative phase (`k` of CD-k).
    public var gibbsSteps: Int
    /// Whether the RBMs train by persistent contrastive divergence.
    public var persistent: Bool
    /// The RBMs' target mean hidden activation (`nil`: no sparsity term).
    public var sparsityTarget: Float?
    /// The weight of the sparsity term.
    public var sparsityCost: Float
    /// The standard deviation of the RBMs' initial weights.
    public var weightStandardDeviation: Float
    /// The number of classes of the classifier head (`nil`: no head; the output is the top
    /// hidden probabilities).
    public var classes: Int?
    /// The head's activation (linear logits by default, for a loss from logits).
    public var headActivation: ActivationFunction
    /// The seed: RBM `i` (from 0) is seeded by `seed + i`, the head by `seed`.
    public var seed: UInt64

    /// Creates a config.
    public init(
      sizes: [Int], visibleUnits: RBMVisibleUnits = .bernoulli, gibbsSteps: Int = 1,
      persistent: Bool = false, sparsityTarget: Float? = nil, sparsityCost: Float = 0,
      weightStandardDeviation: Float = 0.01, classes: Int? = nil,
      headActivation: ActivationFunction = .linear, seed: UInt64 = 0
    ) {
      self.sizes = sizes
      self.visibleUnits = visibleUnits
      self.gibbsSteps = gibbsSteps
      self.persistent = persistent
      self.sparsityTarget = sparsityTarget
      self.sparsityCost = sparsityCost
      self.weightStandardDeviation = weightStandardDeviation
      self.classes = classes
      self.headActivation = headActivation
      self.seed = seed
    }

    public static var defaults: Config { Config(sizes: []) }
    public static var fields: [ConfigField<Config>] {
      [
        .required("sizes", \.sizes), .init("visibleUnits", \.visibleUnits),
        .init("gibbsSteps", \.gibbsSteps), .init("persistent", \.persistent),
        .init("sparsityTarget", \.sparsityTarget), .init("sparsityCost", \.sparsityCost),
        .init("weightStandardDeviation", \.weightStandardDeviation),
        .init("classes", \.classes), .init("headActivation", \.headActivation),
        .init("seed", \.seed),
      ]
    }
  }

  /// The most RBMs a DBN may stack.
  public static let maximumDepth = 64
  /// The most classes of the head.
  public static let maximumClasses = 1 << 20

  public static let typeName = "plexus.dbn"
  public let state = LayerState()
  public let config: Config
  /// The RBMs, bottom (data) first; they are the hidden layers of the model's graph.
  public let rbms: [RBM]
  /// The classifier head, when `config.classes` is set.
  public let head: Dense?
  /// The model's graph.
  public let graph: Graph

  /// Creates a DBN and draws its initial weights from `config.seed`.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` for fewer than two sizes, more than
  ///   `maximumDepth` RBMs, a class count outside `1...maximumClasses`, or an RBM setting out
  ///   of range (as `RBM.init(config:)`).
  public init(config: Config) throws {
    guard config.sizes.count >= 2 else {
      throw PlexusError.invalidConfiguration(
        "a DBN needs at least two layer sizes (visible and hidden), got \(config.sizes)")
    }
    guard config.sizes.count - 1 <= Self.maximumDepth else {
      throw PlexusError.invalidConfiguration(
        "a DBN stacks at most \(Self.maximumDepth) RBMs, got \(config.sizes.count - 1)")
    }
    if let classes = config.classes, !(1...Self.maximumClasses).contains(classes) {
      throw PlexusError.invalidConfiguration(
        "dbn classes must be in 1...\(Self.maximumClasses), got \(classes)")
    }
    self.config = config
    rbms = try (0..<(config.sizes.count - 1)).map { index in
      let rbm = try RBM(
        config: RBM.Config(
          visible: config.sizes[index], hidden: config.sizes[index + 1],
          visibleUnits: index == 0 ? config.visibleUnits : .bernoulli,
          gibbsSteps: config.gibbsSteps, persistent: config.persistent,
          sparsityTarget: config.sparsityTarget, sparsityCost: config.sparsityCost,
          weightStandardDeviation: config.weightStandardDeviation,
          seed: config.seed &+ UInt64(index)))
      rbm.name = "rbm_\(index + 1)"
      return rbm
    }
    head = try config.classes.map {
      try Dense(units: $0, activation: config.headActivation, name: "classifier")
    }
    let input = try Input(shape: [config.sizes[0]], name: "visible")
    var output = input
    for rbm in rbms { output = try rbm(output) }
    if let head { output = try head(output) }
    graph = try Graph(
      inputs: [input], outputs: [output], outputNames: [head == nil ? "hidden" : "classes"])
    var generator = SeededGenerator(seed: config.seed)
    try graph.initialize(using: &generator)
    state.builtShapes = (
      inputs: [[config.sizes[0]]], outputs: [[config.classes ?? config.sizes.last!]]
    )
  }

  /// Creates a DBN of RBMs of the given layer sizes (`[visible, hidden1, hidden2, ...]`), with a
  /// classifier head of `classes` outputs when given. RBM `i` is seeded by `seed + i`.
  ///
  /// - Throws: as `init(config:)`.
  public convenience init(
    sizes: [Int], classes: Int? = nil, visibleUnits: RBMVisibleUnits = .bernoulli,
    gibbsSteps: Int = 1, persistent: Bool = false, seed: UInt64 = 0, name: String = ""
  ) throws {
    try self.init(
      config: Config(
        sizes: sizes, visibleUnits: visibleUnits, gibbsSteps: gibbsSteps, persistent: persistent,
        classes: classes, seed: seed))
    self.name = name
  }

  public func build(for inputShapes: [SymbolicShape]) throws -> [SymbolicShape] {
    guard inputShapes.count == 1, ShapeCheck.accepts([config.sizes[0]], inputShapes[0]) else {
      throw PlexusError.shapeMismatch(
        layer: name, expected: "[\(config.sizes[0])] (one value per visible unit)",
        found: inputShapes.first.map(ShapeCheck.flatten) ?? [])
    }
    return [[config.classes ?? config.sizes.last!]]
  }

  /// Refuses visible values the bottom RBM cannot take (outside `[0, 1]` for Bernoulli
  /// units), naming the sample.
  public func validateData(inputs: [Tensor], role: String) throws {
    try rbms[0].validateData(inputs: inputs, role: role)
  }

  /// Greedy layer-wise pretraining: each RBM is trained by `fit` (contrastive divergence) on
  /// the hidden probabilities of the one below (the first on `x`), with a fresh optimizer from
  /// `optimizer`. The head is not changed.
  ///
  /// - Parameters:
  ///   - x: the training data `[N, visible]`.
  ///   - optimizer: makes the optimizer of each RBM (a fresh one per layer).
  ///   - options: the training options of each RBM's run.
  ///   - layers: the RBMs to train, by index from 0 (default: all). The inputs of a later RBM
  ///     are computed through the earlier ones either way, so pretraining resumes at a layer.
  ///   - callbacks: passed to every RBM's `fit` (one training run per layer); a callback sees
  ///     which RBM trains through `context.model`.
  ///   - layerCallbacks: called before each RBM trains (with its index and the RBM) for
  ///     callbacks of that run alone, such as a progress display per layer.
  /// - Returns: each trained RBM's history, bottom first.
  /// - Throws: `PlexusError.invalidArgument` for a layer index out of range; the RBMs' `fit`
  ///   errors (bad data: shape, values outside `[0, 1]`).
  @discardableResult
  public func pretrain(
    _ x: Tensor, optimizer: () throws -> any Optimizer,
    options: TrainingOptions = TrainingOptions(), layers: Range<Int>? = nil,
    callbacks: [any TrainingCallback] = [],
    layerCallbacks: (Int, RBM) throws -> [any TrainingCallback] = { _, _ in [] }
  ) throws -> [History] {
    let selected = layers ?? 0..<rbms.count
    guard selected.lowerBound >= 0, selected.upperBound <= rbms.count else {
      throw PlexusError.invalidArgument(
        "pretraining layers \(selected) lie outside the DBN's RBMs 0..<\(rbms.count)")
    }
    try rbms[0].validateData(inputs: [x], role: "pretraining")
    var input = x
    var histories: [History] = []
    for (index, rbm) in rbms.enumerated() where index < selected.upperBound {
      if selected.contains(index) {
        histories.append(
          try rbm.fit(
            input, optimizer: try optimizer(), options: options,
            callbacks: callbacks + (try layerCallbacks(index, rbm))))
      }
      if index < selected.upperBound - 1 { input = try rbm.transform(input) }
    }
    return histories
  }

  /// The top hidden probabilities of `x` (the deterministic up-pass through the RBMs, without
  /// the head).
  ///
  /// - Throws: as `RBM.transform(_:)`.
  public func transform(_ x: Tensor) throws -> Tensor {
    var value = x
    for rbm in rbms { value = try rbm.transform(value) }
    return value
  }

  /// A feed-forward network initialized from the RBMs: one `Dense` sigmoid layer per RBM
  /// (kernel the RBM's weights, bias its hidden biases) and, when `classes` is given, a
  /// `Dense(classes)` head with the activation `headActivation` (linear logits by default),
  /// initialized from `seed`. Fine-tune it with `fit`; the DBN is not changed.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` for a non-positive class count.
  public func unrolled(
    classes: Int?, headActivation: ActivationFunction = .linear, seed: UInt64 = 0
  ) throws -> Sequential {
    let model = Sequential(
      try rbms.enumerated().map { index, rbm in
        try Dense(units: rbm.config.hidden, activation: .sigmoid, name: "dense_\(index + 1)")
      })
    if let classes {
      model.add(try Dense(units: classes, activation: headActivation, name: "classifier"))
    }
    try model.build(inputShape: [rbms[0].config.visible], seed: seed)
    for (layer, rbm) in zip(model.layers, rbms) {
      guard let dense = layer as? Dense, let bias = dense.bias else { continue }
      try dense.kernel.assign(rbm.layer.weights.value)
      try bias.assign(rbm.layer.hiddenBias.value)
    }
    return model
  }

  /// Generates samples: `gibbsSteps` of Gibbs sampling in the top RBM from noise, then a
  /// down-pass through the lower RBMs (each layer's visible means given the one above).
  /// Returns the bottom visible means, `[samples, visible]`.
  ///
  /// - Throws: as `RBM.sample(chains:gibbsSteps:seed:)`.
  public func generate(samples: Int, gibbsSteps: Int, seed: UInt64) throws -> Tensor {
    var value = try rbms[rbms.count - 1].sample(chains: samples, gibbsSteps: gibbsSteps, seed: seed)
    for rbm in rbms.dropLast().reversed() {
      value = try rbm.visibleMean(givenHidden: value)
    }
    return value
  }
}
