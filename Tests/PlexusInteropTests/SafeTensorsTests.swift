import Foundation
import PlexusCore
import PlexusInterop
import Testing

private let fixtures = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!

/// A temporary file path removed at the end of a test.
private func temporaryFile(_ name: String) -> URL {
  FileManager.default.temporaryDirectory.appendingPathComponent("\(UUID().uuidString)-\(name)")
}

/// A safetensors file built by hand: the header text and the data bytes.
private func handMade(_ header: String, data: [UInt8] = [], length: UInt64? = nil) -> Data {
  let headerBytes = Array(header.utf8)
  var result = Data()
  var size = (length ?? UInt64(headerBytes.count)).littleEndian
  withUnsafeBytes(of: &size) { result.append(contentsOf: $0) }
  result.append(contentsOf: headerBytes)
  result.append(contentsOf: data)
  return result
}

@Suite struct SafeTensorsTests {
  /// The file the reference implementation wrote reads back to its values, every dtype.
  @Test func readsTheReferenceImplementationsFile() throws {
    let file = try SafeTensorsFile(
      contentsOf: fixtures.appendingPathComponent("reference.safetensors"))
    let expected = try JSONDecoder().decode(
      [String: Expected].self,
      from: Data(contentsOf: fixtures.appendingPathComponent("reference.json")))
    #expect(Set(file.entries.map(\.name)) == Set(expected.keys))
    #expect(file.metadata == ["format": "pt", "note": "fixture"])
    for (name, values) in expected {
      let tensor = try file.tensor(named: name)
      #expect(tensor.shape == (values.shape.isEmpty ? [1] : values.shape), "\(name)")
      #expect(tensor.scalars.map(Double.init) == values.values, "\(name)")
    }
    #expect(file.entries.first { $0.name == "brain" }?.dtype == .bf16)
    #expect(throws: SafeTensorsError.self) { try file.tensor(named: "missing") }
  }

  struct Expected: Decodable {
    var shape: [Int]
    var values: [Double]
  }

  @Test(arguments: [SafeTensorsDType.f32, .f16, .bf16])
  func writesAndReadsBack(dtype: SafeTensorsDType) throws {
    var generator = SeededGenerator(seed: 3)
    let a = Tensor.normal([3, 4], using: &generator)
    let b = Tensor.normal([5], using: &generator)
    let url = temporaryFile("model.safetensors")
    defer { try? FileManager.default.removeItem(at: url) }
    try SafeTensorsFile.write(
      [("layer.kernel", a), ("layer.bias", b)], metadata: ["plexus": "yes"], dtype: dtype, to: url)
    let file = try SafeTensorsFile(contentsOf: url)
    #expect(file.entries.map(\.name) == ["layer.kernel", "layer.bias"])
    #expect(file.metadata == ["plexus": "yes"])
    let tolerance: Float = dtype == .f32 ? 0 : dtype == .f16 ? 2e-3 : 1e-2
    for (name, original) in [("layer.kernel", a), ("layer.bias", b)] {
      let read = try file.tensor(named: name)
      #expect(read.shape == original.shape)
      let worst = zip(read.scalars, original.scalars).map { abs($0 - $1) / max(abs($1), 1) }.max()!
      #expect(worst <= tolerance, "\(name): \(worst)")
    }
    // The data section starts 8-byte aligned.
    let bytes = try Data(contentsOf: url)
    let headerLength = bytes.prefix(8).enumerated().reduce(0) {
      $0 | Int($1.element) << (8 * $1.offset)
    }
    #expect((8 + headerLength) % 8 == 0)
  }

  @Test func badNamesAndDTypesAreRefusedAndAFailedWriteKeepsTheOldFile() throws {
    let t = Tensor.zeros([2])
    #expect(throws: SafeTensorsError.self) { try SafeTensorsFile.encode([("a", t), ("a", t)]) }
    #expect(throws: SafeTensorsError.self) { try SafeTensorsFile.encode([("", t)]) }
    #expect(throws: SafeTensorsError.self) { try SafeTensorsFile.encode([("__metadata__", t)]) }
    #expect(throws: SafeTensorsError.self) { try SafeTensorsFile.encode([("a", t)], dtype: .i64) }
    let url = temporaryFile("keep.safetensors")
    defer { try? FileManager.default.removeItem(at: url) }
    try SafeTensorsFile.write([("a", t)], to: url)
    let before = try Data(contentsOf: url)
    #expect(throws: SafeTensorsError.self) {
      try SafeTensorsFile.write([("a", t), ("a", t)], to: url)
    }
    #expect(try Data(contentsOf: url) == before)
  }

  /// Every malformed file is a clear error naming the problem, never a crash.
  @Test func malformedFilesAreClearErrors() throws {
    let cases: [(Data, String)] = [
      (Data([1, 2, 3]), "too short"),
      (handMade("{}", length: 1 << 40), "exceeds the limit"),
      (handMade("{}", length: 500), "past the end"),
      (handMade("[1, 2]"), "does not start with '{'"),
      (handMade("{\"a\": "), "not valid JSON"),
      (
        handMade(
          #"{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8], "extra": 1}}"#,
          data: [UInt8](repeating: 0, count: 8)), "unknown key 'extra'"
      ),
      (
        handMade(
          #"{"a": {"dtype": "Q4", "shape": [2], "data_offsets": [0, 8]}}"#,
          data: [UInt8](repeating: 0, count: 8)), "dtype 'Q4'"
      ),
      (
        handMade(
          #"{"a": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}}"#,
          data: [UInt8](repeating: 0, count: 8)), "not a non-negative integer"
      ),
      (
        handMade(
          #"{"a": {"dtype": "F32", "shape": [4000000000, 4000000000, 4], "data_offsets": [0, 8]}}"#),
        "overflows"
      ),
      (
        handMade(
          #"{"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}"#,
          data: [UInt8](repeating: 0, count: 8)), "needs 12"
      ),
      (
        handMade(
          #"{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}"#,
          data: [UInt8](repeating: 0, count: 4)), "past the"
      ),
      (
        handMade(
          #"{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}"#,
          data: [UInt8](repeating: 0, count: 12)), "overlaps"
      ),
      (
        handMade(
          #"{"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}"#,
          data: [UInt8](repeating: 0, count: 8)), "gap of 4 bytes"
      ),
      (
        handMade(
          #"{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}"#,
          data: [UInt8](repeating: 0, count: 8)), "belong to no tensor"
      ),
      (handMade(#"{"__metadata__": {"k": 3}}"#), "not a string"),
      (
        handMade(#"{"a": {"dtype": "F32", "shape": [1]}}"#, data: [UInt8](repeating: 0, count: 4)),
        "data_offsets"
      ),
    ]
    for (data, message) in cases {
      #expect {
        try SafeTensorsFile(data: data, source: "bad.safetensors")
      } throws: { error in
        "\(error)".hasPrefix("bad.safetensors: ") && "\(error)".contains(message)
      }
    }
  }
}
