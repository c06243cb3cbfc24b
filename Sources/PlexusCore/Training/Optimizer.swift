/// Updates parameters from their gradients. An optimizer sees only `[Parameter]`.
///
/// An optimizer is registered under a namespaced `typeName` (`plexus.adam`; third parties use
/// their own prefix such as `com.example.lion`) with a `Configuration` that encodes to JSON, so
/// that a model file can save its state (`exportState`) and `OptimizerRegistry.restore` can
/// recreate it to resume training. `ConfiguredOptimizer` supplies the state handling: a new
/// optimizer is one type plus one registration line.
///
/// ```swift
/// try OptimizerRegistry.shared.register(Lion.self, module: "LionOptimizer")
/// ```
public protocol Optimizer: AnyObject, SendableMetatype {
  /// The hyperparameters.
  associatedtype Configuration: OptimizerHyperparameters

  /// The namespaced, stable type name under which the optimizer is registered and saved.
  static var typeName: String { get }

  /// The configuration whose values the keys missing from JSON take. The default is
  /// `Configuration.defaults`; an optimizer that shares its configuration type with another
  /// but has other defaults overrides it (AdamW's weight decay).
  static var defaultConfiguration: Configuration { get }

  /// Creates the optimizer after checking every hyperparameter.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` for a value out of range.
  init(configuration: Configuration) throws

  /// The hyperparameters, with the current learning rate.
  var configuration: Configuration { get }

  /// The current learning rate (schedules change it between epochs).
  var learningRate: Float { get set }

  /// Applies one update to the trainable parameters from their accumulated gradients.
  func step(_ parameters: [Parameter])

  /// The optimizer's type name, hyperparameters and per-parameter slots, for saving.
  func exportState(for parameters: [Parameter]) throws -> OptimizerState

  /// Restores state exported for the same parameter list (same order and shapes).
  ///
  /// - Throws: `PlexusError.invalidData` when the state's type, slots or shapes do not fit.
  func importState(_ state: OptimizerState, for parameters: [Parameter]) throws
}

extension Optimizer {
  public static var defaultConfiguration: Configuration { Configuration.defaults }

  /// The registered type name of this optimizer's class.
  public var typeName: String { type(of: self).typeName }
}

/// A saveable snapshot of an optimizer.
public struct OptimizerState: Sendable, Equatable {
  /// The optimizer's registered type name (`plexus.adam`). Files written before the
  /// registry hold the short names (`adam`), which restore as aliases.
  public var typeName: String
  /// The hyperparameters as JSON. Files written before the registry hold them with a `type`
  /// member, which restoring accepts when it names the same optimizer.
  public var config: JSONValue
  /// The number of steps taken.
  public var step: Int
  /// Per-parameter tensors keyed `"<parameter index>.<slot>"` (for example `"3.m"`), where the
  /// index is the position in the parameter list passed to `exportState(for:)`.
  public var slots: [String: Tensor]

  /// Creates a snapshot.
  public init(typeName: String, config: JSONValue, step: Int, slots: [String: Tensor]) {
    self.typeName = typeName
    self.config = config
    self.step = step
    self.slots = slots
  }
}
