/// The per-epoch record of a training run, as Keras' `History`.
///
/// `values` maps each log key to one number per epoch run: `"loss"`, each metric
/// (`"accuracy"`, ...), their validation counterparts (`"val_loss"`, `"val_accuracy"`, ...)
/// and `"lr"`, the learning rate used in the epoch.
///
/// ```swift
/// let history = try model.fit(x, y, loss: MeanSquaredError(), optimizer: Adam())
/// print(history["loss"]?.last ?? .nan)
/// ```
public struct History: Codable, Sendable, Equatable {
  /// One value per epoch for each log key.
  public var values: [String: [Float]]
  /// The number of epochs this run completed.
  public var epochsCompleted: Int
  /// Whether a callback stopped training before the last epoch.
  public var stoppedEarly: Bool

  /// Creates an empty history.
  public init(values: [String: [Float]] = [:], epochsCompleted: Int = 0, stoppedEarly: Bool = false)
  {
    self.values = values
    self.epochsCompleted = epochsCompleted
    self.stoppedEarly = stoppedEarly
  }

  /// The per-epoch values of a log key.
  public subscript(key: String) -> [Float]? { values[key] }

  /// The log keys, sorted.
  public var keys: [String] { values.keys.sorted() }

  private enum CodingKeys: String, CodingKey { case values, epochsCompleted, stoppedEarly }

  /// Decodes a history; `null` values (written for NaN or infinite numbers) become NaN.
  public init(from decoder: Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    let stored = try container.decode([String: [Float?]].self, forKey: .values)
    values = stored.mapValues { $0.map { $0 ?? .nan } }
    epochsCompleted = try container.decode(Int.self, forKey: .epochsCompleted)
    stoppedEarly = try container.decode(Bool.self, forKey: .stoppedEarly)
  }

  /// Encodes the history; NaN and infinite values are written as `null`, which JSON accepts.
  public func encode(to encoder: Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(
      values.mapValues { $0.map { $0.isFinite ? $0 : nil } }, forKey: .values)
    try container.encode(epochsCompleted, forKey: .epochsCompleted)
    try container.encode(stoppedEarly, forKey: .stoppedEarly)
  }

  /// This history followed by `later`'s epochs (a resumed run's), keys missing on either side
  /// taking no values there.
  public func continued(with later: History) -> History {
    var result = self
    for epoch in 0..<later.epochsCompleted {
      var logs: [String: Float] = [:]
      for (key, values) in later.values where epoch < values.count { logs[key] = values[epoch] }
      result.append(logs)
    }
    result.stoppedEarly = later.stoppedEarly
    return result
  }

  /// Appends the logs of a finished epoch.
  public mutating func append(_ logs: [String: Float]) {
    for (key, value) in logs { values[key, default: []].append(value) }
    epochsCompleted += 1
  }
}
