import PlexusCore

/// The activation of a convolution, applied after the bias.
///
/// When its derivative needs only the output, the lowering applies the function (and later
/// its derivative) to each output tile while the tile is in cache: the activation is *fused*
/// and the call keeps nothing but its output. Otherwise the function is applied to the whole
/// pre-activation, which the call's record keeps for the backward pass.
struct FusedActivation: Sendable {
  let function: ActivationFunction

  init(_ function: ActivationFunction) { self.function = function }

  /// Whether the lowering can apply the function to its output tiles (its derivative needs
  /// only the output).
  var isFusable: Bool { !function.derivativeNeedsInput }

  /// Applies the function to the pre-activation `z` of a call and keeps in `record.saved`
  /// what the derivative needs (the pre-activation, when it needs the input).
  func apply(_ z: Tensor, record: CallRecord) -> Tensor {
    guard function != .linear else { return z }
    if function.derivativeNeedsInput { record.saved = [z] }
    return function.apply(z)
  }

  /// The gradient with respect to the pre-activation of the call `record` describes (after
  /// `apply(_:record:)`).
  func backward(_ outputGradient: Tensor, record: CallRecord) -> Tensor {
    guard function != .linear else { return outputGradient }
    let output = record.outputs[0]
    return function.backward(
      input: record.saved.first ?? output, output: output, outputGradient: outputGradient)
  }
}
