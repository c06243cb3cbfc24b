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
    public init(
      momentum: Float = 0.99, epsilon: Float = 1e-3, center: Bool = true, scale: Bool = true
    ) {
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
  private var cachedStatistics: Tensor?
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
    momentum: Float = 0.99, epsilon: Float = 1e-3, center: Bool = true, scale: Bool = true,
    name: String = ""
  ) throws {
    try self.init(
      config: Config(momentum: momentum, epsilon: epsilon, center: center, scale: scale))
    self.name = name
  }

  public var parameters: [Parameter] {
    [gamma, beta, movingMean, movingVariance].compactMap { $0 }
  }

  public func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    guard !inputShape.isEmpty, inputShape.allSatisfy({ $0 > 0 }) else {
      throw PlexusError.shapeMismatch(
        layer: name, expected: "a non-empty shape of positive dimensions, channels last",
        found: inputShape)
    }
    let channels = inputShape[inputShape.count - 1]
    self.channels = channels
    let ones = try ParameterAllocation.filled([channels], with: 1)
    let zeros = try ParameterAllocation.filled([channels], with: 0)
    gamma = config.scale ? Parameter(name: "gamma", value: ones) : nil
    beta = config.center ? Parameter(name: "beta", value: zeros) : nil
    movingMean = Parameter(name: "moving_mean", value: zeros, isTrainable: false)
    movingVariance = Parameter(name: "moving_variance", value: ones, isTrainable: false)
    self.inputShape = inputShape
    return inputShape
  }

  public func forward(_ input: Tensor, training: Bool) throws -> Tensor {
    try ShapeCheck.requireBatch(input, sampleShape: inputShape, layer: name)
    guard let movingMean, let movingVariance else {
      throw PlexusError.notBuilt("layer '\(name)' is not built")
    }
    let channels = self.channels
    let rows = input.count / channels
    let epsilon = config.epsilon
    // Per-channel mean and 1 / sqrt(variance + epsilon).
    var statistics = Tensor.zeros([2, channels])
    if training && rows > 0 {
      let momentum = config.momentum
      var sums = [Double](repeating: 0, count: 2 * channels)
      input.withUnsafeBufferPointer { x in
        sums.withUnsafeMutableBufferPointer { sums in
          statistics.withUnsafeMutableBufferPointer { statistics in
            movingMean.value.withUnsafeMutableBufferPointer { movingMean in
              movingVariance.value.withUnsafeMutableBufferPointer { movingVariance in
                Self.batchStatistics(
                  x.baseAddress!, rows: rows, channels: channels, sums: sums.baseAddress!,
                  mean: statistics.baseAddress!)
                for channel in 0..<channels {
                  let variance = Float(sums[channels + channel] / Double(rows))
                  statistics[channels + channel] = 1 / (variance + epsilon).squareRoot()
                  movingMean[channel] =
                    movingMean[channel] * momentum + statistics[channel] * (1 - momentum)
                  movingVariance[channel] =
                    movingVariance[channel] * momentum + variance * (1 - momentum)
                }
              }
            }
          }
        }
      }
    } else {
      statistics.withUnsafeMutableBufferPointer { statistics in
        movingMean.value.withUnsafeBufferPointer { mean in
          movingVariance.value.withUnsafeBufferPointer { variance in
            for channel in 0..<channels {
              statistics[channel] = mean[channel]
              statistics[channels + channel] = 1 / (variance[channel] + epsilon).squareRoot()
            }
          }
        }
      }
    }
    let scale = gamma?.value ?? Tensor(shape: [channels], repeating: 1)
    let offset = beta?.value ?? Tensor.zeros([channels])
    var normalized = Tensor.zeros(input.shape)
    var output = Tensor.zeros(input.shape)
    normalized.withUnsafeMutableBufferPointer { xHat in
      output.withUnsafeMutableBufferPointer { y in
        input.withUnsafeBufferPointer { x in
          statistics.withUnsafeBufferPointer { statistics in
            scale.withUnsafeBufferPointer { gamma in
              offset.withUnsafeBufferPointer { beta in
                let mean = statistics.baseAddress!
                let inverseDeviation = mean + channels
                var row = 0
                while row < rows * channels {
                  for channel in 0..<channels {
                    let value = (x[row + channel] - mean[channel]) * inverseDeviation[channel]
                    xHat[row + channel] = value
                    y[row + channel] = value * gamma[channel] + beta[channel]
                  }
                  row += channels
                }
              }
            }
          }
        }
      }
    }
    cachedNormalized = normalized
    cachedStatistics = statistics
    cachedTraining = training
    return output
  }

  /// Writes the per-channel batch mean into `mean` and accumulates the sums of squared
  /// deviations into `sums[channels...]` (two passes, in double precision).
  private static func batchStatistics(
    _ x: UnsafePointer<Float>, rows: Int, channels: Int, sums: UnsafeMutablePointer<Double>,
    mean: UnsafeMutablePointer<Float>
  ) {
    var row = x
    for _ in 0..<rows {
      for channel in 0..<channels { sums[channel] += Double(row[channel]) }
      row += channels
    }
    for channel in 0..<channels { mean[channel] = Float(sums[channel] / Double(rows)) }
    let squares = sums + channels
    row = x
    for _ in 0..<rows {
      for channel in 0..<channels {
        let centered = Double(row[channel] - mean[channel])
        squares[channel] += centered * centered
      }
      row += channels
    }
  }

  public func backward(_ outputGradient: Tensor) throws -> Tensor {
    try ShapeCheck.requireGradient(outputGradient, matches: cachedNormalized?.shape, layer: name)
    guard let cachedNormalized, let cachedStatistics else {
      throw PlexusError.notBuilt("layer '\(name)': backward called before forward")
    }
    let channels = self.channels
    let rows = outputGradient.count / channels
    // Per channel: sum(dy) and sum(dy * x̂).
    var sums = Tensor.zeros([2, channels])
    outputGradient.withUnsafeBufferPointer { dy in
      cachedNormalized.withUnsafeBufferPointer { xHat in
        sums.withUnsafeMutableBufferPointer { sums in
          var totals = [Double](repeating: 0, count: 2 * channels)
          totals.withUnsafeMutableBufferPointer { totals in
            var row = 0
            while row < rows * channels {
              for channel in 0..<channels {
                let g = dy[row + channel]
                totals[channel] += Double(g)
                totals[channels + channel] += Double(g * xHat[row + channel])
              }
              row += channels
            }
            for index in 0..<(2 * channels) { sums[index] = Float(totals[index]) }
          }
        }
      }
    }
    if let beta { beta.gradient += try sums.samples(0..<1).reshaped([channels]) }
    if let gamma { gamma.gradient += try sums.samples(1..<2).reshaped([channels]) }
    let scale = gamma?.value ?? Tensor(shape: [channels], repeating: 1)
    let training = cachedTraining
    let inverseRows = rows > 0 ? 1 / Float(rows) : 0
    return Tensor(shape: outputGradient.shape) { dx in
      outputGradient.withUnsafeBufferPointer { dy in
        cachedNormalized.withUnsafeBufferPointer { xHat in
          cachedStatistics.withUnsafeBufferPointer { statistics in
            sums.withUnsafeBufferPointer { sums in
              scale.withUnsafeBufferPointer { gamma in
                let inverseDeviation = statistics.baseAddress! + channels
                let gradientSums = sums.baseAddress!
                let projectedSums = gradientSums + channels
                var row = 0
                while row < rows * channels {
                  for channel in 0..<channels {
                    let factor = gamma[channel] * inverseDeviation[channel]
                    let g = dy[row + channel]
                    dx[row + channel] =
                      training
                      ? factor
                        * (g - inverseRows
                          * (gradientSums[channel] + xHat[row + channel] * projectedSums[channel]))
                      : factor * g
                  }
                  row += channels
                }
              }
            }
          }
        }
      }
    }
  }
}
