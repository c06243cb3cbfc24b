import Foundation
import PlexusCore

/// The Keras files Plexus reads.
public enum KerasFileFormat: String, Sendable, Equatable {
  /// A Keras 3 model: a zip of `config.json`, `metadata.json` and `model.weights.h5`.
  case keras = "Keras 3 .keras"
  /// A Keras 2 / tf.keras full model saved as HDF5: a `model_config` attribute and a
  /// `model_weights` group.
  case legacyModel = "legacy Keras .h5 model"
  /// Weights only, in HDF5: Keras 3's `.weights.h5` (`layers/<name>/vars/<i>`) or Keras 2's
  /// `save_weights` layout (`layer_names`, `<layer>/<weight name>`).
  case weights = "Keras weights .h5"
}

/// One parameter filled from a Keras file: the Plexus path, the HDF5 dataset and its shape.
public struct KerasWeightAssignment: Sendable, Equatable {
  /// The Plexus parameter path (`dense_1.kernel`).
  public var plexusPath: String
  /// The dataset it was read from (`layers/dense/vars/0`).
  public var datasetPath: String
  /// The shape.
  public var shape: [Int]
}

/// A Keras model or weights file opened for conversion: the architecture converted from its
/// config (for model files) and its weights in HDF5.
///
/// Keras 3 names each layer's group in the weights file after its class, in the order of the
/// model's layers (`layers/dense`, `layers/dense_1`, ... whatever the layers are called), and
/// stores the variables by index (`vars/0`); recurrent layers keep theirs in a `cell`
/// subgroup. Legacy files name groups after layers and list each layer's datasets in its
/// `weight_names` attribute. `Formats/conversions.md` has the full table.
public final class KerasFile {
  /// The file's path (for messages).
  public let source: String
  /// What kind of file it is.
  public let format: KerasFileFormat
  /// The Keras version that wrote it, when recorded.
  public let kerasVersion: String?
  /// The Plexus architecture converted from the file's config; `nil` for a weights file.
  public let architecture: LayerDescription?
  /// The Keras class of the model (`Sequential`, `Functional`); `nil` for a weights file.
  public let modelClass: String?
  /// The weights.
  public let weights: HDF5File
  private let variables: [KerasVariable]
  private let legacyLayers: [(name: String, variables: [KerasVariable])]
  /// Where a legacy layout's layer groups are ("model_weights", or "" for weights files);
  /// `nil` for the Keras 3 layout.
  private let legacyRoot: String?

  /// Opens a `.keras`, `.h5` or `.weights.h5` file; the kind comes from the content (a zip, an
  /// HDF5 file with a `model_config` attribute, or an HDF5 weights file).
  ///
  /// - Throws: `KerasError` or `HDF5Error` naming what is malformed or unsupported;
  ///   `PlexusError.io` when the file cannot be read.
  public convenience init(contentsOf url: URL) throws {
    let data: Data
    do {
      data = try Data(contentsOf: url, options: .alwaysMapped)
    } catch {
      throw PlexusError.io("cannot read '\(url.path)': \(error.localizedDescription)")
    }
    try self.init(data: data, source: url.path)
  }

  /// Opens a Keras file held in memory; `source` names it in errors.
  ///
  /// - Throws: as `init(contentsOf:)`.
  public init(data: Data, source: String) throws {
    self.source = source
    if data.starts(with: [0x50, 0x4B]) {
      let members = try KerasArchive.read(data, source: source)
      let config = try Self.json(members.config, what: "\(source): config.json")
      var version: String?
      if let metadata = members.metadata {
        version = try Self.json(metadata, what: "\(source): metadata.json")
          .objectMembers?["keras_version"]?.stringValue
      }
      weights = try HDF5File(image: members.weights, source: "\(source): model.weights.h5")
      format = .keras
      kerasVersion = version
      let model = try KerasModelImporter(
        modelConfig: config, kerasMajorVersion: Self.majorVersion(version, default: 3)
      ).translateModel(config, context: source)
      (architecture, modelClass, variables, legacyLayers) = (
        Self.rootDescription(model), model.kerasClass, model.variables, []
      )
      legacyRoot = nil
      return
    }
    weights = try HDF5File(image: data, source: source)
    let version = try weights.stringAttribute("keras_version", of: "/")
    kerasVersion = version
    if let configText = try weights.stringAttribute("model_config", of: "/") {
      format = .legacyModel
      let config = try Self.json(Data(configText.utf8), what: "\(source): model_config")
      guard try weights.kind(of: "model_weights") == .group else {
        throw KerasError("\(source): the model has no 'model_weights' group")
      }
      let model = try KerasModelImporter(
        modelConfig: config, kerasMajorVersion: Self.majorVersion(version, default: 2)
      ).translateModel(config, context: source)
      (architecture, modelClass, variables, legacyLayers) = (
        Self.rootDescription(model), model.kerasClass, model.variables, model.legacyLayers
      )
      legacyRoot = "model_weights"
      return
    }
    format = .weights
    (architecture, modelClass, variables, legacyLayers) = (nil, nil, [], [])
    legacyRoot = try weights.stringsAttribute("layer_names", of: "/") != nil ? "" : nil
  }

  private static func rootDescription(_ model: ImportedModel) -> LayerDescription {
    // The root model is unnamed, so parameter paths are those of a .plexus file.
    var description = model.description
    description.name = ""
    return description
  }

  private static func majorVersion(_ version: String?, default value: Int) -> Int {
    version.flatMap { Int($0.split(separator: ".").first ?? "") } ?? value
  }

  private static func json(_ data: Data, what: String) throws -> JSONValue {
    do {
      return try JSONDecoder().decode(JSONValue.self, from: data)
    } catch {
      throw KerasError("\(what) is not valid JSON")
    }
  }

  /// The datasets of the file (path, shape, element type), depth first in name order; the
  /// optimizer's state is included.
  ///
  /// - Throws: `HDF5Error` for a malformed file.
  public func datasets() throws -> [HDF5DatasetInfo] {
    var result: [HDF5DatasetInfo] = []
    func walk(_ path: String, depth: Int) throws {
      guard depth < 64 else { throw HDF5Error("\(source): groups nest more than 64 deep") }
      for (name, kind) in try weights.members(of: path) {
        let child = path.isEmpty ? name : path + "/" + name
        switch kind {
        case .group: try walk(child, depth: depth + 1)
        case .dataset: if let info = try weights.datasetInfo(child) { result.append(info) }
        case .other: continue
        }
      }
    }
    try walk("", depth: 0)
    return result
  }

  /// Builds the model of the file's architecture through `registry` and fills its
  /// parameters from the weights.
  ///
  /// - Throws: `KerasError` for a weights file (it has no architecture) or weights that do
  ///   not fit the architecture (naming the dataset, the parameter and both shapes); the
  ///   registry's errors for a layer it does not know.
  public func loadModel(registry: LayerRegistry) throws -> (
    model: any ModelProtocol, assignments: [KerasWeightAssignment]
  ) {
    guard let architecture else {
      throw KerasError(
        "\(source) holds weights only; give the architecture (a .plexus file or a spec)")
    }
    let model = try Self.makeModel(architecture, registry: registry, limit: try largestDataset())
    let assignments = try assign(to: model, variables: variables)
    return (model, assignments)
  }

  /// The largest element count a dataset of the file declares, which bounds what building the
  /// architecture may allocate.
  private func largestDataset() throws -> Int {
    try datasets().map { $0.shape.reduce(1, *) }.max() ?? 0
  }

  /// Creates the model of `description`, bounding every parameter by `limit` elements.
  static func makeModel(_ description: LayerDescription, registry: LayerRegistry, limit: Int)
    throws -> any ModelProtocol
  {
    try ParameterAllocation.$current.withValue(
      ParameterAllocation(maximumElements: max(limit, 1), drawsInitialValues: false)
    ) {
      let layer = try registry.makeLayer(from: description)
      guard let model = layer as? any ModelProtocol else {
        throw KerasError("the converted architecture '\(description.type)' is not a model")
      }
      if let sequential = model as? Sequential { try sequential.build(seed: 0) }
      return model
    }
  }

  /// Fills the parameters of `model` (whose architecture Plexus describes) from a weights
  /// file: the Keras names of its layers are those Keras would give the equivalent model
  /// (`KerasExport.variables(of:)`).
  ///
  /// - Throws: `KerasError` for a layer without a Keras equivalent or weights that do not
  ///   fit.
  public func assignWeights(to model: any ModelProtocol, architecture: LayerDescription) throws
    -> [KerasWeightAssignment]
  {
    let exported = try KerasExport.importPlan(architecture)
    if legacyRoot != nil {
      return try assignLegacy(to: model, layers: exported.legacyLayers)
    }
    return try assign(to: model, variables: exported.variables)
  }

  private func assign(to model: any ModelProtocol, variables: [KerasVariable]) throws
    -> [KerasWeightAssignment]
  {
    if legacyRoot != nil { return try assignLegacy(to: model, layers: legacyLayers) }
    var paths: [String: String] = [:]
    for variable in variables { paths[variable.plexusPath] = variable.keras3Path }
    try checkKeras3Groups(variables)
    return try fill(model) { path in paths[path] }
  }

  /// Each `vars` group read holds exactly the variables expected, and belongs to the layer
  /// the config names.
  private func checkKeras3Groups(_ variables: [KerasVariable]) throws {
    var expected: [String: (count: Int, layer: String)] = [:]
    for variable in variables {
      let group = variable.keras3Path.split(separator: "/").dropLast().joined(separator: "/")
      let layer = String(
        variable.plexusPath.split(separator: ".").dropLast().joined(separator: "."))
      expected[group, default: (0, layer)].count += 1
    }
    for (group, (count, layer)) in expected.sorted(by: { $0.key < $1.key }) {
      guard try weights.kind(of: group) == .group else {
        throw KerasError(
          "\(source): the weights have no group '\(group)' for layer '\(layer)' (missing HDF5 "
            + "datasets: the file does not match the architecture)")
      }
      let members = try weights.members(of: group)
      guard members.count == count else {
        throw KerasError(
          "\(source): group '\(group)' holds \(members.count) variables; layer '\(layer)' has "
            + "\(count)")
      }
      // Keras records the layer's name on a layer's own `vars` group (not on a cell's).
      let parts = group.split(separator: "/")
      if parts.count == 3, parts[0] == "layers", parts[2] == "vars",
        let recorded = try weights.stringAttribute("name", of: group), recorded != layer
      {
        throw KerasError(
          "\(source): group '\(group)' belongs to layer '\(recorded)', but the architecture "
            + "puts layer '\(layer)' there")
      }
    }
  }

  private func assignLegacy(
    to model: any ModelProtocol, layers: [(name: String, variables: [KerasVariable])]
  ) throws -> [KerasWeightAssignment] {
    let root = legacyRoot ?? ""
    let prefix = root.isEmpty ? "" : root + "/"
    let listed = Set(
      try weights.stringsAttribute("layer_names", of: root.isEmpty ? "/" : root) ?? [])
    var paths: [String: String] = [:]
    for (layer, variables) in layers {
      let group = prefix + layer
      guard listed.contains(layer), try weights.kind(of: group) == .group else {
        throw KerasError(
          "\(source): the weights have no layer '\(layer)' (missing HDF5 group '\(group)')")
      }
      let names = try weights.stringsAttribute("weight_names", of: group) ?? []
      guard names.count == variables.count else {
        throw KerasError(
          "\(source): layer '\(layer)' stores \(names.count) weights \(names); Plexus expects "
            + "\(variables.count) (\(variables.map(\.kerasName).joined(separator: ", ")))")
      }
      for (name, variable) in zip(names, variables) {
        let last = name.split(separator: "/").last.map(String.init) ?? name
        let stem = last.split(separator: ":").first.map(String.init) ?? last
        guard stem == variable.kerasName || variable.kerasAliases.contains(stem) else {
          throw KerasError(
            "\(source): layer '\(layer)' stores '\(name)' where Plexus expects its "
              + "\(variable.kerasName)")
        }
        paths[variable.plexusPath] = group + "/" + name
      }
    }
    return try fill(model) { paths[$0] }
  }

  /// Assigns each parameter of `model` the dataset `datasetPath` gives for its path, checking
  /// shapes before reading.
  private func fill(_ model: any ModelProtocol, datasetPath: (String) -> String?) throws
    -> [KerasWeightAssignment]
  {
    let parameters = try model.builtGraph().namedParameters(prefix: "")
    var assignments: [KerasWeightAssignment] = []
    for (path, parameter) in parameters {
      guard let dataset = datasetPath(path) else {
        throw KerasError("\(source): Plexus parameter '\(path)' has no Keras weight")
      }
      guard let info = try weights.datasetInfo(dataset) else {
        throw KerasError(
          "\(source): the weights have no dataset '\(dataset)' for parameter '\(path)'")
      }
      let expected = parameter.value.shape
      guard info.shape == expected else {
        throw KerasError(
          "\(source): dataset '\(dataset)' has shape \(info.shape) but parameter '\(path)' has "
            + "shape \(expected)")
      }
      let tensor = try weights.readTensor(dataset, maximumElements: max(parameter.value.count, 1))
      if let bad = tensor.scalars.firstIndex(where: { !$0.isFinite }) {
        throw KerasError(
          "\(source): dataset '\(dataset)' holds \(tensor.scalars[bad]) at index \(bad)")
      }
      try parameter.assign(try tensor.reshaped(expected))
      assignments.append(
        KerasWeightAssignment(plexusPath: path, datasetPath: dataset, shape: expected))
    }
    return assignments
  }
}
