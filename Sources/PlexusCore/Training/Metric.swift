/// What a metric knows of the run besides predictions and targets.
public struct MetricContext: Sendable, Equatable {
  /// The loss' decision threshold for binary outputs (`Loss.binaryThreshold`): `nil` when the
  /// loss is not binary.
  public var binaryThreshold: Float?

  /// Creates a context.
  public init(binaryThreshold: Float? = nil) {
    self.binaryThreshold = binaryThreshold
  }
}

/// A quantity measured over the batches of an epoch besides the loss: running sums that each
/// batch adds to, and their result.
///
/// A metric is registered in a `MetricRegistry` under a namespaced `typeName` (`plexus.accuracy`;
/// third parties use their own prefix) with a `Config`, and logged under its `name`
/// (`"accuracy"`, with a `val_` prefix for validation data). `fit` and `evaluate` start each
/// epoch from a copy of the metric as it was created.
///
/// ```swift
/// struct MaxAbsoluteError: RunningMetric {
///   static let typeName = "com.example.max_absolute_error"
///   var name: String { "max_ae" }
///   let config = EmptyConfiguration()
///   private var largest: Float = 0
///   init(config: EmptyConfiguration) {}
///   mutating func accumulate(predictions: Tensor, targets: Tensor, context: MetricContext) throws {
///     for (p, t) in zip(predictions.scalars, targets.scalars) { largest = max(largest, abs(p - t)) }
///   }
///   var result: Float { largest }
/// }
/// try MetricRegistry.shared.register(MaxAbsoluteError.self, module: "MyMetrics")
/// ```
public protocol RunningMetric: Sendable, SendableMetatype {
  /// The metric's parameters.
  associatedtype Config: DefaultedConfiguration

  /// The namespaced, stable type name under which the metric is registered.
  static var typeName: String { get }

  /// The key the metric is logged under (`"accuracy"`).
  var name: String { get }

  /// The parameters this metric was created with.
  var config: Config { get }

  /// Creates the metric, with nothing accumulated, from its parameters.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` for a parameter out of range.
  init(config: Config) throws

  /// Adds a batch.
  ///
  /// - Throws: `PlexusError.invalidShape` when predictions and targets cannot be paired.
  mutating func accumulate(predictions: Tensor, targets: Tensor, context: MetricContext) throws

  /// The value over the batches added so far (0 before any).
  var result: Float { get }
}

extension RunningMetric {
  /// The registered type name of this metric's type.
  public var typeName: String { Self.typeName }
}

/// A metric named for training and evaluation: a registered metric with its config, spelled
/// `.accuracy`, `.meanSquaredError`, `.meanAbsoluteError` or `Metric(SomeMetric(...))`.
///
/// ```swift
/// let options = TrainingOptions(epochs: 10, metrics: [.accuracy])
/// ```
///
/// In JSON a metric is a name (`"accuracy"`, `"plexus.mae"`) or a flat object
/// (`{"type": "com.example.top_k", "k": 5}`), decoded through `MetricRegistry.shared`.
public struct Metric: Sendable, Hashable, CustomStringConvertible {
  /// The registered type name (`plexus.accuracy`).
  public let typeName: String
  /// The metric as created, with nothing accumulated.
  public let prototype: any RunningMetric

  /// Describes a metric by its initial state (normally a fresh metric).
  public init(_ metric: some RunningMetric) {
    typeName = type(of: metric).typeName
    prototype = metric
  }

  /// Reads a name or a flat object through `registry`.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` for an unknown metric (listing the
  ///   registered ones), an unknown key or a value out of range.
  public init(json: JSONValue, registry: MetricRegistry = .shared) throws {
    self = try registry.metric(from: json)
  }

  /// The fraction of correct predictions (`AccuracyMetric`), logged as `accuracy`.
  public static let accuracy = Metric(AccuracyMetric())
  /// The mean squared error over all elements, logged as `mse`.
  public static let meanSquaredError = Metric(MeanSquaredErrorMetric())
  /// The mean absolute error over all elements, logged as `mae`.
  public static let meanAbsoluteError = Metric(MeanAbsoluteErrorMetric())

  /// The key the metric is logged under.
  public var name: String { prototype.name }

  /// The metric's parameters.
  public var config: any DefaultedConfiguration { prototype.config }

  public static func == (lhs: Metric, rhs: Metric) -> Bool {
    lhs.typeName == rhs.typeName && lhs.config.isEqual(to: rhs.config)
  }

  public func hash(into hasher: inout Hasher) {
    hasher.combine(typeName)
  }

  /// The JSON form, or the type name when it cannot be encoded.
  public var description: String {
    (try? ComponentJSON.text(of: self)) ?? typeName
  }
}

extension Metric: Codable {
  /// Decodes through `MetricRegistry.shared`.
  ///
  /// - Throws: as `init(json:registry:)`.
  public init(from decoder: any Decoder) throws {
    try self.init(json: try JSONValue(from: decoder))
  }

  /// Encodes the registered name alone when the config is empty (`"plexus.accuracy"`), else
  /// a flat object.
  public func encode(to encoder: any Encoder) throws {
    try ComponentJSON.encode(typeName: typeName, config: config, to: encoder)
  }
}

/// The fraction of correct predictions, logged as `accuracy`.
///
/// - With a binary loss (`BinaryCrossEntropy`, `Hinge`) every output is a yes/no decision:
///   positive when above the loss' `binaryThreshold` (0 for logits and scores, 0.5 for
///   probabilities), compared with a target that is positive when above 0.5.
/// - Otherwise, for outputs with `C > 1` classes on the last axis, the predicted class is the
///   argmax and the target is a class index (`[N]`) or the argmax of a one-hot row.
/// - A single output (`C == 1`) is thresholded at 0.5.
public struct AccuracyMetric: RunningMetric {
  public static let typeName = "plexus.accuracy"
  public var name: String { "accuracy" }
  public let config = EmptyConfiguration()
  private var correct = 0
  private var decisions = 0

  /// Creates the metric.
  public init() {}
  public init(config: EmptyConfiguration) {}

  public mutating func accumulate(predictions: Tensor, targets: Tensor, context: MetricContext)
    throws
  {
    let (right, total) = try Self.counts(
      predictions: predictions, targets: targets, binaryThreshold: context.binaryThreshold)
    correct += right
    decisions += total
  }

  public var result: Float { decisions == 0 ? 0 : Float(Double(correct) / Double(decisions)) }

  /// The number of correct decisions and the number of decisions in a batch.
  static func counts(
    predictions: Tensor, targets: Tensor, binaryThreshold: Float?
  ) throws -> (correct: Int, total: Int) {
    let classes = predictions.rank >= 2 ? (predictions.shape.last ?? 1) : 1
    let count = predictions.count
    if binaryThreshold != nil || classes == 1 {
      let threshold = binaryThreshold ?? 0.5
      guard targets.count == count else {
        throw PlexusError.invalidShape(
          "accuracy: binary targets \(targets.shape) do not match predictions \(predictions.shape)")
      }
      var right = 0
      predictions.withUnsafeBufferPointer { p in
        targets.withUnsafeBufferPointer { t in
          for index in p.indices where (p[index] > threshold) == (t[index] > 0.5) { right += 1 }
        }
      }
      return (right, count)
    }
    let rows = count / classes
    let indexTargets = targets.count == rows
    guard indexTargets || targets.count == count else {
      throw PlexusError.invalidShape(
        "accuracy: targets \(targets.shape) are neither class indices nor one-hot rows for predictions \(predictions.shape)"
      )
    }
    var right = 0
    predictions.withUnsafeBufferPointer { p in
      targets.withUnsafeBufferPointer { t in
        for row in 0..<rows {
          let start = row * classes
          var predicted = 0
          for j in 1..<classes where p[start + j] > p[start + predicted] { predicted = j }
          let expected: Int
          if indexTargets {
            let value = t[row]
            guard value.isFinite, value >= 0, value < Float(classes) else { continue }
            expected = Int(value)
          } else {
            var best = 0
            for j in 1..<classes where t[start + j] > t[start + best] { best = j }
            expected = best
          }
          if predicted == expected { right += 1 }
        }
      }
    }
    return (right, rows)
  }
}

/// Running sums of elementwise errors, shared by the mse and mae metrics.
struct ElementwiseErrorSum: Sendable {
  private(set) var total: Double = 0
  private(set) var elements = 0

  /// Adds `measure(prediction - target)` over all elements.
  ///
  /// - Throws: `PlexusError.invalidShape` unless targets have as many elements as predictions.
  mutating func add(
    predictions: Tensor, targets: Tensor, metric: String, _ measure: (Double) -> Double
  ) throws {
    guard targets.count == predictions.count else {
      throw PlexusError.invalidShape(
        "\(metric) metric needs targets with as many elements as the predictions: \(targets.shape) vs \(predictions.shape)"
      )
    }
    var sum: Double = 0
    predictions.withUnsafeBufferPointer { p in
      targets.withUnsafeBufferPointer { t in
        for index in p.indices { sum += measure(Double(p[index] - t[index])) }
      }
    }
    total += sum
    elements += predictions.count
  }

  var mean: Float { elements == 0 ? 0 : Float(total / Double(elements)) }
}

/// The mean squared error over all elements, logged as `mse`.
public struct MeanSquaredErrorMetric: RunningMetric {
  public static let typeName = "plexus.mse"
  public var name: String { "mse" }
  public let config = EmptyConfiguration()
  private var sum = ElementwiseErrorSum()

  /// Creates the metric.
  public init() {}
  public init(config: EmptyConfiguration) {}

  public mutating func accumulate(predictions: Tensor, targets: Tensor, context: MetricContext)
    throws
  {
    try sum.add(predictions: predictions, targets: targets, metric: name) { $0 * $0 }
  }

  public var result: Float { sum.mean }
}

/// The mean absolute error over all elements, logged as `mae`.
public struct MeanAbsoluteErrorMetric: RunningMetric {
  public static let typeName = "plexus.mae"
  public var name: String { "mae" }
  public let config = EmptyConfiguration()
  private var sum = ElementwiseErrorSum()

  /// Creates the metric.
  public init() {}
  public init(config: EmptyConfiguration) {}

  public mutating func accumulate(predictions: Tensor, targets: Tensor, context: MetricContext)
    throws
  {
    try sum.add(predictions: predictions, targets: targets, metric: name) { Swift.abs($0) }
  }

  public var result: Float { sum.mean }
}

/// Running sums of the loss and metrics over the batches of an epoch.
struct MetricAccumulator {
  let metrics: [Metric]
  let binaryThreshold: Float?
  private var running: [any RunningMetric]
  private var lossSum: Double = 0
  private var samples = 0

  init(metrics: [Metric], binaryThreshold: Float?) {
    self.metrics = metrics
    self.binaryThreshold = binaryThreshold
    running = metrics.map(\.prototype)
  }

  /// Adds the loss of a batch of `batchSize` samples.
  mutating func addLoss(_ value: Float, batchSize: Int) {
    lossSum += Double(value) * Double(batchSize)
    samples += batchSize
  }

  /// Adds the metrics of a batch.
  ///
  /// - Throws: `PlexusError.invalidShape` when a metric cannot pair predictions and targets.
  mutating func addMetrics(predictions: Tensor, targets: Tensor) throws {
    let context = MetricContext(binaryThreshold: binaryThreshold)
    for index in running.indices {
      try running[index].accumulate(predictions: predictions, targets: targets, context: context)
    }
  }

  /// The running means: `"loss"` and each metric, with `prefix` prepended.
  func logs(prefix: String = "") -> [String: Float] {
    var result: [String: Float] = [:]
    result[prefix + "loss"] = samples == 0 ? 0 : Float(lossSum / Double(samples))
    for metric in running { result[prefix + metric.name] = metric.result }
    return result
  }
}
