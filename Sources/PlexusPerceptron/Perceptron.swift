import PlexusCore

/// The classic Rosenblatt perceptron: `y = step(x · kernel + bias)` with the Heaviside step
/// (`1` for a non-negative score, `0` otherwise), trained by the perceptron learning rule
/// `w += learningRate * (target - prediction) * x` rather than by backpropagation.
///
/// With one unit it is a binary classifier (labels `0` and `1`). With `k >= 2` units it is a
/// one-vs-rest classifier over `k` classes: unit `c` learns "class `c` or not", and the
/// predicted class is the unit with the largest score `x · w_c + b_c`.
///
/// The kernel is stored `[inputs, units]`, as in ``Dense``. Input `[N, inputs]`, output
/// `[N, units]` of zeros and ones.
///
/// ```swift
/// let and = try Perceptron(units: 1)
/// let inputs = try Tensor(shape: [4, 2], scalars: [0, 0, 0, 1, 1, 0, 1, 1])
/// let result = try and.train(inputs: inputs, labels: [0, 0, 0, 1], maximumEpochs: 20)
/// // result.converged == true; try and.predict(inputs) == [0, 0, 0, 1]
/// ```
///
/// ## Backpropagation
/// The step function has zero derivative wherever it is differentiable, so `backward(_:)`
/// returns a zero input gradient and leaves the parameter gradients untouched: an optimizer
/// driven by backpropagation never moves a perceptron's weights. Train it with
/// ``train(inputs:labels:maximumEpochs:learningRate:shuffleSeed:)``; inside a larger model
/// trained by backpropagation use ``Dense`` instead. The layer is registered as
/// `plexus.perceptron`, so trained perceptrons can be saved and loaded in models.
public final class Perceptron: UnaryLayer {
  /// The hyperparameters of a perceptron. In JSON only `units` is required; the other keys
  /// take the defaults of `init`, and an unknown key is an error.
  public struct Config: DefaultedConfiguration {
    /// The number of units: `1` for a binary perceptron, the number of classes for a
    /// one-vs-rest perceptron.
    public var units: Int
    /// Whether the perceptron has a bias (threshold).
    public var useBias: Bool
    /// How the kernel is initialized (the classic perceptron starts at zero).
    public var kernelInitializer: Initializer

    /// Creates a config.
    public init(units: Int, useBias: Bool = true, kernelInitializer: Initializer = .zeros) {
      self.units = units
      self.useBias = useBias
      self.kernelInitializer = kernelInitializer
    }

    public static var defaults: Config { Config(units: 1) }
    public static var fields: [ConfigField<Config>] {
      [
        .required("units", \.units), .init("useBias", \.useBias),
        .init("kernelInitializer", \.kernelInitializer),
      ]
    }
  }

  public static let typeName = "plexus.perceptron"
  public let state = LayerState()
  public let config: Config
  /// The weight matrix `[inputs, units]` (declared when the perceptron is built).
  public let kernel: Parameter
  /// The bias (threshold) `[units]` (when `useBias`).
  public let bias: Parameter?

  /// - Throws: `PlexusError.invalidConfiguration` unless `units > 0`.
  public init(config: Config) throws {
    guard config.units > 0 else {
      throw PlexusError.invalidConfiguration(
        "perceptron units must be positive, got \(config.units)")
    }
    guard config.units <= ParameterAllocation.maximumSampleElements else {
      throw PlexusError.invalidConfiguration(
        "perceptron units must be at most \(ParameterAllocation.maximumSampleElements), got \(config.units)"
      )
    }
    self.config = config
    kernel = Parameter(name: "kernel")
    bias = config.useBias ? Parameter(name: "bias") : nil
  }

  /// Creates a perceptron with `units` outputs (`1` for binary classification); the input
  /// size comes from `build` or from the first call to `train`.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` unless `units > 0`.
  public convenience init(units: Int = 1, useBias: Bool = true, name: String = "") throws {
    try self.init(config: Config(units: units, useBias: useBias))
    self.name = name
  }

  /// The number of classes this perceptron distinguishes: 2 for one unit, else `units`.
  public var classCount: Int { config.units == 1 ? 2 : config.units }

  public var parameters: [Parameter] { bias.map { [kernel, $0] } ?? [kernel] }

  /// The number of input features, once built.
  private var inputs: Int? { kernel.declaredShape?.first }

  public func build(for inputShape: SymbolicShape) throws -> SymbolicShape {
    let shape = try ShapeCheck.require(
      inputShape, rank: 1, layer: name, expected: "[features] (rank 1)")
    let features = shape[0]
    try kernel.declare(
      shape: [features, config.units], initializer: config.kernelInitializer, fanIn: features,
      fanOut: config.units)
    try bias?.declare(shape: [config.units], filledWith: 0)
    return [config.units]
  }

  /// The scores `x · kernel + bias`, `[N, units]`, before the step.
  ///
  /// - Throws: `PlexusError.notBuilt` before `build`, `PlexusError.shapeMismatch` for an input
  ///   that is not `[N, inputs]`.
  public func scores(_ input: Tensor) throws -> Tensor {
    guard let inputs, kernel.isMaterialized else {
      throw PlexusError.notBuilt("perceptron '\(name)' must be built before it is run")
    }
    try ShapeCheck.requireBatch(input, sampleShape: [inputs], layer: name)
    var output = Tensor.zeros([input.batchCount, config.units])
    if let bias {
      try output.addToLastAxis(bias.value)
      try Tensor.matmul(input, kernel.value, into: &output, beta: 1)
    } else {
      try Tensor.matmul(input, kernel.value, into: &output)
    }
    return output
  }

  /// The step of the scores: `1` where `x · w + b >= 0`, else `0`.
  public func forward(_ input: Tensor, record: CallRecord) throws -> Tensor {
    ActivationFunction.step.apply(try scores(input))
  }

  /// Returns a zero input gradient and accumulates nothing into the parameter gradients: the
  /// step function's derivative is zero (and undefined at the threshold), so backpropagation
  /// through a perceptron carries no signal. Train with `train(...)` instead.
  public func backward(_ outputGradient: Tensor, record: CallRecord, computingInputGradient: Bool)
    throws -> Tensor?
  {
    computingInputGradient ? .zeros(record.inputs[0].shape) : nil
  }

  /// The predicted class of each sample: for one unit `0` or `1` (the step), for several
  /// units the index of the largest score (one-vs-rest).
  ///
  /// - Throws: as `scores(_:)`.
  public func predict(_ input: Tensor) throws -> [Int] {
    let scores = try scores(input)
    if config.units == 1 {
      return scores.withUnsafeBufferPointer { buffer in buffer.map { $0 >= 0 ? 1 : 0 } }
    }
    return scores.argmaxPerSample()
  }

  /// Trains with the perceptron learning rule, one sample at a time, until an epoch passes
  /// without a mistake or `maximumEpochs` epochs have run.
  ///
  /// For every sample and unit `c`, with target `t_c` (`1` when the sample's label is `c` — for
  /// a binary perceptron, when the label is `1` — else `0`) and prediction
  /// `p_c = step(x · w_c + b_c)`, the rule is `w_c += learningRate * (t_c - p_c) * x` and
  /// `b_c += learningRate * (t_c - p_c)`. A sample is a mistake when any unit predicts wrong,
  /// so an epoch without mistakes means every unit separates its class, and the one-vs-rest
  /// prediction is then right for every sample. By the perceptron convergence theorem this
  /// happens after finitely many updates when each class is linearly separable from the rest;
  /// otherwise (XOR, say) the result reports that training did not converge. Not converging
  /// is a result, not an error.
  ///
  /// An unbuilt perceptron is built for the inputs' feature count (weights from its
  /// initializer, seeded by `shuffleSeed` or 0).
  ///
  /// - Parameters:
  ///   - inputs: the samples `[N, features]`.
  ///   - labels: one class per sample, in `0..<classCount`.
  ///   - maximumEpochs: the most passes over the data.
  ///   - learningRate: the step size of the rule (positive).
  ///   - shuffleSeed: when given, the samples are visited in a new seeded random order each
  ///     epoch; otherwise in their given order.
  /// - Returns: whether training converged, the epochs run and the mistakes of each epoch.
  /// - Throws: `PlexusError.invalidData` for labels that do not match the samples or lie out
  ///   of range, `PlexusError.invalidArgument` for a non-positive epoch count or learning rate,
  ///   `PlexusError.shapeMismatch` for inputs of the wrong shape.
  @discardableResult
  public func train(
    inputs: Tensor, labels: [Int], maximumEpochs: Int = 100, learningRate: Float = 1,
    shuffleSeed: UInt64? = nil
  ) throws -> PerceptronTrainingResult {
    guard maximumEpochs > 0 else {
      throw PlexusError.invalidArgument("maximumEpochs must be positive, got \(maximumEpochs)")
    }
    guard learningRate > 0, learningRate.isFinite else {
      throw PlexusError.invalidArgument(
        "learning rate must be positive and finite, got \(learningRate)")
    }
    guard inputs.rank == 2, inputs.shape[1] > 0 else {
      throw PlexusError.shapeMismatch(layer: name, expected: "[N, features]", found: inputs.shape)
    }
    guard inputs.batchCount > 0 else {
      throw PlexusError.invalidData("perceptron '\(name)': no samples to train on")
    }
    guard labels.count == inputs.batchCount else {
      throw PlexusError.invalidData(
        "perceptron '\(name)': \(labels.count) labels for \(inputs.batchCount) samples")
    }
    let classes = classCount
    if let index = labels.firstIndex(where: { $0 < 0 || $0 >= classes }) {
      throw PlexusError.invalidData(
        "perceptron '\(name)': label \(labels[index]) of sample \(index) is outside 0..<\(classes)")
    }
    if !isBuilt {
      try build(inputShape: [inputs.shape[1]], seed: shuffleSeed ?? 0)
    }
    guard let features = self.inputs, inputs.shape[1] == features, kernel.isMaterialized else {
      throw PlexusError.shapeMismatch(
        layer: name, expected: "[N, \(self.inputs ?? 0)]", found: inputs.shape)
    }

    let units = config.units
    var order = Array(0..<inputs.batchCount)
    var generator = shuffleSeed.map(SeededGenerator.init(seed:))
    var weights = kernel.value
    var biases = bias?.value ?? .zeros([units])
    var mistakesPerEpoch: [Int] = []
    var converged = false

    weights.withUnsafeMutableBufferPointer { w in
      biases.withUnsafeMutableBufferPointer { b in
        inputs.withUnsafeBufferPointer { x in
          // The inputs hold at least one sample (checked above), so the buffer has an address.
          guard let base = x.baseAddress else { return }
          let useBias = config.useBias
          while mistakesPerEpoch.count < maximumEpochs {
            if var shuffler = generator {
              order.shuffle(using: &shuffler)
              generator = shuffler
            }
            var mistakes = 0
            for sample in order {
              let row = base + sample * features
              var wrong = false
              for unit in 0..<units {
                var score = useBias ? b[unit] : 0
                for feature in 0..<features { score += row[feature] * w[feature * units + unit] }
                let prediction: Float = score >= 0 ? 1 : 0
                let target: Float =
                  (units == 1 ? labels[sample] == 1 : labels[sample] == unit) ? 1 : 0
                let error = target - prediction
                guard error != 0 else { continue }
                wrong = true
                let step = learningRate * error
                for feature in 0..<features { w[feature * units + unit] += step * row[feature] }
                if useBias { b[unit] += step }
              }
              if wrong { mistakes += 1 }
            }
            mistakesPerEpoch.append(mistakes)
            if mistakes == 0 {
              converged = true
              break
            }
          }
        }
      }
    }
    try kernel.assign(weights)
    try bias?.assign(biases)
    return PerceptronTrainingResult(converged: converged, mistakesPerEpoch: mistakesPerEpoch)
  }
}

/// The outcome of ``Perceptron/train(inputs:labels:maximumEpochs:learningRate:shuffleSeed:)``.
public struct PerceptronTrainingResult: Sendable, Equatable, CustomStringConvertible {
  /// Whether an epoch passed without a mistake (the data was separated).
  public var converged: Bool
  /// The number of mistakes (samples with at least one wrong unit) in each epoch run.
  public var mistakesPerEpoch: [Int]

  /// The number of epochs run.
  public var epochs: Int { mistakesPerEpoch.count }

  /// Creates a result.
  public init(converged: Bool, mistakesPerEpoch: [Int]) {
    self.converged = converged
    self.mistakesPerEpoch = mistakesPerEpoch
  }

  public var description: String {
    converged
      ? "converged after \(epochs) epoch\(epochs == 1 ? "" : "s")"
      : "did not converge after \(epochs) epoch\(epochs == 1 ? "" : "s") "
        + "(\(mistakesPerEpoch.last ?? 0) mistakes in the last epoch)"
  }
}
