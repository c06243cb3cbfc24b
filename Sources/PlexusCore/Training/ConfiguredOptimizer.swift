/// The hyperparameters of an optimizer: a configuration that decodes with defaults and rejects
/// unknown keys, holds the learning rate and names the per-parameter slots it needs.
public protocol OptimizerHyperparameters: DefaultedConfiguration {
  /// The step size.
  var learningRate: Float { get set }

  /// The names of the per-parameter slots these hyperparameters call for, in slot order.
  var slotNames: [String] { get }

  /// The value a slot starts with (the default is 0).
  func initialValue(ofSlot name: String) -> Float

  /// Checks every hyperparameter; `optimizer` is the type name for messages.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` naming the first value out of range.
  func validate(optimizer: String) throws
}

extension OptimizerHyperparameters {
  public func initialValue(ofSlot name: String) -> Float { 0 }
}

/// What a `ConfiguredOptimizer` keeps: its hyperparameters (checked on creation), the step
/// count and the per-parameter slots (moments, buffers), which `exportState` saves.
public final class OptimizerStorage<Configuration: OptimizerHyperparameters> {
  /// The hyperparameters.
  public internal(set) var configuration: Configuration
  /// The number of steps taken.
  public internal(set) var stepCount = 0
  /// The slots of the parameters updated so far.
  var slots = SlotTable()

  /// Creates the storage of an `optimizerType` after checking every hyperparameter.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` for a value out of range.
  public init<O: Optimizer>(configuration: Configuration, for optimizerType: O.Type) throws
  where O.Configuration == Configuration {
    try configuration.validate(optimizer: O.typeName)
    self.configuration = configuration
  }

  /// The starting value of each slot, in slot order.
  var initialSlotValues: [Float] {
    configuration.slotNames.map { configuration.initialValue(ofSlot: $0) }
  }

  /// Calls `body` with the value and gradient of `parameter` and its slots, in the order of
  /// `configuration.slotNames`. Slots are created on first use, filled with
  /// `configuration.initialValue(ofSlot:)`, and follow the parameter from step to step. The
  /// buffers are valid only inside `body`; each has the parameter's element count.
  ///
  /// ```swift
  /// func update(_ parameters: [Parameter]) {
  ///   let rate = configuration.learningRate
  ///   for parameter in parameters where parameter.isTrainable {
  ///     storage.withSlots(of: parameter) { value, gradient, slots in
  ///       for i in value.indices {
  ///         slots[0][i] = 0.9 * slots[0][i] + gradient[i]
  ///         value[i] -= rate * slots[0][i]
  ///       }
  ///     }
  ///   }
  /// }
  /// ```
  public func withSlots<Result>(
    of parameter: Parameter,
    _ body: (
      _ value: UnsafeMutableBufferPointer<Float>, _ gradient: UnsafeBufferPointer<Float>,
      _ slots: [UnsafeMutableBufferPointer<Float>]
    ) throws -> Result
  ) rethrows -> Result {
    let entry = slots.entry(for: parameter, initialValues: initialSlotValues)
    let count = parameter.value.count
    let slotBuffers = entry.tensors.indices.map { index in
      UnsafeMutableBufferPointer(start: entry.tensors[index].uniqueBaseAddress(), count: count)
    }
    let gradient = UnsafeBufferPointer(
      start: parameter.gradient.readBaseAddress, count: parameter.gradient.count)
    let value = UnsafeMutableBufferPointer(
      start: parameter.value.uniqueBaseAddress(), count: count)
    return try withExtendedLifetime(entry) { try body(value, gradient, slotBuffers) }
  }
}

/// An optimizer whose whole state is an `OptimizerStorage`: its configuration, step count and
/// slots. It gets `configuration`, `learningRate`, `step` (which counts the step, then calls
/// `update`) and the export and import of its state; it writes only its update rule.
///
/// ```swift
/// final class SignDescent: ConfiguredOptimizer {
///   struct Configuration: OptimizerHyperparameters {
///     var learningRate: Float = 0.01
///     static var defaults: Configuration { Configuration() }
///     static var fields: [ConfigField<Configuration>] { [.init("learningRate", \.learningRate)] }
///     var slotNames: [String] { [] }
///     func validate(optimizer: String) throws {
///       guard learningRate.isFinite, learningRate >= 0 else {
///         throw PlexusError.invalidConfiguration("\(optimizer): learningRate must be non-negative")
///       }
///     }
///   }
///   static let typeName = "com.example.sign_descent"
///   let storage: OptimizerStorage<Configuration>
///   init(configuration: Configuration) throws {
///     storage = try OptimizerStorage(configuration: configuration, for: Self.self)
///   }
///   func update(_ parameters: [Parameter]) {
///     for parameter in parameters where parameter.isTrainable {
///       storage.withSlots(of: parameter) { value, gradient, _ in
///         for i in value.indices where gradient[i] != 0 {
///           value[i] -= gradient[i] > 0 ? learningRate : -learningRate
///         }
///       }
///     }
///   }
/// }
/// ```
public protocol ConfiguredOptimizer: Optimizer {
  /// The configuration, step count and slots.
  var storage: OptimizerStorage<Configuration> { get }

  /// Applies the update of one step to the trainable parameters; `step(_:)` calls it after
  /// counting the step, so `stepCount` is 1 in the first update.
  func update(_ parameters: [Parameter])
}

extension ConfiguredOptimizer {
  public var configuration: Configuration { storage.configuration }

  /// The number of steps taken.
  public var stepCount: Int { storage.stepCount }

  public var learningRate: Float {
    get { storage.configuration.learningRate }
    set { storage.configuration.learningRate = newValue }
  }

  public func step(_ parameters: [Parameter]) {
    storage.stepCount += 1
    update(parameters)
  }

  public func exportState(for parameters: [Parameter]) throws -> OptimizerState {
    OptimizerState(
      typeName: typeName, config: try JSONValue(encoding: storage.configuration),
      step: storage.stepCount,
      slots: storage.slots.export(names: storage.configuration.slotNames, parameters: parameters))
  }

  /// Restores the step count, the slots and (as PyTorch's `load_state_dict`) the
  /// hyperparameters, including the learning rate. A failed import changes nothing.
  public func importState(_ state: OptimizerState, for parameters: [Parameter]) throws {
    let type = type(of: self)
    let configuration = try OptimizerStateIO.configuration(
      of: state, typeName: type.typeName, defaults: type.defaultConfiguration)
    let table = try SlotTable.importing(
      state.slots, names: configuration.slotNames, parameters: parameters,
      optimizer: type.typeName)
    storage.configuration = configuration
    storage.stepCount = state.step
    storage.slots = table
  }
}

/// Range checks of optimizer hyperparameters.
public enum OptimizerCheck {
  /// Checks a learning rate, which must be finite and non-negative.
  public static func learningRate(_ value: Float, optimizer: String) throws {
    try range(value, name: "learningRate", optimizer: optimizer, "finite and non-negative") {
      $0 >= 0
    }
  }

  /// Checks a value that must be finite and non-negative.
  public static func nonNegative(_ value: Float, name: String, optimizer: String) throws {
    try range(value, name: name, optimizer: optimizer, "non-negative") { $0 >= 0 }
  }

  /// Checks a decay or momentum factor, which must lie in [0, 1).
  public static func factor(_ value: Float, name: String, optimizer: String) throws {
    try range(value, name: name, optimizer: optimizer, "in [0, 1)") { $0 >= 0 && $0 < 1 }
  }

  /// Throws unless `value` is finite and `isValid`.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` "`optimizer`: `name` must be `expected`".
  public static func range(
    _ value: Float, name: String, optimizer: String, _ expected: String,
    _ isValid: (Float) -> Bool
  ) throws {
    guard value.isFinite, isValid(value) else {
      throw PlexusError.invalidConfiguration(
        "\(optimizer): \(name) must be \(expected), got \(value)")
    }
  }
}
