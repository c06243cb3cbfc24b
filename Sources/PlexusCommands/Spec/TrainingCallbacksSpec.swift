import Foundation
import Plexus

/// The learning-rate schedule of a spec (`"learningRateSchedule"`): one that sets each
/// epoch's rate from the epoch number (`step`, `exponential`, `cosine`, `constant`), or one
/// that lowers it when a monitored value stops improving (`reduce_on_plateau`).
///
/// ```json
/// {"type": "step", "stepSize": 10, "gamma": 0.5}
/// {"type": "exponential", "gamma": 0.95}
/// {"type": "cosine", "epochs": 50, "minimumFraction": 0.01, "warmupEpochs": 5}
/// {"type": "reduce_on_plateau", "monitor": "val_loss", "factor": 0.5, "patience": 3,
///  "minDelta": 0.0001, "cooldown": 0, "minimumLearningRate": 0.00001, "mode": "min"}
/// ```
public enum LearningRateScheduleSpec: Sendable, Equatable {
  /// A rate set from the epoch number, relative to the optimizer's learning rate.
  case epochs(LearningRateScheduleConfig)
  /// A rate lowered on a plateau of a monitored value.
  case plateau(ReduceLearningRateOnPlateau.Config)

  /// The accepted `type` values.
  public static let typeNames = LearningRateScheduleConfig.allTypeNames + ["reduce_on_plateau"]

  init(_ cursor: JSONCursor) throws {
    let members = try cursor.object()
    let typeCursor = try cursor.required(
      "type", expected: "one of \(Self.typeNames.joined(separator: ", "))")
    let type = try typeCursor.string()
    guard Self.typeNames.contains(type) else {
      throw typeCursor.error(
        "unknown learning-rate schedule '\(type)'; expected one of "
          + Self.typeNames.joined(separator: ", "))
    }
    do {
      if type == "reduce_on_plateau" {
        var parameters = members
        parameters["type"] = nil
        let config = try ReduceLearningRateOnPlateau.Config.decode(
          .object(parameters), context: "reduce_on_plateau")
        _ = try ReduceLearningRateOnPlateau(config: config)
        self = .plateau(config)
      } else {
        self = .epochs(
          try cursor.value.decode(
            LearningRateScheduleConfig.self, context: "learning-rate schedule"))
      }
    } catch let error as PlexusError {
      throw cursor.error(error.description)
    }
  }

  /// The log key a plateau schedule watches.
  var monitor: String? {
    if case .plateau(let config) = self { return config.monitor }
    return nil
  }
}

extension TrainingSpec {
  /// Reads the training-control keys of a spec: `metrics`, `classWeights`, `earlyStopping`
  /// and `learningRateSchedule`.
  static func decodeTrainingControls(_ root: JSONCursor, into spec: inout TrainingSpec) throws {
    if let cursor = try root.optional("metrics") {
      spec.metrics = try cursor.array().map { entry in
        do {
          return try Metric(json: entry.value)
        } catch let error as PlexusError {
          throw entry.error(error.description)
        }
      }
    }
    if let cursor = try root.optional("classWeights") {
      spec.classWeights = try classWeights(cursor)
    }
    if let cursor = try root.optional("earlyStopping") {
      _ = try cursor.object()
      do {
        let config = try EarlyStopping.Config.decode(cursor.value, context: "earlyStopping")
        _ = try EarlyStopping(config: config)
        spec.earlyStopping = config
      } catch let error as PlexusError {
        throw cursor.error(error.description)
      }
    }
    if let cursor = try root.optional("learningRateSchedule") {
      spec.learningRateSchedule = try LearningRateScheduleSpec(cursor)
    }
    // A monitored validation figure needs validation data.
    for (key, monitor) in [
      ("earlyStopping", spec.earlyStopping?.monitor),
      ("learningRateSchedule", spec.learningRateSchedule?.monitor),
    ] {
      guard let monitor, monitor.hasPrefix("val_"), spec.validationSplit == 0 else { continue }
      throw SpecError(
        path: "$.\(key).monitor",
        message: "'\(monitor)' is measured on validation data; give a \"validationSplit\" "
          + "such as 0.1, or monitor '\(monitor.dropFirst(4))'")
    }
  }

  /// Class weights as an object (`{"0": 1, "1": 4.5}`, a class's index as its key; classes
  /// not named weigh 1) or an array (`[1, 4.5]`, one weight per class).
  private static func classWeights(_ cursor: JSONCursor) throws -> [Float] {
    func weight(_ entry: JSONCursor) throws -> Float {
      let value = try entry.double()
      guard value.isFinite, value >= 0, value <= 1e6 else {
        throw entry.error("expected a class weight in [0, 1e6], found \(JSONCursor.format(value))")
      }
      return Float(value)
    }
    switch cursor.value {
    case .array:
      let weights = try cursor.array().map(weight)
      guard !weights.isEmpty, weights.count <= 65_536 else {
        throw cursor.error("expected 1 to 65536 weights, one per class, found \(weights.count)")
      }
      return weights
    case .object(let members):
      guard !members.isEmpty else {
        throw cursor.error("expected at least one class weight such as {\"1\": 2.5}")
      }
      var byClass: [Int: Float] = [:]
      for key in members.keys.sorted() {
        let entry = try cursor.required(key, expected: "a weight")
        guard let index = Int(key), String(index) == key, (0..<65_536).contains(index) else {
          throw entry.error(
            "expected a class index 0...65535 as the key, found '\(key.prefix(40))'")
        }
        byClass[index] = try weight(entry)
      }
      let count = (byClass.keys.max() ?? 0) + 1
      return (0..<count).map { byClass[$0] ?? 1 }
    default:
      throw cursor.error(
        "expected an object of class weights such as {\"0\": 1, \"1\": 4} or an array, found "
          + cursor.typeDescription)
    }
  }
}
