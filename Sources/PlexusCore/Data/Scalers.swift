/// Scales each feature to zero mean and unit variance: `(x - mean) / standardDeviation`.
///
/// Fit it on the training set and apply the same transform to the test set, as with
/// scikit-learn's `StandardScaler`. A feature is one element of a sample (so for images
/// `[N, H, W, C]` every pixel position and channel has its own statistics). The standard
/// deviation is the population one (divided by N); a constant feature gets scale 1, so it
/// becomes 0 after centring. Statistics are accumulated in `Double`.
///
/// ```swift
/// let scaler = try Standardizer(fitting: train.features)
/// let trainScaled = try scaler.transform(train)
/// let testScaled = try scaler.transform(test)
/// ```
public struct Standardizer: Codable, Sendable, Equatable {
  /// The mean of each feature in the fitted data.
  public let mean: [Float]
  /// The divisor of each feature: its standard deviation, or 1 when that is 0.
  public let scale: [Float]

  /// Creates a standardizer from known statistics.
  ///
  /// - Throws: `PlexusError.invalidArgument` when the arrays are empty or differ in length, or
  ///   a value is not finite, or a scale is 0.
  public init(mean: [Float], scale: [Float]) throws {
    try FeatureAffine.validate(
      name: "Standardizer", first: ("mean", mean), second: ("scale", scale))
    self.mean = mean
    self.scale = scale
  }

  /// Fits the per-feature mean and standard deviation of `features` (`[N, ...]`, N ≥ 1).
  ///
  /// - Throws: `PlexusError.invalidArgument` when there are no samples or a value is not
  ///   finite.
  public init(fitting features: Tensor) throws {
    let (mean, variance) = try FeatureAffine.meanAndVariance(features, name: "Standardizer")
    self.mean = mean.map { Float($0) }
    self.scale = variance.map { $0 > 0 ? Float($0.squareRoot()) : 1 }
  }

  /// Decodes and validates a standardizer (as ``init(mean:scale:)`` does).
  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    try self.init(
      mean: container.decode([Float].self, forKey: .mean),
      scale: container.decode([Float].self, forKey: .scale))
  }

  /// The standardized features: `(x - mean) / scale` per feature.
  ///
  /// - Throws: `PlexusError.invalidShape` when a sample does not have the fitted number of
  ///   features.
  public func transform(_ features: Tensor) throws -> Tensor {
    try FeatureAffine.apply(
      features, multiplier: scale.map { 1 / $0 }, offset: zip(mean, scale).map { -$0 / $1 },
      name: "Standardizer")
  }

  /// The original features back: `x * scale + mean` per feature.
  public func inverseTransform(_ features: Tensor) throws -> Tensor {
    try FeatureAffine.apply(features, multiplier: scale, offset: mean, name: "Standardizer")
  }

  /// The dataset with standardized features and the same labels.
  public func transform(_ dataset: Dataset) throws -> Dataset {
    try Dataset(features: transform(dataset.features), labels: dataset.labels)
  }
}

/// Scales each feature linearly so that its fitted minimum and maximum map to the ends of a
/// target range (default `0...1`), as scikit-learn's `MinMaxScaler`.
///
/// Fit it on the training set and apply it to the test set (whose values may fall outside
/// the target range). A constant feature maps to the lower end of the target range.
public struct MinMaxScaler: Codable, Sendable, Equatable {
  /// The minimum of each feature in the fitted data.
  public let minimum: [Float]
  /// The maximum of each feature in the fitted data.
  public let maximum: [Float]
  /// The lower end of the target range.
  public let lowerBound: Float
  /// The upper end of the target range.
  public let upperBound: Float

  /// Creates a scaler from known per-feature bounds.
  ///
  /// - Throws: `PlexusError.invalidArgument` when the arrays are empty or differ in length, a
  ///   value is not finite, a minimum exceeds its maximum, or the target range is empty or not
  ///   finite.
  public init(minimum: [Float], maximum: [Float], range: ClosedRange<Float> = 0...1) throws {
    try FeatureAffine.validate(
      name: "MinMaxScaler", first: ("minimum", minimum), second: ("maximum", maximum))
    if let index = minimum.indices.first(where: { minimum[$0] > maximum[$0] }) {
      throw PlexusError.invalidArgument(
        "MinMaxScaler: minimum \(minimum[index]) of feature \(index) exceeds its maximum \(maximum[index])"
      )
    }
    guard range.lowerBound.isFinite, range.upperBound.isFinite, range.lowerBound < range.upperBound
    else {
      throw PlexusError.invalidArgument(
        "MinMaxScaler: the target range \(range) must be finite with lower < upper")
    }
    self.minimum = minimum
    self.maximum = maximum
    self.lowerBound = range.lowerBound
    self.upperBound = range.upperBound
  }

  /// Fits the per-feature minimum and maximum of `features` (`[N, ...]`, N ≥ 1).
  ///
  /// - Throws: `PlexusError.invalidArgument` when there are no samples, a value is not
  ///   finite, or the target range is empty or not finite.
  public init(fitting features: Tensor, range: ClosedRange<Float> = 0...1) throws {
    let (minimum, maximum) = try FeatureAffine.minimumAndMaximum(features, name: "MinMaxScaler")
    try self.init(minimum: minimum, maximum: maximum, range: range)
  }

  /// Decodes and validates a scaler (as ``init(minimum:maximum:range:)`` does).
  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    let lower = try container.decode(Float.self, forKey: .lowerBound)
    let upper = try container.decode(Float.self, forKey: .upperBound)
    guard lower.isFinite, upper.isFinite, lower < upper else {
      throw PlexusError.invalidArgument(
        "MinMaxScaler: the target range \(lower)...\(upper) must be finite with lower < upper")
    }
    try self.init(
      minimum: container.decode([Float].self, forKey: .minimum),
      maximum: container.decode([Float].self, forKey: .maximum), range: lower...upper)
  }

  private var multipliers: [Float] {
    zip(minimum, maximum).map { low, high in
      high > low ? (upperBound - lowerBound) / (high - low) : 0
    }
  }

  /// The scaled features: `lower + (x - minimum) * (upper - lower) / (maximum - minimum)`.
  ///
  /// - Throws: `PlexusError.invalidShape` when a sample does not have the fitted number of
  ///   features.
  public func transform(_ features: Tensor) throws -> Tensor {
    let multipliers = self.multipliers
    return try FeatureAffine.apply(
      features, multiplier: multipliers,
      offset: zip(minimum, multipliers).map { lowerBound - $0 * $1 }, name: "MinMaxScaler")
  }

  /// The original features back (a constant feature maps back to its minimum).
  public func inverseTransform(_ features: Tensor) throws -> Tensor {
    let span = upperBound - lowerBound
    let multipliers = zip(minimum, maximum).map { ($1 - $0) / span }
    return try FeatureAffine.apply(
      features, multiplier: multipliers,
      offset: zip(minimum, multipliers).map { $0 - lowerBound * $1 }, name: "MinMaxScaler")
  }

  /// The dataset with scaled features and the same labels.
  public func transform(_ dataset: Dataset) throws -> Dataset {
    try Dataset(features: transform(dataset.features), labels: dataset.labels)
  }
}

/// Per-feature statistics and affine maps shared by the scalers.
private enum FeatureAffine {
  static func validate(name: String, first: (String, [Float]), second: (String, [Float])) throws {
    guard !first.1.isEmpty, first.1.count == second.1.count else {
      throw PlexusError.invalidArgument(
        "\(name): \(first.0) (\(first.1.count) values) and \(second.0) (\(second.1.count) values) must be non-empty and of equal length"
      )
    }
    for (label, values) in [first, second] {
      if let index = values.firstIndex(where: { !$0.isFinite }) {
        throw PlexusError.invalidArgument(
          "\(name): \(label)[\(index)] is \(values[index]); expected a finite value")
      }
    }
    if second.0 == "scale", let index = second.1.firstIndex(of: 0) {
      throw PlexusError.invalidArgument(
        "\(name): scale[\(index)] is 0; expected a non-zero divisor")
    }
  }

  static func checkFitInput(_ features: Tensor, name: String) throws {
    guard features.rank >= 1, features.shape[0] >= 1, features.sampleSize >= 1 else {
      throw PlexusError.invalidArgument(
        "\(name) needs features [N, ...] with at least one sample and one feature, found shape \(features.shape)"
      )
    }
    if let index = features.withUnsafeBufferPointer({ $0.firstIndex { !$0.isFinite } }) {
      throw PlexusError.invalidArgument(
        "\(name): feature value at flat index \(index) is \(features[flat: index]); expected finite values"
      )
    }
  }

  static func meanAndVariance(_ features: Tensor, name: String) throws -> ([Double], [Double]) {
    try checkFitInput(features, name: name)
    let rows = features.shape[0]
    let width = features.sampleSize
    var sum = [Double](repeating: 0, count: width)
    var sumOfSquares = [Double](repeating: 0, count: width)
    features.withUnsafeBufferPointer { values in
      sum.withUnsafeMutableBufferPointer { sum in
        for row in 0..<rows {
          for column in 0..<width { sum[column] += Double(values[row * width + column]) }
        }
      }
    }
    let mean = sum.map { $0 / Double(rows) }
    features.withUnsafeBufferPointer { values in
      mean.withUnsafeBufferPointer { mean in
        sumOfSquares.withUnsafeMutableBufferPointer { squares in
          for row in 0..<rows {
            for column in 0..<width {
              let deviation = Double(values[row * width + column]) - mean[column]
              squares[column] += deviation * deviation
            }
          }
        }
      }
    }
    return (mean, sumOfSquares.map { $0 / Double(rows) })
  }

  static func minimumAndMaximum(_ features: Tensor, name: String) throws -> ([Float], [Float]) {
    try checkFitInput(features, name: name)
    let rows = features.shape[0]
    let width = features.sampleSize
    var minimum = [Float](repeating: .infinity, count: width)
    var maximum = [Float](repeating: -.infinity, count: width)
    features.withUnsafeBufferPointer { values in
      minimum.withUnsafeMutableBufferPointer { minimum in
        maximum.withUnsafeMutableBufferPointer { maximum in
          for row in 0..<rows {
            for column in 0..<width {
              let value = values[row * width + column]
              if value < minimum[column] { minimum[column] = value }
              if value > maximum[column] { maximum[column] = value }
            }
          }
        }
      }
    }
    return (minimum, maximum)
  }

  /// `x * multiplier + offset` per feature.
  static func apply(_ features: Tensor, multiplier: [Float], offset: [Float], name: String) throws
    -> Tensor
  {
    let width = multiplier.count
    guard features.rank >= 1, features.sampleSize == width else {
      throw PlexusError.invalidShape(
        "\(name) was fitted on samples of \(width) features, found shape \(features.shape) (\(features.rank >= 1 ? features.sampleSize : 0) per sample)"
      )
    }
    let rows = features.shape[0]
    return Tensor(shape: features.shape) { destination in
      features.withUnsafeBufferPointer { values in
        multiplier.withUnsafeBufferPointer { multiplier in
          offset.withUnsafeBufferPointer { offset in
            for row in 0..<rows {
              let base = row * width
              for column in 0..<width {
                destination[base + column] =
                  values[base + column] * multiplier[column] + offset[column]
              }
            }
          }
        }
      }
    }
  }
}
