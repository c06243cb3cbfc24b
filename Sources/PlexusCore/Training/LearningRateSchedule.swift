import Foundation

/// A learning rate that changes from epoch to epoch, relative to the optimizer's base rate
/// (as PyTorch's epoch schedulers). `fit` sets the optimizer's learning rate from the schedule
/// before each epoch.
public protocol LearningRateSchedule: Sendable {
  /// The learning rate for the epoch that follows `completedEpochs` epochs (0 for the first
  /// epoch), given the base rate the optimizer had when training began.
  func learningRate(completedEpochs: Int, baseRate: Float) -> Float
}

/// Multiplies the rate by `gamma` every `stepSize` epochs: `base * gamma^floor(e / stepSize)`
/// (PyTorch `StepLR`).
public struct StepDecay: LearningRateSchedule, Codable, Equatable {
  /// The number of epochs between decays (positive).
  public var stepSize: Int
  /// The factor applied at each decay.
  public var gamma: Float

  /// Creates the schedule.
  public init(stepSize: Int, gamma: Float = 0.1) {
    self.stepSize = stepSize
    self.gamma = gamma
  }

  public func learningRate(completedEpochs: Int, baseRate: Float) -> Float {
    let steps = completedEpochs / Swift.max(stepSize, 1)
    return Float(Double(baseRate) * Foundation.pow(Double(gamma), Double(steps)))
  }
}

/// Multiplies the rate by `gamma` every epoch: `base * gamma^e` (PyTorch `ExponentialLR`).
public struct ExponentialDecay: LearningRateSchedule, Codable, Equatable {
  /// The factor applied each epoch.
  public var gamma: Float

  /// Creates the schedule.
  public init(gamma: Float) { self.gamma = gamma }

  public func learningRate(completedEpochs: Int, baseRate: Float) -> Float {
    Float(Double(baseRate) * Foundation.pow(Double(gamma), Double(completedEpochs)))
  }
}

/// Cosine annealing from the base rate to `minimumFraction * base` over `epochs` epochs, with
/// an optional linear warm-up (PyTorch `CosineAnnealingLR` with `eta_min = minimumFraction *
/// base`; Keras `CosineDecay` with `alpha = minimumFraction`).
///
/// During the `warmupEpochs` first epochs the rate rises linearly, `base * (e + 1) / warmup`;
/// then, with `d = e - warmup` and `D = epochs - warmup`,
/// `rate = base * (m + (1 - m) * (1 + cos(pi * min(d, D) / D)) / 2)`.
/// After `epochs` epochs the rate stays at the minimum.
public struct CosineDecay: LearningRateSchedule, Codable, Equatable {
  /// The number of epochs of the whole schedule, warm-up included (positive).
  public var epochs: Int
  /// The final rate as a fraction of the base rate.
  public var minimumFraction: Float
  /// The number of warm-up epochs (less than `epochs`).
  public var warmupEpochs: Int

  /// Creates the schedule.
  public init(epochs: Int, minimumFraction: Float = 0, warmupEpochs: Int = 0) {
    self.epochs = epochs
    self.minimumFraction = minimumFraction
    self.warmupEpochs = warmupEpochs
  }

  public func learningRate(completedEpochs: Int, baseRate: Float) -> Float {
    let base = Double(baseRate)
    if completedEpochs < warmupEpochs {
      return Float(base * Double(completedEpochs + 1) / Double(warmupEpochs))
    }
    let span = Swift.max(epochs - warmupEpochs, 1)
    let progress = Double(Swift.min(completedEpochs - warmupEpochs, span)) / Double(span)
    let floor = Double(minimumFraction)
    return Float(base * (floor + (1 - floor) * (1 + Foundation.cos(Double.pi * progress)) / 2))
  }
}

/// A schedule named in a model spec, encoded as JSON:
///
/// ```json
/// {"type": "step", "stepSize": 10, "gamma": 0.5}
/// {"type": "exponential", "gamma": 0.95}
/// {"type": "cosine", "epochs": 50, "minimumFraction": 0.01, "warmupEpochs": 5}
/// {"type": "constant"}
/// ```
public enum LearningRateScheduleConfig: Sendable, Equatable {
  /// The base rate throughout.
  case constant
  /// Step decay.
  case step(StepDecay)
  /// Exponential decay.
  case exponential(ExponentialDecay)
  /// Cosine decay with optional warm-up.
  case cosine(CosineDecay)

  /// The type names accepted in JSON.
  public static let allTypeNames = ["constant", "step", "exponential", "cosine"]

  /// Checks the parameters.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` naming the first value out of range.
  public func validate() throws {
    func require(_ condition: Bool, _ message: String) throws {
      if !condition { throw PlexusError.invalidConfiguration("learning-rate schedule: \(message)") }
    }
    switch self {
    case .constant: break
    case .step(let s):
      try require(s.stepSize > 0, "step size must be positive, got \(s.stepSize)")
      try require(
        s.gamma.isFinite && s.gamma >= 0, "gamma must be finite and non-negative, got \(s.gamma)")
    case .exponential(let s):
      try require(
        s.gamma.isFinite && s.gamma >= 0, "gamma must be finite and non-negative, got \(s.gamma)")
    case .cosine(let s):
      try require(s.epochs > 0, "cosine epochs must be positive, got \(s.epochs)")
      try require(
        s.warmupEpochs >= 0 && s.warmupEpochs < s.epochs,
        "warm-up epochs must be in 0..<\(s.epochs), got \(s.warmupEpochs)")
      try require(
        s.minimumFraction >= 0 && s.minimumFraction <= 1,
        "minimum fraction must be in [0, 1], got \(s.minimumFraction)")
    }
  }

  /// The schedule, after validation.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` for a parameter out of range.
  public func makeSchedule() throws -> any LearningRateSchedule {
    try validate()
    return self
  }
}

extension LearningRateScheduleConfig: LearningRateSchedule {
  public func learningRate(completedEpochs: Int, baseRate: Float) -> Float {
    switch self {
    case .constant: return baseRate
    case .step(let s): return s.learningRate(completedEpochs: completedEpochs, baseRate: baseRate)
    case .exponential(let s):
      return s.learningRate(completedEpochs: completedEpochs, baseRate: baseRate)
    case .cosine(let s): return s.learningRate(completedEpochs: completedEpochs, baseRate: baseRate)
    }
  }
}

extension LearningRateScheduleConfig: Codable {
  private enum CodingKeys: String, CodingKey {
    case type, stepSize, gamma, epochs, minimumFraction, warmupEpochs
  }

  public init(from decoder: Decoder) throws {
    let object = try JSONValue(from: decoder)
    guard case .object(let members) = object, case .string(let type)? = members["type"] else {
      throw PlexusError.invalidConfiguration(
        "a learning-rate schedule must be an object with a \"type\" of "
          + LearningRateScheduleConfig.allTypeNames.joined(separator: ", "))
    }
    let allowed: Set<String>
    switch type {
    case "constant": allowed = []
    case "step": allowed = ["stepSize", "gamma"]
    case "exponential": allowed = ["gamma"]
    case "cosine": allowed = ["epochs", "minimumFraction", "warmupEpochs"]
    default:
      throw PlexusError.invalidConfiguration(
        "unknown learning-rate schedule '\(type)'; expected one of "
          + LearningRateScheduleConfig.allTypeNames.joined(separator: ", "))
    }
    if let unknown = members.keys.sorted().first(where: { $0 != "type" && !allowed.contains($0) }) {
      throw PlexusError.invalidConfiguration(
        "learning-rate schedule '\(type)' has an unknown key '\(unknown)'")
    }
    let container = try decoder.container(keyedBy: CodingKeys.self)
    switch type {
    case "constant": self = .constant
    case "step":
      self = .step(
        StepDecay(
          stepSize: try container.decode(Int.self, forKey: .stepSize),
          gamma: try container.decodeIfPresent(Float.self, forKey: .gamma) ?? 0.1))
    case "exponential":
      self = .exponential(ExponentialDecay(gamma: try container.decode(Float.self, forKey: .gamma)))
    default:
      self = .cosine(
        CosineDecay(
          epochs: try container.decode(Int.self, forKey: .epochs),
          minimumFraction: try container.decodeIfPresent(Float.self, forKey: .minimumFraction) ?? 0,
          warmupEpochs: try container.decodeIfPresent(Int.self, forKey: .warmupEpochs) ?? 0))
    }
    try validate()
  }

  public func encode(to encoder: Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    switch self {
    case .constant:
      try container.encode("constant", forKey: .type)
    case .step(let s):
      try container.encode("step", forKey: .type)
      try container.encode(s.stepSize, forKey: .stepSize)
      try container.encode(s.gamma, forKey: .gamma)
    case .exponential(let s):
      try container.encode("exponential", forKey: .type)
      try container.encode(s.gamma, forKey: .gamma)
    case .cosine(let s):
      try container.encode("cosine", forKey: .type)
      try container.encode(s.epochs, forKey: .epochs)
      try container.encode(s.minimumFraction, forKey: .minimumFraction)
      try container.encode(s.warmupEpochs, forKey: .warmupEpochs)
    }
  }
}
