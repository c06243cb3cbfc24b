import Foundation
import PlexusCore

/// Writes PyTorch state dicts as `torch.save` does (the zip format of PyTorch 1.6 and later),
/// so that `torch.load(path, weights_only=True)` returns a `collections.OrderedDict` of
/// tensors that `load_state_dict` takes.
///
/// The archive holds, under the top folder `archive/`: `data.pkl` (pickle protocol 2: an
/// `OrderedDict` whose values are `torch._utils._rebuild_tensor_v2` calls on persistent
/// storages `('storage', torch.FloatStorage, key, 'cpu', count)`, contiguous, offset 0, not
/// requiring grad), `.format_version` (`1`), `.storage_alignment` (`64`), `byteorder`
/// (`little`), one member `data/<key>` per tensor (keys `0`, `1`, ... in order, each starting
/// at a multiple of 64 bytes, little-endian), and `version` (`3`). Every member is stored.
public enum PyTorchWriter {
  /// The top folder of the archive.
  public static let archiveName = "archive"

  /// The archive's bytes for `tensors`, in their order (names must be unique).
  ///
  /// - Throws: `InteropError` for a repeated or empty name, an element type PyTorch has no
  ///   storage for, or a value that does not fit an integer type.
  public static func encode(_ tensors: [TypedTensor]) throws -> Data {
    var names = Set<String>()
    var pickle = Pickle()
    pickle.protocolHeader()
    pickle.global("collections", "OrderedDict")
    pickle.emptyTuple()
    pickle.reduce()
    var storages: [Data] = []
    if !tensors.isEmpty { pickle.mark() }
    for item in tensors {
      guard !item.name.isEmpty, names.insert(item.name).inserted else {
        throw InteropError("a state dict tensor name is empty or repeated: '\(item.name)'")
      }
      guard let storageType = storageTypeName(item.dtype) else {
        throw InteropError("PyTorch has no storage for \(item.dtype.rawValue) tensors")
      }
      var bytes = Data(capacity: item.tensor.count * item.dtype.size)
      do {
        try item.tensor.withUnsafeBufferPointer { values in
          for value in values { try ElementDecoding.append(value, as: item.dtype, to: &bytes) }
        }
      } catch let error as InteropError {
        throw InteropError("tensor '\(item.name)': \(error)")
      }
      let key = String(storages.count)
      storages.append(bytes)
      pickle.string(item.name)
      pickle.global("torch._utils", "_rebuild_tensor_v2")
      pickle.mark()
      // The storage, by persistent id.
      pickle.mark()
      pickle.string("storage")
      pickle.global("torch", storageType)
      pickle.string(key)
      pickle.string("cpu")
      pickle.integer(item.tensor.count)
      pickle.tuple()
      pickle.persistentID()
      // Offset, size, stride, requires_grad, backward hooks.
      pickle.integer(0)
      pickle.tuple(item.tensor.shape)
      pickle.tuple(contiguousStrides(item.tensor.shape))
      pickle.bool(false)
      pickle.global("collections", "OrderedDict")
      pickle.emptyTuple()
      pickle.reduce()
      pickle.tuple()
      pickle.reduce()
    }
    if !tensors.isEmpty { pickle.setItems() }
    pickle.stop()

    let folder = archiveName + "/"
    var zip = ZipWriter()
    try zip.add(folder + "data.pkl", contents: pickle.bytes, alignment: 64)
    try zip.add(folder + ".format_version", contents: Data("1".utf8), alignment: 64)
    try zip.add(folder + ".storage_alignment", contents: Data("64".utf8), alignment: 64)
    try zip.add(folder + "byteorder", contents: Data("little".utf8), alignment: 64)
    for (key, bytes) in storages.enumerated() {
      try zip.add(folder + "data/\(key)", contents: bytes, alignment: 64)
    }
    try zip.add(folder + "version", contents: Data("3\n".utf8), alignment: 64)
    return try zip.finish()
  }

  /// Writes `tensors` as a state dict to `url`, atomically (a temporary file renamed over it).
  ///
  /// - Throws: as ``encode(_:)``; `PlexusError.io` when the file cannot be written.
  public static func write(_ tensors: [TypedTensor], to url: URL) throws {
    try encode(tensors).writeAtomically(to: url)
  }

  /// The `torch` storage class of an element type.
  static func storageTypeName(_ dtype: WeightDType) -> String? {
    switch dtype {
    case .f32: "FloatStorage"
    case .f64: "DoubleStorage"
    case .f16: "HalfStorage"
    case .bf16: "BFloat16Storage"
    case .i64: "LongStorage"
    case .i32: "IntStorage"
    case .i16: "ShortStorage"
    case .i8: "CharStorage"
    case .u8: "ByteStorage"
    case .bool: "BoolStorage"
    }
  }

  /// Row-major strides, in elements.
  static func contiguousStrides(_ shape: [Int]) -> [Int] {
    var strides = [Int](repeating: 1, count: shape.count)
    var step = 1
    for axis in shape.indices.reversed() {
      strides[axis] = step
      step *= Swift.max(shape[axis], 1)
    }
    return strides
  }
}

/// The pickle opcodes a state dict needs (protocol 2, no memo).
private struct Pickle {
  var bytes = Data()

  mutating func protocolHeader() { bytes.append(contentsOf: [0x80, 2]) }
  mutating func mark() { bytes.append(UInt8(ascii: "(")) }
  mutating func emptyTuple() { bytes.append(UInt8(ascii: ")")) }
  mutating func tuple() { bytes.append(UInt8(ascii: "t")) }
  mutating func reduce() { bytes.append(UInt8(ascii: "R")) }
  mutating func persistentID() { bytes.append(UInt8(ascii: "Q")) }
  mutating func setItems() { bytes.append(UInt8(ascii: "u")) }
  mutating func stop() { bytes.append(UInt8(ascii: ".")) }
  mutating func bool(_ value: Bool) { bytes.append(value ? 0x88 : 0x89) }

  /// GLOBAL: `c module\nname\n`.
  mutating func global(_ module: String, _ name: String) {
    bytes.append(UInt8(ascii: "c"))
    bytes.append(contentsOf: Array("\(module)\n\(name)\n".utf8))
  }

  /// BINUNICODE: a 4-byte little-endian length and the UTF-8 bytes.
  mutating func string(_ text: String) {
    let utf8 = Array(text.utf8)
    bytes.append(UInt8(ascii: "X"))
    bytes.appendLittleEndian(UInt32(utf8.count))
    bytes.append(contentsOf: utf8)
  }

  /// BININT1, BININT2, BININT or LONG1, the shortest that holds `value`.
  mutating func integer(_ value: Int) {
    switch value {
    case 0..<0x100:
      bytes.append(UInt8(ascii: "K"))
      bytes.append(UInt8(value))
    case 0x100..<0x10000:
      bytes.append(UInt8(ascii: "M"))
      bytes.appendLittleEndian(UInt16(value))
    case Int(Int32.min)...Int(Int32.max):
      bytes.append(UInt8(ascii: "J"))
      bytes.appendLittleEndian(Int32(value))
    default:
      // Two's complement, little-endian, the fewest bytes that keep the sign.
      var little = withUnsafeBytes(of: Int64(value).littleEndian) { Array($0) }
      while little.count > 1,
        (little[little.count - 1] == 0 && little[little.count - 2] & 0x80 == 0)
          || (little[little.count - 1] == 0xFF && little[little.count - 2] & 0x80 != 0)
      {
        little.removeLast()
      }
      bytes.append(0x8A)
      bytes.append(UInt8(little.count))
      bytes.append(contentsOf: little)
    }
  }

  /// A tuple of integers: EMPTY_TUPLE, TUPLE1-3 or MARK ... TUPLE, as Python's pickler writes.
  mutating func tuple(_ values: [Int]) {
    guard !values.isEmpty else { return emptyTuple() }
    if values.count > 3 { mark() }
    for value in values { integer(value) }
    switch values.count {
    case 1: bytes.append(0x85)
    case 2: bytes.append(0x86)
    case 3: bytes.append(0x87)
    default: tuple()
    }
  }
}
