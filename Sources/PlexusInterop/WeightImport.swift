import Foundation
import PlexusCore

/// How a weight file's tensors are named and laid out.
public enum WeightLayout: String, Sendable, CaseIterable {
  /// Plexus's own: tensors named by parameter path (`dense_1.kernel`) in Plexus's layouts.
  case plexus
  /// A PyTorch state dict's: the `torch.nn` module of each layer, its tensor names
  /// (`fc1.weight`, `lstm.weight_ih_l0`) and layouts (see `Formats/conversions.md`).
  case pytorch
  /// A Keras 3 weights file's: each parameter under its variable's path
  /// (`layers/dense/vars/0`) in Keras's layouts, which are Plexus's.
  case keras
  /// scikit-learn's `BernoulliRBM` attributes (`components_`, `intercept_hidden_`,
  /// `intercept_visible_`), for a model with one RBM.
  case sklearn
}

/// A mapping file: for each tensor of a weight file, the Plexus path it goes to, or `nil` to
/// leave it out. Read from a JSON object `{"fc1.weight": "dense_1.kernel", "bn.num_batches_tracked": null}`;
/// with the PyTorch layout a value may also be a layer path (`"dense_1"`).
public struct WeightMapping: Sendable, Equatable {
  /// The entries, in file order.
  public let entries: [(name: String, path: String?)]

  /// Creates a mapping.
  public init(_ entries: [(name: String, path: String?)]) { self.entries = entries }

  /// Reads a mapping file.
  ///
  /// - Throws: `PlexusError.invalidData` naming the file and the entry for anything but a JSON
  ///   object of strings and nulls; `PlexusError.io` when it cannot be read.
  public init(contentsOf url: URL) throws {
    let data: Data
    do { data = try Data(contentsOf: url) } catch {
      throw PlexusError.io("cannot read mapping file '\(url.path)': \(error.localizedDescription)")
    }
    guard case .object(let object)? = try? JSONDecoder().decode(JSONValue.self, from: data) else {
      throw PlexusError.invalidData(
        "\(url.path): a mapping file is a JSON object of tensor names to Plexus paths (or null)")
    }
    entries = try object.keys.sorted().map { name in
      switch object[name]! {
      case .string(let path) where !path.isEmpty: return (name, path)
      case .null: return (name, nil)
      default:
        throw PlexusError.invalidData(
          "\(url.path): '\(name)' maps to something that is not a Plexus path or null")
      }
    }
  }

  public static func == (lhs: WeightMapping, rhs: WeightMapping) -> Bool {
    lhs.entries.map(\.name) == rhs.entries.map(\.name)
      && lhs.entries.map(\.path) == rhs.entries.map(\.path)
  }
}

/// Where one tensor of a weight file went.
public struct WeightAssignment: Sendable, Equatable {
  /// The tensor's name in the file.
  public let tensor: String
  /// Its shape in the file.
  public let tensorShape: [Int]
  /// The Plexus parameter path it went to (`nil`: left out).
  public let parameter: String?
  /// That parameter's shape.
  public let parameterShape: [Int]?
  /// How it was converted (`transposed`), or why it was left out.
  public let note: String
}

/// What `WeightImport.load` did.
public struct WeightImportReport: Sendable {
  /// The layout the file was read in.
  public let layout: WeightLayout
  /// How tensors were matched to parameters: `by name`, `by order and shape`, `by module
  /// number and shape`, `by shape`, `by the mapping file`.
  public let method: String
  /// One line per tensor of the file, in file order.
  public let assignments: [WeightAssignment]
  /// Notes on conventions the architecture should match (a batch normalization's epsilon).
  public let warnings: [String]

  /// Whether every tensor went to the parameter of its own name, unchanged.
  public var isByName: Bool { method == "by name" }

  /// The assignments as lines `name [shape] -> path [shape] (note)`.
  public var table: [String] {
    let width = assignments.map { "\($0.tensor) \($0.tensorShape)".count }.max() ?? 0
    return assignments.map { row in
      let left = "\(row.tensor) \(row.tensorShape)".padding(
        toLength: width, withPad: " ", startingAt: 0)
      guard let parameter = row.parameter else { return "\(left) -> (left out: \(row.note))" }
      let shape = row.parameterShape.map { " \($0)" } ?? ""
      return "\(left) -> \(parameter)\(shape)" + (row.note.isEmpty ? "" : " (\(row.note))")
    }
  }
}

/// Assigns the tensors of a weight file to a model's parameters.
public enum WeightImport {
  /// Sets the parameters of `model` (built) from `file`, read in `layout`: by name, by order
  /// and shape, or as `mapping` says. Nothing is assigned unless every parameter gets a value
  /// of its shape.
  ///
  /// - Throws: `PlexusError.invalidData` naming the tensor, the parameter and both shapes for
  ///   a mismatch, the tensors or parameters left over, or what makes a match ambiguous;
  ///   `InteropError` for a layer with no PyTorch equivalent.
  @discardableResult
  public static func load(
    _ file: WeightFile, into model: any ModelProtocol, layout: WeightLayout,
    mapping: WeightMapping? = nil
  ) throws -> WeightImportReport {
    let layers = try ParameterLayer.layers(of: model)
    let (report, values) =
      switch layout {
      case .plexus: try plexusLayout(file, layers: layers, mapping: mapping)
      case .pytorch: try pytorchLayout(file, layers: layers, mapping: mapping)
      case .keras: try kerasLayout(file, model: model, layers: layers, mapping: mapping)
      case .sklearn:
        if mapping != nil {
          throw PlexusError.invalidArgument(
            "the scikit-learn layout names its three tensors itself; leave out the mapping file")
        } else {
          try ScikitLearnLayout.importValues(file, layers: layers)
        }
      }
    for (parameter, value) in values { try parameter.assign(value) }
    return report
  }

  private static func failure(_ file: WeightFile, _ message: String) -> PlexusError {
    PlexusError.invalidData("\(file.source): \(message)")
  }

  // MARK: Keras layout

  /// The Keras layout: the Plexus layout through the mapping of Keras 3 paths to parameters.
  private static func kerasLayout(
    _ file: WeightFile, model: any ModelProtocol, layers: [ParameterLayer],
    mapping: WeightMapping?
  ) throws -> (WeightImportReport, [(Parameter, Tensor)]) {
    guard mapping == nil else {
      throw failure(
        file,
        "the Keras layout names every tensor itself; a mapping file applies to the "
          + "plexus and pytorch layouts")
    }
    let (report, values) = try plexusLayout(
      file, layers: layers, mapping: try KerasWeightLayout.mapping(for: model))
    return (
      WeightImportReport(
        layout: .keras, method: "by Keras 3 path", assignments: report.assignments,
        warnings: report.warnings), values
    )
  }

  // MARK: Plexus layout

  private static func plexusLayout(
    _ file: WeightFile, layers: [ParameterLayer], mapping: WeightMapping?
  ) throws -> (WeightImportReport, [(Parameter, Tensor)]) {
    let parameters = layers.flatMap { layer in
      layer.parameters.map { (path: "\(layer.path).\($0.name)", parameter: $0.parameter) }
    }
    let byPath = Dictionary(
      parameters.map { ($0.path, $0.parameter) }, uniquingKeysWith: { a, _ in a })
    var pairs: [(WeightTensorInfo, String?)] = []
    let method: String
    if let mapping {
      pairs = try mapped(file, mapping: mapping).map { info, path in
        if let path, byPath[path] == nil {
          throw failure(
            file,
            "the mapping sends '\(info.name)' to '\(path)', which is not a parameter of "
              + "the architecture; its parameters are \(parameters.map(\.path))")
        }
        return (info, path)
      }
      method = "by the mapping file"
    } else {
      let names = Set(file.tensors.map(\.name))
      let hint =
        file.tensors.contains { $0.name.hasSuffix(".weight") }
        ? " (for a file from PyTorch, use the pytorch layout)" : ""
      if parameters.allSatisfy({ names.contains($0.path) }) {
        let extra = file.tensors.map(\.name).filter { byPath[$0] == nil }
        guard extra.isEmpty else {
          throw failure(file, "tensors \(extra) match no parameter of the architecture")
        }
        pairs = file.tensors.map { ($0, $0.name) }
        method = "by name"
      } else {
        guard file.tensors.count == parameters.count else {
          throw failure(
            file,
            "\(file.tensors.count) tensors for \(parameters.count) parameters, and the "
              + "names do not match; the parameters are \(parameters.map(\.path))" + hint)
        }
        for (info, parameter) in zip(file.tensors, parameters)
        where info.shape != parameter.parameter.value.shape {
          throw failure(
            file,
            "matching by order, tensor '\(info.name)' has shape \(info.shape) but "
              + "parameter '\(parameter.path)' has shape \(parameter.parameter.value.shape)" + hint)
        }
        pairs = zip(file.tensors, parameters.map(\.path)).map { ($0, $1) }
        method = "by order and shape"
      }
    }
    var assigned = Set<String>()
    var values: [(Parameter, Tensor)] = []
    var rows: [WeightAssignment] = []
    for (info, path) in pairs {
      guard let path, let parameter = byPath[path] else {
        rows.append(
          WeightAssignment(
            tensor: info.name, tensorShape: info.shape, parameter: nil, parameterShape: nil,
            note: "mapped to null"))
        continue
      }
      guard assigned.insert(path).inserted else {
        throw failure(file, "two tensors go to parameter '\(path)'")
      }
      guard info.shape == parameter.value.shape else {
        throw failure(
          file,
          "tensor '\(info.name)' has shape \(info.shape) but parameter '\(path)' has "
            + "shape \(parameter.value.shape)")
      }
      values.append((parameter, try file.tensor(named: info.name)))
      rows.append(
        WeightAssignment(
          tensor: info.name, tensorShape: info.shape, parameter: path,
          parameterShape: parameter.value.shape, note: ""))
    }
    let missing = parameters.map(\.path).filter { !assigned.contains($0) }
    guard missing.isEmpty else {
      throw failure(file, "no tensor goes to parameters \(missing)")
    }
    return (
      WeightImportReport(layout: .plexus, method: method, assignments: rows, warnings: []), values
    )
  }

  /// The file's tensors with the paths the mapping gives them; every tensor must be mapped and
  /// every mapped name must be a tensor.
  private static func mapped(_ file: WeightFile, mapping: WeightMapping) throws
    -> [(WeightTensorInfo, String?)]
  {
    let paths = Dictionary(
      mapping.entries.map { ($0.name, $0.path) }, uniquingKeysWith: { a, _ in a })
    let names = Set(file.tensors.map(\.name))
    if let unknown = mapping.entries.map(\.name).first(where: { !names.contains($0) }) {
      throw failure(file, "the mapping names tensor '\(unknown)', which the file does not have")
    }
    let unmapped = file.tensors.map(\.name).filter { paths[$0] == nil }
    guard unmapped.isEmpty else {
      throw failure(
        file,
        "tensors \(unmapped) are not in the mapping; map each to a Plexus path, or to "
          + "null to leave it out")
    }
    return file.tensors.map { ($0, paths[$0.name]!) }
  }

  // MARK: PyTorch layout

  /// The tensors of one `torch.nn` module (one layer of a multi-layer recurrent module).
  private struct ModuleGroup {
    var key: String
    var module: String
    var tensors: [(suffix: String, info: WeightTensorInfo)] = []
    /// Whether the tensors are a bidirectional RNN's reverse direction (`*_l0_reverse`).
    var isReverse = false

    func tensor(_ suffix: String) -> WeightTensorInfo? {
      tensors.first { $0.suffix == suffix }?.info
    }
  }

  /// A tensor name's module and suffix: `fc1.weight` is (`fc1`, `weight`, nil, false),
  /// `lstm.weight_ih_l1` is (`lstm`, `weight_ih`, 1, false) and `lstm.weight_ih_l1_reverse`,
  /// of a bidirectional RNN's reverse direction, (`lstm`, `weight_ih`, 1, true).
  private static func split(_ name: String, file: WeightFile) throws
    -> (module: String, suffix: String, layerIndex: Int?, isReverse: Bool)
  {
    let parts = name.split(separator: ".", omittingEmptySubsequences: false)
    let module = parts.dropLast().joined(separator: ".")
    let last = String(parts.last ?? "")
    let reverse = last.hasSuffix("_reverse")
    let plain = reverse ? String(last.dropLast("_reverse".count)) : last
    if let range = plain.range(of: "_l", options: .backwards),
      PyTorchLayout.recurrentSuffixes.contains(String(plain[..<range.lowerBound])),
      let number = Int(plain[range.upperBound...]), number >= 0
    {
      return (module, String(plain[..<range.lowerBound]), number, reverse)
    }
    return (module, last, nil, false)
  }

  private static func groups(_ file: WeightFile) throws -> [ModuleGroup] {
    var groups: [ModuleGroup] = []
    var indices: [String: Int] = [:]
    for info in file.tensors {
      let (module, suffix, layer, reverse) = try split(info.name, file: file)
      let direction = reverse ? "_reverse" : ""
      let key = module + (layer.map { "#\($0)\(direction)" } ?? "")
      if indices[key] == nil {
        indices[key] = groups.count
        groups.append(
          ModuleGroup(
            key: key, module: module + (layer.map { ".*_l\($0)\(direction)" } ?? ""),
            isReverse: reverse))
      }
      groups[indices[key]!].tensors.append((suffix, info))
    }
    return groups
  }

  /// Why the group cannot be the layer's module, or `nil` when it can.
  private static func misfit(_ group: ModuleGroup, _ layer: ParameterLayer) throws -> String? {
    let specs = try PyTorchLayout.parameters(of: layer)
    if group.isReverse != layer.isReverseDirection {
      return "module '\(group.module)' is "
        + (group.isReverse ? "" : "not ")
        + "the reverse direction of a bidirectional RNN, layer '\(layer.path)' is "
        + (layer.isReverseDirection ? "" : "not")
    }
    var suffixes = Set<String>()
    for (suffix, info) in group.tensors where !suffixes.insert(suffix).inserted {
      return "tensors '\(group.tensor(suffix)!.name)' and '\(info.name)' are both the '\(suffix)' "
        + "of layer '\(layer.path)'"
    }
    for spec in specs {
      guard let info = group.tensor(spec.suffix) else {
        if spec.isOptional { continue }
        return "module '\(group.module)' has no '\(spec.suffix)' for layer '\(layer.path)' "
          + "(\(layer.typeName))"
      }
      guard info.shape == spec.shape else {
        let target =
          spec.target.map { name in
            " but parameter '\(layer.path).\(name)' has shape "
              + "\(layer.parameter(name)!.value.shape), which needs \(spec.shape)"
          } ?? " but layer '\(layer.path)' needs \(spec.shape)"
        return "tensor '\(info.name)' has shape \(info.shape)" + target
      }
    }
    if let extra = group.tensors.first(where: { tensor in
      !specs.contains { $0.suffix == tensor.suffix }
    }) {
      return "tensor '\(extra.info.name)' has no place in layer '\(layer.path)' (\(layer.typeName))"
    }
    if (group.tensor("bias_ih") == nil) != (group.tensor("bias_hh") == nil),
      specs.contains(where: { $0.suffix == "bias_ih" })
    {
      return "module '\(group.module)' has only one of bias_ih and bias_hh"
    }
    return nil
  }

  private static func pytorchLayout(
    _ file: WeightFile, layers: [ParameterLayer], mapping: WeightMapping?
  ) throws -> (WeightImportReport, [(Parameter, Tensor)]) {
    var pairs: [(ModuleGroup, ParameterLayer)] = []
    var skipped: [WeightTensorInfo] = []
    let method: String
    if let mapping {
      let byPath = Dictionary(layers.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
      var byLayer: [String: ModuleGroup] = [:]
      var named: [String: String] = [:]
      for (info, path) in try mapped(file, mapping: mapping) {
        guard let path else {
          skipped.append(info)
          continue
        }
        var layerPath = path
        if byPath[path] == nil, let dot = path.lastIndex(of: ".") {
          layerPath = String(path[..<dot])
          named[info.name] = String(path[path.index(after: dot)...])
        }
        guard let layer = byPath[layerPath],
          named[info.name].map({ layer.parameter($0) != nil }) ?? true
        else {
          throw failure(
            file,
            "the mapping sends '\(info.name)' to '\(path)', which is neither a layer "
              + "with parameters nor a parameter of the architecture; its layers are "
              + "\(layers.map(\.path))")
        }
        let (_, suffix, _, reverse) = try split(info.name, file: file)
        byLayer[
          layerPath, default: ModuleGroup(key: layerPath, module: layerPath, isReverse: reverse)
        ].tensors.append((suffix, info))
      }
      for layer in layers {
        guard let group = byLayer[layer.path] else {
          throw failure(file, "the mapping sends no tensor to layer '\(layer.path)'")
        }
        if let reason = try misfit(group, layer) { throw failure(file, reason) }
        let specs = try PyTorchLayout.parameters(of: layer)
        for (suffix, info) in group.tensors {
          if let parameter = named[info.name],
            let spec = specs.first(where: { $0.suffix == suffix }), spec.target != parameter
          {
            throw failure(
              file,
              "the mapping sends '\(info.name)' to '\(layer.path).\(parameter)', but its "
                + "PyTorch '\(suffix)' goes to '\(layer.path).\(spec.target ?? "nothing")'")
          }
        }
        pairs.append((group, layer))
      }
      method = "by the mapping file"
    } else {
      let groups = try groups(file)
      for layer in layers { _ = try PyTorchLayout.parameters(of: layer) }
      func fits(_ candidate: [ModuleGroup]) throws -> Bool {
        guard candidate.count == layers.count else { return false }
        for (group, layer) in zip(candidate, layers) where try misfit(group, layer) != nil {
          return false
        }
        return true
      }
      let numbered = groups.sorted { naturalOrder($0.key, $1.key) }
      if try fits(groups) {
        pairs = Array(zip(groups, layers))
        method = "by order and shape"
      } else if try fits(numbered) {
        pairs = Array(zip(numbered, layers))
        method = "by module number and shape"
      } else if let unique = try uniqueFit(groups, layers) {
        pairs = unique
        method = "by shape"
      } else {
        throw failure(file, try explanation(groups, layers))
      }
    }
    var values: [(Parameter, Tensor)] = []
    var rows: [String: WeightAssignment] = [:]
    var warnings: [String] = []
    for (group, layer) in pairs {
      let specs = try PyTorchLayout.parameters(of: layer)
      var tensors: [String: Tensor] = [:]
      for (suffix, info) in group.tensors {
        tensors[suffix] = try file.tensor(named: info.name)
        let spec = specs.first { $0.suffix == suffix }!
        rows[info.name] = WeightAssignment(
          tensor: info.name, tensorShape: info.shape,
          parameter: spec.target.map { "\(layer.path).\($0)" },
          parameterShape: spec.target.flatMap { layer.parameter($0)?.value.shape }, note: spec.note)
      }
      for (name, value) in try PyTorchLayout.plexusValues(of: layer, from: tensors) {
        values.append((layer.parameter(name)!, value))
      }
      if layer.typeName == "plexus.batch_normalization", case .object(let config) = layer.config,
        case .number(let epsilon)? = config["epsilon"], abs(epsilon - 1e-5) > 1e-9
      {
        warnings.append(
          "layer '\(layer.path)' has epsilon \(epsilon); PyTorch's BatchNorm default is 1e-5: "
            + "set \"epsilon\" to the module's eps for the same outputs")
      }
    }
    for info in skipped {
      rows[info.name] = WeightAssignment(
        tensor: info.name, tensorShape: info.shape, parameter: nil, parameterShape: nil,
        note: "mapped to null")
    }
    let ordered = file.tensors.compactMap { rows[$0.name] }
    return (
      WeightImportReport(
        layout: .pytorch, method: method, assignments: ordered, warnings: warnings), values
    )
  }

  /// Module keys in numeric order: `2` before `10`, `fc2` before `fc10`.
  private static func naturalOrder(_ a: String, _ b: String) -> Bool {
    a.compare(b, options: [.numeric]) == .orderedAscending
  }

  /// Each layer paired with the only module that fits it, when every layer has exactly one
  /// and every module is used.
  private static func uniqueFit(_ groups: [ModuleGroup], _ layers: [ParameterLayer]) throws
    -> [(ModuleGroup, ParameterLayer)]?
  {
    guard groups.count == layers.count else { return nil }
    var used = Set<String>()
    var pairs: [(ModuleGroup, ParameterLayer)] = []
    for layer in layers {
      let candidates = try groups.filter { try misfit($0, layer) == nil }
      guard candidates.count == 1, used.insert(candidates[0].key).inserted else { return nil }
      pairs.append((candidates[0], layer))
    }
    return pairs
  }

  /// Why no automatic match works, with the first mismatch in file order.
  private static func explanation(_ groups: [ModuleGroup], _ layers: [ParameterLayer]) throws
    -> String
  {
    let advice = "; give the pairing in a mapping file (--mapping)"
    guard groups.count == layers.count else {
      return "\(groups.count) PyTorch modules (\(groups.map(\.module).joined(separator: ", "))) "
        + "for \(layers.count) layers with parameters "
        + "(\(layers.map(\.path).joined(separator: ", ")))" + advice
    }
    for (group, layer) in zip(groups, layers) {
      if let reason = try misfit(group, layer) {
        return "matching modules to layers in order, \(reason)" + advice
      }
    }
    return "the modules fit the layers in no order that is unambiguous" + advice
  }
}
