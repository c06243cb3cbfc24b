/// A quantity measured during training and evaluation besides the loss.
///
/// Logged under its raw value (`"accuracy"`, `"mse"`, `"mae"`), with a `val_` prefix for
/// validation data.
public enum Metric: String, Codable, Sendable, CaseIterable {
  /// The fraction of correct predictions.
  ///
  /// - With a binary loss (`BinaryCrossEntropy`, `Hinge`) every output is a yes/no decision:
  ///   positive when above the loss' `binaryThreshold` (0 for logits and scores, 0.5 for
  ///   probabilities), compared with a target that is positive when above 0.5.
  /// - Otherwise, for outputs with `C > 1` classes on the last axis, the predicted class is
  ///   the argmax and the target is a class index (`[N]`) or the argmax of a one-hot row.
  /// - A single output (`C == 1`) is thresholded at 0.5.
  case accuracy
  /// The mean squared error over all elements.
  case meanSquaredError = "mse"
  /// The mean absolute error over all elements.
  case meanAbsoluteError = "mae"
}

/// Running sums of the loss and metrics over the batches of an epoch.
struct MetricAccumulator {
  let metrics: [Metric]
  let binaryThreshold: Float?
  private var lossSum: Double = 0
  private var samples = 0
  private var correct = 0
  private var decisions = 0
  private var squaredError: Double = 0
  private var absoluteError: Double = 0
  private var elements = 0

  init(metrics: [Metric], binaryThreshold: Float?) {
    self.metrics = metrics
    self.binaryThreshold = binaryThreshold
  }

  /// Adds the loss of a batch of `batchSize` samples.
  mutating func addLoss(_ value: Float, batchSize: Int) {
    lossSum += Double(value) * Double(batchSize)
    samples += batchSize
  }

  /// Adds the metrics of a batch.
  ///
  /// - Throws: `PlexusError.invalidShape` when accuracy cannot pair predictions and targets.
  mutating func addMetrics(predictions: Tensor, targets: Tensor) throws {
    guard !metrics.isEmpty else { return }
    if metrics.contains(.accuracy) {
      let (right, total) = try Self.accuracyCounts(
        predictions: predictions, targets: targets, binaryThreshold: binaryThreshold)
      correct += right
      decisions += total
    }
    if metrics.contains(.meanSquaredError) || metrics.contains(.meanAbsoluteError) {
      guard targets.count == predictions.count else {
        throw PlexusError.invalidShape(
          "mse/mae metrics need targets with as many elements as the predictions: \(targets.shape) vs \(predictions.shape)"
        )
      }
      predictions.withUnsafeBufferPointer { p in
        targets.withUnsafeBufferPointer { t in
          for index in p.indices {
            let error = Double(p[index] - t[index])
            squaredError += error * error
            absoluteError += abs(error)
          }
        }
      }
      elements += predictions.count
    }
  }

  /// The running means: `"loss"` and each metric, with `prefix` prepended.
  func logs(prefix: String = "") -> [String: Float] {
    var result: [String: Float] = [:]
    result[prefix + "loss"] = samples == 0 ? 0 : Float(lossSum / Double(samples))
    for metric in metrics {
      switch metric {
      case .accuracy:
        result[prefix + metric.rawValue] =
          decisions == 0 ? 0 : Float(Double(correct) / Double(decisions))
      case .meanSquaredError:
        result[prefix + metric.rawValue] =
          elements == 0 ? 0 : Float(squaredError / Double(elements))
      case .meanAbsoluteError:
        result[prefix + metric.rawValue] =
          elements == 0 ? 0 : Float(absoluteError / Double(elements))
      }
    }
    return result
  }

  /// The number of correct decisions and the number of decisions in a batch.
  static func accuracyCounts(
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
