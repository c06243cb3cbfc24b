import PlexusCore

/// Batch normalization over the last (channel) axis, for dense `[N, F]`, sequence `[N, T, F]`
/// and image `[N, H, W, C]` inputs, as in Keras. Only the channel count must be known when the
/// layer is built: the other dimensions may vary (`[nil, 8]` for sequences of any length).
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
public final class BatchNormalization: UnaryLayer {
  /// The hyperparameters of batch normalization. Omitted JSON fields take the defaults of
  /// `init`; an unknown key is an error.
  public struct Config: DefaultedConfiguration {
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

    public static var defaults: Config { Config() }
    public static var fields: [ConfigField<Config>] {
      [
        .init("momentum", \.momentum), .init("epsilon", \.epsilon), .init("center", \.center),
        .init("scale", \.scale),
      ]
    }
  }

  public static let typeName = "plexus.batch_normalization"
  public let state = LayerState()
  public let config: Config
  /// The learned scale `[C]` (when `scale`).
  public let gamma: Parameter?
  /// The learned offset `[C]` (when `center`).
  public let beta: Parameter?
  /// The moving mean `[C]` used in inference (not trainable; training updates it).
  public let movingMean: Parameter
  /// The moving variance `[C]` used in inference (not trainable; training updates it).
  public let movingVariance: Parameter

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
    gamma = config.scale ? Parameter(name: "gamma") : nil
    beta = config.center ? Parameter(name: "beta") : nil
    movingMean = Parameter(name: "moving_mean", isTrainable: false)
    movingVariance = Parameter(name: "moving_variance", isTrainable: false)
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

  /// Accepts any non-empty shape whose last (channel) dimension is known.
  public func build(for inputShape: SymbolicShape) throws -> SymbolicShape {
    let expected = "a non-empty shape of positive dimensions with a known last (channel) one"
    guard let last = inputShape.last, let channels = last else {
      throw PlexusError.shapeMismatch(
        layer: name, expected: expected, found: ShapeCheck.flatten(inputShape))
    }
    try Validate.sampleSize(inputShape.compactMap { $0 }, layer: name)
    try gamma?.declare(shape: [channels], filledWith: 1)
    try beta?.declare(shape: [channels], filledWith: 0)
    try movingMean.declare(shape: [channels], filledWith: 0)
    try movingVariance.declare(shape: [channels], filledWith: 1)
    return inputShape
  }

  /// Normalizes a batch. In training, with the batch's statistics, updating the moving ones
  /// (training has exclusive access to the model); in inference, with the moving statistics.
  /// `record.saved` keeps the statistics used and, in training, the normalized input.
  public func forward(_ input: Tensor, record: CallRecord) throws -> Tensor {
    let channels = input.shape[input.rank - 1]
    let rows = input.count / channels
    let epsilon = config.epsilon
    let training = record.isTraining
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
    let (output, normalized) = normalize(input, statistics: statistics, keepingNormalized: training)
    record.saved = [statistics] + (normalized.map { [$0] } ?? [])
    return output
  }

  /// `gamma * x̂ + beta` with `x̂ = (x - mean) / deviation` from `statistics` (`[2, C]`: the
  /// means, then the inverse deviations), and `x̂` itself when `keepingNormalized`.
  private func normalize(_ input: Tensor, statistics: Tensor, keepingNormalized: Bool) -> (
    output: Tensor, normalized: Tensor?
  ) {
    let channels = statistics.shape[1]
    let count = input.count
    let scale = gamma?.value ?? Tensor(shape: [channels], repeating: 1)
    let offset = beta?.value ?? Tensor.zeros([channels])
    var normalized = keepingNormalized ? Tensor.zeros(input.shape) : nil
    var output = Tensor(unsafeUninitializedShape: input.shape) { _ in }
    output.withUnsafeMutableBufferPointer { y in
      input.withUnsafeBufferPointer { x in
        statistics.withUnsafeBufferPointer { statistics in
          scale.withUnsafeBufferPointer { gamma in
            offset.withUnsafeBufferPointer { beta in
              let mean = statistics.baseAddress!
              let inverseDeviation = mean + channels
              func run(_ xHat: UnsafeMutablePointer<Float>?) {
                var row = 0
                while row < count {
                  for channel in 0..<channels {
                    let value = (x[row + channel] - mean[channel]) * inverseDeviation[channel]
                    xHat?[row + channel] = value
                    y[row + channel] = value * gamma[channel] + beta[channel]
                  }
                  row += channels
                }
              }
              if normalized != nil {
                normalized!.withUnsafeMutableBufferPointer { run($0.baseAddress!) }
              } else {
                run(nil)
              }
            }
          }
        }
      }
    }
    return (output, normalized)
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

  /// Accumulates the gamma and beta gradients and returns the input gradient of the call
  /// `record` describes: through the batch statistics in training, through the moving ones
  /// (constants) in inference.
  public func backward(_ outputGradient: Tensor, record: CallRecord, computingInputGradient: Bool)
    throws -> Tensor?
  {
    let statistics = record.saved[0]
    let training = record.isTraining
    let normalized =
      training
      ? record.saved[1]
      : normalize(record.inputs[0], statistics: statistics, keepingNormalized: true).normalized!
    let channels = statistics.shape[1]
    let rows = outputGradient.count / channels
    // Per channel: sum(dy) and sum(dy * x̂).
    var sums = Tensor.zeros([2, channels])
    outputGradient.withUnsafeBufferPointer { dy in
      normalized.withUnsafeBufferPointer { xHat in
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
    if let beta { try beta.gradient += sums.samples(0..<1).reshaped([channels]) }
    if let gamma { try gamma.gradient += sums.samples(1..<2).reshaped([channels]) }
    guard computingInputGradient else { return nil }
    let scale = gamma?.value ?? Tensor(shape: [channels], repeating: 1)
    let inverseRows = rows > 0 ? 1 / Float(rows) : 0
    return Tensor(shape: outputGradient.shape) { dx in
      outputGradient.withUnsafeBufferPointer { dy in
        normalized.withUnsafeBufferPointer { xHat in
          statistics.withUnsafeBufferPointer { statistics in
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
