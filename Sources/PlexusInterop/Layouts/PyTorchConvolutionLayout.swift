import Foundation
import PlexusCore

/// The PyTorch conventions of the convolutions that `torch.nn` writes with other layouts than
/// `Conv2d`'s OIHW (see `Formats/conversions.md`): a depthwise convolution is a `Conv2d` with
/// `groups = C`, weight `[C * M, 1, KH, KW]`; a transposed convolution is a `ConvTranspose2d`,
/// weight `[C_in, C_out / groups, KH, KW]`.
extension PyTorchLayout {
  /// The layer types this extension maps.
  static let convolutionTypes: Set<String> = ["plexus.depthwise_conv2d", "plexus.conv2d_transpose"]

  /// The state-dict tensors of the module equivalent to a depthwise or transposed convolution.
  static func convolutionParameters(of layer: ParameterLayer) throws -> [TorchParameter] {
    guard let kernel = layer.parameter("kernel")?.value.shape, kernel.count == 4 else {
      throw InteropError("layer '\(layer.path)' has no 4-D parameter 'kernel'")
    }
    let weight: TorchParameter
    if layer.typeName == "plexus.depthwise_conv2d" {
      // [KH, KW, C, M] is, in memory, the grouped kernel [KH, KW, 1, C * M].
      weight = TorchParameter(
        suffix: "weight", shape: [kernel[2] * kernel[3], 1, kernel[0], kernel[1]],
        target: "kernel", note: "Conv2d groups=C, [C*M, 1, KH, KW] to [KH, KW, C, M]")
    } else {
      // [KH, KW, O / groups, C] from ConvTranspose2d's [C, O / groups, KH, KW].
      weight = TorchParameter(
        suffix: "weight", shape: [kernel[3], kernel[2], kernel[0], kernel[1]], target: "kernel",
        note: "ConvTranspose2d [C_in, C_out, KH, KW] to [KH, KW, C_out, C_in]")
    }
    let bias = layer.parameter("bias").map {
      TorchParameter(suffix: "bias", shape: $0.value.shape, target: "bias", note: "")
    }
    return [weight] + (bias.map { [$0] } ?? [])
  }

  /// The Plexus values of a depthwise or transposed convolution from its module's tensors.
  static func convolutionPlexusValues(of layer: ParameterLayer, weight: Tensor, bias: Tensor?)
    throws -> [String: Tensor]
  {
    var values: [String: Tensor] = [:]
    let plexusOrder = try weight.transposed(permutation: [2, 3, 1, 0])
    if layer.typeName == "plexus.depthwise_conv2d",
      let shape = layer.parameter("kernel")?.value.shape
    {
      values["kernel"] = try plexusOrder.reshaped(shape)
    } else {
      values["kernel"] = plexusOrder
    }
    if let bias { values["bias"] = bias }
    return values
  }

  /// The module's `weight` and `bias` of a depthwise or transposed convolution.
  static func convolutionTorchValues(of layer: ParameterLayer) throws -> [String: Tensor] {
    guard var kernel = layer.parameter("kernel")?.value, kernel.shape.count == 4 else {
      throw InteropError("layer '\(layer.path)' has no 4-D parameter 'kernel'")
    }
    if layer.typeName == "plexus.depthwise_conv2d" {
      let shape = kernel.shape
      kernel = try kernel.reshaped([shape[0], shape[1], 1, shape[2] * shape[3]])
    }
    var values = ["weight": try kernel.transposed(permutation: [3, 2, 0, 1])]
    values["bias"] = layer.parameter("bias")?.value
    return values
  }
}

extension PyTorchLayout {
  /// Throws unless a recurrent layer runs forward in time, or backward as the reverse direction
  /// of a `Bidirectional` (PyTorch's `bidirectional=True`, tensors `*_reverse`): PyTorch has no
  /// `go_backwards`.
  static func checkDirection(of layer: ParameterLayer) throws {
    guard case .object(let config) = layer.config else { return }
    let backwards = config["goBackwards"] == .bool(true)
    guard backwards != layer.isReverseDirection else { return }
    throw InteropError(
      "layer '\(layer.path)' runs "
        + (backwards ? "backwards in time" : "forward in time as a reverse direction")
        + "; PyTorch's recurrent modules run forward, and backward only as the reverse "
        + "direction of bidirectional=True")
  }
}
