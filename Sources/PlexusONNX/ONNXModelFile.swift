import Foundation
import PlexusCore
import SwiftProtobuf

/// A dimension of an ONNX value's declared shape.
public enum ONNXDimension: Sendable, Equatable, CustomStringConvertible {
  /// A fixed size.
  case fixed(Int)
  /// A named size that varies (`batch`, `N`).
  case named(String)
  /// A size the file does not declare.
  case unknown

  public var description: String {
    switch self {
    case .fixed(let value): "\(value)"
    case .named(let name): name
    case .unknown: "?"
    }
  }
}

/// A graph input or output of an ONNX model: its name, element type and declared shape.
public struct ONNXValueInfo: Sendable, Equatable {
  /// The value's name in the graph.
  public var name: String
  /// The ONNX element type name (`FLOAT`, `INT64`).
  public var elementType: String
  /// The declared shape, or `nil` when the file declares none.
  public var shape: [ONNXDimension]?
}

/// An initializer (a constant tensor, usually a weight) of an ONNX model.
public struct ONNXInitializerInfo: Sendable, Equatable {
  /// The initializer's name.
  public var name: String
  /// The ONNX element type name.
  public var elementType: String
  /// The shape.
  public var shape: [Int]
  /// The external data file holding the values, or `nil` when they are inline.
  public var externalLocation: String?
}

/// A node of an ONNX graph.
public struct ONNXNodeInfo: Sendable, Equatable {
  /// The node's name (may be empty in the file).
  public var name: String
  /// The operator (`Conv`, `Gemm`), with its domain when it is not the default one.
  public var op: String
  /// The values it reads (an empty name is an omitted optional input).
  public var inputs: [String]
  /// The values it writes.
  public var outputs: [String]
}

/// An ONNX model file, decoded: `ModelProto` through swift-protobuf, with the structure checked
/// (a graph, its opset, bounded nesting). Tensors are decoded only when a model is imported.
///
/// ```swift
/// let file = try ONNXModelFile(contentsOf: URL(fileURLWithPath: "model.onnx"))
/// print(file.opsetVersion, file.inputs, file.operatorCounts)
/// let imported = try file.importModel(registry: .standard())
/// ```
public struct ONNXModelFile: Sendable {
  /// The file's path (for messages).
  public let source: String
  /// The folder external data files are read from (`nil` for a model read from memory).
  public let folder: URL?
  let model: Onnx_ModelProto

  /// The oldest and newest opsets of the default domain that Plexus imports.
  public static let supportedOpsets = 13...28

  /// Reads and decodes an `.onnx` file; its folder is where external data may live.
  ///
  /// - Throws: `ONNXError` for a file that is not a well-formed ONNX model;
  ///   `PlexusError.io` when the file cannot be read.
  public init(contentsOf url: URL) throws {
    let data: Data
    do {
      data = try Data(contentsOf: url, options: .alwaysMapped)
    } catch {
      throw PlexusError.io("cannot read '\(url.path)': \(error.localizedDescription)")
    }
    try self.init(data: data, source: url.path, folder: url.deletingLastPathComponent())
  }

  /// Decodes an ONNX model held in memory; `source` names it in errors, `folder` is where its
  /// external data files are (`nil` refuses external data).
  ///
  /// - Throws: `ONNXError` for bytes that are not a well-formed ONNX model.
  public init(data: Data, source: String, folder: URL? = nil) throws {
    self.source = source
    self.folder = folder
    var options = BinaryDecodingOptions()
    options.messageDepthLimit = 64
    do {
      model = try Onnx_ModelProto(serializedBytes: data, options: options)
    } catch let error as BinaryDecodingError {
      throw ONNXError("\(source): not a valid ONNX protobuf: \(Self.explain(error))")
    } catch {
      throw ONNXError("\(source): not a valid ONNX protobuf: \(error)")
    }
    try ONNXWireCheck(source: source).check(model)
    guard model.hasIrVersion, model.hasGraph else {
      throw ONNXError(
        "\(source): not an ONNX model (no " + (model.hasIrVersion ? "graph" : "ir_version")
          + " field)")
    }
    guard (3...64).contains(model.irVersion) else {
      throw ONNXError("\(source): IR version \(model.irVersion) is not one ONNX defines")
    }
  }

  private static func explain(_ error: BinaryDecodingError) -> String {
    switch error {
    case .truncated: "the data ends inside a field (a truncated file)"
    case .malformedProtobuf:
      "malformed fields (a wrong wire type, an invalid tag or length, or bytes that are not protobuf)"
    case .invalidUTF8: "a string field holds invalid UTF-8"
    case .messageDepthLimit: "messages nest more than 64 deep"
    case .trailingGarbage: "bytes follow the message"
    case .missingRequiredFields: "required fields are missing"
    default: "\(error)"
    }
  }

  /// The IR version.
  public var irVersion: Int { Int(model.irVersion) }

  /// The producer (`pytorch 2.5.0`), when recorded.
  public var producer: String {
    [model.producerName, model.producerVersion].filter { !$0.isEmpty }.joined(separator: " ")
  }

  /// The opset version of the default (`ai.onnx`) domain, or `nil` when none is imported.
  public var opsetVersion: Int? {
    model.opsetImport.first { $0.domain.isEmpty || $0.domain == "ai.onnx" }.map {
      Int($0.version)
    }
  }

  /// The other opset domains the model imports, with their versions.
  public var otherOpsets: [(domain: String, version: Int)] {
    model.opsetImport.filter { !($0.domain.isEmpty || $0.domain == "ai.onnx") }.map {
      ($0.domain, Int($0.version))
    }
  }

  /// The graph's inputs that are not initializers (what the model is fed).
  public var inputs: [ONNXValueInfo] {
    let constant = Set(model.graph.initializer.map(\.name))
    return model.graph.input.filter { !constant.contains($0.name) }.map(Self.info)
  }

  /// The graph's outputs.
  public var outputs: [ONNXValueInfo] { model.graph.output.map(Self.info) }

  /// The nodes, in file order.
  public var nodes: [ONNXNodeInfo] {
    model.graph.node.map {
      ONNXNodeInfo(
        name: $0.name, op: Self.opName($0), inputs: $0.input, outputs: $0.output)
    }
  }

  /// How often each operator occurs, most frequent first (ties by name).
  public var operatorCounts: [(op: String, count: Int)] {
    var counts: [String: Int] = [:]
    for node in model.graph.node { counts[Self.opName(node), default: 0] += 1 }
    return counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.map {
      ($0.key, $0.value)
    }
  }

  /// The initializers, in file order.
  public var initializers: [ONNXInitializerInfo] {
    model.graph.initializer.map { tensor in
      ONNXInitializerInfo(
        name: tensor.name, elementType: ONNXTensorDecoder.typeName(tensor.dataType),
        shape: tensor.dims.map { Int(clamping: $0) },
        externalLocation: tensor.dataLocation == .external
          ? tensor.externalData.first { $0.key == "location" }?.value ?? "" : nil)
    }
  }

  /// The number of values the initializers declare (the model's parameter count, counting
  /// constants too); saturates instead of overflowing on hostile shapes.
  public var initializerElementCount: Int {
    model.graph.initializer.reduce(0) { total, tensor in
      let count = tensor.dims.reduce(1) { product, dim in
        let (value, overflow) = product.multipliedReportingOverflow(by: Int(clamping: max(dim, 0)))
        return overflow ? Int.max : value
      }
      let (sum, overflow) = total.addingReportingOverflow(count)
      return overflow ? Int.max : sum
    }
  }

  static func opName(_ node: Onnx_NodeProto) -> String {
    node.domain.isEmpty || node.domain == "ai.onnx" ? node.opType : node.domain + "." + node.opType
  }

  static func info(_ value: Onnx_ValueInfoProto) -> ONNXValueInfo {
    guard case .tensorType(let tensor)? = value.type.value else {
      return ONNXValueInfo(name: value.name, elementType: "non-tensor", shape: nil)
    }
    let shape: [ONNXDimension]? =
      tensor.hasShape
      ? tensor.shape.dim.map { dim in
        switch dim.value {
        case .dimValue(let size)?: .fixed(Int(clamping: size))
        case .dimParam(let name)?: name.isEmpty ? .unknown : .named(name)
        case nil: .unknown
        }
      } : nil
    return ONNXValueInfo(
      name: value.name, elementType: ONNXTensorDecoder.typeName(tensor.elemType), shape: shape)
  }
}

/// Finds fields that swift-protobuf kept as unknown although the message declares their
/// number: a field sent with the wrong wire type (a varint where a string is due, say), which
/// is a malformed file rather than a field of a newer ONNX.
struct ONNXWireCheck {
  let source: String

  func check(_ model: Onnx_ModelProto) throws {
    try fields(model.unknownFields, ONNXFieldNumbers.model, "ModelProto")
    for set in model.opsetImport {
      try fields(set.unknownFields, ONNXFieldNumbers.operatorSet, "OperatorSetIdProto")
    }
    for entry in model.metadataProps {
      try fields(entry.unknownFields, ONNXFieldNumbers.stringEntry, "StringStringEntryProto")
    }
    try check(model.graph, depth: 0)
  }

  private func check(_ graph: Onnx_GraphProto, depth: Int) throws {
    guard depth < 16 else { throw ONNXError("\(source): subgraphs nest more than 16 deep") }
    try fields(graph.unknownFields, ONNXFieldNumbers.graph, "GraphProto")
    for value in graph.input + graph.output + graph.valueInfo {
      try fields(value.unknownFields, ONNXFieldNumbers.valueInfo, "ValueInfoProto")
    }
    for tensor in graph.initializer { try check(tensor) }
    for node in graph.node {
      try fields(node.unknownFields, ONNXFieldNumbers.node, "NodeProto")
      for attribute in node.attribute {
        try fields(attribute.unknownFields, ONNXFieldNumbers.attribute, "AttributeProto")
        if attribute.hasT { try check(attribute.t) }
        for tensor in attribute.tensors { try check(tensor) }
        if attribute.hasG { try check(attribute.g, depth: depth + 1) }
        for graph in attribute.graphs { try check(graph, depth: depth + 1) }
      }
    }
  }

  private func check(_ tensor: Onnx_TensorProto) throws {
    try fields(tensor.unknownFields, ONNXFieldNumbers.tensor, "TensorProto")
    for entry in tensor.externalData {
      try fields(entry.unknownFields, ONNXFieldNumbers.stringEntry, "StringStringEntryProto")
    }
  }

  /// Walks the raw fields of `unknown`, throwing for one whose number `declared` holds.
  private func fields(_ unknown: UnknownStorage, _ declared: Set<Int>, _ message: String) throws {
    let bytes = [UInt8](unknown.data)
    var offset = 0
    func varint() throws -> UInt64 {
      var result: UInt64 = 0
      var shift: UInt64 = 0
      while offset < bytes.count, shift < 64 {
        let byte = bytes[offset]
        offset += 1
        result |= UInt64(byte & 0x7F) << shift
        if byte & 0x80 == 0 { return result }
        shift += 7
      }
      throw ONNXError("\(source): a \(message) holds a malformed unknown field")
    }
    while offset < bytes.count {
      let tag = try varint()
      let number = Int(clamping: tag >> 3)
      let wireType = tag & 7
      if declared.contains(number) {
        throw ONNXError(
          "\(source): not a valid ONNX protobuf: malformed fields (field \(number) of a "
            + "\(message) has wire type \(wireType), not the one its type needs)")
      }
      switch wireType {
      case 0: _ = try varint()
      case 1: offset += 8
      case 2:
        let length = try varint()
        guard length <= UInt64(bytes.count - offset) else {
          throw ONNXError("\(source): a \(message) holds a malformed unknown field")
        }
        offset += Int(length)
      case 5: offset += 4
      default: throw ONNXError("\(source): a \(message) holds a field of wire type \(wireType)")
      }
    }
  }
}
