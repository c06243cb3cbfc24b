import Foundation
import Plexus
import Testing

/// Graph models in files (format 1.1): corrupt bytes, and hostile architectures with valid
/// checksums, are errors that name what is wrong — never a crash, a hang or a wrong model.
@Suite struct GraphFileTests {
  static let golden = GoldenFileTests.examples.appendingPathComponent("graph-two-inputs.plexus")

  static func load(_ bytes: [UInt8]) throws -> any ModelProtocol {
    try PlexusFile(bytes: bytes).loadModel(registry: LayerRegistry.standard())
  }

  /// A file holding only an architecture (of parameterless layers), with valid checksums.
  static func file(architecture: String) -> [UInt8] {
    var builder = FileBuilder(major: 1, minor: 1)
    builder.json("ARCH", architecture)
    builder.alignNextPayload()
    builder.chunk("DATA", payload: [])
    builder.json("TIDX", "{\"tensors\":[]}")
    builder.chunk("TEND", payload: [])
    return builder.bytes
  }

  /// A valid graph: two inputs, a shared activation, an addition and a concatenation.
  static let validArchitecture = """
    {"type": "plexus.model", "name": "g", "config": {
      "inputs": [{"name": "a", "shape": [3]}, {"name": "b", "shape": [3]}],
      "layers": [
        {"type": "plexus.activation", "name": "act", "config": {"activation": "tanh"}},
        {"type": "plexus.add", "name": "sum", "config": {}},
        {"type": "plexus.concatenate", "name": "cat", "config": {"axis": -1}}],
      "nodes": [
        {"layer": "act", "inputs": [["a", 0, 0]]},
        {"layer": "act", "inputs": [["b", 0, 0]]},
        {"layer": "sum", "inputs": [["act", 0, 0], ["act", 1, 0]]},
        {"layer": "cat", "inputs": [["sum", 0, 0], ["a", 0, 0]]}],
      "outputs": [{"name": "out", "tensor": ["cat", 0, 0]}]}}
    """

  @Test func aValidHandWrittenGraphLoadsAndComputes() throws {
    let model = try Self.load(Self.file(architecture: Self.validArchitecture))
    let a = try Tensor(shape: [1, 3], scalars: [0, 1, -1])
    let b = try Tensor(shape: [1, 3], scalars: [2, 0, 0])
    let output = try model.predict([a, b])[0]
    let expected = zip(a.scalars, b.scalars).map { Foundation.tanh($0) + Foundation.tanh($1) }
    #expect(output.shape == [1, 6])
    for (found, value) in zip(output.scalars, expected + a.scalars) {
      #expect(abs(found - value) < 1e-6)
    }
  }

  @Test(arguments: [
    // A cycle: the addition reads its own output.
    (#"[["act", 0, 0], ["act", 1, 0]]"#, #"[["act", 0, 0], ["sum", 0, 0]]"#, "reads"),
    // A forward reference: the first node reads the concatenation.
    (
      #"{"layer": "act", "inputs": [["a", 0, 0]]}"#,
      #"{"layer": "act", "inputs": [["cat", 0, 0]]}"#, "reads"
    ),
    // A call that does not exist.
    (#"["act", 1, 0]]"#, #"["act", 7, 0]]"#, "reads"),
    // An output index that does not exist.
    (#""tensor": ["cat", 0, 0]"#, #""tensor": ["cat", 0, 3]"#, "output 'out'"),
    // A node calling an undefined layer.
    (#"{"layer": "cat", "inputs""#, #"{"layer": "dog", "inputs""#, "'dog'"),
    // Two layers with one name.
    (
      #""name": "cat", "config": {"axis": -1}"#, #""name": "sum", "config": {"axis": -1}"#,
      "duplicate"
    ),
    // An input named like a layer.
    (#"{"name": "b", "shape": [3]}"#, #"{"name": "act", "shape": [3]}"#, "act"),
    // A shape mismatch at the merge.
    (#"{"name": "b", "shape": [3]}"#, #"{"name": "b", "shape": [4]}"#, "shape mismatch"),
    // A hostile input size.
    (
      #"{"name": "a", "shape": [3]}"#, #"{"name": "a", "shape": [1099511627776]}"#,
      "values per sample"
    ),
    // A dimension that is not positive.
    (#"{"name": "a", "shape": [3]}"#, #"{"name": "a", "shape": [-3]}"#, "positive"),
    // A reference that is not a triple.
    (
      #"{"layer": "act", "inputs": [["a", 0, 0]]}"#, #"{"layer": "act", "inputs": [["a", 0]]}"#,
      ".nodes[0].inputs[0]"
    ),
    // An input that no output uses.
    (
      #"{"name": "b", "shape": [3]}]"#,
      #"{"name": "b", "shape": [3]}, {"name": "c", "shape": [3]}]"#, "input 'c'"
    ),
    // A layer nobody calls.
    (
      #"{"type": "plexus.add", "name": "sum", "config": {}},"#,
      #"{"type": "plexus.add", "name": "sum", "config": {}}, {"type": "plexus.add", "name": "idle", "config": {}},"#,
      "no node calls"
    ),
  ])
  func hostileGraphsAreErrorsNamingTheProblem(original: String, hostile: String, fragment: String)
    throws
  {
    #expect(Self.validArchitecture.contains(original), "the mutation does not apply")
    let bytes = Self.file(
      architecture: Self.validArchitecture.replacingOccurrences(of: original, with: hostile))
    #expect {
      _ = try Self.load(bytes)
    } throws: { error in
      (error is PlexusError || error is PlexusFormatError) && "\(error)".contains(fragment)
    }
  }

  @Test func truncatingTheGraphGoldenFileAnywhereIsAFormatError() throws {
    let bytes = [UInt8](try Data(contentsOf: Self.golden))
    _ = try Self.load(bytes)
    for length in stride(from: 0, to: bytes.count, by: 7) {
      #expect(throws: PlexusFormatError.self, "truncated to \(length)") {
        _ = try Self.load(Array(bytes[0..<length]))
      }
    }
  }

  @Test func flippingAnyByteOfTheGraphGoldenFileIsAFormatError() throws {
    let bytes = [UInt8](try Data(contentsOf: Self.golden))
    for offset in bytes.indices {
      var corrupt = bytes
      corrupt[offset] ^= 0x41
      #expect(throws: PlexusFormatError.self, "byte \(offset)") { _ = try Self.load(corrupt) }
    }
  }
}
