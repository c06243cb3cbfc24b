import Foundation
import PlexusCore

/// A node's attributes, read by name and type; every attribute must be read or listed as
/// ignored, so an option Plexus does not know is an error rather than a silent difference.
struct ONNXAttributes {
  let node: Onnx_NodeProto
  let context: String
  private var byName: [String: Onnx_AttributeProto] = [:]
  private var read: Set<String> = []

  init(_ node: Onnx_NodeProto, context: String) throws {
    self.node = node
    self.context = context
    for attribute in node.attribute {
      guard byName.updateValue(attribute, forKey: attribute.name) == nil else {
        throw ONNXError("\(context): attribute '\(attribute.name)' appears twice")
      }
      guard !attribute.hasRefAttrName else {
        throw ONNXError(
          "\(context): attribute '\(attribute.name)' refers to a function attribute, which "
            + "Plexus does not import")
      }
    }
  }

  /// Whether the node sets `name`.
  func has(_ name: String) -> Bool { byName[name] != nil }

  private mutating func attribute(_ name: String, _ type: Onnx_AttributeProto.AttributeType)
    throws -> Onnx_AttributeProto?
  {
    read.insert(name)
    guard let attribute = byName[name] else { return nil }
    guard attribute.type == type || attribute.type == .undefined else {
      throw ONNXError(
        "\(context): attribute '\(name)' is of type \(attribute.type), expected \(type)")
    }
    return attribute
  }

  mutating func int(_ name: String) throws -> Int? {
    guard let attribute = try attribute(name, .int) else { return nil }
    guard let value = Int(exactly: attribute.i), abs(value) <= Int(Int32.max) else {
      throw ONNXError("\(context): attribute '\(name)' is \(attribute.i), out of range")
    }
    return value
  }

  mutating func int(_ name: String, default value: Int) throws -> Int {
    try int(name) ?? value
  }

  mutating func float(_ name: String, default value: Float) throws -> Float {
    guard let attribute = try attribute(name, .float) else { return value }
    guard attribute.f.isFinite else {
      throw ONNXError("\(context): attribute '\(name)' is \(attribute.f), not finite")
    }
    return attribute.f
  }

  mutating func ints(_ name: String) throws -> [Int]? {
    guard let attribute = try attribute(name, .ints) else { return nil }
    guard attribute.ints.count <= 64 else {
      throw ONNXError("\(context): attribute '\(name)' lists \(attribute.ints.count) values")
    }
    return try attribute.ints.map {
      guard abs($0) <= Int64(Int32.max) else {
        throw ONNXError("\(context): attribute '\(name)' holds \($0), out of range")
      }
      return Int($0)
    }
  }

  mutating func floats(_ name: String) throws -> [Float]? {
    try attribute(name, .floats)?.floats
  }

  mutating func string(_ name: String) throws -> String? {
    guard let attribute = try attribute(name, .string) else { return nil }
    return String(decoding: attribute.s, as: UTF8.self)
  }

  mutating func tensor(_ name: String) throws -> Onnx_TensorProto? {
    try attribute(name, .tensor)?.t
  }

  /// Marks attributes that do not change what Plexus computes.
  mutating func ignore(_ names: String...) { read.formUnion(names) }

  /// Throws for any attribute not read.
  func finish() throws {
    let unread = byName.keys.filter { !read.contains($0) }.sorted()
    guard unread.isEmpty else {
      throw ONNXError(
        "\(context): attribute" + (unread.count == 1 ? " " : "s ")
          + unread.map { "'\($0)'" }.joined(separator: ", ")
          + " not supported by Plexus's import of \(node.opType)")
    }
  }
}
