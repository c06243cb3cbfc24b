import Foundation
import PlexusCore
import PlexusInterop
import Testing

@Suite struct PyTorchWriterTests {
  /// Every element type and shape (a scalar, an empty tensor, more than three dimensions, a
  /// storage of more than 65,535 elements) reads back through Plexus's own reader exactly.
  @Test func stateDictsReadBackExactly() throws {
    var generator = SeededGenerator(seed: 4)
    let large = try Tensor(
      shape: [70_001], scalars: (0..<70_001).map { _ in generator.nextNormal() })
    let items = [
      TypedTensor(
        name: "fc1.weight", tensor: try Tensor(shape: [2, 3], scalars: [1, -2, 3.5, 0, 1e-30, -7])),
      TypedTensor(name: "fc1.bias", tensor: Tensor([0.25, -0.5])),
      TypedTensor(
        name: "conv.weight",
        tensor: try Tensor(shape: [2, 1, 2, 2], scalars: (0..<8).map(Float.init))),
      TypedTensor(name: "bn.num_batches_tracked", tensor: Tensor.zeros([]), dtype: .i64),
      TypedTensor(name: "half", tensor: Tensor([1.5, -0.25, 2048]), dtype: .f16),
      TypedTensor(name: "brain", tensor: Tensor([1.5, -0.25, 0x1p127]), dtype: .bf16),
      TypedTensor(name: "steps", tensor: Tensor([3, -4_000_000_000, 70_000]), dtype: .i64),
      TypedTensor(name: "empty", tensor: Tensor.zeros([0, 3])),
      TypedTensor(name: "large", tensor: large),
    ]
    let data = try PyTorchWriter.encode(items)
    let file = try PyTorchFile(data: data)
    #expect(file.entries.map(\.name) == items.map(\.name))
    #expect(file.version == 3 && !file.isBigEndian)
    for (entry, item) in zip(file.entries, items) {
      #expect(entry.dtype == item.dtype, "\(item.name)")
      #expect(entry.shape == item.tensor.shape, "\(item.name)")
      #expect(entry.storageOffset == 0 && entry.storageElementCount == item.tensor.count)
      // The reader gives a scalar as shape [1].
      let value = try file.tensor(entry)
      #expect(value.scalars == item.tensor.scalars, "\(item.name)")
      #expect(value.shape == (item.tensor.shape.isEmpty ? [1] : item.tensor.shape))
    }
    // torch's layout: the records torch.save writes, each storage at a multiple of 64.
    let archive = try ZipArchive(data: data)
    #expect(
      archive.entries.map(\.name)
        == [
          "archive/data.pkl", "archive/.format_version", "archive/.storage_alignment",
          "archive/byteorder",
        ] + items.indices.map { "archive/data/\($0)" } + ["archive/version"])
    #expect(archive.entries.allSatisfy { $0.dataOffset % 64 == 0 && $0.method == .stored })
    #expect(try archive.contents(named: "archive/byteorder") == Data("little".utf8))
    // Equal inputs give equal bytes.
    #expect(try PyTorchWriter.encode(items) == data)
  }

  @Test func anEmptyStateDictIsAnEmptyOrderedDict() throws {
    let file = try PyTorchFile(data: try PyTorchWriter.encode([]))
    #expect(file.entries.isEmpty && file.values.isEmpty)
  }

  @Test func badTensorsAreRefused() throws {
    let cases: [([TypedTensor], String)] = [
      (
        [TypedTensor(name: "a", tensor: Tensor([1])), TypedTensor(name: "a", tensor: Tensor([2]))],
        "empty or repeated: 'a'"
      ),
      ([TypedTensor(name: "", tensor: Tensor([1]))], "empty or repeated"),
      (
        [TypedTensor(name: "n", tensor: Tensor([1.5]), dtype: .i64)], "tensor 'n': 1.5 is not a I64"
      ),
    ]
    for (items, message) in cases {
      #expect {
        try PyTorchWriter.encode(items)
      } throws: {
        "\($0)".contains(message)
      }
    }
  }

  @Test func zipMembersAlignOnlyToPowersOfTwo() throws {
    var writer = ZipWriter()
    for alignment in [0, 3, 8192] {
      #expect {
        try writer.add("x\(alignment)", contents: Data([1]), alignment: alignment)
      } throws: {
        "\($0)".contains("power of two up to 4096")
      }
    }
    try writer.add("a", contents: Data([1, 2, 3]), alignment: 4096)
    try writer.add("b", contents: Data([4]), alignment: 16)
    let archive = try ZipArchive(data: try writer.finish())
    // "b"'s header starts at 4099: 30 bytes, its name, at least 4 bytes of padding, then 4144.
    #expect(archive.entries.map(\.dataOffset) == [4096, 4144])
    #expect(try archive.contents(named: "b") == Data([4]))
  }
}
