import Foundation

/// Reads and writes NumPy `.npy` files (format versions 1.0, 2.0 and 3.0).
///
/// Reading accepts arrays of `float16`, `float32`, `float64`, `int8`, `int16`, `int32`,
/// `int64`, `uint8` and `bool` in either byte order and in C (row-major) or Fortran
/// (column-major) order; the elements are brought to little-endian C order as they are read.
/// Everything else — other dtypes, structured or object arrays — is rejected with a
/// `PlexusError.invalidData` that says what was found and at which byte offset, as are
/// truncated files, bad magic bytes, malformed header dictionaries, shapes whose size
/// overflows and data whose length does not match the shape.
///
/// Writing stores a ``Tensor`` as little-endian `float32` (`'<f4'`), C order, format 1.0
/// (2.0 only if the header needs more than 65535 bytes), with the header padded to 64 bytes
/// as NumPy does. `np.load` reads the result.
///
/// ```swift
/// let array = try NumPy.read(contentsOf: URL(fileURLWithPath: "x.npy"))
/// let x = array.tensor()                  // Float32, shape array.shape
/// try NumPy.write(x, to: URL(fileURLWithPath: "copy.npy"))
/// ```
public enum NumPy {
  /// The element types Plexus reads from `.npy` files.
  public enum DType: String, Sendable, CaseIterable, Equatable {
    /// `'<f2'`: IEEE half precision, widened exactly.
    case float16
    /// `'<f4'`: read exactly.
    case float32
    /// `'<f8'`: rounded to the nearest `Float` (about 7 significant digits; magnitudes
    /// beyond `Float.greatestFiniteMagnitude` become infinite).
    case float64
    /// `'<i4'`: exact up to magnitude 2^24, rounded to the nearest `Float` beyond.
    case int32
    /// `'<i8'`: exact up to magnitude 2^24, rounded to the nearest `Float` beyond.
    case int64
    /// `'|i1'`: read exactly.
    case int8
    /// `'<i2'`: read exactly.
    case int16
    /// `'|u1'`: read exactly.
    case uint8
    /// `'|b1'`: false reads as 0 and true (any non-zero byte) as 1.
    case bool

    /// The size of one element in bytes.
    public var byteSize: Int {
      switch self {
      case .float32, .int32: return 4
      case .float64, .int64: return 8
      case .float16, .int16: return 2
      case .int8, .uint8, .bool: return 1
      }
    }

    /// The NumPy type string of the little-endian form, as written in headers.
    public var descriptor: String {
      switch self {
      case .float16: return "<f2"
      case .float32: return "<f4"
      case .float64: return "<f8"
      case .int8: return "|i1"
      case .int16: return "<i2"
      case .int32: return "<i4"
      case .int64: return "<i8"
      case .uint8: return "|u1"
      case .bool: return "|b1"
      }
    }
  }

  /// The magic bytes at the start of every `.npy` file: `\x93NUMPY`.
  public static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]

  /// Reads an `.npy` file.
  ///
  /// - Throws: `PlexusError.io` when the file cannot be read; `PlexusError.invalidData`
  ///   (naming the file and the byte offset) when its content is not a supported `.npy` array.
  public static func read(contentsOf url: URL) throws -> NumPyArray {
    return try parse(fileContents(url), source: url.path)
  }

  /// Reads the bytes of an `.npy` file.
  ///
  /// - Throws: `PlexusError.invalidData` saying what is wrong and at which byte offset.
  public static func read(data: Data) throws -> NumPyArray {
    try parse(data, source: "npy data")
  }

  /// The bytes of an `.npy` file (format 1.0, `'<f4'`, C order) that holds `tensor`.
  public static func encode(_ tensor: Tensor) -> Data {
    var data = preamble(descr: "<f4", shape: tensor.shape, payload: tensor.count * 4)
    let start = data.count
    data.count += tensor.count * 4
    data.withUnsafeMutableBytes { raw in
      tensor.withUnsafeBufferPointer { source in
        for index in source.indices {
          raw.storeBytes(
            of: source[index].bitPattern.littleEndian, toByteOffset: start + index * 4,
            as: UInt32.self)
        }
      }
    }
    return data
  }

  /// The bytes of an `.npy` file (format 1.0, or 2.0 for a header above 65535 bytes, C order)
  /// that holds `array` in its element type, little-endian.
  public static func encode(_ array: NumPyArray) -> Data {
    var data = preamble(
      descr: array.dtype.descriptor, shape: array.shape, payload: array.elementBytes.count)
    data.append(array.elementBytes)
    return data
  }

  /// The magic, version, header and padding of an `.npy` file of `descr` and `shape` whose
  /// data (`payload` bytes) follows.
  private static func preamble(descr: String, shape: [Int], payload: Int) -> Data {
    let shapeText: String
    switch shape.count {
    case 0: shapeText = "()"
    case 1: shapeText = "(\(shape[0]),)"
    default: shapeText = "(" + shape.map(String.init).joined(separator: ", ") + ")"
    }
    var header = Array(
      "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shapeText), }".utf8)
    // NumPy pads the header with spaces and ends it with a newline so that the data starts at
    // a multiple of 64 bytes; version 2.0 widens the header length to 4 bytes.
    let isVersion1 = header.count + 1 + 63 <= Int(UInt16.max)
    let preambleSize = isVersion1 ? 10 : 12
    let unpadded = preambleSize + header.count + 1
    header += [UInt8](repeating: 0x20, count: (64 - unpadded % 64) % 64)
    header.append(0x0A)
    var data = Data(capacity: preambleSize + header.count + payload)
    data.append(contentsOf: magic)
    data.append(contentsOf: isVersion1 ? [1, 0] : [2, 0])
    if isVersion1 {
      let length = UInt16(header.count)
      data.append(contentsOf: [UInt8(length & 0xFF), UInt8(length >> 8)])
    } else {
      let length = UInt32(header.count)
      data.append(contentsOf: (0..<4).map { UInt8((length >> (8 * $0)) & 0xFF) })
    }
    data.append(contentsOf: header)
    return data
  }

  /// The bytes of an `.npy` file holding `values` as `'<i8'` (int64), shape `[count]`: class
  /// indices, as NumPy and PyTorch expect labels.
  public static func encodeIndices(_ values: [Int]) -> Data {
    var data = preamble(descr: "<i8", shape: [values.count], payload: values.count * 8)
    for value in values {
      var bits = Int64(value).littleEndian
      withUnsafeBytes(of: &bits) { data.append(contentsOf: $0) }
    }
    return data
  }

  /// Writes `values` as an int64 `.npy` file, atomically (as `write(_:to:)`).
  ///
  /// - Throws: `PlexusError.io` when the file cannot be written.
  public static func writeIndices(_ values: [Int], to url: URL) throws {
    try writeAtomically(encodeIndices(values), to: url)
  }

  private static func writeAtomically(_ data: Data, to url: URL) throws {
    try AtomicFile.write(data, to: url)
  }

  /// Writes `tensor` as an `.npy` file (format 1.0, `'<f4'`, C order).
  ///
  /// The write is atomic: the bytes go to a temporary file in the same folder, which is
  /// flushed and then renamed over `url`, so an existing file is replaced only by a complete
  /// new one.
  ///
  /// - Throws: `PlexusError.io` when the file cannot be written.
  public static func write(_ tensor: Tensor, to url: URL) throws {
    try writeAtomically(encode(tensor), to: url)
  }

  // MARK: Parsing

  private static func parse(_ data: Data, source: String) throws -> NumPyArray {
    // Only the preamble and header are copied; the elements are copied once, at the end.
    let total = data.count
    var bytes = [UInt8](data.prefix(12))
    func failure(_ offset: Int, _ message: String) -> PlexusError {
      PlexusError.invalidData("\(source): \(message) (at byte offset \(offset))")
    }

    // Magic and version.
    let magicLength = Swift.min(total, magic.count)
    guard Array(bytes[..<magicLength]) == Array(magic[..<magicLength]) else {
      let found = bytes.prefix(magic.count).map { String(format: "%02x", $0) }.joined(
        separator: " ")
      throw failure(
        0, "bad magic bytes \(found); an .npy file starts with 93 4e 55 4d 50 59 (\\x93NUMPY)")
    }
    guard total >= 8 else {
      throw failure(
        total,
        "file is truncated after \(total) bytes, inside the 8-byte magic and version")
    }
    let major = bytes[6]
    let minor = bytes[7]
    guard (1...3).contains(major), minor == 0 else {
      throw failure(
        6, "unsupported .npy format version \(major).\(minor); expected 1.0, 2.0 or 3.0")
    }
    let lengthSize = major == 1 ? 2 : 4
    let headerStart = 8 + lengthSize
    guard total >= headerStart else {
      throw failure(
        total,
        "file is truncated after \(total) bytes, inside the \(lengthSize)-byte header length that starts at byte 8"
      )
    }
    var headerLength = 0
    for index in 0..<lengthSize { headerLength |= Int(bytes[8 + index]) << (8 * index) }
    let dataStart = headerStart + headerLength
    guard total >= dataStart else {
      throw failure(
        total,
        "file is truncated: the header declares \(headerLength) bytes from byte \(headerStart) to \(dataStart), but the file has only \(total) bytes"
      )
    }

    bytes = [UInt8](data.prefix(dataStart))

    // Header dictionary.
    var parser = NumPyHeaderParser(bytes: bytes, start: headerStart, end: dataStart, source: source)
    let entries = try parser.parseDictionary()
    var descriptor: (value: NumPyHeaderValue, offset: Int)?
    var fortranOrder: (value: NumPyHeaderValue, offset: Int)?
    var shapeEntry: (value: NumPyHeaderValue, offset: Int)?
    for entry in entries {
      switch entry.key {
      case "descr": descriptor = (entry.value, entry.valueOffset)
      case "fortran_order": fortranOrder = (entry.value, entry.valueOffset)
      case "shape": shapeEntry = (entry.value, entry.valueOffset)
      default:
        throw failure(
          entry.keyOffset,
          "unexpected header key '\(entry.key)'; expected exactly 'descr', 'fortran_order' and 'shape'"
        )
      }
    }
    guard let descriptor else {
      throw failure(headerStart, "the header dictionary lacks the key 'descr'")
    }
    guard let fortranOrder else {
      throw failure(headerStart, "the header dictionary lacks the key 'fortran_order'")
    }
    guard let shapeEntry else {
      throw failure(headerStart, "the header dictionary lacks the key 'shape'")
    }

    let (dtype, bigEndian) = try dataType(
      descriptor.value, failure: { failure(descriptor.offset, $0) })

    let isFortranOrder: Bool
    switch fortranOrder.value {
    case .boolean(let value): isFortranOrder = value
    default:
      throw failure(
        fortranOrder.offset, "'fortran_order' must be True or False, found \(fortranOrder.value)")
    }

    guard case .tuple(let shape) = shapeEntry.value else {
      throw failure(
        shapeEntry.offset,
        "'shape' must be a tuple of integers such as (2, 3), found \(shapeEntry.value)")
    }
    var elementCount = 1
    for dimension in shape {
      guard dimension >= 0 else {
        throw failure(shapeEntry.offset, "shape \(shape) has a negative dimension \(dimension)")
      }
      let (product, overflow) = elementCount.multipliedReportingOverflow(by: dimension)
      guard !overflow else {
        throw failure(shapeEntry.offset, "the element count of shape \(shape) overflows")
      }
      elementCount = product
    }
    let (byteCount, overflow) = elementCount.multipliedReportingOverflow(by: dtype.byteSize)
    guard !overflow else {
      throw failure(
        shapeEntry.offset,
        "the byte count of shape \(shape) with \(dtype.byteSize)-byte elements overflows")
    }

    // Array data.
    let available = total - dataStart
    guard available >= byteCount else {
      throw failure(
        total,
        "file is truncated: shape \(shape) of \(dtype.rawValue) needs \(byteCount) data bytes from byte \(dataStart), but only \(available) follow"
      )
    }
    guard available == byteCount else {
      throw failure(
        dataStart + byteCount,
        "\(available - byteCount) unexpected bytes after the \(byteCount) data bytes of shape \(shape) of \(dtype.rawValue)"
      )
    }
    var elements = data.subdata(in: (data.startIndex + dataStart)..<data.endIndex)
    if bigEndian { swapBytes(&elements, elementSize: dtype.byteSize) }
    if isFortranOrder && shape.count > 1 {
      elements = cOrder(fromFortranOrder: elements, shape: shape, elementSize: dtype.byteSize)
    }
    return NumPyArray(
      shape: shape, dtype: dtype, formatVersion: Int(major), elementBytes: elements,
      storedDescriptor: descriptorText(descriptor.value), storedInFortranOrder: isFortranOrder)
  }

  private static func descriptorText(_ value: NumPyHeaderValue) -> String {
    if case .string(let text) = value { return text }
    return value.description
  }

  /// Reverses the bytes of each `elementSize`-byte element.
  private static func swapBytes(_ bytes: inout Data, elementSize: Int) {
    guard elementSize > 1 else { return }
    bytes.withUnsafeMutableBytes { (raw: UnsafeMutableRawBufferPointer) in
      var start = 0
      while start + elementSize <= raw.count {
        var low = start
        var high = start + elementSize - 1
        while low < high {
          raw.swapAt(low, high)
          low += 1
          high -= 1
        }
        start += elementSize
      }
    }
  }

  /// The elements of a column-major array of `shape` in row-major order.
  private static func cOrder(fromFortranOrder bytes: Data, shape: [Int], elementSize: Int) -> Data {
    let count = bytes.count / elementSize
    var result = Data(count: bytes.count)
    guard count > 0 else { return result }
    // The column-major stride of each axis, in elements.
    var strides = [Int](repeating: 1, count: shape.count)
    for axis in 1..<shape.count { strides[axis] = strides[axis - 1] * shape[axis - 1] }
    bytes.withUnsafeBytes { (source: UnsafeRawBufferPointer) in
      result.withUnsafeMutableBytes { (destination: UnsafeMutableRawBufferPointer) in
        var index = [Int](repeating: 0, count: shape.count)
        var sourceElement = 0
        for element in 0..<count {
          let from = sourceElement * elementSize
          let to = element * elementSize
          for byte in 0..<elementSize { destination[to + byte] = source[from + byte] }
          // Advance the row-major multi-index, keeping the column-major offset in step.
          var axis = shape.count - 1
          while axis >= 0 {
            index[axis] += 1
            sourceElement += strides[axis]
            if index[axis] < shape[axis] { break }
            sourceElement -= strides[axis] * shape[axis]
            index[axis] = 0
            axis -= 1
          }
        }
      }
    }
    return result
  }

  /// The element type a `descr` names and whether its bytes are big-endian.
  private static func dataType(
    _ value: NumPyHeaderValue, failure: (String) -> PlexusError
  ) throws -> (DType, bigEndian: Bool) {
    let text: String
    switch value {
    case .string(let string): text = string
    case .list:
      throw failure(
        "structured dtypes (a list of fields in 'descr') are not supported; expected one of \(supportedList)"
      )
    default:
      throw failure("'descr' must be a type string such as '<f4', found \(value)")
    }
    let codes: [String: DType] = [
      "f2": .float16, "f4": .float32, "f8": .float64, "i1": .int8, "i2": .int16, "i4": .int32,
      "i8": .int64, "u1": .uint8, "b1": .bool,
    ]
    // A byte-order character ('<' little, '>' big, '|' not applicable, '=' native, which is
    // little-endian on every platform Plexus runs on), then the kind and size.
    if let order = text.first, "<>|=".contains(order), let dtype = codes[String(text.dropFirst())] {
      let bigEndian = order == ">"
      if order == "|" && dtype.byteSize > 1 {
        throw failure("'\(text)' gives no byte order for \(dtype.byteSize)-byte elements")
      }
      return (dtype, bigEndian && dtype.byteSize > 1)
    }
    if text.dropFirst().hasPrefix("O") || text.hasPrefix("O") {
      throw failure("object arrays ('\(text)') are not supported; save a numeric array")
    }
    throw failure("unsupported dtype '\(text)'; expected one of \(supportedList)")
  }

  private static var supportedList: String {
    DType.allCases.map { "'\($0.descriptor)' (\($0.rawValue))" }.joined(separator: ", ")
      + ", in either byte order"
  }
}

/// An array read from an `.npy` file: its shape, element type and raw little-endian elements.
public struct NumPyArray: Sendable, Equatable {
  /// The shape, as in NumPy (`[]` for a 0-d array).
  public let shape: [Int]
  /// The element type stored in the file.
  public let dtype: NumPy.DType
  /// The `.npy` format major version of the file (1, 2 or 3).
  public let formatVersion: Int
  /// The elements: `count * dtype.byteSize` little-endian bytes in C order (converted when
  /// the file stores them big-endian or in Fortran order).
  public let elementBytes: Data
  /// The type string of the file's header as written (`'<f4'`, `'>f8'`).
  public let storedDescriptor: String
  /// Whether the file stores the elements in Fortran (column-major) order.
  public let storedInFortranOrder: Bool

  init(
    shape: [Int], dtype: NumPy.DType, formatVersion: Int, elementBytes: Data,
    storedDescriptor: String, storedInFortranOrder: Bool
  ) {
    self.shape = shape
    self.dtype = dtype
    self.formatVersion = formatVersion
    self.elementBytes = elementBytes
    self.storedDescriptor = storedDescriptor
    self.storedInFortranOrder = storedInFortranOrder
  }

  /// An array of `shape` whose elements are `elementBytes`, little-endian in C order, to
  /// write with `NumPy.encode(_:)`.
  ///
  /// - Throws: `PlexusError.invalidShape` for a negative or overflowing shape;
  ///   `PlexusError.invalidArgument` when the byte count is not the shape's.
  public init(shape: [Int], dtype: NumPy.DType, elementBytes: Data) throws {
    let count = try Tensor.elementCount(of: shape)
    let (bytes, overflow) = count.multipliedReportingOverflow(by: dtype.byteSize)
    guard !overflow, bytes == elementBytes.count else {
      throw PlexusError.invalidArgument(
        "shape \(shape) of \(dtype.rawValue) needs \(overflow ? "too many" : String(bytes)) bytes, "
          + "got \(elementBytes.count)")
    }
    self.init(
      shape: shape, dtype: dtype, formatVersion: 1, elementBytes: elementBytes,
      storedDescriptor: dtype.descriptor, storedInFortranOrder: false)
  }

  /// The number of elements (the product of `shape`).
  public var count: Int { elementBytes.count / dtype.byteSize }

  /// The elements converted to `Float` in a tensor of shape `shape`.
  ///
  /// `float16`, `float32`, `int8`, `int16` and `uint8` convert exactly and `bool` gives 0 or
  /// 1; `float64` values are
  /// rounded to the nearest `Float` (about 7 significant digits); `int32` and `int64` values
  /// are exact up to magnitude 2^24 = 16 777 216 and rounded to the nearest `Float` beyond.
  public func tensor() -> Tensor {
    let dtype = self.dtype
    return Tensor(shape: shape) { destination in
      elementBytes.withUnsafeBytes { raw in
        let count = destination.count
        switch dtype {
        case .float32:
          for index in 0..<count {
            let bits = raw.loadUnaligned(fromByteOffset: index * 4, as: UInt32.self)
            destination[index] = Float(bitPattern: UInt32(littleEndian: bits))
          }
        case .float16:
          for index in 0..<count {
            let bits = raw.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self)
            destination[index] = Float(Float16(bitPattern: UInt16(littleEndian: bits)))
          }
        case .float64:
          for index in 0..<count {
            let bits = raw.loadUnaligned(fromByteOffset: index * 8, as: UInt64.self)
            destination[index] = Float(Double(bitPattern: UInt64(littleEndian: bits)))
          }
        case .int8:
          for index in 0..<count { destination[index] = Float(Int8(bitPattern: raw[index])) }
        case .int16:
          for index in 0..<count {
            let value = raw.loadUnaligned(fromByteOffset: index * 2, as: Int16.self)
            destination[index] = Float(Int16(littleEndian: value))
          }
        case .int32:
          for index in 0..<count {
            let value = raw.loadUnaligned(fromByteOffset: index * 4, as: Int32.self)
            destination[index] = Float(Int32(littleEndian: value))
          }
        case .int64:
          for index in 0..<count {
            let value = raw.loadUnaligned(fromByteOffset: index * 8, as: Int64.self)
            destination[index] = Float(Int64(littleEndian: value))
          }
        case .uint8:
          for index in 0..<count { destination[index] = Float(raw[index]) }
        case .bool:
          for index in 0..<count { destination[index] = raw[index] == 0 ? 0 : 1 }
        }
      }
    }
  }

}

// MARK: - Header dictionary parser

/// A value in an `.npy` header dictionary (a Python literal).
private enum NumPyHeaderValue: Equatable, CustomStringConvertible {
  case string(String)
  case boolean(Bool)
  case integer(Int)
  case tuple([Int])
  case list
  case none

  var description: String {
    switch self {
    case .string(let value): return "'\(value)'"
    case .boolean(let value): return value ? "True" : "False"
    case .integer(let value): return String(value)
    case .tuple(let values):
      return values.count == 1
        ? "(\(values[0]),)" : "(" + values.map(String.init).joined(separator: ", ") + ")"
    case .list: return "a list"
    case .none: return "None"
    }
  }
}

/// Parses the Python dictionary literal of an `.npy` header, reporting file byte offsets.
private struct NumPyHeaderParser {
  struct Entry {
    let key: String
    let keyOffset: Int
    let value: NumPyHeaderValue
    let valueOffset: Int
  }

  let bytes: [UInt8]
  let end: Int
  let source: String
  var position: Int

  init(bytes: [UInt8], start: Int, end: Int, source: String) {
    self.bytes = bytes
    self.position = start
    self.end = end
    self.source = source
  }

  private func failure(_ message: String, at offset: Int? = nil) -> PlexusError {
    PlexusError.invalidData(
      "\(source): malformed .npy header: \(message) (at byte offset \(offset ?? position))")
  }

  private var current: UInt8? { position < end ? bytes[position] : nil }

  private var currentDescription: String {
    guard let current else { return "the end of the header" }
    if current >= 0x20 && current < 0x7F { return "'\(Character(Unicode.Scalar(current)))'" }
    return String(format: "byte 0x%02x", current)
  }

  private mutating func skipWhitespace() {
    while let byte = current, byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 {
      position += 1
    }
  }

  private mutating func expect(_ byte: UInt8, _ what: String) throws {
    skipWhitespace()
    guard current == byte else { throw failure("expected \(what), found \(currentDescription)") }
    position += 1
  }

  /// Parses `{key: value, ...}` followed only by whitespace up to the end of the header.
  mutating func parseDictionary() throws -> [Entry] {
    try expect(UInt8(ascii: "{"), "'{' to open the header dictionary")
    var entries: [Entry] = []
    var seen: Set<String> = []
    while true {
      skipWhitespace()
      if current == UInt8(ascii: "}") {
        position += 1
        break
      }
      let keyOffset = position
      guard current == UInt8(ascii: "'") || current == UInt8(ascii: "\"") else {
        throw failure("expected a quoted key or '}', found \(currentDescription)")
      }
      let key = try parseString()
      guard seen.insert(key).inserted else {
        throw failure("duplicate key '\(key)'", at: keyOffset)
      }
      try expect(UInt8(ascii: ":"), "':' after key '\(key)'")
      skipWhitespace()
      let valueOffset = position
      let value = try parseValue()
      entries.append(Entry(key: key, keyOffset: keyOffset, value: value, valueOffset: valueOffset))
      skipWhitespace()
      if current == UInt8(ascii: ",") {
        position += 1
      } else if current == UInt8(ascii: "}") {
        position += 1
        break
      } else {
        throw failure(
          "expected ',' or '}' after the value of '\(key)', found \(currentDescription)")
      }
    }
    skipWhitespace()
    while let byte = current, byte == 0 {
      position += 1
    }
    guard current == nil else {
      throw failure(
        "unexpected \(currentDescription) after the closing '}' of the header dictionary")
    }
    return entries
  }

  private mutating func parseString() throws -> String {
    guard let quote = current else {
      throw failure("expected a string, found the end of the header")
    }
    let start = position
    position += 1
    var content: [UInt8] = []
    while true {
      guard let byte = current else {
        throw failure("unterminated string that starts here", at: start)
      }
      position += 1
      if byte == quote { break }
      if byte == UInt8(ascii: "\\") {
        guard let escaped = current else {
          throw failure("unterminated string that starts here", at: start)
        }
        content.append(escaped)
        position += 1
      } else {
        content.append(byte)
      }
    }
    return String(decoding: content, as: UTF8.self)
  }

  private mutating func parseValue() throws -> NumPyHeaderValue {
    guard let byte = current else { throw failure("expected a value, found the end of the header") }
    switch byte {
    case UInt8(ascii: "'"), UInt8(ascii: "\""):
      return .string(try parseString())
    case UInt8(ascii: "("):
      return try parseTuple()
    case UInt8(ascii: "["):
      try skipBracketed()
      return .list
    case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
      return .integer(try parseInteger())
    default:
      if consume("True") { return .boolean(true) }
      if consume("False") { return .boolean(false) }
      if consume("None") { return .none }
      throw failure(
        "expected a string, True, False, an integer or a tuple, found \(currentDescription)")
    }
  }

  private mutating func consume(_ word: String) -> Bool {
    let utf8 = Array(word.utf8)
    guard position + utf8.count <= end, Array(bytes[position..<position + utf8.count]) == utf8
    else {
      return false
    }
    position += utf8.count
    return true
  }

  /// Parses a decimal integer, with an optional `L` suffix as written by Python 2.
  private mutating func parseInteger() throws -> Int {
    let start = position
    var negative = false
    if current == UInt8(ascii: "-") {
      negative = true
      position += 1
    }
    var value = 0
    var digits = 0
    while let byte = current, byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") {
      let (timesTen, overflow1) = value.multipliedReportingOverflow(by: 10)
      let (sum, overflow2) = timesTen.addingReportingOverflow(Int(byte - UInt8(ascii: "0")))
      guard !overflow1, !overflow2 else {
        throw failure("integer does not fit in 64 bits", at: start)
      }
      value = sum
      digits += 1
      position += 1
    }
    guard digits > 0 else { throw failure("expected digits, found \(currentDescription)") }
    if current == UInt8(ascii: "L") || current == UInt8(ascii: "l") { position += 1 }
    return negative ? -value : value
  }

  /// Parses `()`, `(n,)` or `(n, m, ...)` with an optional trailing comma.
  private mutating func parseTuple() throws -> NumPyHeaderValue {
    let start = position
    position += 1
    var values: [Int] = []
    var sawComma = false
    while true {
      skipWhitespace()
      if current == UInt8(ascii: ")") {
        position += 1
        break
      }
      guard let byte = current, byte == UInt8(ascii: "-") || (byte >= 0x30 && byte <= 0x39) else {
        throw failure(
          "expected an integer or ')' in the tuple that starts at byte \(start), found \(currentDescription)"
        )
      }
      values.append(try parseInteger())
      skipWhitespace()
      if current == UInt8(ascii: ",") {
        sawComma = true
        position += 1
      } else if current == UInt8(ascii: ")") {
        position += 1
        break
      } else {
        throw failure(
          "expected ',' or ')' in the tuple that starts at byte \(start), found \(currentDescription)"
        )
      }
    }
    // In Python `(3)` is the integer 3, not a tuple.
    if values.count == 1 && !sawComma { return .integer(values[0]) }
    return .tuple(values)
  }

  /// Skips a bracketed list (used to recognize structured dtypes), honouring strings.
  private mutating func skipBracketed() throws {
    let start = position
    var depth = 0
    while let byte = current {
      switch byte {
      case UInt8(ascii: "["), UInt8(ascii: "("): depth += 1
      case UInt8(ascii: "]"), UInt8(ascii: ")"): depth -= 1
      case UInt8(ascii: "'"), UInt8(ascii: "\""):
        _ = try parseString()
        continue
      default: break
      }
      position += 1
      if depth == 0 { return }
    }
    throw failure("unterminated list that starts here", at: start)
  }
}
