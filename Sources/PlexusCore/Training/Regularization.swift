/// Weight penalties (`Parameter.regularizer`) applied by the training loop.
///
/// `fit` adds the penalties of the trainable parameters to the reported loss and their
/// gradients to the parameter gradients before clipping and the optimizer step, as Keras does
/// with layer regularization losses. Non-trainable parameters are never penalized.
public enum Regularization {
  /// The sum of the penalties of the trainable parameters that have a regularizer.
  public static func penalty(of parameters: [Parameter]) -> Float {
    var total: Float = 0
    for parameter in parameters where parameter.isTrainable {
      if let regularizer = parameter.regularizer {
        total += regularizer.penalty(for: parameter.value)
      }
    }
    return total
  }

  /// Adds each trainable parameter's penalty gradient to its accumulated gradient.
  public static func addGradients(to parameters: [Parameter]) {
    for parameter in parameters where parameter.isTrainable {
      guard let regularizer = parameter.regularizer else { continue }
      regularizer.addGradient(for: parameter.value, to: &parameter.gradient)
    }
  }
}

/// Gradient clipping over a list of parameters (trainable ones only), applied in place to
/// `Parameter.gradient` before the optimizer step.
public enum GradientClipping {
  /// Clamps every gradient element to `[-limit, limit]` (Keras `clipvalue`, PyTorch
  /// `clip_grad_value_`).
  ///
  /// - Throws: `PlexusError.invalidArgument` unless `limit` is positive and finite.
  public static func clipByValue(_ parameters: [Parameter], limit: Float) throws {
    guard limit > 0, limit.isFinite else {
      throw PlexusError.invalidArgument(
        "gradient clip value must be positive and finite, got \(limit)")
    }
    for parameter in parameters where parameter.isTrainable {
      parameter.gradient.withUnsafeMutableBufferPointer { buffer in
        for index in buffer.indices {
          buffer[index] = Swift.min(Swift.max(buffer[index], -limit), limit)
        }
      }
    }
  }

  /// The Euclidean norm of all trainable gradients taken together.
  public static func globalNorm(_ parameters: [Parameter]) -> Float {
    var total: Double = 0
    for parameter in parameters where parameter.isTrainable {
      parameter.gradient.withUnsafeBufferPointer { buffer in
        for value in buffer { total += Double(value) * Double(value) }
      }
    }
    return Float(total.squareRoot())
  }

  /// Scales all trainable gradients together so that their global norm is at most `maxNorm`
  /// (Keras `global_clipnorm`; PyTorch `clip_grad_norm_`, whose factor
  /// `maxNorm / (norm + 1e-6)` is used here). Returns the norm before clipping.
  ///
  /// - Throws: `PlexusError.invalidArgument` unless `maxNorm` is positive and finite.
  @discardableResult
  public static func clipByGlobalNorm(_ parameters: [Parameter], maxNorm: Float) throws -> Float {
    guard maxNorm > 0, maxNorm.isFinite else {
      throw PlexusError.invalidArgument(
        "gradient clip norm must be positive and finite, got \(maxNorm)")
    }
    let norm = globalNorm(parameters)
    let factor = maxNorm / (norm + 1e-6)
    guard factor < 1 else { return norm }
    for parameter in parameters where parameter.isTrainable {
      parameter.gradient.scale(by: factor)
    }
    return norm
  }
}
