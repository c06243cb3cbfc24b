import Foundation
import PlexusCore

extension ONNXModelFile {
  /// Converts the graph to a Plexus architecture and parameter values, without building a
  /// model. `inputLayout` says how the graph's image inputs (rank 3 and more) are laid out;
  /// `nil` takes them as channels first unless every reader of an input transposes it to
  /// channels first (as tf2onnx writes Keras models). Plexus's model always reads images
  /// channels last.
  ///
  /// - Throws: `ONNXError` naming every unsupported operator (with its node) at once, or what
  ///   is malformed or unsupported in the first node that cannot be converted.
  public func translate(inputLayout: ONNXInputLayout? = nil) throws -> ONNXImportedModel {
    var importer = try ONNXGraphImporter(file: self, inputLayout: inputLayout)
    return try importer.translate()
  }

  /// Converts the graph (see `translate(inputLayout:)`) and builds the model through `registry` (which must know the Plexus
  /// layers the graph maps to: `LayerRegistry.standard()` from the umbrella module), its
  /// parameters bounded by the largest tensor of the file and filled from the initializers.
  ///
  /// - Throws: as `translate()`, and the registry's errors for a layer it does not know.
  public func importModel(registry: LayerRegistry, inputLayout: ONNXInputLayout? = nil) throws
    -> (model: any ModelProtocol, imported: ONNXImportedModel)
  {
    let imported = try translate(inputLayout: inputLayout)
    let limit = max(imported.parameters.map(\.value.count).max() ?? 1, 1)
    let model = try ParameterAllocation.$current.withValue(
      ParameterAllocation(maximumElements: limit, drawsInitialValues: false)
    ) { () throws -> any ModelProtocol in
      let layer = try registry.makeLayer(from: imported.architecture)
      guard let model = layer as? any ModelProtocol else {
        throw ONNXError("the converted architecture is not a model")
      }
      return model
    }
    let values = Dictionary(imported.parameters.map { ($0.path, $0.value) }) { first, _ in first }
    let expected = try model.builtGraph().namedParameters(prefix: "")
    for (path, parameter) in expected {
      guard let value = values[path] else {
        throw ONNXError("\(source): Plexus parameter '\(path)' has no ONNX initializer")
      }
      guard value.shape == parameter.value.shape else {
        throw ONNXError(
          "\(source): parameter '\(path)' has shape \(parameter.value.shape) but the converted "
            + "initializer has shape \(value.shape)")
      }
      try parameter.assign(value)
    }
    let known = Set(expected.map(\.path))
    if let extra = imported.parameters.first(where: { !known.contains($0.path) }) {
      throw ONNXError("\(source): converted value '\(extra.path)' has no Plexus parameter")
    }
    return (model, imported)
  }
}
