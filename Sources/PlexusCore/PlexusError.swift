/// Errors thrown by Plexus for invalid input from callers, files or the command line.
///
/// Each case carries a message that says what is wrong, where, and what was expected.
public enum PlexusError: Error, CustomStringConvertible, Equatable, Sendable {
  /// A tensor shape is invalid (negative dimension, element count overflow, wrong rank).
  case invalidShape(String)
  /// A layer received an input shape it cannot accept.
  case shapeMismatch(layer: String, expected: String, found: [Int])
  /// An argument passed by the caller is out of range or inconsistent.
  case invalidArgument(String)
  /// A layer, optimizer, loss or model configuration is malformed.
  case invalidConfiguration(String)
  /// A model names a layer type that no registered module provides.
  case unknownLayerType(type: String, module: String?)
  /// Data from a file or from the caller is malformed.
  case invalidData(String)
  /// An operation needs a built layer or model.
  case notBuilt(String)
  /// Training produced a NaN or infinite loss.
  case nonFiniteLoss(epoch: Int, batch: Int, value: Float)
  /// A file could not be read or written.
  case io(String)

  public var description: String {
    switch self {
    case .invalidShape(let message): return "invalid shape: \(message)"
    case .shapeMismatch(let layer, let expected, let found):
      return "shape mismatch in layer '\(layer)': expected input shape \(expected), found \(found)"
    case .invalidArgument(let message): return "invalid argument: \(message)"
    case .invalidConfiguration(let message): return "invalid configuration: \(message)"
    case .unknownLayerType(let type, let module):
      if let module {
        return
          "layer type '\(type)' is not registered: it is provided by module \(module); "
          + "import \(module) and register its layers (or use LayerRegistry.standard() from Plexus)"
      }
      if type.hasPrefix("plexus.") {
        return
          "layer type '\(type)' is not registered: it is a first-party Plexus type; import the "
          + "Plexus module that provides it and call its register(in:), or use "
          + "LayerRegistry.standard() from module Plexus, which registers every bundled module"
      }
      return
        "layer type '\(type)' is not registered: register the layer class that provides it "
        + "with registry.register(YourLayer.self, module: \"YourModule\") before loading; "
        + "with the plexus tool, load the layer plugin that provides it with --plugin PATH "
        + "(or PLEXUS_PLUGIN_PATH)"
    case .invalidData(let message): return "invalid data: \(message)"
    case .notBuilt(let message): return "not built: \(message)"
    case .nonFiniteLoss(let epoch, let batch, let value):
      return "loss became \(value) at epoch \(epoch), batch \(batch): training stopped"
    case .io(let message): return "I/O error: \(message)"
    }
  }
}
