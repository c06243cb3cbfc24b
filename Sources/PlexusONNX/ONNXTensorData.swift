import Foundation

/// The values of a constant ONNX tensor (an initializer, a `Constant` node, or a shape computed
/// while importing): floats for weights, integers for shapes and indices.
struct ONNXConstant: Sendable, Equatable {
  /// The values, in row-major order.
  enum Values: Sendable, Equatable {
    /// Floating-point values (float32, float16, bfloat16 and float64 tensors, as `Float`).
    case floats([Float])
    /// Integer values (every integer and boolean type); `nil` stands for the batch size, which
    /// is known only when the model runs (a `Shape` of a model input yields one).
    case integers([Int64?])
  }

  /// The ONNX shape.
  var shape: [Int]
  /// The values.
  var values: Values

  /// The number of elements.
  var count: Int {
    switch values {
    case .floats(let values): values.count
    case .integers(let values): values.count
    }
  }

  /// The values as floats (integers converted), or `nil` when an integer is unknown.
  var floats: [Float]? {
    switch values {
    case .floats(let values): return values
    case .integers(let values):
      var result: [Float] = []
      result.reserveCapacity(values.count)
      for value in values {
        guard let value else { return nil }
        result.append(Float(value))
      }
      return result
    }
  }

  /// The values as integers (`nil` entries for the batch size), or `nil` for float values.
  var integers: [Int64?]? {
    if case .integers(let values) = values { return values }
    return nil
  }
}

/// Decodes the tensors of an ONNX file: the element type, the declared shape against the bytes
/// there are (inline or in an external data file inside the model's folder), every size
/// overflow-checked before anything is allocated.
struct ONNXTensorDecoder {
  /// The file the tensors come from (for messages).
  var source: String
  /// The folder holding the model, where external data files must be; `nil` when the model
  /// was read from memory (external data is then refused).
  var folder: URL?
  /// The most elements one tensor may hold.
  var maximumElements: Int = 1 << 31

  /// The byte size of one element of an ONNX data type, and whether it is a float type.
  static func elementSize(_ type: Int32) -> (size: Int, isFloat: Bool)? {
    switch type {
    case 1: (4, true)  // FLOAT
    case 2, 3, 9: (1, false)  // UINT8, INT8, BOOL
    case 4, 5: (2, false)  // UINT16, INT16
    case 6, 12: (4, false)  // INT32, UINT32
    case 7, 13: (8, false)  // INT64, UINT64
    case 10, 16: (2, true)  // FLOAT16, BFLOAT16
    case 11: (8, true)  // DOUBLE
    default: nil
    }
  }

  /// The name ONNX gives a data type (for messages).
  static func typeName(_ type: Int32) -> String {
    let names: [Int32: String] = [
      0: "UNDEFINED", 1: "FLOAT", 2: "UINT8", 3: "INT8", 4: "UINT16", 5: "INT16", 6: "INT32",
      7: "INT64", 8: "STRING", 9: "BOOL", 10: "FLOAT16", 11: "DOUBLE", 12: "UINT32", 13: "UINT64",
      14: "COMPLEX64", 15: "COMPLEX128", 16: "BFLOAT16",
    ]
    return names[type] ?? "type \(type)"
  }

  /// The element count of `dims`, checked: no negative dimension, no overflow, at most
  /// `maximumElements`.
  func elementCount(_ dims: [Int64], what: String) throws -> Int {
    var count = 1
    for dim in dims {
      guard dim >= 0, dim <= Int64(Int32.max) else {
        throw ONNXError("\(source): \(what) declares dimension \(dim) (shape \(dims))")
      }
      let (product, overflow) = count.multipliedReportingOverflow(by: Int(dim))
      guard !overflow, product <= maximumElements else {
        throw ONNXError(
          "\(source): \(what) declares shape \(dims), more than \(maximumElements) elements")
      }
      count = product
    }
    return count
  }

  /// Decodes `tensor`; `what` names it in errors (`initializer 'fc.weight'`).
  func decode(_ tensor: Onnx_TensorProto, what: String) throws -> ONNXConstant {
    guard tensor.dims.count <= 16 else {
      throw ONNXError("\(source): \(what) has \(tensor.dims.count) dimensions (at most 16)")
    }
    let count = try elementCount(tensor.dims, what: what)
    let shape = tensor.dims.map { Int($0) }
    let type = tensor.dataType
    guard let size = Self.elementSize(type)?.size else {
      throw ONNXError(
        "\(source): \(what) has element type \(Self.typeName(type)); Plexus reads float, "
          + "float16, bfloat16, double, integer and bool tensors")
    }
    let (byteCount, overflow) = count.multipliedReportingOverflow(by: size)
    guard !overflow else { throw ONNXError("\(source): \(what) is too large") }

    if tensor.dataLocation == .external {
      let bytes = try externalBytes(tensor, byteCount: byteCount, what: what)
      return ONNXConstant(
        shape: shape, values: try Self.values(raw: bytes, type: type, count: count))
    }
    if tensor.hasRawData {
      guard tensor.rawData.count == byteCount else {
        throw ONNXError(
          "\(source): \(what) has shape \(shape) of \(Self.typeName(type)), \(byteCount) bytes, "
            + "but holds \(tensor.rawData.count) bytes of data")
      }
      return ONNXConstant(
        shape: shape, values: try Self.values(raw: tensor.rawData, type: type, count: count))
    }
    func checkCount(_ found: Int, _ field: String) throws {
      guard found == count else {
        throw ONNXError(
          "\(source): \(what) has shape \(shape) (\(count) elements) but its \(field) holds "
            + "\(found) values")
      }
    }
    switch type {
    case 1:
      try checkCount(tensor.floatData.count, "float_data")
      return ONNXConstant(shape: shape, values: .floats(tensor.floatData))
    case 11:
      try checkCount(tensor.doubleData.count, "double_data")
      return ONNXConstant(shape: shape, values: .floats(tensor.doubleData.map { Float($0) }))
    case 10, 16:
      try checkCount(tensor.int32Data.count, "int32_data")
      return ONNXConstant(
        shape: shape,
        values: .floats(
          tensor.int32Data.map {
            let bits = UInt16(truncatingIfNeeded: $0)
            return type == 10 ? Self.float16(bits) : Float(bitPattern: UInt32(bits) << 16)
          }))
    case 7:
      try checkCount(tensor.int64Data.count, "int64_data")
      return ONNXConstant(shape: shape, values: .integers(tensor.int64Data))
    case 12, 13:
      try checkCount(tensor.uint64Data.count, "uint64_data")
      return ONNXConstant(
        shape: shape, values: .integers(tensor.uint64Data.map { Int64(truncatingIfNeeded: $0) }))
    default:
      try checkCount(tensor.int32Data.count, "int32_data")
      return ONNXConstant(shape: shape, values: .integers(tensor.int32Data.map { Int64($0) }))
    }
  }

  /// The bytes of an external tensor: `location` relative to the model's folder and staying
  /// inside it, `offset` and `length` within the file, `length` the tensor's byte size.
  private func externalBytes(_ tensor: Onnx_TensorProto, byteCount: Int, what: String) throws
    -> Data
  {
    var location: String?
    var offset = 0
    var length: Int?
    for entry in tensor.externalData {
      switch entry.key {
      case "location": location = entry.value
      case "offset", "length":
        guard let value = Int(entry.value), value >= 0 else {
          throw ONNXError(
            "\(source): \(what) has external data \(entry.key) '\(entry.value)', not a "
              + "non-negative integer")
        }
        if entry.key == "offset" { offset = value } else { length = value }
      case "checksum": continue
      default:
        throw ONNXError("\(source): \(what) has unknown external data key '\(entry.key)'")
      }
    }
    guard let location, !location.isEmpty else {
      throw ONNXError("\(source): \(what) is stored externally but names no location")
    }
    guard let folder else {
      throw ONNXError(
        "\(source): \(what) is stored in the external file '\(location)'; read the model from "
          + "its file so the folder is known")
    }
    let file = try Self.externalFile(location, in: folder, source: source, what: what)
    if let length, length != byteCount {
      throw ONNXError(
        "\(source): \(what) needs \(byteCount) bytes but its external data length is \(length)")
    }
    let attributes: [FileAttributeKey: Any]
    do {
      attributes = try FileManager.default.attributesOfItem(atPath: file.path)
    } catch {
      throw ONNXError("\(source): \(what): cannot read external data file '\(location)'")
    }
    let fileSize = (attributes[.size] as? NSNumber)?.intValue ?? 0
    let (end, overflow) = offset.addingReportingOverflow(byteCount)
    guard !overflow, end <= fileSize else {
      throw ONNXError(
        "\(source): \(what) reads bytes \(offset)..<\(offset &+ byteCount) of '\(location)', "
          + "which holds \(fileSize) bytes")
    }
    do {
      let handle = try FileHandle(forReadingFrom: file)
      defer { try? handle.close() }
      try handle.seek(toOffset: UInt64(offset))
      let data = try handle.read(upToCount: byteCount) ?? Data()
      guard data.count == byteCount else {
        throw ONNXError("\(source): \(what): '\(location)' ended early")
      }
      return data
    } catch let error as ONNXError {
      throw error
    } catch {
      throw ONNXError(
        "\(source): \(what): cannot read '\(location)': \(error.localizedDescription)")
    }
  }

  /// The external data file `location` names, refused when it is absolute, climbs out with
  /// `..`, or resolves (through symbolic links) outside `folder`.
  static func externalFile(_ location: String, in folder: URL, source: String, what: String)
    throws -> URL
  {
    let components = location.split(separator: "/", omittingEmptySubsequences: false)
    guard !location.hasPrefix("/"), !location.contains("\\"), !location.contains("\0"),
      !components.contains(".."), !components.contains("")
    else {
      throw ONNXError(
        "\(source): \(what) names external data '\(location)', which leaves the model's folder "
          + "(external data must be a relative path inside it, without '..')")
    }
    let root = folder.standardizedFileURL.resolvingSymlinksInPath().path
    let file = folder.appendingPathComponent(location).standardizedFileURL
      .resolvingSymlinksInPath()
    guard file.path.hasPrefix(root.hasSuffix("/") ? root : root + "/") else {
      throw ONNXError(
        "\(source): \(what) names external data '\(location)', which resolves outside the "
          + "model's folder")
    }
    return file
  }

  /// Decodes `count` little-endian elements of `type` from `raw`.
  static func values(raw: Data, type: Int32, count: Int) throws -> ONNXConstant.Values {
    #if _endian(little)
      if type == 1 {
        // float32 as stored: one copy.
        return .floats(
          [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            raw.withUnsafeBytes { bytes in
              if let base = buffer.baseAddress, let source = bytes.baseAddress {
                base.withMemoryRebound(to: UInt8.self, capacity: count * 4) {
                  $0.update(from: source.assumingMemoryBound(to: UInt8.self), count: count * 4)
                }
              }
            }
            initialized = count
          })
      }
    #endif
    return raw.withUnsafeBytes { bytes -> ONNXConstant.Values in
      func load<T: FixedWidthInteger>(_: T.Type, _ index: Int) -> T {
        T(
          littleEndian: bytes.loadUnaligned(
            fromByteOffset: index * MemoryLayout<T>.size, as: T.self))
      }
      switch type {
      case 1: return .floats((0..<count).map { Float(bitPattern: load(UInt32.self, $0)) })
      case 11: return .floats((0..<count).map { Float(Double(bitPattern: load(UInt64.self, $0))) })
      case 10: return .floats((0..<count).map { float16(load(UInt16.self, $0)) })
      case 16:
        return .floats((0..<count).map { Float(bitPattern: UInt32(load(UInt16.self, $0)) << 16) })
      case 2, 9: return .integers((0..<count).map { Int64(load(UInt8.self, $0)) })
      case 3: return .integers((0..<count).map { Int64(load(Int8.self, $0)) })
      case 4: return .integers((0..<count).map { Int64(load(UInt16.self, $0)) })
      case 5: return .integers((0..<count).map { Int64(load(Int16.self, $0)) })
      case 6: return .integers((0..<count).map { Int64(load(Int32.self, $0)) })
      case 12: return .integers((0..<count).map { Int64(load(UInt32.self, $0)) })
      default:
        return .integers((0..<count).map { Int64(truncatingIfNeeded: load(UInt64.self, $0)) })
      }
    }
  }

  /// An IEEE half-precision value.
  static func float16(_ bits: UInt16) -> Float {
    let sign = UInt32(bits >> 15) << 31
    let exponent = Int((bits >> 10) & 0x1F)
    let mantissa = UInt32(bits & 0x3FF)
    if exponent == 0x1F {
      return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
    }
    if exponent == 0 {
      let magnitude = Float(mantissa) * Float(sign: .plus, exponent: -24, significand: 1)
      return sign == 0 ? magnitude : -magnitude
    }
    return Float(bitPattern: sign | UInt32(exponent + 112) << 23 | (mantissa << 13))
  }
}
