import Foundation
import PlexusCore

/// The kind of a restricted Boltzmann machine's visible units.
public enum RBMVisibleUnits: String, Codable, Sendable, CaseIterable {
  /// Binary units with `p(v_i = 1 | h) = sigmoid(b_i + W_i · h)`; data must lie in `[0, 1]`
  /// (read as probabilities).
  case bernoulli
  /// Real-valued units of unit variance, `v_i | h ~ N(b_i + W_i · h, 1)` (standardize the data
  /// first).
  case gaussian
}

/// The parameters of a restricted Boltzmann machine as a layer: the map from visible units to
/// the probabilities of the hidden units, `p(h = 1 | v) = sigmoid(v · weights + hidden_bias)`.
///
/// It holds `weights` `[visible, hidden]`, `visible_bias` `[visible]` and `hidden_bias`
/// `[hidden]`, so a saved model keeps the whole RBM (the visible biases are what pretraining
/// needs to resume or to generate). Backpropagation through the layer is that of a dense
/// sigmoid layer; the visible biases get no gradient from it. An ``RBM`` model trains it by
/// contrastive divergence. Input `[N, visible]`, output `[N, hidden]`. Registered as
/// `plexus.rbm`.
public final class RBMLayer: UnaryLayer {
  /// The hyperparameters. In JSON only `hiddenUnits` is required.
  public struct Config: DefaultedConfiguration {
    /// The number of hidden units.
    public var hiddenUnits: Int
    /// The kind of the visible units (default Bernoulli).
    public var visibleUnits: RBMVisibleUnits
    /// The standard deviation of the initial weights, drawn from `N(0, s^2)` (default 0.01,
    /// as Hinton's guide and scikit-learn); the biases start at zero.
    public var weightStandardDeviation: Float

    /// Creates a config.
    public init(
      hiddenUnits: Int, visibleUnits: RBMVisibleUnits = .bernoulli,
      weightStandardDeviation: Float = 0.01
    ) {
      self.hiddenUnits = hiddenUnits
      self.visibleUnits = visibleUnits
      self.weightStandardDeviation = weightStandardDeviation
    }

    public static var defaults: Config { Config(hiddenUnits: 1) }
    public static var fields: [ConfigField<Config>] {
      [
        .required("hiddenUnits", \.hiddenUnits), .init("visibleUnits", \.visibleUnits),
        .init("weightStandardDeviation", \.weightStandardDeviation),
      ]
    }
  }

  public static let typeName = "plexus.rbm"
  public let state = LayerState()
  public let config: Config
  /// The weights `[visible, hidden]`.
  public let weights = Parameter(name: "weights")
  /// The visible biases `[visible]`.
  public let visibleBias = Parameter(name: "visible_bias")
  /// The hidden biases `[hidden]`.
  public let hiddenBias = Parameter(name: "hidden_bias")

  /// - Throws: `PlexusError.invalidConfiguration` unless `hiddenUnits` is positive and within
  ///   the allocation limit and the weight deviation is finite and non-negative.
  public init(config: Config) throws {
    guard config.hiddenUnits > 0, config.hiddenUnits <= ParameterAllocation.maximumSampleElements
    else {
      throw PlexusError.invalidConfiguration(
        "rbm hiddenUnits must be in 1...\(ParameterAllocation.maximumSampleElements), got \(config.hiddenUnits)"
      )
    }
    guard config.weightStandardDeviation.isFinite, config.weightStandardDeviation >= 0 else {
      throw PlexusError.invalidConfiguration(
        "rbm weightStandardDeviation must be finite and non-negative, got \(config.weightStandardDeviation)"
      )
    }
    self.config = config
  }

  /// Creates an RBM layer with `hiddenUnits` hidden units; the visible count comes from
  /// `build`.
  ///
  /// - Throws: as `init(config:)`.
  public convenience init(
    hiddenUnits: Int, visibleUnits: RBMVisibleUnits = .bernoulli,
    weightStandardDeviation: Float = 0.01, name: String = ""
  ) throws {
    try self.init(
      config: Config(
        hiddenUnits: hiddenUnits, visibleUnits: visibleUnits,
        weightStandardDeviation: weightStandardDeviation))
    self.name = name
  }

  public var parameters: [Parameter] { [weights, visibleBias, hiddenBias] }

  /// The number of visible units, once built.
  public var visibleCount: Int? { weights.declaredShape?.first }

  public func build(for inputShape: SymbolicShape) throws -> SymbolicShape {
    let shape = try ShapeCheck.require(
      inputShape, rank: 1, layer: name, expected: "[visible units] (rank 1)")
    let visible = shape[0]
    let hidden = config.hiddenUnits
    let deviation = config.weightStandardDeviation
    let weightShape = [visible, hidden]
    try weights.declare(shape: weightShape) { generator in
      _ = try ParameterAllocation.check(weightShape)
      guard ParameterAllocation.current.drawsInitialValues, deviation > 0 else {
        return .zeros(weightShape)
      }
      return .normal(weightShape, standardDeviation: deviation, using: &generator)
    }
    try visibleBias.declare(shape: [visible], filledWith: 0)
    try hiddenBias.declare(shape: [hidden], filledWith: 0)
    return [hidden]
  }

  /// Checks that a batch fits the visible units: `[N, visible]`, finite, and in `[0, 1]` for
  /// Bernoulli units.
  ///
  /// - Throws: `PlexusError.shapeMismatch` for a wrong shape, `PlexusError.invalidData` naming
  ///   the first bad value's sample and feature.
  public func validateVisible(_ input: Tensor) throws {
    guard let visible = visibleCount, weights.isMaterialized else {
      throw PlexusError.notBuilt("rbm '\(name)' must be built before it is run")
    }
    guard input.rank == 2, input.shape[1] == visible else {
      throw PlexusError.shapeMismatch(
        layer: name, expected: "[N, \(visible)] (one value per visible unit)", found: input.shape)
    }
    let bernoulli = config.visibleUnits == .bernoulli
    let bad = input.withUnsafeBufferPointer { values in
      values.firstIndex { value in !value.isFinite || (bernoulli && (value < 0 || value > 1)) }
    }
    if let bad {
      let value = input.withUnsafeBufferPointer { $0[bad] }
      throw PlexusError.invalidData(
        "rbm '\(name)': sample \(bad / visible), feature \(bad % visible) is \(value); "
          + (bernoulli
            ? "Bernoulli visible units take values in [0, 1] (scale the data first)"
            : "Gaussian visible units take finite values"))
    }
  }

  /// The hidden probabilities `sigmoid(v · weights + hidden_bias)`, `[N, hidden]`.
  ///
  /// - Throws: as `validateVisible(_:)`.
  public func hiddenProbabilities(_ visible: Tensor) throws -> Tensor {
    try validateVisible(visible)
    return try RBMMath.hiddenProbabilities(visible, weights: weights.value, bias: hiddenBias.value)
  }

  public func forward(_ input: Tensor, record: CallRecord) throws -> Tensor {
    try hiddenProbabilities(input)
  }

  /// Accumulates the gradients of `weights` and `hidden_bias` as a dense sigmoid layer does.
  public func backward(_ outputGradient: Tensor, record: CallRecord, computingInputGradient: Bool)
    throws -> Tensor?
  {
    let output = record.outputs[0]
    let gradient = ActivationFunction.sigmoid.backward(
      input: output, output: output, outputGradient: outputGradient)
    try Tensor.matmul(
      record.inputs[0], gradient, transposeA: true, into: &weights.gradient, beta: 1)
    try hiddenBias.gradient += gradient.sumOverBatch()
    return computingInputGradient
      ? try Tensor.matmul(gradient, weights.value, transposeB: true) : nil
  }
}

/// The arithmetic of RBMs on raw tensors.
enum RBMMath {
  /// `sigmoid(x)` computed without overflow.
  @inline(__always) static func sigmoid(_ x: Float) -> Float {
    if x >= 0 { return 1 / (1 + exp(-x)) }
    let e = exp(x)
    return e / (1 + e)
  }

  /// `log(1 + e^x)` computed without overflow.
  @inline(__always) static func softplus(_ x: Float) -> Float {
    x > 0 ? x + log1p(exp(-x)) : log1p(exp(x))
  }

  /// `v · W + c`, `[N, hidden]`.
  static func hiddenActivations(_ visible: Tensor, weights: Tensor, bias: Tensor) throws -> Tensor {
    var result = Tensor.zeros([visible.shape[0], weights.shape[1]])
    try result.addToLastAxis(bias)
    try Tensor.matmul(visible, weights, into: &result, beta: 1)
    return result
  }

  /// `sigmoid(v · W + c)`.
  static func hiddenProbabilities(_ visible: Tensor, weights: Tensor, bias: Tensor) throws
    -> Tensor
  {
    var result = try hiddenActivations(visible, weights: weights, bias: bias)
    applySigmoid(&result)
    return result
  }

  /// Replaces every value by its sigmoid.
  static func applySigmoid(_ tensor: inout Tensor) {
    tensor.withUnsafeMutableBufferPointer { VectorMath.applySigmoid($0) }
  }

  /// `Σ_j softplus(a_j)` over each row of `activations` (`[N, hidden]`).
  static func softplusRowSums(_ activations: Tensor) -> [Float] {
    let rows = activations.shape[0]
    let width = activations.shape[1]
    return activations.withUnsafeBufferPointer { a in
      (0..<rows).map { row in
        VectorMath.softplusSum(
          UnsafeBufferPointer(rebasing: a[(row * width)..<((row + 1) * width)]))
      }
    }
  }

  /// `h · W^T + b`, `[N, visible]`.
  static func visibleActivations(_ hidden: Tensor, weights: Tensor, bias: Tensor) throws -> Tensor {
    var result = Tensor.zeros([hidden.shape[0], weights.shape[0]])
    try result.addToLastAxis(bias)
    try Tensor.matmul(hidden, weights, transposeB: true, into: &result, beta: 1)
    return result
  }
}
