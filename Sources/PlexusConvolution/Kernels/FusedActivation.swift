import PlexusCore

/// The fused activation of a convolution: applies it after the bias and keeps what its
/// derivative needs.
struct FusedActivation {
  let function: ActivationFunction
  private var preActivation: Tensor?
  private(set) var output: Tensor?

  init(_ function: ActivationFunction) { self.function = function }

  /// Applies the function to the pre-activation `z` and caches what backward needs.
  mutating func apply(_ z: Tensor) -> Tensor {
    if function == .linear {
      preActivation = nil
      output = z
      return z
    }
    preActivation = function.derivativeNeedsInput ? z : nil
    let activated = function.apply(z)
    output = activated
    return activated
  }

  /// Whether the lowering can apply the function to its output tiles (its derivative needs
  /// only the output).
  var isFusable: Bool { !function.derivativeNeedsInput }

  /// Records an output to which the lowering already applied the function.
  mutating func record(output activated: Tensor) {
    preActivation = nil
    output = activated
  }

  /// The gradient with respect to the pre-activation.
  func backward(_ outputGradient: Tensor) -> Tensor {
    guard function != .linear, let output else { return outputGradient }
    return function.backward(
      input: preActivation ?? output, output: output, outputGradient: outputGradient)
  }

  /// Drops cached tensors.
  mutating func clear() {
    preActivation = nil
    output = nil
  }
}
