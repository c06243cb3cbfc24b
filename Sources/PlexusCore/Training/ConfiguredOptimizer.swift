/// The hyperparameters of a built-in optimizer, as `ConfiguredOptimizer` needs them.
public protocol OptimizerHyperparameters: Codable, Sendable, Equatable {
  /// The step size.
  var learningRate: Float { get set }
  /// The names of the per-parameter slots these hyperparameters call for, in slot order.
  var slotNames: [String] { get }
  /// These hyperparameters as the optimizer config of type `typeName`.
  func optimizerConfig(typeName: String) -> OptimizerConfig
  /// The hyperparameters held by `config`, or nil when it is of another optimizer.
  init?(_ config: OptimizerConfig)
}

/// The machinery shared by the built-in optimizers: the hyperparameters (checked on creation),
/// the learning rate they hold, the step count, the per-parameter slots and the export and
/// import of all of it. A subclass adds only its update rule (`step(_:)`).
public class ConfiguredOptimizer<Configuration: OptimizerHyperparameters>: Optimizer {
  /// The type name in JSON and saved state.
  public let typeName: String
  /// The hyperparameters.
  public internal(set) var configuration: Configuration
  /// The number of steps taken.
  public internal(set) var stepCount = 0
  /// The slots of the parameters updated so far.
  var slots = SlotTable()

  /// Creates the optimizer after checking every hyperparameter.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` for a value out of range.
  init(configuration: Configuration, typeName: String) throws {
    try configuration.optimizerConfig(typeName: typeName).validate()
    self.typeName = typeName
    self.configuration = configuration
  }

  public var learningRate: Float {
    get { configuration.learningRate }
    set { configuration.learningRate = newValue }
  }

  /// A zero for each slot: the starting value of every slot of most optimizers.
  var zeroSlotValues: [Float] { configuration.slotNames.map { _ in 0 } }

  /// Applies one update; every subclass provides its own rule.
  public func step(_ parameters: [Parameter]) {
    preconditionFailure("\(typeName) does not implement step(_:)")
  }

  public func exportState(for parameters: [Parameter]) throws -> OptimizerState {
    OptimizerState(
      typeName: typeName,
      config: try JSONValue(encoding: configuration.optimizerConfig(typeName: typeName)),
      step: stepCount,
      slots: slots.export(names: configuration.slotNames, parameters: parameters))
  }

  /// Restores the step count, the slots and (as PyTorch's `load_state_dict`) the
  /// hyperparameters, including the learning rate.
  public func importState(_ state: OptimizerState, for parameters: [Parameter]) throws {
    guard
      let configuration = Configuration(
        try OptimizerStateIO.configuration(of: state, expectedType: typeName))
    else { throw PlexusError.invalidData("optimizer state config is not an \(typeName) config") }
    let table = try SlotTable.importing(
      state.slots, names: configuration.slotNames, parameters: parameters, optimizer: typeName)
    self.configuration = configuration
    self.stepCount = state.step
    self.slots = table
  }
}

extension KeyedDecodingContainer {
  /// The value under `key`, or `fallback` when the key is absent (hyperparameters left out
  /// of a config take their defaults).
  func decode<Value: Decodable>(_ key: Key, or fallback: Value) throws -> Value {
    try decodeIfPresent(Value.self, forKey: key) ?? fallback
  }
}

/// Range checks of optimizer hyperparameters.
enum OptimizerCheck {
  static func learningRate(_ value: Float, optimizer: String) throws {
    try range(value, name: "learningRate", optimizer: optimizer, "finite and non-negative") {
      $0 >= 0
    }
  }

  /// Checks a value that must be non-negative.
  static func nonNegative(_ value: Float, name: String, optimizer: String) throws {
    try range(value, name: name, optimizer: optimizer, "non-negative") { $0 >= 0 }
  }

  /// Checks a decay or momentum factor, which must lie in [0, 1).
  static func factor(_ value: Float, name: String, optimizer: String) throws {
    try range(value, name: name, optimizer: optimizer, "in [0, 1)") { $0 >= 0 && $0 < 1 }
  }

  static func range(
    _ value: Float, name: String, optimizer: String, _ expected: String, _ isValid: (Float) -> Bool
  ) throws {
    guard value.isFinite, isValid(value) else {
      throw PlexusError.invalidConfiguration(
        "\(optimizer): \(name) must be \(expected), got \(value)")
    }
  }
}
