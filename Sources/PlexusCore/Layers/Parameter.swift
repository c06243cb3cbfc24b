/// A named tensor of a layer: a trainable weight or a non-trainable state tensor.
///
/// Optimizers see only `[Parameter]`: they read `gradient` and update `value`. Non-trainable
/// parameters (for example BatchNorm running statistics) are saved with the model but never
/// touched by optimizers.
public final class Parameter {
  /// The stable name within its layer (`kernel`, `bias`, `moving_mean`, ...).
  public let name: String
  /// The current value.
  public var value: Tensor
  /// The accumulated gradient of the loss with respect to `value` (same shape).
  public var gradient: Tensor
  /// Whether optimizers update this parameter.
  public var isTrainable: Bool
  /// An optional L1/L2 penalty applied during training.
  public var regularizer: Regularizer?

  /// Creates a parameter with a zero gradient.
  public init(
    name: String, value: Tensor, isTrainable: Bool = true, regularizer: Regularizer? = nil
  ) {
    self.name = name
    self.value = value
    self.gradient = Tensor.zeros(value.shape)
    self.isTrainable = isTrainable
    self.regularizer = regularizer
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
    guard newValue.shape == value.shape else {
      throw PlexusError.invalidShape(
        "parameter '\(name)' has shape \(value.shape) but the new value has shape \(newValue.shape)"
      )
    }
    value = newValue
  }
}

/// An L1/L2 weight penalty, as Keras `regularizers.L1L2`: `l1 * sum|w| + l2 * sum w²`.
public struct Regularizer: Codable, Sendable, Equatable {
  /// The L1 factor.
  public var l1: Float
  /// The L2 factor.
  public var l2: Float

  /// Creates a penalty `l1 * sum|w| + l2 * sum w²`.
  public init(l1: Float = 0, l2: Float = 0) {
    self.l1 = l1
    self.l2 = l2
  }

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
