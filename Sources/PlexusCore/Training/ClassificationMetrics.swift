/// Counts of (true class, predicted class) pairs: the confusion matrix of a classifier, from
/// which precision, recall and F1 follow per class.
///
/// Decisions are those of ``AccuracyMetric``: with a binary loss (a `binaryThreshold`) or a
/// single output, every output is a yes/no decision (class 1 when above the threshold, or 0.5)
/// against a target that is class 1 when above 0.5; otherwise the predicted class is the
/// argmax over the last axis and the target a class index (`[N]`) or the argmax of a one-hot
/// row.
///
/// ```swift
/// var matrix = ConfusionMatrix(classes: 10)
/// try matrix.add(predictions: logits, targets: labels)
/// print(matrix.precision(of: 3), matrix.macroF1)
/// ```
public struct ConfusionMatrix: Sendable, Equatable {
  /// `counts[t][p]`: the samples of true class `t` predicted as `p`.
  public private(set) var counts: [[Int]]

  /// The number of classes (rows and columns).
  public var classes: Int { counts.count }

  /// An empty matrix of `classes` classes; it grows when a larger class turns up.
  public init(classes: Int = 0) {
    counts = Array(
      repeating: Array(repeating: 0, count: Swift.max(classes, 0)), count: Swift.max(classes, 0))
  }

  /// The number of decisions counted.
  public var total: Int { counts.reduce(0) { $0 + $1.reduce(0, +) } }

  /// Counts one decision.
  public mutating func add(trueClass: Int, predicted: Int) {
    let needed = Swift.max(trueClass, predicted) + 1
    if needed > classes {
      for row in counts.indices {
        counts[row].append(contentsOf: Array(repeating: 0, count: needed - classes))
      }
      counts.append(
        contentsOf: Array(repeating: Array(repeating: 0, count: needed), count: needed - classes))
    }
    counts[trueClass][predicted] += 1
  }

  /// Counts the decisions of a batch.
  ///
  /// - Throws: `PlexusError.invalidShape` when targets fit neither form; `.invalidData` for a
  ///   class index that is negative, fractional or not below the output width (naming the
  ///   sample).
  public mutating func add(predictions: Tensor, targets: Tensor, binaryThreshold: Float? = nil)
    throws
  {
    for (trueClass, predicted) in try Self.decisions(
      predictions: predictions, targets: targets, binaryThreshold: binaryThreshold)
    {
      add(trueClass: trueClass, predicted: predicted)
    }
  }

  /// The (true, predicted) class of every decision of a batch.
  static func decisions(predictions: Tensor, targets: Tensor, binaryThreshold: Float?) throws
    -> [(Int, Int)]
  {
    let width = predictions.rank >= 2 ? (predictions.shape.last ?? 1) : 1
    let count = predictions.count
    var result: [(Int, Int)] = []
    if binaryThreshold != nil || width == 1 {
      let threshold = binaryThreshold ?? 0.5
      guard targets.count == count else {
        throw PlexusError.invalidShape(
          "binary targets \(targets.shape) do not match predictions \(predictions.shape)")
      }
      result.reserveCapacity(count)
      predictions.withUnsafeBufferPointer { p in
        targets.withUnsafeBufferPointer { t in
          for index in p.indices {
            result.append((t[index] > 0.5 ? 1 : 0, p[index] > threshold ? 1 : 0))
          }
        }
      }
      return result
    }
    let rows = count / width
    let indexTargets = targets.count == rows
    guard indexTargets || targets.count == count else {
      throw PlexusError.invalidShape(
        "targets \(targets.shape) are neither class indices nor one-hot rows for predictions \(predictions.shape)"
      )
    }
    result.reserveCapacity(rows)
    try predictions.withUnsafeBufferPointer { p in
      try targets.withUnsafeBufferPointer { t in
        for row in 0..<rows {
          let start = row * width
          var predicted = 0
          for j in 1..<width where p[start + j] > p[start + predicted] { predicted = j }
          let expected: Int
          if indexTargets {
            let value = t[row]
            guard value.isFinite, value >= 0, value < Float(width), value.rounded() == value else {
              throw PlexusError.invalidData(
                "the target of sample \(row) is \(value), expected a class index in 0..<\(width)")
            }
            expected = Int(value)
          } else {
            var best = 0
            for j in 1..<width where t[start + j] > t[start + best] { best = j }
            expected = best
          }
          result.append((expected, predicted))
        }
      }
    }
    return result
  }

  /// The samples of true class `c` (the row sum).
  public func support(of c: Int) -> Int {
    c < classes ? counts[c].reduce(0, +) : 0
  }

  /// The samples predicted as class `c` (the column sum).
  public func predictedCount(of c: Int) -> Int {
    c < classes ? counts.reduce(0) { $0 + $1[c] } : 0
  }

  /// The fraction of the samples predicted as `c` that are `c`; 0 when none is.
  public func precision(of c: Int) -> Float {
    let predicted = predictedCount(of: c)
    return predicted == 0 ? 0 : Float(Double(counts[c][c]) / Double(predicted))
  }

  /// The fraction of the samples of class `c` predicted as `c`; 0 when there are none.
  public func recall(of c: Int) -> Float {
    let support = support(of: c)
    return support == 0 ? 0 : Float(Double(counts[c][c]) / Double(support))
  }

  /// The harmonic mean of the precision and recall of `c`; 0 when both are 0.
  public func f1(of c: Int) -> Float {
    let p = Double(precision(of: c))
    let r = Double(recall(of: c))
    return p + r == 0 ? 0 : Float(2 * p * r / (p + r))
  }

  /// The fraction of all decisions that are correct.
  public var accuracy: Float {
    let total = total
    guard total > 0 else { return 0 }
    return Float(Double((0..<classes).reduce(0) { $0 + counts[$1][$1] }) / Double(total))
  }

  /// The classes that occur as a true or a predicted class (scikit-learn's labels for macro
  /// averages).
  public var occurringClasses: [Int] {
    (0..<classes).filter { support(of: $0) > 0 || predictedCount(of: $0) > 0 }
  }

  /// The mean of `measure` over the occurring classes (0 before any decision).
  func macroAverage(_ measure: (Int) -> Float) -> Float {
    let classes = occurringClasses
    guard !classes.isEmpty else { return 0 }
    return Float(classes.reduce(0.0) { $0 + Double(measure($1)) } / Double(classes.count))
  }

  /// The unweighted mean precision over the occurring classes.
  public var macroPrecision: Float { macroAverage(precision(of:)) }
  /// The unweighted mean recall over the occurring classes.
  public var macroRecall: Float { macroAverage(recall(of:)) }
  /// The unweighted mean F1 over the occurring classes (scikit-learn's `f1_score(average=
  /// "macro")`).
  public var macroF1: Float { macroAverage(f1(of:)) }
}

/// Which class a precision, recall or F1 metric measures.
public struct ClassMeasureConfig: DefaultedConfiguration {
  /// The class measured, or `nil` for the default: class 1 for binary outputs (a binary loss
  /// or a single output), else the macro average over the classes that occur.
  public var classIndex: Int?

  /// Creates a config.
  public init(classIndex: Int? = nil) { self.classIndex = classIndex }

  public static var defaults: ClassMeasureConfig { ClassMeasureConfig() }
  public static var fields: [ConfigField<ClassMeasureConfig>] {
    [.init("classIndex", \.classIndex)]
  }
}

/// Precision, recall or F1 over an epoch's confusion matrix.
struct ClassMeasure: Sendable {
  let config: ClassMeasureConfig
  var matrix = ConfusionMatrix()
  var binary = false

  init(config: ClassMeasureConfig, metric: String) throws {
    if let index = config.classIndex, !(0...65_535).contains(index) {
      throw PlexusError.invalidConfiguration(
        "\(metric): classIndex must be in 0...65535, got \(index)")
    }
    self.config = config
  }

  mutating func add(predictions: Tensor, targets: Tensor, context: MetricContext, metric: String)
    throws
  {
    do {
      let width = predictions.rank >= 2 ? (predictions.shape.last ?? 1) : 1
      binary = context.binaryThreshold != nil || width == 1
      try matrix.add(
        predictions: predictions, targets: targets, binaryThreshold: context.binaryThreshold)
    } catch let error as PlexusError {
      throw error.prefixed(by: "\(metric): ")
    }
  }

  func value(_ measure: (ConfusionMatrix, Int) -> Float, macro: (ConfusionMatrix) -> Float)
    -> Float
  {
    if let index = config.classIndex ?? (binary ? 1 : nil) { return measure(matrix, index) }
    return macro(matrix)
  }
}

extension PlexusError {
  /// The same error with `prefix` before its message (for errors that carry one).
  func prefixed(by prefix: String) -> PlexusError {
    switch self {
    case .invalidShape(let message): return .invalidShape(prefix + message)
    case .invalidData(let message): return .invalidData(prefix + message)
    case .invalidArgument(let message): return .invalidArgument(prefix + message)
    case .invalidConfiguration(let message): return .invalidConfiguration(prefix + message)
    default: return self
    }
  }
}

/// The fraction of the samples predicted as the measured class that are of it, logged as
/// `precision`: of class 1 for binary outputs, else the macro average over the classes that
/// occur (`{"type": "precision", "classIndex": 3}` measures one class).
public struct PrecisionMetric: RunningMetric {
  public static let typeName = "plexus.precision"
  public var name: String { "precision" }
  public var config: ClassMeasureConfig { measure.config }
  private var measure: ClassMeasure

  /// Creates the metric.
  public init(config: ClassMeasureConfig = ClassMeasureConfig()) throws {
    measure = try ClassMeasure(config: config, metric: "precision")
  }

  public mutating func accumulate(predictions: Tensor, targets: Tensor, context: MetricContext)
    throws
  {
    try measure.add(predictions: predictions, targets: targets, context: context, metric: name)
  }

  public var result: Float { measure.value({ $0.precision(of: $1) }, macro: \.macroPrecision) }
}

/// The fraction of the samples of the measured class predicted as it, logged as `recall`:
/// class 1 for binary outputs, else the macro average over the classes that occur.
public struct RecallMetric: RunningMetric {
  public static let typeName = "plexus.recall"
  public var name: String { "recall" }
  public var config: ClassMeasureConfig { measure.config }
  private var measure: ClassMeasure

  /// Creates the metric.
  public init(config: ClassMeasureConfig = ClassMeasureConfig()) throws {
    measure = try ClassMeasure(config: config, metric: "recall")
  }

  public mutating func accumulate(predictions: Tensor, targets: Tensor, context: MetricContext)
    throws
  {
    try measure.add(predictions: predictions, targets: targets, context: context, metric: name)
  }

  public var result: Float { measure.value({ $0.recall(of: $1) }, macro: \.macroRecall) }
}

/// The harmonic mean of precision and recall, logged as `f1`: of class 1 for binary outputs,
/// else the mean of the per-class F1 over the classes that occur (macro F1).
public struct F1Metric: RunningMetric {
  public static let typeName = "plexus.f1"
  public var name: String { "f1" }
  public var config: ClassMeasureConfig { measure.config }
  private var measure: ClassMeasure

  /// Creates the metric.
  public init(config: ClassMeasureConfig = ClassMeasureConfig()) throws {
    measure = try ClassMeasure(config: config, metric: "f1")
  }

  public mutating func accumulate(predictions: Tensor, targets: Tensor, context: MetricContext)
    throws
  {
    try measure.add(predictions: predictions, targets: targets, context: context, metric: name)
  }

  public var result: Float { measure.value({ $0.f1(of: $1) }, macro: \.macroF1) }
}

/// The fraction of samples whose true class is among the `k` largest outputs, logged as
/// `top_k_accuracy` (Keras' `TopKCategoricalAccuracy`; `k` defaults to 5). Needs outputs over
/// several classes; targets are class indices or one-hot rows.
public struct TopKAccuracyMetric: RunningMetric {
  /// The metric's parameter.
  public struct Config: DefaultedConfiguration {
    /// How many of the largest outputs may hold the true class (1...65536).
    public var k: Int

    /// Creates a config.
    public init(k: Int = 5) { self.k = k }

    public static var defaults: Config { Config() }
    public static var fields: [ConfigField<Config>] { [.init("k", \.k)] }
  }

  public static let typeName = "plexus.top_k_accuracy"
  public var name: String { "top_k_accuracy" }
  public let config: Config
  private var correct = 0
  private var samples = 0

  /// Creates the metric.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` unless `k` is in 1...65536.
  public init(config: Config = Config()) throws {
    guard (1...65_536).contains(config.k) else {
      throw PlexusError.invalidConfiguration(
        "top_k_accuracy: k must be in 1...65536, got \(config.k)")
    }
    self.config = config
  }

  public mutating func accumulate(predictions: Tensor, targets: Tensor, context: MetricContext)
    throws
  {
    let width = predictions.rank >= 2 ? (predictions.shape.last ?? 1) : 1
    guard width > 1, context.binaryThreshold == nil else {
      throw PlexusError.invalidShape(
        "top_k_accuracy needs outputs over several classes, got predictions \(predictions.shape)"
          + (context.binaryThreshold == nil ? "" : " with a binary loss"))
    }
    let rows = predictions.count / width
    let indexTargets = targets.count == rows
    guard indexTargets || targets.count == predictions.count else {
      throw PlexusError.invalidShape(
        "top_k_accuracy: targets \(targets.shape) are neither class indices nor one-hot rows for predictions \(predictions.shape)"
      )
    }
    let k = config.k
    var right = 0
    try predictions.withUnsafeBufferPointer { p in
      try targets.withUnsafeBufferPointer { t in
        for row in 0..<rows {
          let start = row * width
          let expected: Int
          if indexTargets {
            let value = t[row]
            guard value.isFinite, value >= 0, value < Float(width), value.rounded() == value else {
              throw PlexusError.invalidData(
                "top_k_accuracy: the target of sample \(row) is \(value), expected a class index in 0..<\(width)"
              )
            }
            expected = Int(value)
          } else {
            var best = 0
            for j in 1..<width where t[start + j] > t[start + best] { best = j }
            expected = best
          }
          // The true class is in the top k when fewer than k outputs beat it (ties count for
          // it, as Keras' in_top_k does).
          let score = p[start + expected]
          var larger = 0
          for j in 0..<width where p[start + j] > score { larger += 1 }
          if larger < k { right += 1 }
        }
      }
    }
    correct += right
    samples += rows
  }

  public var result: Float { samples == 0 ? 0 : Float(Double(correct) / Double(samples)) }
}
