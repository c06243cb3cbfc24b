import Foundation
import Plexus
import SwiftProtobuf
import Testing

@testable import PlexusONNX

/// Builders of small ONNX models, to break them one way at a time.
enum ONNXSamples {
  static func tensor(_ name: String, _ shape: [Int64], _ values: [Float]) -> Onnx_TensorProto {
    var tensor = Onnx_TensorProto()
    tensor.name = name
    tensor.dataType = 1
    tensor.dims = shape
    var bytes = Data()
    for value in values {
      withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
    }
    tensor.rawData = bytes
    return tensor
  }

  static func value(_ name: String, _ dims: [Int64?]) -> Onnx_ValueInfoProto {
    var info = Onnx_ValueInfoProto()
    info.name = name
    var type = Onnx_TypeProto.Tensor()
    type.elemType = 1
    var shape = Onnx_TensorShapeProto()
    shape.dim = dims.map { size in
      var dim = Onnx_TensorShapeProto.Dimension()
      if let size { dim.dimValue = size } else { dim.dimParam = "N" }
      return dim
    }
    type.shape = shape
    info.type.tensorType = type
    return info
  }

  static func node(_ op: String, _ inputs: [String], _ outputs: [String], name: String)
    -> Onnx_NodeProto
  {
    var node = Onnx_NodeProto()
    node.opType = op
    node.input = inputs
    node.output = outputs
    node.name = name
    return node
  }

  /// `y = Relu(x W)`: input `x [N, 4]`, initializer `W [4, 2]`.
  static func dense(opset: Int64 = 17) -> Onnx_ModelProto {
    var model = Onnx_ModelProto()
    model.irVersion = 8
    var set = Onnx_OperatorSetIdProto()
    set.version = opset
    model.opsetImport = [set]
    var graph = Onnx_GraphProto()
    graph.name = "g"
    graph.input = [value("x", [nil, 4])]
    graph.output = [value("y", [nil, 2])]
    graph.initializer = [tensor("W", [4, 2], (0..<8).map { Float($0) / 8 })]
    graph.node = [
      node("MatMul", ["x", "W"], ["h"], name: "matmul"), node("Relu", ["h"], ["y"], name: "relu"),
    ]
    model.graph = graph
    return model
  }

  static func bytes(_ model: Onnx_ModelProto) throws -> Data { try model.serializedBytes() }
}

@Suite struct ONNXHostileInputTests {
  private func error(_ data: Data, folder: URL? = nil) -> String {
    do {
      let file = try ONNXModelFile(data: data, source: "bad.onnx", folder: folder)
      _ = try file.importModel(registry: .standard())
      return "no error"
    } catch {
      return "\(error)"
    }
  }

  @Test func theSampleImports() throws {
    let (model, _) = try ONNXModelFile(
      data: try ONNXSamples.bytes(ONNXSamples.dense()), source: "ok"
    )
    .importModel(registry: .standard())
    let y = try model.predict(try Tensor(shape: [1, 4], scalars: [1, 0, 0, 1]))
    #expect(y.scalars == [0.75, 1])
  }

  @Test func truncatedProtobufIsRefused() throws {
    let data = try ONNXSamples.bytes(ONNXSamples.dense())
    for length in [data.count - 1, data.count / 2, 7] {
      let message = error(data.prefix(length))
      #expect(message.contains("bad.onnx: not a valid ONNX protobuf"), "\(length): \(message)")
    }
    #expect(error(Data()).contains("not an ONNX model (no ir_version field)"))
  }

  @Test func wrongWireTypesAreRefused() throws {
    // ir_version (field 1, a varint) sent length-delimited; graph (field 7) sent as a varint.
    #expect(error(Data([0x0A, 0x01, 0x00])).contains("field 1 of a ModelProto has wire type 2"))
    #expect(
      error(Data([0x08, 0x08, 0x38, 0x01])).contains("field 7 of a ModelProto has wire type 0"))
    // A node's op_type (field 4, a string) sent as a 32-bit value, inside the graph.
    var nodeBytes: Data = try ONNXSamples.node("Relu", ["x"], ["y"], name: "relu")
      .serializedBytes()
    nodeBytes.append(contentsOf: [0x25, 1, 2, 3, 4])
    let graphBytes = Data([0x0A, UInt8(nodeBytes.count)]) + nodeBytes
    let modelBytes = Data([0x08, 0x08, 0x3A, UInt8(graphBytes.count)]) + graphBytes
    #expect(error(modelBytes).contains("field 4 of a NodeProto has wire type 5"))
  }

  @Test func aGraphWithACycleIsRefused() throws {
    var model = ONNXSamples.dense()
    model.graph.node = [
      ONNXSamples.node("Add", ["x", "b"], ["a"], name: "first"),
      ONNXSamples.node("Relu", ["a"], ["b"], name: "second"),
      ONNXSamples.node("Relu", ["b"], ["y"], name: "third"),
    ]
    let message = error(try ONNXSamples.bytes(model))
    #expect(message.contains("the graph has a cycle through nodes 'first' (Add), 'second' (Relu)"))
  }

  @Test func initializerDataMustMatchItsShape() throws {
    var model = ONNXSamples.dense()
    model.graph.initializer[0].rawData = Data(count: 12)
    #expect(
      error(try ONNXSamples.bytes(model)).contains(
        "initializer 'W' has shape [4, 2] of FLOAT, 32 bytes, but holds 12 bytes of data"))
    model.graph.initializer[0].clearRawData()
    model.graph.initializer[0].floatData = [1, 2, 3]
    #expect(
      error(try ONNXSamples.bytes(model)).contains(
        "initializer 'W' has shape [4, 2] (8 elements) but its float_data holds 3 values"))
  }

  @Test func hugeDeclaredTensorsAreRefusedBeforeAllocating() throws {
    var model = ONNXSamples.dense()
    // 2 GiB of floats declared in a file of about a hundred bytes.
    model.graph.initializer[0].dims = [1 << 29]
    let data = try ONNXSamples.bytes(model)
    #expect(data.count < 1024)
    #expect(
      error(data).contains(
        "initializer 'W' has shape [536870912] of FLOAT, 2147483648 bytes, but holds 32 bytes"))
    model.graph.initializer[0].dims = [1 << 30, 1 << 30]
    #expect(error(try ONNXSamples.bytes(model)).contains("more than 2147483648 elements"))
    model.graph.initializer[0].dims = [-4, 2]
    #expect(error(try ONNXSamples.bytes(model)).contains("declares dimension -4"))
  }

  @Test func externalDataMustStayInTheModelsFolder() throws {
    let outer = try ONNXScratch()
    defer { outer.remove() }
    let folder = outer.file("model")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    try Data(count: 32).write(to: outer.file("secret.bin"))
    try FileManager.default.createSymbolicLink(
      at: folder.appendingPathComponent("link.bin"), withDestinationURL: outer.file("secret.bin"))
    try Data(count: 16).write(to: folder.appendingPathComponent("short.bin"))
    func external(_ location: String, length: String? = nil) throws -> String {
      var model = ONNXSamples.dense()
      model.graph.initializer[0].clearRawData()
      model.graph.initializer[0].dataLocation = .external
      var entry = Onnx_StringStringEntryProto()
      entry.key = "location"
      entry.value = location
      model.graph.initializer[0].externalData = [entry]
      if let length {
        var size = Onnx_StringStringEntryProto()
        size.key = "length"
        size.value = length
        model.graph.initializer[0].externalData.append(size)
      }
      let url = folder.appendingPathComponent("model.onnx")
      try ONNXSamples.bytes(model).write(to: url)
      do {
        _ = try ONNXModelFile(contentsOf: url).importModel(registry: .standard())
        return "no error"
      } catch {
        return "\(error)"
      }
    }
    #expect(try external("../secret.bin").contains("which leaves the model's folder"))
    #expect(try external("a/../../secret.bin").contains("which leaves the model's folder"))
    #expect(try external(outer.file("secret.bin").path).contains("which leaves the model's folder"))
    #expect(try external("link.bin").contains("resolves outside the model's folder"))
    #expect(
      try external("short.bin").contains("reads bytes 0..<32 of 'short.bin', which holds 16 bytes"))
    #expect(
      try external("short.bin", length: "2147483648").contains(
        "needs 32 bytes but its external data length is 2147483648"))
    #expect(try external("missing.bin").contains("cannot read external data file 'missing.bin'"))
    // From memory there is no folder to read from.
    var model = ONNXSamples.dense()
    model.graph.initializer[0].dataLocation = .external
    #expect(error(try ONNXSamples.bytes(model)).contains("names no location"))
  }

  @Test func everyUnsupportedOperatorIsListed() throws {
    var model = ONNXSamples.dense()
    model.graph.node = [
      ONNXSamples.node("MatMul", ["x", "W"], ["h"], name: "matmul"),
      ONNXSamples.node("Einsum", ["h"], ["e"], name: "mix"),
      ONNXSamples.node("TopK", ["e"], ["y"], name: "pick"),
    ]
    var custom = ONNXSamples.node("Relu", ["h"], ["unused"], name: "custom")
    custom.domain = "com.example"
    model.graph.node.append(custom)
    #expect(
      error(try ONNXSamples.bytes(model)).contains(
        "3 nodes with operators Plexus does not import: Einsum (node 'mix'), TopK (node 'pick'), "
          + "com.example.Relu (node 'custom')"))
  }

  @Test func otherStructuralProblemsAreNamed() throws {
    #expect(
      error(try ONNXSamples.bytes(ONNXSamples.dense(opset: 9))).contains(
        "opset 9; Plexus imports opsets 13 to 28"))
    var model = ONNXSamples.dense()
    model.graph.node[1].input = ["missing"]
    #expect(
      error(try ONNXSamples.bytes(model)).contains(
        "node 'relu' (Relu) reads 'missing', which no node"))
    model = ONNXSamples.dense()
    model.graph.node[1].output = ["h"]
    #expect(error(try ONNXSamples.bytes(model)).contains("value 'h' is written twice"))
    model = ONNXSamples.dense()
    var attribute = Onnx_AttributeProto()
    attribute.name = "alpha"
    attribute.type = .float
    attribute.f = 2
    model.graph.node[1].attribute = [attribute]
    #expect(
      error(try ONNXSamples.bytes(model)).contains(
        "attribute 'alpha' not supported by Plexus's import of Relu"))
    model = ONNXSamples.dense()
    model.graph.initializer[0] = ONNXSamples.tensor("W", [4, 2], [.nan, 0, 0, 0, 0, 0, 0, 0])
    #expect(error(try ONNXSamples.bytes(model)).contains("a weight holds nan at index 0"))
  }
}
