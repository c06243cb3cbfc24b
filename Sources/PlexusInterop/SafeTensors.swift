import Foundation
import PlexusCore

/// An element type of a tensor in a weight file, under its safetensors name (`F32`, `BF16`).
/// The same types appear in NumPy arrays and PyTorch storages.
public enum WeightDType: String, Sendable, CaseIterable {
  case f64 = "F64"
  case f32 = "F32"
  case f16 = "F16"
  case bf16 = "BF16"
  case i64 = "I64"
  case i32 = "I32"
  case i16 = "I16"
  case i8 = "I8"
  case u8 = "U8"
  case bool = "BOOL"

  /// Bytes per element.
  public var size: Int {
    switch self {
    case .f64, .i64: 8
    case .f32, .i32: 4
    case .f16, .bf16, .i16: 2
    case .i8, .u8, .bool: 1
    }
  }

  /// The floating-point element types Plexus writes weights as.
  public static let writable: [WeightDType] = [.f32, .f16, .bf16]
}

/// The element type of a safetensors tensor.
public typealias SafeTensorsDType = WeightDType

/// An error in a safetensors file: what is wrong and where (the file, the tensor).
public struct SafeTensorsError: Error, CustomStringConvertible, Equatable {
  /// The message.
  public var description: String

  init(_ description: String) { self.description = description }
}

/// One tensor of a safetensors file.
public struct SafeTensorsEntry: Sendable {
  /// The tensor's name.
  public var name: String
  /// Its stored element type.
  public var dtype: SafeTensorsDType
  /// Its shape (empty for a scalar).
  public var shape: [Int]
  /// Its byte range in the data section.
  public var byteRange: Range<Int>
}

/// A safetensors file (the Hugging Face format): an 8-byte little-endian header length, a JSON
/// header naming each tensor's dtype, shape and byte offsets in the data section (and an
/// optional `__metadata__` object of strings), then the tensors' bytes, little-endian,
/// row-major.
///
/// Reading maps the file and checks everything before any tensor is decoded: the header size
/// (at most 100 MB, within the file), the JSON, every entry's keys, dtype, shape (overflow
/// checked) and offsets (in bounds, each exactly the shape's size, contiguous from 0 with no
/// gap or overlap, covering the data section). Tensors decode on demand to `Float` tensors.
public struct SafeTensorsFile: Sendable {
  /// The largest header a file may have (the format's own limit).
  public static let maximumHeaderSize = 100_000_000

  /// The tensors in file order (by offset).
  public let entries: [SafeTensorsEntry]
  /// The `__metadata__` strings.
  public let metadata: [String: String]
  private let data: Data
  private let dataStart: Int
  private let source: String

  /// Maps and validates the file at `url`.
  ///
  /// - Throws: `SafeTensorsError` naming the file and the problem; `PlexusError.io` when it
  ///   cannot be read.
  public init(contentsOf url: URL) throws {
    try self.init(data: Data.mapping(url), source: url.path)
  }

  /// Validates a safetensors file held in memory; `source` names it in errors.
  ///
  /// - Throws: `SafeTensorsError`.
  public init(data: Data, source: String = "safetensors data") throws {
    func fail(_ message: String) -> SafeTensorsError { SafeTensorsError("\(source): \(message)") }
    guard data.count >= 8 else {
      throw fail("\(data.count) bytes is too short for the 8-byte header length")
    }
    let length = data.prefix(8).enumerated().reduce(UInt64(0)) {
      $0 | UInt64($1.element) << (8 * UInt64($1.offset))
    }
    guard length <= UInt64(Self.maximumHeaderSize) else {
      throw fail("the header length \(length) exceeds the limit of \(Self.maximumHeaderSize) bytes")
    }
    guard 8 + Int(length) <= data.count else {
      throw fail("the header length \(length) runs past the end of the file (\(data.count) bytes)")
    }
    let headerBytes = [UInt8](data[(data.startIndex + 8)..<(data.startIndex + 8 + Int(length))])
    guard headerBytes.first == UInt8(ascii: "{") else {
      throw fail("the header does not start with '{'")
    }
    let parsed: JSONValue
    do {
      parsed = try StrictJSON.parse(bytes: headerBytes)
    } catch {
      throw fail("the header is not valid JSON (\(error))")
    }
    guard case .object(let header) = parsed else { throw fail("the header is not an object") }
    func integer(_ value: JSONValue) -> Int? {
      guard case .number(let number) = value, number >= 0, number < 9.0e15 else { return nil }
      return Int(exactly: number)
    }
    var metadata: [String: String] = [:]
    var entries: [SafeTensorsEntry] = []
    for (name, value) in header {
      if name == "__metadata__" {
        guard case .object(let object) = value else {
          throw fail("__metadata__ is not an object of strings")
        }
        for (key, item) in object {
          guard case .string(let text) = item else {
            throw fail("__metadata__ value '\(key)' is not a string")
          }
          metadata[key] = text
        }
        continue
      }
      guard case .object(let entry) = value else {
        throw fail("tensor '\(name)' is not an object")
      }
      if let unknown = entry.keys.sorted().first(where: {
        !["dtype", "shape", "data_offsets"].contains($0)
      }) {
        throw fail(
          "tensor '\(name)': unknown key '\(unknown)'; expected dtype, shape, data_offsets")
      }
      guard case .string(let dtypeName) = entry["dtype"] else {
        throw fail("tensor '\(name)' has no dtype")
      }
      guard let dtype = SafeTensorsDType(rawValue: dtypeName) else {
        throw fail(
          "tensor '\(name)' has dtype '\(dtypeName)'; supported: "
            + SafeTensorsDType.allCases.map(\.rawValue).joined(separator: ", "))
      }
      guard case .array(let shapeValues) = entry["shape"] else {
        throw fail("tensor '\(name)' has no shape array")
      }
      let shape = try shapeValues.map { item -> Int in
        guard let dimension = integer(item) else {
          throw fail("tensor '\(name)' has a shape entry that is not a non-negative integer")
        }
        return dimension
      }
      var elements = 1
      for dimension in shape {
        let (product, overflow) = elements.multipliedReportingOverflow(by: dimension)
        guard !overflow else { throw fail("tensor '\(name)': the shape \(shape) overflows") }
        elements = product
      }
      let (bytes, overflow) = elements.multipliedReportingOverflow(by: dtype.size)
      guard !overflow else { throw fail("tensor '\(name)': the shape \(shape) overflows") }
      guard case .array(let offsets) = entry["data_offsets"], offsets.count == 2,
        let begin = integer(offsets[0]), let end = integer(offsets[1]), end >= begin
      else {
        throw fail("tensor '\(name)' needs data_offsets [begin, end] with 0 <= begin <= end")
      }
      guard end - begin == bytes else {
        throw fail(
          "tensor '\(name)' spans \(end - begin) bytes but its shape \(shape) of \(dtype.rawValue) "
            + "needs \(bytes)")
      }
      entries.append(
        SafeTensorsEntry(name: name, dtype: dtype, shape: shape, byteRange: begin..<end))
    }
    entries.sort {
      ($0.byteRange.lowerBound, $0.byteRange.upperBound) < (
        $1.byteRange.lowerBound, $1.byteRange.upperBound
      )
    }
    let dataSize = data.count - 8 - Int(length)
    var position = 0
    for entry in entries {
      guard entry.byteRange.lowerBound == position else {
        throw fail(
          entry.byteRange.lowerBound < position
            ? "tensor '\(entry.name)' at bytes \(entry.byteRange) overlaps the tensor before it"
            : "a gap of \(entry.byteRange.lowerBound - position) bytes precedes tensor '\(entry.name)'"
        )
      }
      guard entry.byteRange.upperBound <= dataSize else {
        throw fail(
          "tensor '\(entry.name)' ends at byte \(entry.byteRange.upperBound), past the "
            + "\(dataSize)-byte data section")
      }
      position = entry.byteRange.upperBound
    }
    guard position == dataSize else {
      throw fail("\(dataSize - position) bytes after the last tensor belong to no tensor")
    }
    self.entries = entries
    self.metadata = metadata
    self.data = data
    self.dataStart = data.startIndex + 8 + Int(length)
    self.source = source
  }

  /// The tensor named `name`, decoded to `Float` (integers and booleans converted exactly up
  /// to 2^24; a scalar becomes shape `[1]`).
  ///
  /// - Throws: `SafeTensorsError` for an unknown name.
  public func tensor(named name: String) throws -> Tensor {
    guard let entry = entries.first(where: { $0.name == name }) else {
      throw SafeTensorsError("\(source): no tensor named '\(name)'")
    }
    return try tensor(entry)
  }

  /// The entry's values as a `Float` tensor.
  ///
  /// - Throws: `PlexusError` when the tensor cannot be built.
  public func tensor(_ entry: SafeTensorsEntry) throws -> Tensor {
    let start = dataStart + entry.byteRange.lowerBound - data.startIndex
    return try data.withUnsafeBytes { raw in
      try ElementDecoding.tensor(
        UnsafeRawBufferPointer(rebasing: raw[start..<(start + entry.byteRange.count)]),
        dtype: entry.dtype, shape: entry.shape, bigEndian: false)
    }
  }

  /// Writes `tensors` as a safetensors file at `url`, atomically (a temporary file renamed into
  /// place, so a failed write leaves the previous file), in the given order, stored as `dtype`
  /// (F32, F16 or BF16, rounded to nearest even), with `metadata` as `__metadata__`.
  ///
  /// - Throws: `SafeTensorsError` for duplicate or empty names, a name `__metadata__` or a
  ///   dtype Plexus does not write; `PlexusError.io` when the file cannot be written.
  public static func write(
    _ tensors: [(name: String, tensor: Tensor)], metadata: [String: String] = [:],
    dtype: SafeTensorsDType = .f32, to url: URL
  ) throws {
    try encode(tensors, metadata: metadata, dtype: dtype).writeAtomically(to: url)
  }

  /// The bytes of a safetensors file (see `write`).
  ///
  /// - Throws: as `write`.
  public static func encode(
    _ tensors: [(name: String, tensor: Tensor)], metadata: [String: String] = [:],
    dtype: SafeTensorsDType = .f32
  ) throws -> Data {
    guard SafeTensorsDType.writable.contains(dtype) else {
      throw SafeTensorsError("Plexus writes safetensors as F32, F16 or BF16, not \(dtype.rawValue)")
    }
    return try encode(
      tensors.map { TypedTensor(name: $0.name, tensor: $0.tensor, dtype: dtype) },
      metadata: metadata)
  }

  /// The bytes of a safetensors file holding each tensor as its own element type (integer
  /// types must hold every value exactly; a tensor of shape `[]` is a scalar).
  ///
  /// - Throws: `SafeTensorsError` for duplicate, empty or reserved names and for values an
  ///   integer type cannot hold.
  public static func encode(_ tensors: [TypedTensor], metadata: [String: String] = [:]) throws
    -> Data
  {
    var names = Set<String>()
    var header: [String: JSONValue] = [:]
    var offset = 0
    for item in tensors {
      let name = item.name
      guard !name.isEmpty, name != "__metadata__", names.insert(name).inserted else {
        throw SafeTensorsError("tensor name '\(name)' is empty, reserved or used twice")
      }
      let bytes = item.tensor.count * item.dtype.size
      header[name] = .object([
        "dtype": .string(item.dtype.rawValue),
        "shape": .array(item.tensor.shape.map { .number(Double($0)) }),
        "data_offsets": .array([.number(Double(offset)), .number(Double(offset + bytes))]),
      ])
      offset += bytes
    }
    if !metadata.isEmpty { header["__metadata__"] = .object(metadata.mapValues { .string($0) }) }
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    var headerData = try encoder.encode(JSONValue.object(header))
    // Pad with spaces so the data section starts 8-byte aligned.
    while (8 + headerData.count) % 8 != 0 { headerData.append(UInt8(ascii: " ")) }
    var result = Data(capacity: 8 + headerData.count + offset)
    result.appendLittleEndian(UInt64(headerData.count))
    result.append(headerData)
    for item in tensors {
      #if _endian(little)
        if item.dtype == .f32 {
          // Float32 on a little-endian machine is already the stored form.
          item.tensor.withUnsafeBufferPointer { result.append($0) }
          continue
        }
      #endif
      do {
        try item.tensor.withUnsafeBufferPointer { values in
          for value in values { try ElementDecoding.append(value, as: item.dtype, to: &result) }
        }
      } catch let error as InteropError {
        throw SafeTensorsError("tensor '\(item.name)': \(error)")
      }
    }
    return result
  }

  /// Writes tensors of their own element types as a safetensors file at `url`, atomically.
  ///
  /// - Throws: as `encode(_:metadata:)`; `PlexusError.io` when the file cannot be written.
  public static func write(_ tensors: [TypedTensor], metadata: [String: String] = [:], to url: URL)
    throws
  {
    try encode(tensors, metadata: metadata).writeAtomically(to: url)
  }
}
