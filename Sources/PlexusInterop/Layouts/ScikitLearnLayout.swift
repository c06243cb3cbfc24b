import Foundation
import PlexusCore

/// scikit-learn's `BernoulliRBM` parameters as NumPy saves them (`np.savez(path,
/// components_=rbm.components_, ...)`), for a Plexus RBM (`plexus.rbm`, the layer of a
/// `plexus.rbm_model`):
///
/// | scikit-learn | shape | Plexus parameter | conversion |
/// |---|---|---|---|
/// | `components_` | `[n_components, n_features]` | `weights` `[visible, hidden]` | transposed |
/// | `intercept_hidden_` | `[n_components]` | `hidden_bias` | none |
/// | `intercept_visible_` | `[n_features]` | `visible_bias` | none |
///
/// `transform(X)` is then the RBM's `transform` (`sigmoid(v W + c)`). The persistent chains
/// `h_samples_`, when saved too, are left out.
enum ScikitLearnLayout {
  static let components = "components_"
  static let hiddenIntercept = "intercept_hidden_"
  static let visibleIntercept = "intercept_visible_"
  /// Saved by `vars(rbm)`-style exports; not a parameter.
  static let hiddenSamples = "h_samples_"

  /// Whether a file holds a `BernoulliRBM`'s three parameters.
  static func matches(_ file: WeightFile) -> Bool {
    let names = Set(file.tensors.map(\.name))
    return [components, hiddenIntercept, visibleIntercept].allSatisfy(names.contains)
  }

  /// The model's one RBM layer.
  static func rbmLayer(_ layers: [ParameterLayer]) throws -> ParameterLayer {
    guard layers.count == 1, let layer = layers.first, layer.typeName == "plexus.rbm",
      layer.parameter("weights") != nil, layer.parameter("visible_bias") != nil,
      layer.parameter("hidden_bias") != nil
    else {
      throw InteropError(
        "scikit-learn's BernoulliRBM parameters go to a model with one RBM (a plexus.rbm_model); "
          + "this architecture's parameter layers are "
          + layers.map { "\($0.path) (\($0.typeName))" }.joined(separator: ", "))
    }
    return layer
  }

  /// The RBM's parameters from the file, with a report of the pairing.
  static func importValues(_ file: WeightFile, layers: [ParameterLayer]) throws -> (
    WeightImportReport, [(Parameter, Tensor)]
  ) {
    let layer = try rbmLayer(layers)
    let known: Set<String> = [components, hiddenIntercept, visibleIntercept, hiddenSamples]
    if let unknown = file.tensors.map(\.name).first(where: { !known.contains($0) }) {
      throw PlexusError.invalidData(
        "\(file.source): tensor '\(unknown)' is none of a BernoulliRBM's components_, "
          + "intercept_hidden_, intercept_visible_ (and h_samples_)")
    }
    let weights = layer.parameter("weights")!
    let visibleBias = layer.parameter("visible_bias")!
    let hiddenBias = layer.parameter("hidden_bias")!
    let visible = weights.value.shape[0]
    let hidden = weights.value.shape[1]
    let targets: [(name: String, parameter: Parameter, path: String, shape: [Int], note: String)] =
      [
        (components, weights, "weights", [hidden, visible], "transposed"),
        (hiddenIntercept, hiddenBias, "hidden_bias", [hidden], ""),
        (visibleIntercept, visibleBias, "visible_bias", [visible], ""),
      ]
    var values: [(Parameter, Tensor)] = []
    var rows: [WeightAssignment] = []
    for info in file.tensors {
      guard let target = targets.first(where: { $0.name == info.name }) else {
        rows.append(
          WeightAssignment(
            tensor: info.name, tensorShape: info.shape, parameter: nil, parameterShape: nil,
            note: "scikit-learn's persistent chains, not a parameter"))
        continue
      }
      let path = "\(layer.path).\(target.path)"
      guard info.shape == target.shape else {
        throw PlexusError.invalidData(
          "\(file.source): tensor '\(info.name)' has shape \(info.shape); the RBM of "
            + "\(visible) visible and \(hidden) hidden units needs \(target.shape) for '\(path)'")
      }
      var value = try file.tensor(named: info.name)
      guard value.withUnsafeBufferPointer({ $0.allSatisfy(\.isFinite) }) else {
        throw PlexusError.invalidData(
          "\(file.source): tensor '\(info.name)' holds a non-finite value")
      }
      if target.note == "transposed" { value = try value.transposed() }
      values.append((target.parameter, value))
      rows.append(
        WeightAssignment(
          tensor: info.name, tensorShape: info.shape, parameter: path,
          parameterShape: target.parameter.value.shape, note: target.note))
    }
    return (
      WeightImportReport(
        layout: .sklearn, method: "as scikit-learn's BernoulliRBM", assignments: rows,
        warnings: []),
      values
    )
  }

  /// The RBM's parameters as `BernoulliRBM` attributes.
  static func exportTensors(_ layers: [ParameterLayer]) throws -> [TypedTensor] {
    let layer = try rbmLayer(layers)
    return [
      TypedTensor(name: components, tensor: try layer.parameter("weights")!.value.transposed()),
      TypedTensor(name: hiddenIntercept, tensor: layer.parameter("hidden_bias")!.value),
      TypedTensor(name: visibleIntercept, tensor: layer.parameter("visible_bias")!.value),
    ]
  }
}

extension WeightImport {
  /// Whether `file` holds scikit-learn `BernoulliRBM` parameters (`components_`,
  /// `intercept_hidden_`, `intercept_visible_`), read in the `sklearn` layout by default.
  public static func isScikitLearnRBM(_ file: WeightFile) -> Bool {
    ScikitLearnLayout.matches(file)
  }
}
