import Foundation

/// Reads the JSON chunks of a `.plexus` file (`ARCH`, `META`, `TIDX`, `OPTM`) from documents
/// parsed by `StrictJSON`, without `JSONDecoder` (which costs most of a lazy open).
///
/// The rules are those of the types' `Codable` conformances, which stay the reference (and
/// what the tests compare against): the same required and optional members, `null` for an
/// optional member meaning absent, unknown members ignored except in the layer description
/// (where `ConfigKey.rejectUnknown` names them), unknown dtypes and codecs reported as
/// `UnknownFormatValue`, and numbers range-checked for their Swift type. Integers are read from
/// the parser's `Double`, so they must be integral; beyond 2^53 they are not exact, which never
/// matters: such offsets and lengths fail the index validation that follows in any case.
enum HeaderJSON {
  /// A member that is missing or of the wrong type, with its path (`.tensors[0].shape`).
  struct Mismatch: Error, CustomStringConvertible {
    var description: String
  }

  /// A JSON object being read, with its path for messages.
  struct Object {
    let members: [String: JSONValue]
    let path: String

    init(_ value: JSONValue, path: String) throws {
      guard case .object(let members) = value else {
        throw Mismatch(
          description:
            "expected an object \(HeaderJSON.location(path)), found \(HeaderJSON.kind(value))")
      }
      self.members = members
      self.path = path
    }

    func childPath(_ key: String) -> String { path + "." + key }

    /// The member's value; `nil` when absent or `null`.
    func optional(_ key: String) -> JSONValue? {
      guard let value = members[key] else { return nil }
      if case .null = value { return nil }
      return value
    }

    func required(_ key: String) throws -> JSONValue {
      guard let value = members[key] else {
        throw Mismatch(description: "missing key '\(key)' \(HeaderJSON.location(path))")
      }
      if case .null = value {
        throw Mismatch(
          description: "expected a value for key '\(key)' \(HeaderJSON.location(path)), found null")
      }
      return value
    }

    func string(_ key: String) throws -> String {
      try HeaderJSON.string(required(key), path: childPath(key))
    }

    func optionalString(_ key: String) throws -> String? {
      try optional(key).map { try HeaderJSON.string($0, path: childPath(key)) }
    }
  }

  static func location(_ path: String) -> String {
    path.isEmpty ? "at the top level" : "at \(path)"
  }

  static func kind(_ value: JSONValue) -> String {
    switch value {
    case .null: return "null"
    case .bool: return "a boolean"
    case .number: return "a number"
    case .string: return "a string"
    case .array: return "an array"
    case .object: return "an object"
    }
  }

  static func string(_ value: JSONValue, path: String) throws -> String {
    guard case .string(let text) = value else {
      throw Mismatch(description: "expected a string \(location(path)), found \(kind(value))")
    }
    return text
  }

  static func bool(_ value: JSONValue, path: String) throws -> Bool {
    guard case .bool(let flag) = value else {
      throw Mismatch(description: "expected a boolean \(location(path)), found \(kind(value))")
    }
    return flag
  }

  static func array(_ value: JSONValue, path: String) throws -> [JSONValue] {
    guard case .array(let items) = value else {
      throw Mismatch(description: "expected an array \(location(path)), found \(kind(value))")
    }
    return items
  }

  /// An integral number that `T` holds exactly.
  static func integer<T: FixedWidthInteger>(_ value: JSONValue, _: T.Type, path: String) throws
    -> T
  {
    guard case .number(let number) = value else {
      throw Mismatch(
        description: "expected an integer \(location(path)), found \(kind(value))")
    }
    if let exact = T(exactly: number) { return exact }
    // `T.max` (`UInt64.max`, `Int.max`) is beyond 2^53 and reads as the next power of two.
    // Such integers are never valid offsets, lengths or dimensions (the index validation that
    // follows refuses them, as it did with `JSONDecoder`), so the largest is read as `T.max`.
    guard number == Double(T.max) else {
      throw Mismatch(
        description:
          "the number \(number) \(location(path)) is not an integer that fits in \(T.self)"
      )
    }
    return T.max
  }

  /// A number within `Float`'s finite range (rounded to the nearest `Float`).
  static func float(_ value: JSONValue, path: String) throws -> Float {
    guard case .number(let number) = value else {
      throw Mismatch(description: "expected a number \(location(path)), found \(kind(value))")
    }
    guard number.magnitude <= Double(Float.greatestFiniteMagnitude) else {
      throw Mismatch(description: "the number \(number) \(location(path)) does not fit in Float")
    }
    return Float(number)
  }

  // MARK: The chunks

  /// The `ARCH` chunk: a layer description, whose unknown keys are errors (as
  /// `DefaultedConfiguration` decoding).
  static func layerDescription(_ document: JSONValue) throws -> LayerDescription {
    let object = try Object(document, path: "")
    try ConfigKey.rejectUnknown(
      Array(object.members.keys), known: LayerDescription.keys, codingPath: [])
    let type = try object.string("type")
    let name = try object.string("name")
    // `null` is a config like any other JSON value, as `JSONValue`'s decoding has it.
    guard let config = object.members["config"] else {
      throw Mismatch(description: "missing key 'config' at the top level")
    }
    let trainable = try object.optional("trainable").map {
      try bool($0, path: ".trainable")
    }
    return LayerDescription(type: type, name: name, config: config, trainable: trainable)
  }

  /// The `META` chunk: every member optional, unknown members ignored.
  static func metadata(_ document: JSONValue) throws -> ModelMetadata {
    let object = try Object(document, path: "")
    var values: [String: String] = [:]
    if let members = object.optional("values") {
      let table = try Object(members, path: ".values")
      for (key, value) in table.members {
        values[key] = try string(value, path: table.childPath(key))
      }
    }
    return ModelMetadata(
      producer: try object.optionalString("producer") ?? "",
      producerVersion: try object.optionalString("producerVersion") ?? "",
      created: try object.optionalString("created") ?? "",
      description: try object.optionalString("description") ?? "", values: values,
      history: object.optional("history"))
  }

  /// The `TIDX` chunk's entries, in file order.
  static func tensorIndex(_ document: JSONValue) throws -> [TensorIndexEntry] {
    let object = try Object(document, path: "")
    let items = try array(object.required("tensors"), path: ".tensors")
    var entries: [TensorIndexEntry] = []
    entries.reserveCapacity(Swift.min(items.count, PlexusFormat.Limits.maximumTensors + 1))
    for (position, item) in items.enumerated() {
      entries.append(try tensorIndexEntry(item, path: ".tensors[\(position)]"))
    }
    return entries
  }

  /// One index entry, its members read in the order of `TensorIndexEntry.init(from:)` so that
  /// the first problem reported is the same.
  static func tensorIndexEntry(_ value: JSONValue, path: String) throws -> TensorIndexEntry {
    let entry = try Object(value, path: path)
    let name = try entry.string("name")
    let group = try entry.string("group")
    let dtypeName = try entry.string("dtype")
    guard let dtype = TensorDType(rawValue: dtypeName) else {
      throw UnknownFormatValue(tensor: name, field: "dtype", value: dtypeName)
    }
    let shapePath = entry.childPath("shape")
    let shape = try array(entry.required("shape"), path: shapePath).enumerated().map {
      try integer($1, Int.self, path: "\(shapePath)[\($0)]")
    }
    let codecName = try entry.string("codec")
    guard let codec = TensorCodec(rawValue: codecName) else {
      throw UnknownFormatValue(tensor: name, field: "codec", value: codecName)
    }
    func unsigned(_ key: String) throws -> UInt64 {
      try integer(entry.required(key), UInt64.self, path: entry.childPath(key))
    }
    let offset = try unsigned("offset")
    let storedLength = try unsigned("storedLength")
    let rawLength = try unsigned("rawLength")
    let crc32 = try integer(entry.required("crc32"), UInt32.self, path: entry.childPath("crc32"))
    let scale = try entry.optional("scale").map { try float($0, path: entry.childPath("scale")) }
    let blockSize = try entry.optional("blockSize").map {
      try integer($0, UInt64.self, path: entry.childPath("blockSize"))
    }
    let blocksPath = entry.childPath("blocks")
    let blocks = try entry.optional("blocks").map {
      try array($0, path: blocksPath).enumerated().map {
        try integer($1, UInt64.self, path: "\(blocksPath)[\($0)]")
      }
    }
    return TensorIndexEntry(
      name: name, group: group, dtype: dtype, shape: shape, codec: codec, offset: offset,
      storedLength: storedLength, rawLength: rawLength, crc32: crc32, scale: scale,
      blockSize: blockSize, blocks: blocks)
  }

  /// The `OPTM` chunk.
  static func optimizer(_ document: JSONValue) throws -> OptimizerDocument {
    let object = try Object(document, path: "")
    let type = try object.string("type")
    // `null` is a config like any other JSON value, as `JSONValue`'s decoding has it.
    guard let config = object.members["config"] else {
      throw Mismatch(description: "missing key 'config' at the top level")
    }
    let step = try integer(object.required("step"), Int.self, path: ".step")
    let table = try Object(object.required("slots"), path: ".slots")
    var slots: [String: String] = [:]
    for (key, value) in table.members {
      slots[key] = try string(value, path: table.childPath(key))
    }
    return OptimizerDocument(type: type, config: config, step: step, slots: slots)
  }
}
