/// A named tensor of a layer: a trainable weight or a non-trainable state tensor.
///
/// Optimizers see only `[Parameter]`: they read `gradient` and update `value`. Non-trainable
/// parameters (for example BatchNorm running statistics) are saved with the model but never
/// touched by optimizers.
///
/// A layer creates its parameters when it is created (`Parameter(name: "kernel")`) and
/// *declares* their shape and initializer when it is built (`declare(shape:initializer:...)`).
/// The model that builds the layer then *materializes* the declared values from its seed, or
/// fills them from a model file without drawing random numbers. Declaring again for the same
/// shape keeps the value, so building never destroys trained weights.
///
/// Concurrency: reading parameters from any number of tasks at once is safe (inference on one
/// model from several tasks); changing them (training, `assign`, loading) needs exclusive
/// access to the model, as in every mainstream framework.
public final class Parameter: @unchecked Sendable {
  /// The stable name within its layer (`kernel`, `bias`, `moving_mean`, ...).
  public let name: String
  /// The current value (empty until the parameter is materialized).
  public var value: Tensor
  /// The accumulated gradient of the loss with respect to `value` (same shape).
  public var gradient: Tensor
  /// Whether optimizers update this parameter.
  public var isTrainable: Bool
  /// An optional L1/L2 penalty applied during training.
  public var regularizer: Regularizer?
  /// The declared shape, once the owning layer has been built.
  public private(set) var declaredShape: [Int]?
  /// Whether the value holds the declared shape's values (drawn or loaded).
  public private(set) var isMaterialized: Bool
  private var pendingInitializer: (@Sendable (inout SeededGenerator) throws -> Tensor)?

  /// Creates a parameter with a value and a zero gradient (already materialized).
  public init(
    name: String, value: Tensor, isTrainable: Bool = true, regularizer: Regularizer? = nil
  ) {
    self.name = name
    self.value = value
    self.gradient = Tensor.zeros(value.shape)
    self.isTrainable = isTrainable
    self.regularizer = regularizer
    self.declaredShape = value.shape
    self.isMaterialized = true
  }

  /// Creates a parameter whose shape is declared later, when its layer is built.
  public init(name: String, isTrainable: Bool = true, regularizer: Regularizer? = nil) {
    self.name = name
    self.value = Tensor.zeros([0])
    self.gradient = Tensor.zeros([0])
    self.isTrainable = isTrainable
    self.regularizer = regularizer
    self.declaredShape = nil
    self.isMaterialized = false
  }

  /// Declares the shape and the initializer of the parameter (called from a layer's `build`).
  ///
  /// Declaring the shape the parameter already has keeps its value; another shape is an error,
  /// so a built layer can never be silently re-initialized.
  ///
  /// - Throws: `PlexusError.invalidShape` when the shape overflows or exceeds what the current
  ///   `ParameterAllocation` allows, or differs from an earlier declaration.
  public func declare(
    shape: [Int], initializer: Initializer, fanIn: Int, fanOut: Int
  ) throws {
    try declare(shape: shape) { generator in
      try initializer.make(shape: shape, fanIn: fanIn, fanOut: fanOut, using: &generator)
    }
  }

  /// Declares the shape with a constant initial value (`1` for BatchNorm's moving variance).
  ///
  /// - Throws: as `declare(shape:initializer:fanIn:fanOut:)`.
  public func declare(shape: [Int], filledWith constant: Float) throws {
    try declare(shape: shape) { _ in Tensor(shape: shape, repeating: constant) }
  }

  /// Declares the shape with a custom initializer, called when the model materializes its
  /// parameters (for example an orthogonal recurrent kernel or a forget-gate bias of ones).
  ///
  /// - Throws: as `declare(shape:initializer:fanIn:fanOut:)`.
  public func declare(
    shape: [Int], initialValue: @escaping @Sendable (inout SeededGenerator) throws -> Tensor
  ) throws {
    _ = try ParameterAllocation.check(shape)
    if let declaredShape {
      guard declaredShape == shape else {
        throw PlexusError.invalidShape(
          "parameter '\(name)' was built with shape \(declaredShape) and cannot take shape \(shape)"
        )
      }
      return
    }
    declaredShape = shape
    pendingInitializer = initialValue
  }

  /// Draws the declared initial value when it has not been materialized yet; a materialized
  /// parameter keeps its value. In a `ParameterAllocation` context that does not draw initial
  /// values (model loading) the value is zero until the file's tensor is assigned.
  ///
  /// - Throws: `PlexusError.notBuilt` when the shape was never declared; the initializer's
  ///   errors.
  public func materialize(using generator: inout SeededGenerator) throws {
    guard !isMaterialized else { return }
    guard let declaredShape else {
      throw PlexusError.notBuilt("parameter '\(name)' has no shape: its layer is not built")
    }
    let initial: Tensor
    if ParameterAllocation.current.drawsInitialValues, let pendingInitializer {
      initial = try pendingInitializer(&generator)
      guard initial.shape == declaredShape else {
        throw PlexusError.invalidShape(
          "the initializer of parameter '\(name)' gave shape \(initial.shape), declared \(declaredShape)"
        )
      }
      value = initial
      gradient = Tensor.zeros(declaredShape)
    } else {
      // The file's tensor replaces the value: zeros that are never touched cost nothing.
      let count = try ParameterAllocation.check(declaredShape)
      value = Tensor(lazilyZeroedShape: declaredShape, count: count)
      gradient = Tensor(lazilyZeroedShape: declaredShape, count: count)
    }
    isMaterialized = true
    pendingInitializer = nil
  }

  /// Resets the accumulated gradient to zero.
  public func zeroGradient() {
    if gradient.shape != value.shape {
      gradient = Tensor.zeros(value.shape)
    } else {
      gradient.fill(0)
    }
  }

  /// The number of scalar values.
  public var count: Int { value.count }

  /// Replaces the value with a tensor of the same shape.
  ///
  /// - Throws: `PlexusError.invalidShape` when the shapes differ.
  public func assign(_ newValue: Tensor) throws {
    let expected = declaredShape ?? value.shape
    guard newValue.shape == expected else {
      throw PlexusError.invalidShape(
        "parameter '\(name)' has shape \(expected) but the new value has shape \(newValue.shape)"
      )
    }
    value = newValue
    if gradient.shape != expected { gradient = Tensor.zeros(expected) }
    isMaterialized = true
    pendingInitializer = nil
  }
}

/// An L1/L2 weight penalty, as Keras `regularizers.L1L2`: `l1 * sum|w| + l2 * sum w²`.
///
/// JSON: `{"l1": 0.01, "l2": 0}`; an omitted factor is 0 and another key is an error.
public struct Regularizer: DefaultedConfiguration {
  /// The L1 factor.
  public var l1: Float
  /// The L2 factor.
  public var l2: Float

  /// Creates a penalty `l1 * sum|w| + l2 * sum w²`.
  public init(l1: Float = 0, l2: Float = 0) {
    self.l1 = l1
    self.l2 = l2
  }

  public static var defaults: Regularizer { Regularizer() }
  public static var fields: [ConfigField<Regularizer>] { [.init("l1", \.l1), .init("l2", \.l2)] }

  /// The penalty for `value`.
  public func penalty(for value: Tensor) -> Float {
    var total: Double = 0
    value.withUnsafeBufferPointer { buffer in
      for weight in buffer {
        total += Double(l1) * Double(abs(weight)) + Double(l2) * Double(weight) * Double(weight)
      }
    }
    return Float(total)
  }

  /// Adds the penalty's gradient for `value` to `gradient`.
  public func addGradient(for value: Tensor, to gradient: inout Tensor) {
    gradient.withUnsafeMutableBufferPointer { destination in
      value.withUnsafeBufferPointer { source in
        for index in source.indices {
          let weight = source[index]
          let sign: Float = weight > 0 ? 1 : (weight < 0 ? -1 : 0)
          destination[index] += l1 * sign + 2 * l2 * weight
        }
      }
    }
  }
}
