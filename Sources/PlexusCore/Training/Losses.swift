import Foundation

/// Runs an elementwise loss over all elements: returns the mean of the per-element losses
/// and the per-element derivatives divided by the element count.
@inline(__always)
private func elementwiseMean(
  _ predictions: Tensor, _ targets: Tensor,
  _ body: (Float, Float) -> (loss: Float, derivative: Float)
) -> (value: Float, gradient: Tensor) {
  let count = predictions.count
  let scale = 1 / Float(count)
  var total: Double = 0
  let gradient = Tensor(shape: predictions.shape) { destination in
    predictions.withUnsafeBufferPointer { p in
      targets.withUnsafeBufferPointer { t in
        for index in 0..<count {
          let (loss, derivative) = body(p[index], t[index])
          total += Double(loss)
          destination[index] = derivative * scale
        }
      }
    }
  }
  return (Float(total / Double(count)), gradient)
}

/// A numerically stable logistic sigmoid.
@inline(__always)
private func stableSigmoid(_ x: Float) -> Float {
  if x >= 0 { return 1 / (1 + Foundation.exp(-x)) }
  let e = Foundation.exp(x)
  return e / (1 + e)
}

/// Throws unless every prediction is a probability (NaN passes, so that a diverging model
/// reports a non-finite loss rather than a data error).
private func requireProbabilities(_ predictions: Tensor, loss: String, hint: String) throws {
  let perSample = Swift.max(predictions.sampleSize, 1)
  let failure: (index: Int, value: Float)? = predictions.withUnsafeBufferPointer { buffer in
    for index in buffer.indices where buffer[index] < 0 || buffer[index] > 1 {
      return (index, buffer[index])
    }
    return nil
  }
  if let failure {
    throw PlexusError.invalidData(
      "\(loss) with fromLogits: false expects probabilities in [0, 1], but the prediction of sample "
        + "\(failure.index / perSample) is \(failure.value); \(hint)")
  }
}

/// Mean squared error, `mean((p - t)²)` over all elements (Keras `mse`, PyTorch `MSELoss`).
public struct MeanSquaredError: RegistrableLoss, DefaultedConfiguration {
  public static let typeName = "plexus.mse"
  /// Creates the loss.
  public init() {}
  /// Creates the loss from its (empty) JSON config.
  public init(config: MeanSquaredError) { self = config }
  public static var defaults: MeanSquaredError { MeanSquaredError() }
  public static var fields: [ConfigField<MeanSquaredError>] { [] }
  public var name: String { "mse" }

  public func compute(predictions: Tensor, targets: Tensor) throws -> (
    value: Float, gradient: Tensor
  ) {
    try validate(targets: targets, predictionShape: predictions.shape)
    return elementwiseMean(predictions, targets) { p, t in
      let error = p - t
      return (error * error, 2 * error)
    }
  }
}

/// Mean absolute error, `mean(|p - t|)` over all elements (Keras `mae`, PyTorch `L1Loss`).
/// The derivative at `p == t` is taken as 0.
public struct MeanAbsoluteError: RegistrableLoss, DefaultedConfiguration {
  public static let typeName = "plexus.mae"
  /// Creates the loss.
  public init() {}
  /// Creates the loss from its (empty) JSON config.
  public init(config: MeanAbsoluteError) { self = config }
  public static var defaults: MeanAbsoluteError { MeanAbsoluteError() }
  public static var fields: [ConfigField<MeanAbsoluteError>] { [] }
  public var name: String { "mae" }

  public func compute(predictions: Tensor, targets: Tensor) throws -> (
    value: Float, gradient: Tensor
  ) {
    try validate(targets: targets, predictionShape: predictions.shape)
    return elementwiseMean(predictions, targets) { p, t in
      let error = p - t
      return (abs(error), error > 0 ? 1 : (error < 0 ? -1 : 0))
    }
  }
}

/// The Huber loss over all elements: `0.5 e²` where `|e| <= delta`, else
/// `delta * (|e| - 0.5 delta)`, with `e = p - t` (Keras `Huber`, PyTorch `HuberLoss`).
/// JSON config: `{"delta": 1}` (default 1).
public struct Huber: RegistrableLoss, DefaultedConfiguration {
  public static let typeName = "plexus.huber"
  /// Where the loss turns from quadratic to linear; must be positive.
  public var delta: Float

  /// Creates the loss; `compute` throws when `delta` is not positive and finite.
  public init(delta: Float = 1) { self.delta = delta }

  /// Creates the loss from its JSON config.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` unless `delta` is positive and finite.
  public init(config: Huber) throws {
    guard config.delta > 0, config.delta.isFinite else {
      throw PlexusError.invalidConfiguration(
        "huber: delta must be positive and finite, got \(config.delta)")
    }
    self = config
  }

  public static var defaults: Huber { Huber() }
  public static var fields: [ConfigField<Huber>] { [.init("delta", \.delta)] }
  public var name: String { "huber" }

  public func compute(predictions: Tensor, targets: Tensor) throws -> (
    value: Float, gradient: Tensor
  ) {
    guard delta > 0, delta.isFinite else {
      throw PlexusError.invalidConfiguration(
        "huber: delta must be positive and finite, got \(delta)")
    }
    try validate(targets: targets, predictionShape: predictions.shape)
    let delta = self.delta
    return elementwiseMean(predictions, targets) { p, t in
      let error = p - t
      if abs(error) <= delta { return (0.5 * error * error, error) }
      return (delta * (abs(error) - 0.5 * delta), error > 0 ? delta : -delta)
    }
  }
}

/// Binary cross-entropy over all elements, with targets in `[0, 1]`.
///
/// - From logits (`fromLogits: true`, PyTorch `BCEWithLogitsLoss`), computed stably as
///   `max(x, 0) - x t + log1p(exp(-|x|))`; its derivative is `sigmoid(x) - t`.
/// - From probabilities (`fromLogits: false`, Keras' default, PyTorch `BCELoss`), with the
///   prediction clamped to `[1e-7, 1 - 1e-7]` as Keras does:
///   `-(t log p + (1 - t) log(1 - p))`. Where the clamp is active the derivative is 0.
///   Predictions outside `[0, 1]` are rejected with a hint to use logits.
///
/// JSON config: `{"fromLogits": false}` (default `false`, as Keras).
public struct BinaryCrossEntropy: RegistrableLoss, DefaultedConfiguration {
  public static let typeName = "plexus.binary_crossentropy"
  /// Whether predictions are logits (raw scores) rather than probabilities.
  public var fromLogits: Bool
  /// The clamp applied to probabilities (Keras' `epsilon()`).
  public static let epsilon: Float = 1e-7

  /// Creates the loss.
  public init(fromLogits: Bool) { self.fromLogits = fromLogits }
  /// Creates the loss from its JSON config.
  public init(config: BinaryCrossEntropy) { self = config }
  /// Probabilities, as Keras.
  public static var defaults: BinaryCrossEntropy { BinaryCrossEntropy(fromLogits: false) }
  public static var fields: [ConfigField<BinaryCrossEntropy>] {
    [.init("fromLogits", \.fromLogits)]
  }
  public var name: String { "binary_crossentropy" }
  public var binaryThreshold: Float? { fromLogits ? 0 : 0.5 }

  public func validate(targets: Tensor, predictionShape: [Int]) throws {
    try LossValidation.requireBatch(predictionShape, loss: name)
    try LossValidation.requireElementwiseShape(
      targets: targets, predictionShape: predictionShape, loss: name)
    try LossValidation.requireTargets(targets, loss: name, expected: "a value in [0, 1]") {
      $0 >= 0 && $0 <= 1
    }
  }

  public func compute(predictions: Tensor, targets: Tensor) throws -> (
    value: Float, gradient: Tensor
  ) {
    try validate(targets: targets, predictionShape: predictions.shape)
    if fromLogits {
      return elementwiseMean(predictions, targets) { x, t in
        let loss = Swift.max(x, 0) - x * t + Foundation.log1p(Foundation.exp(-abs(x)))
        return (loss, stableSigmoid(x) - t)
      }
    }
    try requireProbabilities(
      predictions, loss: name,
      hint: "use BinaryCrossEntropy(fromLogits: true) for a layer without sigmoid activation")
    let epsilon = Self.epsilon
    return elementwiseMean(predictions, targets) { p, t in
      let clamped = Swift.min(Swift.max(p, epsilon), 1 - epsilon)
      let loss = -(t * Foundation.log(clamped) + (1 - t) * Foundation.log(1 - clamped))
      let inside = p > epsilon && p < 1 - epsilon
      return (loss, inside ? (clamped - t) / (clamped * (1 - clamped)) : 0)
    }
  }
}

/// Cross-entropy over classes for predictions `[N, C]`, averaged over the samples.
///
/// Targets are either class indices `[N]` (or `[N, 1]`), stored as integral `Float`s in
/// `0..<C` (Keras' sparse form), or per-class probabilities `[N, C]` such as one-hot rows.
///
/// - From logits (`fromLogits: true`, PyTorch `CrossEntropyLoss`): the softmax is applied
///   inside the loss with a stable log-sum-exp, `loss = sum_j t_j (logsumexp(x) - x_j)`, and
///   the gradient is `softmax(x) * sum(t) - t` (that is `softmax(x) - t` for one-hot rows).
/// - From probabilities (`fromLogits: false`, for a model that ends in a softmax):
///   `-sum_j t_j log(clamp(p_j, 1e-7, 1 - 1e-7))`. Unlike Keras, rows are not renormalized.
///   Predictions outside `[0, 1]` are rejected with a hint to use logits.
///
/// JSON config: `{"fromLogits": false}`. In JSON `fromLogits` defaults to `false`, as Keras'
/// `categorical_crossentropy`; the alias `softmax_cross_entropy` fixes it to `true`, and the
/// Swift initializer defaults to `true` (the softmax cross-entropy).
public struct CategoricalCrossEntropy: RegistrableLoss, DefaultedConfiguration {
  public static let typeName = "plexus.categorical_crossentropy"
  /// Whether predictions are logits rather than probabilities.
  public var fromLogits: Bool

  /// Creates the loss. `fromLogits: true` is the softmax cross-entropy.
  public init(fromLogits: Bool = true) { self.fromLogits = fromLogits }
  /// Creates the loss from its JSON config.
  public init(config: CategoricalCrossEntropy) { self = config }
  /// Probabilities, as Keras' `categorical_crossentropy`.
  public static var defaults: CategoricalCrossEntropy { CategoricalCrossEntropy(fromLogits: false) }
  public static var fields: [ConfigField<CategoricalCrossEntropy>] {
    [.init("fromLogits", \.fromLogits)]
  }
  public var name: String { fromLogits ? "softmax_cross_entropy" : "categorical_crossentropy" }
  /// Classes compared by argmax, so accuracy applies.
  public var isClassification: Bool { true }

  /// Whether `targets` hold class indices for predictions of shape `predictionShape`.
  private func targetsAreIndices(_ targets: Tensor, predictionShape: [Int]) -> Bool {
    let batch = predictionShape[0]
    let classes = predictionShape[1]
    return targets.shape == [batch] || (classes != 1 && targets.shape == [batch, 1])
  }

  public func validate(targets: Tensor, predictionShape: [Int]) throws {
    try LossValidation.requireBatch(predictionShape, loss: name)
    guard predictionShape.count == 2, predictionShape[1] > 0 else {
      throw PlexusError.invalidShape(
        "\(name): predictions must have shape [N, classes], got \(predictionShape)")
    }
    let classes = predictionShape[1]
    if targetsAreIndices(targets, predictionShape: predictionShape) {
      try LossValidation.requireTargets(
        targets, loss: name, expected: "a class index: an integer in 0..<\(classes)"
      ) { value in value >= 0 && value < Float(classes) && value.rounded(.towardZero) == value }
    } else if targets.shape == predictionShape {
      try LossValidation.requireTargets(
        targets, loss: name, expected: "a class probability in [0, 1] (one-hot or soft labels)"
      ) { $0 >= 0 && $0 <= 1 }
    } else {
      throw PlexusError.invalidShape(
        "\(name): targets of shape \(targets.shape) do not fit predictions of shape \(predictionShape); "
          + "expected class indices [\(predictionShape[0])] or one-hot rows \(predictionShape)")
    }
  }

  public func compute(predictions: Tensor, targets: Tensor) throws -> (
    value: Float, gradient: Tensor
  ) {
    try validate(targets: targets, predictionShape: predictions.shape)
    if !fromLogits {
      try requireProbabilities(
        predictions, loss: name,
        hint: "use CategoricalCrossEntropy(fromLogits: true) (\"softmax_cross_entropy\") for logits"
      )
    }
    let batch = predictions.shape[0]
    let classes = predictions.shape[1]
    let indices = targetsAreIndices(targets, predictionShape: predictions.shape)
    let scale = 1 / Float(batch)
    let fromLogits = self.fromLogits
    let epsilon = BinaryCrossEntropy.epsilon
    var total: Double = 0
    let gradient = Tensor(shape: predictions.shape) { destination in
      predictions.withUnsafeBufferPointer { p in
        targets.withUnsafeBufferPointer { t in
          for row in 0..<batch {
            let x = p.baseAddress! + row * classes
            let g = destination.baseAddress! + row * classes
            if fromLogits {
              var largest = x[0]
              for j in 1..<classes where x[j] > largest { largest = x[j] }
              var sum: Float = 0
              for j in 0..<classes {
                let e = Foundation.exp(x[j] - largest)
                g[j] = e
                sum += e
              }
              let logSumExp = largest + Foundation.log(sum)
              let inverse = 1 / sum
              if indices {
                let target = Int(t[row])
                total += Double(logSumExp - x[target])
                for j in 0..<classes { g[j] = g[j] * inverse * scale }
                g[target] -= scale
              } else {
                let row0 = t.baseAddress! + row * classes
                var targetSum: Float = 0
                var rowLoss: Float = 0
                for j in 0..<classes {
                  targetSum += row0[j]
                  if row0[j] != 0 { rowLoss += row0[j] * (logSumExp - x[j]) }
                }
                total += Double(rowLoss)
                for j in 0..<classes { g[j] = (g[j] * inverse * targetSum - row0[j]) * scale }
              }
            } else {
              for j in 0..<classes {
                let target: Float = indices ? (Int(t[row]) == j ? 1 : 0) : t[row * classes + j]
                let clamped = Swift.min(Swift.max(x[j], epsilon), 1 - epsilon)
                if target != 0 { total -= Double(target * Foundation.log(clamped)) }
                let inside = x[j] > epsilon && x[j] < 1 - epsilon
                g[j] = inside ? -target / clamped * scale : 0
              }
            }
          }
        }
      }
    }
    return (Float(total / Double(batch)), gradient)
  }
}

/// The hinge loss over all elements, `mean(max(0, 1 - t x))`, for raw scores `x` and targets
/// in `{-1, 1}`; targets in `{0, 1}` are accepted too, 0 standing for -1 (as Keras does).
public struct Hinge: RegistrableLoss, DefaultedConfiguration {
  public static let typeName = "plexus.hinge"
  /// Creates the loss.
  public init() {}
  /// Creates the loss from its (empty) JSON config.
  public init(config: Hinge) { self = config }
  public static var defaults: Hinge { Hinge() }
  public static var fields: [ConfigField<Hinge>] { [] }
  public var name: String { "hinge" }
  public var binaryThreshold: Float? { 0 }

  public func validate(targets: Tensor, predictionShape: [Int]) throws {
    try LossValidation.requireBatch(predictionShape, loss: name)
    try LossValidation.requireElementwiseShape(
      targets: targets, predictionShape: predictionShape, loss: name)
    try LossValidation.requireTargets(targets, loss: name, expected: "-1 or 1 (or 0 or 1)") {
      $0 == -1 || $0 == 0 || $0 == 1
    }
  }

  public func compute(predictions: Tensor, targets: Tensor) throws -> (
    value: Float, gradient: Tensor
  ) {
    try validate(targets: targets, predictionShape: predictions.shape)
    return elementwiseMean(predictions, targets) { x, t in
      let sign: Float = t > 0 ? 1 : -1
      let margin = 1 - sign * x
      return margin > 0 ? (margin, -sign) : (0, 0)
    }
  }
}
