/// An error in an ONNX file or in a conversion to or from ONNX: what is wrong and where (the
/// file, the node, the tensor).
public struct ONNXError: Error, CustomStringConvertible, Equatable, Sendable {
  /// The message.
  public var description: String

  /// Creates an error with its message.
  public init(_ description: String) { self.description = description }
}
