import Foundation
import PlexusCore

/// A Keras model converted: its Plexus architecture and where each parameter's values are.
struct ImportedModel {
  /// The Keras class (`Sequential`, `Functional`).
  var kerasClass: String
  /// The Plexus architecture (`plexus.sequential` or `plexus.model`).
  var description: LayerDescription
  /// The variables, Plexus paths relative to this model, Keras 3 paths relative to its group.
  var variables: [KerasVariable]
  /// For legacy `.h5` files: each layer holding variables, by its Keras name, with its
  /// variables in Keras order (the order of the layer's `weight_names`).
  var legacyLayers: [(name: String, variables: [KerasVariable])]
}

/// Keras's name for a class in weights files: `to_snake_case` of the class name
/// (`BatchNormalization` -> `batch_normalization`, `PReLU` -> `p_re_lu`).
func kerasSnakeCase(_ name: String) -> String {
  func replace(_ text: String, _ pattern: String, _ template: String) -> String {
    guard let expression = try? NSRegularExpression(pattern: pattern) else { return text }
    return expression.stringByReplacingMatches(
      in: text, range: NSRange(text.startIndex..., in: text), withTemplate: template)
  }
  var result = replace(name, "\\W+", "")
  result = replace(result, "(.)([A-Z][a-z]+)", "$1_$2")
  result = replace(result, "([a-z])([A-Z])", "$1_$2")
  return result.lowercased()
}

/// Keras's unique names of the layers of a model in its weights file: the snake-case class
/// name, then `_1`, `_2`, ... for later layers of the same class.
struct KerasGroupNames {
  private var used: [String: Int] = [:]

  mutating func next(forClass className: String) -> String {
    let base = kerasSnakeCase(className)
    if let count = used[base] {
      used[base] = count + 1
      return "\(base)_\(count + 1)"
    }
    used[base] = 0
    return base
  }
}

/// Converts Keras model configs (`Sequential`, `Functional`, nested in each other) into
/// Plexus architectures.
struct KerasModelImporter {
  var layers: KerasLayerImporter

  /// Creates an importer for a whole model config, checking first whether any layer makes a
  /// sequence mask.
  init(modelConfig: JSONValue, kerasMajorVersion: Int) {
    func hasMasks(_ value: JSONValue) -> Bool {
      switch value {
      case .object(let members):
        if members["class_name"] == .string("Masking") { return true }
        if members["class_name"] == .string("Embedding"),
          members["config"]?.objectMembers?["mask_zero"] == .bool(true)
        {
          return true
        }
        return members.values.contains(where: hasMasks)
      case .array(let items): return items.contains(where: hasMasks)
      default: return false
      }
    }
    layers = KerasLayerImporter(
      kerasMajorVersion: kerasMajorVersion, modelHasMasks: hasMasks(modelConfig))
  }

  static let modelClasses: Set<String> = ["Sequential", "Functional", "Model"]

  /// Converts a model entry (`{"class_name": "Sequential", "config": {...}}`).
  ///
  /// - Throws: `KerasError` naming the layer and option that Plexus cannot convert.
  func translateModel(_ entry: JSONValue, context: String) throws -> ImportedModel {
    let (className, config) = try KerasLayerImporter.classAndConfig(entry, context: context)
    let buildShape = entry.objectMembers?["build_config"]?.objectMembers?["input_shape"]
    switch className {
    case "Sequential":
      return try sequential(config, buildShape: buildShape, context: context)
    case "Functional", "Model":
      return try functional(config, className: className, context: context)
    default:
      throw KerasError(
        "\(context): the model is a \(className); Plexus converts Sequential and Functional "
          + "models")
    }
  }

  /// A layer of a model: a nested model or a plain layer.
  private func translateMember(_ entry: JSONValue, context: String) throws -> ImportedLayer {
    let className = entry.objectMembers?["class_name"]?.stringValue ?? ""
    guard Self.modelClasses.contains(className) else {
      return try layers.translate(entry, context: context)
    }
    let model = try translateModel(entry, context: context)
    let name = model.description.name
    return ImportedLayer(
      kerasClass: className, description: model.description,
      variables: model.variables.map {
        KerasVariable(
          plexusPath: name + "." + $0.plexusPath, keras3Path: $0.keras3Path,
          kerasName: $0.kerasName, kerasAliases: $0.kerasAliases)
      }, readsSequenceMask: false, masksPaddingIds: false)
  }

  /// The per-sample shape of a Keras batch shape (`[null, 28, 28, 1]` -> `[28, 28, 1]`).
  static func sampleShape(_ value: JSONValue?, context: String) throws -> SymbolicShape {
    guard let items = value?.arrayItems, !items.isEmpty else {
      throw KerasError(
        "\(context): the input shape \(value.map(KerasOptions.render) ?? "null") "
          + "is not a batch shape")
    }
    return try items.dropFirst().map { item -> Int? in
      if item == .null { return nil }
      guard let dimension = KerasOptions.integer(item), dimension > 0,
        dimension <= ParameterAllocation.maximumSampleElements
      else {
        throw KerasError(
          "\(context): the input shape \(KerasOptions.render(value!)) has a bad dimension")
      }
      return dimension
    }
  }

  /// Reads an `InputLayer` entry: its name and per-sample shape.
  private func inputLayer(_ entry: JSONValue, context: String) throws -> (String, SymbolicShape) {
    let (_, config) = try KerasLayerImporter.classAndConfig(entry, context: context)
    let name = try KerasLayerImporter.layerName(config, className: "InputLayer", context: context)
    let options = try KerasOptions(config, context: "\(context): input '\(name)'")
    options.ignore("name")
    let key = options.has("batch_shape") ? "batch_shape" : "batch_input_shape"
    let shape = try Self.sampleShape(options.value(key), context: options.context)
    try layers.checkDType(options, allowIntegers: true)
    try options.require("sparse", in: [.bool(false)])
    try options.require("ragged", in: [.bool(false)])
    try options.require("optional", in: [.bool(false)])
    options.ignore("input_tensor")
    try options.finish()
    return (name, shape)
  }

  // MARK: - Sequential

  private func sequential(_ config: JSONValue, buildShape: JSONValue?, context: String) throws
    -> ImportedModel
  {
    let options = try KerasOptions(config, context: "\(context): Sequential model")
    let name = try options.string("name", default: "sequential")
    options.ignore("trainable")
    try layers.checkDType(options)
    guard var entries = options.value("layers")?.arrayItems else {
      throw options.fail("layers", "is missing")
    }
    var inputShape: SymbolicShape?
    if let first = entries.first, first.objectMembers?["class_name"] == .string("InputLayer") {
      inputShape = try inputLayer(first, context: options.context).1
      entries.removeFirst()
    } else if var first = entries.first?.objectMembers,
      case .object(var firstConfig)? = first["config"], let shape = firstConfig["batch_input_shape"]
    {
      // Keras 2 records the input shape on the first layer.
      inputShape = try Self.sampleShape(shape, context: options.context)
      firstConfig.removeValue(forKey: "batch_input_shape")
      firstConfig.removeValue(forKey: "batch_size")
      first["config"] = .object(firstConfig)
      entries[0] = .object(first)
    }
    let recordedShape = options.value("build_input_shape")
    if inputShape == nil, let recorded = recordedShape ?? buildShape, recorded != .null {
      inputShape = try Self.sampleShape(recorded, context: options.context)
    }
    try options.finish()
    guard let inputShape else {
      throw KerasError(
        "\(options.context) records no input shape (no InputLayer, batch_input_shape or "
          + "build_input_shape); Plexus needs one")
    }
    var translated: [ImportedLayer] = []
    var groups = KerasGroupNames()
    var variables: [KerasVariable] = []
    var legacy: [(name: String, variables: [KerasVariable])] = []
    for (index, entry) in entries.enumerated() {
      let layer = try translateMember(entry, context: "\(options.context), layer \(index + 1)")
      if layer.kerasClass == "InputLayer" {
        throw KerasError("\(options.context): an InputLayer is layer \(index + 1), not the first")
      }
      let group = "layers/" + groups.next(forClass: layer.kerasClass)
      variables += layer.variables.map { variable in
        var moved = variable
        moved.keras3Path = group + "/" + variable.keras3Path
        return moved
      }
      if !layer.variables.isEmpty { legacy.append((layer.description.name, layer.variables)) }
      translated.append(layer)
    }
    for (index, layer) in translated.enumerated() where layer.masksPaddingIds {
      guard index + 1 < translated.count, translated[index + 1].readsSequenceMask else {
        throw maskZeroError(layer, next: index + 1 < translated.count ? translated[index + 1] : nil)
      }
    }
    try checkUniqueNames(translated.map(\.description.name), context: options.context)
    let description = LayerDescription(
      type: "plexus.sequential", name: name,
      config: .object([
        "layers": .array(try translated.map { try JSONValue(encoding: $0.description) }),
        "inputShape": .array(inputShape.map { $0.map { .number(Double($0)) } ?? .null }),
      ]))
    return ImportedModel(
      kerasClass: "Sequential", description: description, variables: variables,
      legacyLayers: legacy)
  }

  private func maskZeroError(_ layer: ImportedLayer, next: ImportedLayer?) -> KerasError {
    KerasError(
      "Embedding '\(layer.description.name)' has mask_zero and feeds "
        + (next.map { "'\($0.description.name)' (\($0.kerasClass))" } ?? "no layer")
        + "; Plexus gives padded ids a zero vector where Keras passes row 0 on, so only a "
        + "recurrent layer (which skips masked steps) may read it")
  }

  private func checkUniqueNames(_ names: [String], context: String) throws {
    var seen = Set<String>()
    for name in names where !seen.insert(name).inserted {
      throw KerasError("\(context): two layers are named '\(name)'")
    }
  }

  // MARK: - Functional

  /// A tensor reference of a Keras config: `[layer, node, tensor]`.
  private static func reference(_ value: JSONValue, context: String) throws
    -> Model.TensorReference
  {
    guard let items = value.arrayItems, items.count >= 3, let source = items[0].stringValue,
      let call = KerasOptions.integer(items[1]), call >= 0,
      let output = KerasOptions.integer(items[2]), output >= 0
    else {
      throw KerasError("\(context): \(KerasOptions.render(value)) is not a tensor reference")
    }
    return Model.TensorReference(source: source, call: call, output: output)
  }

  /// `input_layers` / `output_layers`: one reference (Keras 3, one tensor) or a list of them.
  private static func references(_ value: JSONValue?, key: String, context: String) throws
    -> [Model.TensorReference]
  {
    guard let items = value?.arrayItems, !items.isEmpty else {
      throw KerasError("\(context): '\(key)' is missing or empty")
    }
    if items[0].stringValue != nil { return [try reference(.array(items), context: context)] }
    return try items.map { try reference($0, context: context) }
  }

  /// The tensors one inbound node reads, in the Keras 3 form (`{"args": [...], "kwargs":
  /// {...}}`) or the Keras 2 form (`[[layer, node, tensor, kwargs], ...]`).
  private static func nodeInputs(_ node: JSONValue, context: String) throws
    -> [Model.TensorReference]
  {
    func kwargsAllowed(_ kwargs: JSONValue?) throws {
      guard let members = kwargs?.objectMembers else {
        if kwargs == nil || kwargs == .null { return }
        throw KerasError("\(context): a call's keyword arguments are not an object")
      }
      for (key, value) in members.sorted(by: { $0.key < $1.key }) {
        switch key {
        case "training": continue
        case "mask" where value == .null: continue
        default:
          throw KerasError(
            "\(context): a call passes '\(key)' (\(KerasOptions.render(value))); Plexus "
              + "converts calls on input tensors only")
        }
      }
    }
    if let items = node.arrayItems {
      return try items.map { item in
        guard let parts = item.arrayItems, parts.count == 3 || parts.count == 4 else {
          throw KerasError("\(context): \(KerasOptions.render(item)) is not an inbound tensor")
        }
        if parts.count == 4 { try kwargsAllowed(parts[3]) }
        return try reference(.array(Array(parts.prefix(3))), context: context)
      }
    }
    guard let members = node.objectMembers, let args = members["args"]?.arrayItems else {
      throw KerasError("\(context): \(KerasOptions.render(node)) is not an inbound node")
    }
    if let unknown = members.keys.sorted().first(where: { $0 != "args" && $0 != "kwargs" }) {
      throw KerasError("\(context): an inbound node has unknown key '\(unknown)'")
    }
    try kwargsAllowed(members["kwargs"])
    guard args.count == 1 else {
      throw KerasError(
        "\(context): a call passes \(args.count) positional arguments; Plexus converts calls "
          + "on one tensor or one list of tensors")
    }
    func tensor(_ value: JSONValue) throws -> Model.TensorReference {
      guard let members = value.objectMembers,
        members["class_name"] == .string("__keras_tensor__"),
        let history = members["config"]?.objectMembers?["keras_history"]
      else {
        throw KerasError(
          "\(context): a call passes \(KerasOptions.render(value)), not a Keras tensor")
      }
      return try reference(history, context: context)
    }
    if let list = args[0].arrayItems { return try list.map(tensor) }
    return [try tensor(args[0])]
  }

  private func functional(_ config: JSONValue, className: String, context: String) throws
    -> ImportedModel
  {
    let options = try KerasOptions(config, context: "\(context): \(className) model")
    let name = try options.string("name", default: "functional")
    options.ignore("trainable")
    try layers.checkDType(options)
    guard let entries = options.value("layers")?.arrayItems else {
      throw options.fail("layers", "is missing")
    }
    let inputReferences = try Self.references(
      options.value("input_layers"), key: "input_layers", context: options.context)
    let outputReferences = try Self.references(
      options.value("output_layers"), key: "output_layers", context: options.context)
    try options.finish()

    var inputs: [String: SymbolicShape] = [:]
    var translated: [ImportedLayer] = []
    var calls: [String: [[Model.TensorReference]]] = [:]
    var groups = KerasGroupNames()
    var variables: [KerasVariable] = []
    var legacy: [(name: String, variables: [KerasVariable])] = []
    for (index, entry) in entries.enumerated() {
      let location = "\(options.context), layer \(index + 1)"
      let className = entry.objectMembers?["class_name"]?.stringValue ?? ""
      let group = "layers/" + groups.next(forClass: className)
      if className == "InputLayer" {
        let (inputName, shape) = try inputLayer(entry, context: location)
        guard inputs.updateValue(shape, forKey: inputName) == nil else {
          throw KerasError("\(options.context): two inputs are named '\(inputName)'")
        }
        continue
      }
      let layer = try translateMember(entry, context: location)
      let layerName = layer.description.name
      let nodes = entry.objectMembers?["inbound_nodes"]?.arrayItems ?? []
      calls[layerName] = try nodes.map {
        try Self.nodeInputs($0, context: "\(location): layer '\(layerName)'")
      }
      variables += layer.variables.map { variable in
        var moved = variable
        moved.keras3Path = group + "/" + variable.keras3Path
        return moved
      }
      if !layer.variables.isEmpty { legacy.append((layerName, layer.variables)) }
      translated.append(layer)
    }
    try checkUniqueNames(
      translated.map(\.description.name) + inputs.keys.sorted(), context: options.context)
    let byName = Dictionary(uniqueKeysWithValues: translated.map { ($0.description.name, $0) })

    // Calls in an order where each follows the calls it reads (a layer's calls keep their
    // order, so call k of a layer stays Keras's node k).
    var emitted: [String: Int] = [:]
    var nodes: [Model.NodeDescription] = []
    func ready(_ reference: Model.TensorReference) throws -> Bool {
      if inputs[reference.source] != nil {
        guard reference.call == 0 else {
          throw KerasError("\(options.context): input \(reference) has no call \(reference.call)")
        }
        return true
      }
      guard let known = calls[reference.source] else {
        throw KerasError("\(options.context): a call reads \(reference), an unknown layer")
      }
      guard reference.call < known.count else {
        throw KerasError("\(options.context): \(reference) names a call the layer does not make")
      }
      return reference.call < emitted[reference.source, default: 0]
    }
    let total = calls.values.reduce(0) { $0 + $1.count }
    while nodes.count < total {
      var progressed = false
      for layer in translated {
        let layerName = layer.description.name
        let layerCalls = calls[layerName] ?? []
        while emitted[layerName, default: 0] < layerCalls.count {
          let call = layerCalls[emitted[layerName, default: 0]]
          guard try call.allSatisfy(ready) else { break }
          nodes.append(Model.NodeDescription(layer: layerName, inputs: call))
          emitted[layerName, default: 0] += 1
          progressed = true
        }
      }
      guard progressed else {
        throw KerasError("\(options.context): the calls form a cycle or read missing tensors")
      }
    }
    for reference in inputReferences where inputs[reference.source] == nil {
      throw KerasError("\(options.context): model input \(reference) is not an InputLayer")
    }
    for reference in outputReferences { _ = try ready(reference) }
    // An Embedding with mask_zero may only feed layers that skip masked steps.
    for node in nodes {
      for reference in node.inputs {
        if let source = byName[reference.source], source.masksPaddingIds,
          byName[node.layer]?.readsSequenceMask != true
        {
          throw maskZeroError(source, next: byName[node.layer])
        }
      }
    }
    var outputNames = Set<String>()
    let outputs = outputReferences.map { reference -> Model.OutputDescription in
      var outputName = reference.source
      var suffix = 1
      while !outputNames.insert(outputName).inserted {
        outputName = "\(reference.source)_\(suffix)"
        suffix += 1
      }
      return Model.OutputDescription(name: outputName, tensor: reference)
    }
    let modelConfig = Model.Config(
      inputs: inputReferences.map {
        Model.InputDescription(name: $0.source, shape: inputs[$0.source] ?? [])
      }, layers: translated.map(\.description), nodes: nodes, outputs: outputs)
    return ImportedModel(
      kerasClass: className,
      description: LayerDescription(
        type: "plexus.model", name: name, config: try JSONValue(encoding: modelConfig)),
      variables: variables, legacyLayers: legacy)
  }
}
