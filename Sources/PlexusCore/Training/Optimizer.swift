/// Updates parameters from their gradients. An optimizer sees only `[Parameter]`.
///
/// Its state (moments, step count) can be exported and imported so that a model file can
/// save it and `fit` can resume training where it stopped.
public protocol Optimizer: AnyObject {
  /// The current learning rate (schedules change it between epochs).
  var learningRate: Float { get set }

  /// Applies one update to the trainable parameters from their accumulated gradients.
  func step(_ parameters: [Parameter])

  /// The optimizer's type, hyperparameters and per-parameter slots, for saving.
  func exportState(for parameters: [Parameter]) throws -> OptimizerState

  /// Restores state exported for the same parameter list (same order and shapes).
  ///
  /// - Throws: `PlexusError.invalidData` when the state's type, slots or shapes do not fit.
  func importState(_ state: OptimizerState, for parameters: [Parameter]) throws
}

/// A saveable snapshot of an optimizer.
public struct OptimizerState: Sendable, Equatable {
  /// The optimizer's type name (`sgd`, `adam`, ...).
  public var typeName: String
  /// The hyperparameters as JSON.
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
