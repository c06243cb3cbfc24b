extension Tensor {
  /// Makes the storage unique and returns its base address. The pointer stays valid while
  /// this tensor keeps the same storage (until it is reassigned or copied and mutated).
  mutating func uniqueBaseAddress() -> UnsafeMutablePointer<Float> {
    if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
    return storage.pointer
  }

  /// The base address of the storage for reading.
  var readBaseAddress: UnsafePointer<Float> { UnsafePointer(storage.pointer) }
}

/// Raw pointers of one parameter update, shared by the chunks of a parallel loop. Each chunk
/// touches a disjoint index range.
struct UpdatePointers: @unchecked Sendable {
  let value: UnsafeMutablePointer<Float>
  let gradient: UnsafePointer<Float>
  let slots: SlotPointers
}

/// Up to three slot pointers, held inline so that a step allocates nothing.
struct SlotPointers {
  static let capacity = 3
  var first: UnsafeMutablePointer<Float>?
  var second: UnsafeMutablePointer<Float>?
  var third: UnsafeMutablePointer<Float>?

  subscript(index: Int) -> UnsafeMutablePointer<Float> {
    let pointer = index == 0 ? first : (index == 1 ? second : (index == 2 ? third : nil))
    guard let pointer else { preconditionFailure("optimizer slot \(index) does not exist") }
    return pointer
  }
}

/// The slot tensors (moments, buffers) of one parameter.
final class SlotEntry {
  let parameter: Parameter
  var tensors: [Tensor]

  init(parameter: Parameter, tensors: [Tensor]) {
    self.parameter = parameter
    self.tensors = tensors
  }
}

/// Per-parameter optimizer slots keyed by parameter identity, with export and import under
/// the names `"<parameter index>.<slot>"`.
struct SlotTable {
  private(set) var entries: [ObjectIdentifier: SlotEntry] = [:]

  /// Removes all slots.
  mutating func removeAll() { entries.removeAll() }

  /// The slots of `parameter`, created (filled with `initialValues[k]`) on first use or when
  /// the slot count or the parameter's shape changed.
  mutating func entry(for parameter: Parameter, initialValues: [Float]) -> SlotEntry {
    let key = ObjectIdentifier(parameter)
    if let existing = entries[key], existing.tensors.count == initialValues.count,
      existing.tensors.allSatisfy({ $0.shape == parameter.value.shape })
    {
      return existing
    }
    let entry = SlotEntry(
      parameter: parameter,
      tensors: initialValues.map { Tensor(shape: parameter.value.shape, repeating: $0) })
    entries[key] = entry
    return entry
  }

  /// The pointers for updating `parameter`, creating its slots (filled with
  /// `initialValues[k]`) on first use.
  mutating func pointers(for parameter: Parameter, initialValues: [Float]) -> UpdatePointers {
    let entry = entry(for: parameter, initialValues: initialValues)
    precondition(
      parameter.gradient.count == parameter.value.count,
      "parameter '\(parameter.name)' has a gradient of shape \(parameter.gradient.shape) for a value of shape \(parameter.value.shape)"
    )
    precondition(entry.tensors.count <= SlotPointers.capacity, "at most three slots per parameter")
    var slotPointers = SlotPointers()
    for index in entry.tensors.indices {
      let pointer = entry.tensors[index].uniqueBaseAddress()
      switch index {
      case 0: slotPointers.first = pointer
      case 1: slotPointers.second = pointer
      default: slotPointers.third = pointer
      }
    }
    return UpdatePointers(
      value: parameter.value.uniqueBaseAddress(), gradient: parameter.gradient.readBaseAddress,
      slots: slotPointers)
  }

  /// The slots of the trainable parameters among `parameters`, keyed `"<index>.<name>"`.
  func export(names: [String], parameters: [Parameter]) -> [String: Tensor] {
    var result: [String: Tensor] = [:]
    for (index, parameter) in parameters.enumerated() where parameter.isTrainable {
      guard let entry = entries[ObjectIdentifier(parameter)], entry.tensors.count == names.count
      else { continue }
      for (name, tensor) in zip(names, entry.tensors) { result["\(index).\(name)"] = tensor }
    }
    return result
  }

  /// Builds a table from exported slots after checking every key, name and shape.
  ///
  /// - Throws: `PlexusError.invalidData` for a malformed key, an index out of range, a slot of
  ///   a non-trainable parameter, an unknown slot name, a wrong shape or a parameter with only
  ///   some of its slots.
  static func importing(
    _ slots: [String: Tensor], names: [String], parameters: [Parameter], optimizer: String
  ) throws -> SlotTable {
    var found: [Int: [String: Tensor]] = [:]
    for key in slots.keys.sorted() {
      let parts = key.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
      guard parts.count == 2, let index = Int(parts[0]) else {
        throw PlexusError.invalidData(
          "\(optimizer) state: slot key '\(key)' is malformed; expected \"<parameter index>.<slot>\""
        )
      }
      guard index >= 0, index < parameters.count else {
        throw PlexusError.invalidData(
          "\(optimizer) state: slot '\(key)' names parameter \(index), expected an index in 0..<\(parameters.count)"
        )
      }
      let name = String(parts[1])
      guard names.contains(name) else {
        let expected = names.isEmpty ? "no slots" : names.joined(separator: ", ")
        throw PlexusError.invalidData(
          "\(optimizer) state: slot '\(key)' has an unknown name '\(name)'; expected \(expected)")
      }
      let parameter = parameters[index]
      guard parameter.isTrainable else {
        throw PlexusError.invalidData(
          "\(optimizer) state: slot '\(key)' belongs to non-trainable parameter '\(parameter.name)'"
        )
      }
      guard let tensor = slots[key], tensor.shape == parameter.value.shape else {
        throw PlexusError.invalidData(
          "\(optimizer) state: slot '\(key)' has shape \(slots[key]?.shape ?? []), expected \(parameter.value.shape) "
            + "(the shape of parameter \(index) '\(parameter.name)')")
      }
      found[index, default: [:]][name] = tensor
    }
    var table = SlotTable()
    for (index, named) in found {
      let missing = names.filter { named[$0] == nil }
      guard missing.isEmpty else {
        throw PlexusError.invalidData(
          "\(optimizer) state: parameter \(index) lacks slot(s) \(missing.joined(separator: ", "))")
      }
      let parameter = parameters[index]
      table.entries[ObjectIdentifier(parameter)] = SlotEntry(
        parameter: parameter, tensors: names.compactMap { named[$0] })
    }
    return table
  }
}

/// State I/O shared by the configured optimizers.
enum OptimizerStateIO {
  /// Checks the type and step of a state and decodes its configuration with `defaults` for
  /// missing keys. The type may be a built-in alias (`adam` for `plexus.adam`), and a `type`
  /// member in the config (as files written before the registry have) must name the same
  /// optimizer.
  ///
  /// - Throws: `PlexusError.invalidData` for another type or a negative step;
  ///   `PlexusError.invalidConfiguration` for a malformed or out-of-range config.
  static func configuration<Configuration: OptimizerHyperparameters>(
    of state: OptimizerState, typeName: String, defaults: Configuration
  ) throws -> Configuration {
    guard OptimizerRegistry.builtInCanonicalName(state.typeName) == typeName else {
      throw PlexusError.invalidData(
        "optimizer state is of type '\(state.typeName)', expected '\(typeName)'")
    }
    guard state.step >= 0 else {
      throw PlexusError.invalidData("optimizer state has a negative step count \(state.step)")
    }
    let config = try hyperparameters(of: state.config, typeName: typeName)
    let configuration = try Configuration.decode(
      config, defaults: defaults, context: "\(typeName) optimizer state config")
    try configuration.validate(optimizer: typeName)
    return configuration
  }

  /// The config without the `type` member that files written before the registry have.
  ///
  /// - Throws: `PlexusError.invalidData` when that member names another optimizer.
  static func hyperparameters(of config: JSONValue, typeName: String) throws -> JSONValue {
    guard case .object(var members) = config, let type = members["type"] else { return config }
    guard case .string(let name) = type, OptimizerRegistry.builtInCanonicalName(name) == typeName
    else {
      throw PlexusError.invalidData(
        "optimizer state of type '\(typeName)' holds a config of type \(type)")
    }
    members["type"] = nil
    return .object(members)
  }
}
