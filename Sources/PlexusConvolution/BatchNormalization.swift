import PlexusCore

/// Batch normalization over the last (channel) axis, for dense `[N, F]`, sequence and image
/// `[N, H, W, C]` inputs, as in Keras.
///
/// In training each channel is normalized with the batch's mean and (biased) variance over all
/// other axes, and the moving statistics are updated as
/// `moving = moving * momentum + batch * (1 - momentum)`. In inference the moving statistics
/// are used. Then `y = gamma * x̂ + beta`. Defaults follow Keras (`momentum` 0.99, `epsilon`
/// 1e-3; PyTorch's `momentum` 0.1 corresponds to 0.9 here and its `eps` is 1e-5).
///
/// Parameters: `gamma` and `beta` (trainable), `moving_mean` and `moving_variance`
/// (non-trainable, saved with the model).
///
/// ```swift
/// let norm = try BatchNormalization(momentum: 0.9)
/// ```
public final class BatchNormalization: Layer {
  /// The hyperparameters of batch normalization.
  public struct Config: LayerConfiguration {
    /// The weight of the old moving statistics in each update, in `[0, 1]`.
    public var momentum: Float
    /// Added to the variance before the square root; positive.
    public var epsilon: Float
    /// Whether to add the learned offset `beta`.
    public var center: Bool
    /// Whether to multiply by the learned scale `gamma`.
    public var scale: Bool

    /// Creates a config.
    public init(momentum: Float = 0.99, epsilon: Float = 1e-3, center: Bool = true, scale: Bool = true) {
      self.momentum = momentum
      self.epsilon = epsilon
      self.center = center
      self.scale = scale
    }

    private enum CodingKeys: String, CodingKey { case momentum, epsilon, center, scale }

    public init(from decoder: Decoder) throws {
      let container = try decoder.container(keyedBy: CodingKeys.self)
      momentum = try container.decodeIfPresent(Float.self, forKey: .momentum) ?? 0.99
      epsilon = try container.decodeIfPresent(Float.self, forKey: .epsilon) ?? 1e-3
      center = try container.decodeIfPresent(Bool.self, forKey: .center) ?? true
      scale = try container.decodeIfPresent(Bool.self, forKey: .scale) ?? true
    }
  }

  public static let typeName = "plexus.batch_normalization"
  public var name = ""
  public let config: Config
  /// The learned scale `[C]` (when `scale`).
  public private(set) var gamma: Parameter?
  /// The learned offset `[C]` (when `center`).
  public private(set) var beta: Parameter?
  /// The moving mean `[C]` used in inference.
  public private(set) var movingMean: Parameter?
  /// The moving variance `[C]` used in inference.
  public private(set) var movingVariance: Parameter?
  private var inputShape: [Int]?
  private var channels = 0
  private var cachedNormalized: Tensor?
  private var cachedInverseDeviation: [Float] = []
  private var cachedTraining = false

  /// - Throws: `PlexusError.invalidConfiguration` unless `0 <= momentum <= 1` and
  ///   `epsilon > 0`.
  public init(config: Config) throws {
    guard config.momentum >= 0, config.momentum <= 1 else {
      throw PlexusError.invalidConfiguration(
        "batch_normalization momentum must be in [0, 1], got \(config.momentum)")
    }
    guard config.epsilon > 0, config.epsilon.isFinite else {
      throw PlexusError.invalidConfiguration(
        "batch_normalization epsilon must be positive and finite, got \(config.epsilon)")
    }
    self.config = config
  }

  /// Creates a batch normalization layer.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` for an out-of-range momentum or epsilon.
  public convenience init(
    momentum: Float = 0.99, epsilon: Float = 1e-3, center: Bool = true, scale: Bool = true, name: String = ""
  ) throws {
    try self.init(config: Config(momentum: momentum, epsilon: epsilon, center: center, scale: scale))
    self.name = name
  }

  public var parameters: [Parameter] { [gamma, beta, movingMean, movingVariance].compactMap { $0 } }

  public func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    guard !inputShape.isEmpty, inputShape.allSatisfy({ $0 > 0 }) else {
      throw PlexusError.shapeMismatch(
        layer: name, expected: "a non-empty shape of positive dimensions, channels last", found: inputShape)
    }
    let channels = inputShape[inputShape.count - 1]
    self.channels = channels
    gamma = config.scale ? Parameter(name: "gamma", value: Tensor(shape: [channels], repeating: 1)) : nil
    beta = config.center ? Parameter(name: "beta", value: .zeros([channels])) : nil
    movingMean = Parameter(name: "moving_mean", value: .zeros([channels]), isTrainable: false)
    movingVariance = Parameter(
      name: "moving_variance", value: Tensor(shape: [channels], repeating: 1), isTrainable: false)
    self.inputShape = inputShape
    return inputShape
  }

  public func forward(_ input: Tensor, training: Bool) throws -> Tensor {
    try ShapeCheck.requireBatch(input, sampleShape: inputShape, layer: name)
    guard let movingMean, let movingVariance else { throw PlexusError.notBuilt("layer '\(name)' is not built") }
    let channels = self.channels
    let rows = input.count / channels
    var mean = [Float](repeating: 0, count: channels)
    var inverseDeviation = [Float](repeating: 0, count: channels)
    if training && rows > 0 {
      var sums = [Double](repeating: 0, count: channels)
      var squares = [Double](repeating: 0, count: channels)
      input.withUnsafeBufferPointer { x in
        var row = x.baseAddress!
        for _ in 0..<rows {
          for channel in 0..<channels { sums[channel] += Double(row[channel]) }
          row += channels
        }
        for channel in 0..<channels { mean[channel] = Float(sums[channel] / Double(rows)) }
        row = x.baseAddress!
        for _ in 0..<rows {
          for channel in 0..<channels {
            let centered = Double(row[channel] - mean[channel])
            squares[channel] += centered * centered
          }
          row += channels
        }
      }
      let momentum = config.momentum
      movingMean.value.withUnsafeMutableBufferPointer { moving in
        for channel in 0..<channels {
          moving[channel] = moving[channel] * momentum + mean[channel] * (1 - momentum)
        }
      }
      movingVariance.value.withUnsafeMutableBufferPointer { moving in
        for channel in 0..<channels {
          let variance = Float(squares[channel] / Double(rows))
          moving[channel] = moving[channel] * momentum + variance * (1 - momentum)
          inverseDeviation[channel] = 1 / (variance + config.epsilon).squareRoot()
        }
      }
    } else {
      mean = movingMean.value.scalars
      movingVariance.value.withUnsafeBufferPointer { variance in
        for channel in 0..<channels {
          inverseDeviation[channel] = 1 / (variance[channel] + config.epsilon).squareRoot()
        }
      }
    }
    let gammaValues = gamma?.value.scalars ?? [Float](repeating: 1, count: channels)
    let betaValues = beta?.value.scalars ?? [Float](repeating: 0, count: channels)
    var normalized = Tensor.zeros(input.shape)
    var output = Tensor.zeros(input.shape)
    normalized.withUnsafeMutableBufferPointer { xHat in
      output.withUnsafeMutableBufferPointer { y in
        input.withUnsafeBufferPointer { x in
          for row in 0..<rows {
            let offset = row * channels
            for channel in 0..<channels {
              let value = (x[offset + channel] - mean[channel]) * inverseDeviation[channel]
              xHat[offset + channel] = value
              y[offset + channel] = value * gammaValues[channel] + betaValues[channel]
            }
          }
        }
      }
    }
    cachedNormalized = normalized
    cachedInverseDeviation = inverseDeviation
    cachedTraining = training
    return output
  }

  public func backward(_ outputGradient: Tensor) throws -> Tensor {
    try ShapeCheck.requireGradient(outputGradient, matches: cachedNormalized?.shape, layer: name)
    guard let cachedNormalized else { throw PlexusError.notBuilt("layer '\(name)': backward before forward") }
    let channels = self.channels
    let rows = outputGradient.count / channels
    var gradientSums = [Float](repeating: 0, count: channels)
    var projectedSums = [Float](repeating: 0, count: channels)
    outputGradient.withUnsafeBufferPointer { dy in
      cachedNormalized.withUnsafeBufferPointer { xHat in
        var sums = [Double](repeating: 0, count: channels)
        var projected = [Double](repeating: 0, count: channels)
        for row in 0..<rows {
          let offset = row * channels
          for channel in 0..<channels {
            sums[channel] += Double(dy[offset + channel])
            projected[channel] += Double(dy[offset + channel] * xHat[offset + channel])
          }
        }
        for channel in 0..<channels {
          gradientSums[channel] = Float(sums[channel])
          projectedSums[channel] = Float(projected[channel])
        }
      }
    }
    if let beta { beta.gradient += Tensor(gradientSums) }
    if let gamma { gamma.gradient += Tensor(projectedSums) }
    let gammaValues = gamma?.value.scalars ?? [Float](repeating: 1, count: channels)
    let inverseDeviation = cachedInverseDeviation
    let training = cachedTraining
    let inverseRows = rows > 0 ? 1 / Float(rows) : 0
    return Tensor(shape: outputGradient.shape) { dx in
      outputGradient.withUnsafeBufferPointer { dy in
        cachedNormalized.withUnsafeBufferPointer { xHat in
          for row in 0..<rows {
            let offset = row * channels
            for channel in 0..<channels {
              let factor = gammaValues[channel] * inverseDeviation[channel]
              let g = dy[offset + channel]
              dx[offset + channel] =
                training
                ? factor
                  * (g - inverseRows * (gradientSums[channel] + xHat[offset + channel] * projectedSums[channel]))
                : factor * g
            }
          }
        }
      }
    }
  }
}
