import PlexusCore
import PlexusPerceptron

/// A deep belief network: a stack of RBMs pretrained greedily, layer by layer, then unrolled
/// into a feed-forward network for fine-tuning by backpropagation.
///
/// ```swift
/// let dbn = try DBN(sizes: [64, 100, 100], seed: 1)
/// try dbn.pretrain(x, optimizer: { SGD(learningRate: 0.02, momentum: 0.9) },
///                  options: TrainingOptions(epochs: 20, batchSize: 10))
/// let classifier = try dbn.unrolled(classes: 10)   // Dense(sigmoid) x 2 + Dense(10)
/// ```
///
/// The pretraining state is ``stack``, a `Sequential` of the RBM models: it saves and loads in
/// `.plexus` (with every RBM's visible biases), so pretraining can resume and a pretrained
/// stack can be shared; ``init(stack:)`` takes a loaded one back.
public final class DBN: Sendable {
  /// The RBMs, bottom (data) first.
  public let rbms: [RBM]
  /// The RBMs as one model (its `predict` is the deterministic up-pass to the top hidden
  /// probabilities).
  public let stack: Sequential

  /// Creates a DBN of RBMs of the given layer sizes (`[visible, hidden1, hidden2, ...]`); the
  /// bottom RBM has `visibleUnits`, the others Bernoulli visibles (the probabilities of the
  /// layer below). RBM `i` is seeded by `seed + i`.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` for fewer than two sizes; the RBMs' errors.
  public convenience init(
    sizes: [Int], visibleUnits: RBMVisibleUnits = .bernoulli, gibbsSteps: Int = 1,
    persistent: Bool = false, seed: UInt64 = 0
  ) throws {
    guard sizes.count >= 2 else {
      throw PlexusError.invalidConfiguration(
        "a DBN needs at least two layer sizes (visible and hidden), got \(sizes)")
    }
    let rbms = try (0..<(sizes.count - 1)).map { index in
      try RBM(
        visible: sizes[index], hidden: sizes[index + 1],
        visibleUnits: index == 0 ? visibleUnits : .bernoulli, gibbsSteps: gibbsSteps,
        persistent: persistent, seed: seed &+ UInt64(index), name: "rbm_\(index + 1)")
    }
    try self.init(stack: Sequential(rbms))
  }

  /// Takes a stack of RBMs back (a loaded pretraining state).
  ///
  /// - Throws: `PlexusError.invalidConfiguration` when a layer of the stack is not an `RBM`,
  ///   the stack is empty, or one RBM's hidden count is not the next one's visible count.
  public init(stack: Sequential) throws {
    let layers = stack.layers
    var rbms: [RBM] = []
    for (index, layer) in layers.enumerated() {
      guard let rbm = layer as? RBM else {
        throw PlexusError.invalidConfiguration(
          "layer \(index) of a DBN stack is a '\(layer.typeName)', not a '\(RBM.typeName)'")
      }
      if let below = rbms.last, below.config.hidden != rbm.config.visible {
        throw PlexusError.invalidConfiguration(
          "DBN layer \(index) has \(rbm.config.visible) visible units but the layer below has "
            + "\(below.config.hidden) hidden units")
      }
      rbms.append(rbm)
    }
    guard let first = rbms.first else {
      throw PlexusError.invalidConfiguration("a DBN stack needs at least one RBM")
    }
    if !stack.isBuilt { try stack.build(inputShape: [first.config.visible]) }
    self.rbms = rbms
    self.stack = stack
  }

  /// Greedy layer-wise pretraining: each RBM is trained by `fit` on the hidden probabilities of
  /// the one below (the first on `x`), with a fresh optimizer from `optimizer`.
  ///
  /// - Parameters:
  ///   - callbacks: passed to every RBM's `fit` (one training run per layer).
  /// - Returns: each RBM's history, bottom first.
  /// - Throws: the RBMs' `fit` errors (bad data: shape, values outside `[0, 1]`).
  @discardableResult
  public func pretrain(
    _ x: Tensor, optimizer: () throws -> any Optimizer,
    options: TrainingOptions = TrainingOptions(), callbacks: [any TrainingCallback] = []
  ) throws -> [History] {
    var input = x
    var histories: [History] = []
    for (index, rbm) in rbms.enumerated() {
      histories.append(
        try rbm.fit(input, optimizer: try optimizer(), options: options, callbacks: callbacks))
      if index < rbms.count - 1 { input = try rbm.transform(input) }
    }
    return histories
  }

  /// The top hidden probabilities of `x` (the deterministic up-pass).
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
  /// initialized from `seed`. Fine-tune it with `fit`; the DBN's RBMs are not changed.
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
