import Foundation
import PlexusCore

/// The Keras layout of weight files (`--layout keras`): each parameter under the path of its
/// variable in a Keras 3 weights file (`layers/dense/vars/0`, `layers/lstm/cell/vars/1`), in
/// Keras's order, with its values as they are (Plexus stores every layer Keras has in Keras's
/// own layouts). The names are those `KerasExport.weightNames` gives for the model's
/// architecture, so a file written in this layout reads back into the same architecture.
enum KerasWeightLayout {
  /// The Keras 3 path of each parameter of `model`, in Keras's order.
  ///
  /// - Throws: `KerasError` for a layer or option Keras has no equivalent for.
  static func names(of model: any ModelProtocol) throws -> [(
    plexusPath: String, kerasPath: String
  )] {
    var architecture = try LayerDescription(model)
    architecture.name = ""
    return try KerasExport.weightNames(architecture)
  }

  /// The model's parameters named by their Keras 3 paths, in Keras's order.
  ///
  /// - Throws: `KerasError` for a model without a Keras form, or one whose Keras variables
  ///   are not its parameters.
  static func tensors(of model: any ModelProtocol) throws -> [TypedTensor] {
    let parameters = try model.builtGraph().namedParameters(prefix: "")
    let values = Dictionary(
      parameters.map { ($0.path, $0.parameter.value) }, uniquingKeysWith: { a, _ in a })
    let names = try names(of: model)
    guard names.count == values.count else {
      let named = Set(names.map(\.plexusPath))
      throw KerasError(
        "the model has \(values.count) parameters but its Keras form \(names.count); "
          + "without a Keras variable: \(values.keys.sorted().filter { !named.contains($0) })")
    }
    return try names.map { plexusPath, kerasPath in
      guard let value = values[plexusPath] else {
        throw KerasError("the model has no parameter '\(plexusPath)'")
      }
      return TypedTensor(name: kerasPath, tensor: value)
    }
  }

  /// The mapping from Keras 3 paths to the model's parameter paths.
  static func mapping(for model: any ModelProtocol) throws -> WeightMapping {
    WeightMapping(try names(of: model).map { (name: $0.kerasPath, path: $0.plexusPath) })
  }
}
