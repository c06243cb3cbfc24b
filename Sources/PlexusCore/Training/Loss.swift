/// A training objective: a scalar loss of a batch of predictions and its gradient.
///
/// Built-in losses average over the batch: elementwise losses (`MeanSquaredError`,
/// `MeanAbsoluteError`, `Huber`, `BinaryCrossEntropy`, `Hinge`) take the mean over all
/// elements, which equals Keras' mean over the last axis followed by the mean over the batch;
/// `CategoricalCrossEntropy` sums over classes and takes the mean over the samples.
///
/// ```swift
/// let loss = CategoricalCrossEntropy(fromLogits: true)
/// let (value, gradient) = try loss.compute(predictions: logits, targets: labels)
/// ```
public protocol Loss {
  /// A short name for messages (`mse`, `binary_crossentropy`, ...).
  var name: String { get }

  /// For binary losses, the decision threshold on each output: when accuracy is measured, a
  /// prediction above it counts as the positive class and is compared with the target
  /// (positive when above 0.5). It is 0 for losses that read logits or scores (a logit of 0 is
  /// a probability of 0.5) and 0.5 for losses that read probabilities.
  ///
  /// `nil` (the default) marks a loss that is not binary: accuracy then takes the argmax over
  /// the last axis when it holds several classes, and thresholds a single output at 0.5.
  var binaryThreshold: Float? { get }

  /// Whether the loss compares classes, so that accuracy means something (`plexus train` and
  /// `plexus evaluate` then report it). The default is whether the loss is binary
  /// (`binaryThreshold` is not `nil`); a loss over several classes returns `true`.
  var isClassification: Bool { get }

  /// Checks targets against the shape of the predictions they will be compared with (the
  /// batch dimension first), without computing anything.
  ///
  /// `fit` calls this once on the whole target tensor, so errors name the index of the
  /// offending sample in the data set. The default requires equal shapes.
  ///
  /// - Throws: `PlexusError.invalidData` naming the sample index and the accepted range, or
  ///   `PlexusError.invalidShape` when the shapes do not fit.
  func validate(targets: Tensor, predictionShape: [Int]) throws

  /// The mean loss of a batch and its gradient with respect to `predictions`.
  ///
  /// - Throws: `PlexusError` for an empty batch, mismatched shapes or invalid targets.
  func compute(predictions: Tensor, targets: Tensor) throws -> (value: Float, gradient: Tensor)
}

extension Loss {
  public var name: String { String(describing: Self.self) }

  public var binaryThreshold: Float? { nil }

  public var isClassification: Bool { binaryThreshold != nil }

  public func validate(targets: Tensor, predictionShape: [Int]) throws {
    try LossValidation.requireBatch(predictionShape, loss: name)
    try LossValidation.requireElementwiseShape(
      targets: targets, predictionShape: predictionShape, loss: name)
  }
}

/// A loss that specs and training metadata can name: registered in a `LossRegistry` under a
/// namespaced `typeName` (`plexus.mse`; third parties use their own prefix such as
/// `com.example.focal`) and created from its `Config`. The built-in losses are their own
/// config.
///
/// ```swift
/// struct Focal: RegistrableLoss {
///   struct Config: DefaultedConfiguration {
///     var gamma: Float = 2
///     static var defaults: Config { Config() }
///     static var fields: [ConfigField<Config>] { [.init("gamma", \.gamma)] }
///   }
///   static let typeName = "com.example.focal"
///   let config: Config
///   init(config: Config) throws { self.config = config }
///   func compute(predictions: Tensor, targets: Tensor) throws -> (value: Float, gradient: Tensor) {
///     ...
///   }
/// }
/// try LossRegistry.shared.register(Focal.self, module: "FocalLoss")
/// ```
public protocol RegistrableLoss: Loss, Sendable, SendableMetatype {
  /// The loss' parameters.
  associatedtype Config: DefaultedConfiguration

  /// The namespaced, stable type name under which the loss is registered.
  static var typeName: String { get }

  /// The parameters this loss was created with.
  var config: Config { get }

  /// Creates the loss from its parameters.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` for a parameter out of range.
  init(config: Config) throws
}

extension RegistrableLoss {
  /// The registered type name of this loss' type.
  public var typeName: String { Self.typeName }
}

extension RegistrableLoss where Config == Self {
  public var config: Self { self }
}

/// Shape and label checks shared by the built-in losses.
public enum LossValidation {
  /// Throws unless the prediction shape has a non-empty batch dimension.
  public static func requireBatch(_ predictionShape: [Int], loss: String) throws {
    guard let batch = predictionShape.first else {
      throw PlexusError.invalidShape(
        "\(loss): predictions need a batch dimension, got shape \(predictionShape)")
    }
    guard batch > 0 else {
      throw PlexusError.invalidArgument(
        "\(loss): the batch is empty (predictions of shape \(predictionShape))")
    }
  }

  /// Throws unless targets have the shape of the predictions, or are `[N]` for predictions
  /// `[N, 1]`.
  public static func requireElementwiseShape(
    targets: Tensor, predictionShape: [Int], loss: String
  ) throws {
    if targets.shape == predictionShape { return }
    if predictionShape.count == 2, predictionShape[1] == 1, targets.shape == [predictionShape[0]] {
      return
    }
    throw PlexusError.invalidShape(
      "\(loss): targets of shape \(targets.shape) do not match predictions of shape \(predictionShape); "
        + "expected targets of shape \(predictionShape)"
        + (predictionShape.count == 2 && predictionShape[1] == 1
          ? " or [\(predictionShape[0])]" : ""))
  }

  /// Throws `PlexusError.invalidData` for the first target outside `allowed`, naming its
  /// sample index (targets are grouped by sample along the batch dimension).
  public static func requireTargets(
    _ targets: Tensor, loss: String, expected: String, where allowed: (Float) -> Bool
  ) throws {
    let perSample = Swift.max(targets.sampleSize, 1)
    let failure: (index: Int, value: Float)? = targets.withUnsafeBufferPointer { buffer in
      for index in buffer.indices where !allowed(buffer[index]) { return (index, buffer[index]) }
      return nil
    }
    if let failure {
      throw PlexusError.invalidData(
        "\(loss): target of sample \(failure.index / perSample) is \(failure.value), expected \(expected)"
      )
    }
  }
}
