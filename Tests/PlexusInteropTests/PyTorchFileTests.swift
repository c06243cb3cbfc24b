import Foundation
import PlexusCore
import PlexusInterop
import Testing

/// A pickle inside a zip laid out as torch.save lays it out (`archive/data.pkl`, storages
/// `archive/data/N`).
func torchArchive(pickle: [UInt8], storages: [String: Data] = [:], byteorder: String? = "little")
  throws -> Data
{
  var writer = ZipWriter()
  try writer.add("archive/data.pkl", contents: Data(pickle))
  if let byteorder { try writer.add("archive/byteorder", contents: Data(byteorder.utf8)) }
  for (key, data) in storages.sorted(by: { $0.key < $1.key }) {
    try writer.add("archive/data/\(key)", contents: data)
  }
  try writer.add("archive/version", contents: Data("3\n".utf8))
  return try writer.finish()
}

/// Pickle opcodes, for hand-made state dicts.
enum Pickle {
  static func global(_ module: String, _ name: String) -> [UInt8] {
    [UInt8(ascii: "c")] + Array("\(module)\n\(name)\n".utf8)
  }
  static func string(_ text: String) -> [UInt8] {
    let bytes = Array(text.utf8)
    return [0x8C, UInt8(bytes.count)] + bytes
  }
  static func int(_ value: UInt8) -> [UInt8] { [UInt8(ascii: "K"), value] }
  static func tuple(_ items: [[UInt8]]) -> [UInt8] {
    [UInt8(ascii: "(")] + items.flatMap { $0 } + [UInt8(ascii: "t")]
  }
  static let emptyTuple: [UInt8] = [UInt8(ascii: ")")]
  static let reduce: [UInt8] = [UInt8(ascii: "R")]
  static let stop: [UInt8] = [UInt8(ascii: ".")]

  /// `_rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())` of a float
  /// storage with `count` elements under `key`.
  static func tensor(key: String, count: UInt8, offset: UInt8, size: [UInt8], stride: [UInt8])
    -> [UInt8]
  {
    let storage =
      tuple([
        string("storage"), global("torch", "FloatStorage"), string(key), string("cpu"), int(count),
      ]) + [UInt8(ascii: "Q")]
    return global("torch._utils", "_rebuild_tensor_v2")
      + tuple([
        storage, int(offset), tuple(size.map(int)), tuple(stride.map(int)), [0x89],
        global("collections", "OrderedDict") + emptyTuple + reduce,
      ]) + reduce
  }

  /// An OrderedDict of `items` (key, value opcodes), protocol 2.
  static func stateDict(_ items: [(String, [UInt8])]) -> [UInt8] {
    [0x80, 2] + global("collections", "OrderedDict") + emptyTuple + reduce + [UInt8(ascii: "(")]
      + items.flatMap { string($0.0) + $0.1 } + [UInt8(ascii: "u")] + stop
  }
}

func floats(_ values: [Float]) -> Data {
  var data = Data()
  for value in values { data.put(value.bitPattern) }
  return data
}

@Suite struct PyTorchFileTests {
  /// torch.save's archive reads to torch's values: every dtype, non-contiguous views, views
  /// sharing one storage, a stride-0 expansion, a scalar, an empty tensor; the big-endian copy
  /// reads the same.
  @Test(arguments: ["tensors.pt", "tensors-bigendian.pt"])
  func readsWhatTorchWrote(file: String) throws {
    let torch = try PyTorchFile(contentsOf: interopFixtures.appendingPathComponent(file))
    let expected = try ExpectedTensor.load("tensors.json")
    #expect(torch.isBigEndian == file.contains("big"))
    #expect(torch.version == 3)
    #expect(torch.entries.map(\.name).first == "float32")
    #expect(Set(torch.entries.map(\.name)) == Set(expected.keys))
    for (name, values) in expected {
      let tensor = try torch.tensor(named: name)
      #expect(tensor.shape == (values.shape.isEmpty ? [1] : values.shape), "\(name)")
      #expect(tensor.scalars == values.values.map { Float($0) }, "\(name)")
    }
    let byName = Dictionary(uniqueKeysWithValues: torch.entries.map { ($0.name, $0) })
    #expect(byName["bfloat16"]?.dtype == .bf16 && byName["int8"]?.dtype == .i8)
    #expect(byName["transposed"]?.strides == [1, 4])
    #expect(byName["slice"]?.storageKey == byName["column"]?.storageKey)
    #expect(byName["column"]?.storageOffset == 1 && byName["expanded"]?.strides == [0, 1])
    #expect(byName["scalar"]?.shape == [])
  }

  @Test func readsACheckpointWithNestedDictsAndPlainValues() throws {
    let torch = try PyTorchFile(contentsOf: interopFixtures.appendingPathComponent("checkpoint.pt"))
    #expect(torch.entries.map(\.name) == ["model.fc.weight", "model.fc.bias", "history.0"])
    let values = Dictionary(uniqueKeysWithValues: torch.values.map { ($0.name, $0.value) })
    #expect(values["epoch"] == "5" && values["note"] == "'fixture'" && values["finished"] == "True")
    #expect(values["best"] == "None" && values["history.1"] == "3")
    #expect(values["learning_rate"] == "0.001")
    #expect(try torch.tensor(named: "model.fc.weight").scalars == [1, 1, 1, 1, 1, 1])
  }

  /// A pickle that names os.system is refused by name, before anything could call it.
  @Test func refusesForbiddenGlobalsByName() throws {
    let message = errorMessage {
      _ = try PyTorchFile(contentsOf: interopFixtures.appendingPathComponent("evil.pt"))
    }
    #expect(message?.contains("'posix.system'") == true || message?.contains("'os.system'") == true)
    #expect(message?.contains("weights_only") == true)
    for (module, name) in [("builtins", "eval"), ("torch.nn", "Linear"), ("__main__", "Net")] {
      let pickle =
        [0x80, 2] + Pickle.global(module, name) + Pickle.emptyTuple + Pickle.reduce
        + Pickle.stop
      let text = errorMessage { _ = try PyTorchFile(data: try torchArchive(pickle: pickle)) }
      #expect(text?.contains("'\(module).\(name)'") == true, "\(text ?? "no error")")
    }
    // STACK_GLOBAL is checked the same way.
    let stacked =
      [0x80, 4] + Pickle.string("subprocess") + Pickle.string("Popen") + [0x93] + Pickle.stop
    #expect(
      errorMessage { _ = try PyTorchFile(data: try torchArchive(pickle: stacked)) }?.contains(
        "'subprocess.Popen'") == true)
    // Opcodes that build arbitrary objects.
    let instance = [0x80, 2, UInt8(ascii: "(")] + Array("ios\nsystem\n".utf8) + Pickle.stop
    #expect(
      errorMessage { _ = try PyTorchFile(data: try torchArchive(pickle: instance)) }?.contains(
        "INST") == true)
  }

  @Test func refusesTheLegacyFormatAndTorchScriptClearly() throws {
    let legacy = errorMessage {
      _ = try PyTorchFile(contentsOf: interopFixtures.appendingPathComponent("legacy.pt"))
    }
    #expect(legacy?.contains("legacy format") == true)
    let script = errorMessage {
      _ = try PyTorchFile(contentsOf: interopFixtures.appendingPathComponent("script.pt"))
    }
    #expect(script?.contains("TorchScript") == true)
    #expect(
      errorMessage { _ = try PyTorchFile(data: Data("not torch".utf8)) }?.contains("not a PyTorch")
        == true)
  }

  /// Hand-made state dicts: a view past its storage, a storage whose member has the wrong
  /// size, a missing storage, a bad byte order, truncated pickles.
  @Test func refusesMalformedStateDicts() throws {
    let good = Pickle.stateDict([
      ("w", Pickle.tensor(key: "0", count: 6, offset: 0, size: [2, 3], stride: [3, 1]))
    ])
    let six = floats([1, 2, 3, 4, 5, 6])
    let file = try PyTorchFile(data: try torchArchive(pickle: good, storages: ["0": six]))
    #expect(
      try file.tensor(named: "w") == (try Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])))

    let cases: [([UInt8], [String: Data], String?, String)] = [
      (
        Pickle.stateDict([
          ("w", Pickle.tensor(key: "0", count: 6, offset: 1, size: [2, 3], stride: [3, 1]))
        ]), ["0": six], "little", "reads past its storage"
      ),
      (
        Pickle.stateDict([
          ("w", Pickle.tensor(key: "0", count: 6, offset: 0, size: [3, 3], stride: [1, 3]))
        ]), ["0": six], "little", "reads past its storage"
      ),
      (good, ["0": floats([1, 2])], "little", "declares 6 F32 elements but its member has 8"),
      (
        Pickle.stateDict([
          (
            "w",
            Pickle.tensor(
              key: "0", count: 6, offset: 0, size: [255, 255, 255, 255], stride: [0, 0, 0, 0])
          )
        ]), ["0": six], "little", "more than the 1073741824"
      ),
      (good, [:], "little", "no member data/0"),
      (good, ["0": six], "middle", "neither 'little' nor 'big'"),
      (Array(good.dropLast()), ["0": six], "little", "ends without STOP"),
      (Array(good.prefix(40)), ["0": six], "little", "pickle"),
      ([0x80, 2, UInt8(ascii: "h"), 9, UInt8(ascii: ".")], [:], "little", "memo entry 9"),
      ([0x80, 2, UInt8(ascii: "X"), 0xFF, 0xFF, 0xFF, 0x7F], [:], "little", "runs past the end"),
      ([0x80, 2, UInt8(ascii: "K"), 1, UInt8(ascii: ".")], [:], "little", "not a dict"),
      ([0x80, 9], [:], "little", "protocol 9"),
      // A list that holds itself: refused, and its cycle freed.
      (
        [0x80, 2, UInt8(ascii: "}")] + Pickle.string("a")
          + [
            UInt8(ascii: "]"), UInt8(ascii: "2"), UInt8(ascii: "a"), UInt8(ascii: "s"),
            UInt8(ascii: "."),
          ],
        [:], "little", "deeper than 32 levels"
      ),
      ([0x80, 2, UInt8(ascii: "a"), UInt8(ascii: ".")], [:], "little", "empty stack"),
    ]
    for (pickle, storages, byteorder, expected) in cases {
      let message = errorMessage {
        _ = try PyTorchFile(
          data: try torchArchive(pickle: pickle, storages: storages, byteorder: byteorder))
      }
      #expect(message?.contains(expected) == true, "\(expected): \(message ?? "no error")")
    }
    // A pickle whose nested tuples reference one another: bounded, not exponential.
    var nested: [UInt8] = [0x80, 2, UInt8(ascii: "}")] + Pickle.string("k")
    nested += Pickle.int(1) + [0x85, UInt8(ascii: "q"), 1, UInt8(ascii: "0")]
    for _ in 0..<40 {
      nested += [UInt8(ascii: "h"), 1, UInt8(ascii: "h"), 1, 0x86, UInt8(ascii: "q"), 1]
      nested += [UInt8(ascii: "0")]
    }
    nested += [UInt8(ascii: "h"), 1, UInt8(ascii: "s"), UInt8(ascii: ".")]
    // The same tuple as a dict key is refused as too large.
    var key: [UInt8] = [0x80, 2, UInt8(ascii: "}")]
    key +=
      Array(nested[(3 + 3)..<(nested.count - 4)]) + [UInt8(ascii: "h"), 1, UInt8(ascii: "K"), 1]
    key += [UInt8(ascii: "s"), UInt8(ascii: ".")]
    #expect(
      errorMessage { _ = try PyTorchFile(data: try torchArchive(pickle: key)) }?.contains(
        "too large") == true)
    #expect(
      errorMessage { _ = try PyTorchFile(data: try torchArchive(pickle: nested)) }?.contains(
        "more than") == true)
    // Every single-byte corruption of a real file is an error or reads; none crashes.
    let real = try Data(contentsOf: interopFixtures.appendingPathComponent("tensors.pt"))
    for offset in stride(from: 0, to: real.count, by: 5) {
      var damaged = real
      damaged[offset] ^= 0x41
      if let read = try? PyTorchFile(data: damaged) {
        for entry in read.entries { _ = try? read.tensor(entry) }
      }
    }
  }
}
