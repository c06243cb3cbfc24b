import Foundation
import PlexusCore
import PlexusInterop
import Testing

let interopFixtures = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!

/// The values a fixture's JSON lists for each tensor.
struct ExpectedTensor: Decodable {
  var shape: [Int]
  var values: [Double]

  static func load(_ name: String) throws -> [String: ExpectedTensor] {
    try JSONDecoder().decode(
      [String: ExpectedTensor].self,
      from: Data(contentsOf: interopFixtures.appendingPathComponent(name)))
  }
}

/// A temporary file path.
func temporaryURL(_ name: String) -> URL {
  FileManager.default.temporaryDirectory.appendingPathComponent("\(UUID().uuidString)-\(name)")
}

@Suite struct NumPyArchiveTests {
  /// Both archives numpy wrote (members stored and deflated, with zip64 local headers) read to
  /// numpy's values: every dtype, big-endian and Fortran-order arrays, a version 3.0 member,
  /// a non-ASCII name.
  @Test(arguments: ["arrays.npz", "arrays-compressed.npz"])
  func readsWhatNumPyWrote(file: String) throws {
    let archive = try NumPyArchive(contentsOf: interopFixtures.appendingPathComponent(file))
    let expected = try ExpectedTensor.load("arrays.json")
    #expect(Set(archive.members.map(\.name)) == Set(expected.keys))
    for (name, values) in expected {
      let tensor = try archive.tensor(named: name)
      #expect(tensor.shape == (values.shape.isEmpty ? [1] : values.shape), "\(name)")
      #expect(tensor.scalars == values.values.map { Float($0) }, "\(name)")
    }
    let members = Dictionary(uniqueKeysWithValues: archive.members.map { ($0.name, $0) })
    #expect(members["fortran"]?.array.storedInFortranOrder == true)
    #expect(members["big_endian"]?.array.storedDescriptor == ">f4")
    #expect(members["version3"]?.array.formatVersion == 3)
    #expect(
      archive.members.allSatisfy {
        $0.method == (file.contains("compressed") ? .deflated : .stored)
      }
    )
    #expect(throws: InteropError.self) { try archive.tensor(named: "nothing") }
  }

  @Test(arguments: [false, true])
  func writesArchivesThatReadBack(compressed: Bool) throws {
    var generator = SeededGenerator(seed: 5)
    let kernel = Tensor.normal([3, 4], using: &generator)
    let bias = Tensor.normal([4], using: &generator)
    let url = temporaryURL("weights.npz")
    defer { try? FileManager.default.removeItem(at: url) }
    try NumPyArchive.write(
      [(name: "dense_1.kernel", tensor: kernel), (name: "dense_1.bias", tensor: bias)],
      compressed: compressed, to: url)
    let archive = try NumPyArchive(contentsOf: url)
    #expect(archive.members.map(\.name) == ["dense_1.kernel", "dense_1.bias"])
    #expect(try archive.tensor(named: "dense_1.kernel") == kernel)
    #expect(try archive.tensor(named: "dense_1.bias") == bias)
    #expect(archive.members[0].method == (compressed ? .deflated : .stored))
    // Integer arrays keep their type.
    let counts = try NumPyArray(
      shape: [], dtype: .int64, elementBytes: Data([7, 0, 0, 0, 0, 0, 0, 0]))
    let data = try NumPyArchive.encode([(name: "steps", array: counts)])
    let read = try NumPyArchive(data: data)
    #expect(read.members[0].array.dtype == .int64 && read.members[0].array.shape == [])
    #expect(try read.tensor(named: "steps").scalars == [7])
  }

  @Test func badArchivesAreClearErrors() throws {
    // A member that is not an .npy array.
    var writer = ZipWriter()
    try writer.add("notes.txt", contents: Data("hello".utf8))
    #expect(
      errorMessage { _ = try NumPyArchive(data: try writer.finish()) }?.contains(
        "not a named .npy array") == true)
    // A member whose .npy header is malformed names the member.
    var broken = ZipWriter()
    try broken.add("x.npy", contents: Data([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0, 5]))
    let message = errorMessage { _ = try NumPyArchive(data: try broken.finish()) }
    #expect(message?.contains("member 'x.npy'") == true && message?.contains("truncated") == true)
    // A truncated copy of numpy's archive.
    let good = try Data(contentsOf: interopFixtures.appendingPathComponent("arrays.npz"))
    for length in [0, 100, good.count / 2, good.count - 1] {
      #expect(errorMessage { _ = try NumPyArchive(data: good.prefix(length)) } != nil)
    }
    // Every single-byte corruption of the compressed archive is an error or reads back; none
    // crashes.
    let compressed = try Data(
      contentsOf: interopFixtures.appendingPathComponent("arrays-compressed.npz"))
    for offset in stride(from: 0, to: compressed.count, by: 7) {
      var damaged = compressed
      damaged[offset] ^= 0x5A
      _ = try? NumPyArchive(data: damaged)
    }
    #expect(throws: InteropError.self) {
      try NumPyArchive.encode([(name: "", array: try NumPyArray(float32: Tensor.zeros([1])))])
    }
  }
}
