import Foundation
import PlexusCore

/// Conversions between stored elements of a `WeightDType` and `Float` tensors.
enum ElementDecoding {
  /// The element at byte `offset` of `raw` as a `Float`: floats widened (F64 rounded),
  /// integers converted (exact up to 2^24), booleans 0 or 1.
  @inline(__always)
  static func value(
    _ raw: UnsafeRawBufferPointer, at offset: Int, dtype: WeightDType, bigEndian: Bool
  ) -> Float {
    func load<T: FixedWidthInteger>(_: T.Type) -> T {
      let stored = raw.loadUnaligned(fromByteOffset: offset, as: T.self)
      return bigEndian ? T(bigEndian: stored) : T(littleEndian: stored)
    }
    switch dtype {
    case .f64: return Float(Double(bitPattern: load(UInt64.self)))
    case .f32: return Float(bitPattern: load(UInt32.self))
    case .f16: return Float(Float16(bitPattern: load(UInt16.self)))
    case .bf16: return Float(bitPattern: UInt32(load(UInt16.self)) << 16)
    case .i64: return Float(load(Int64.self))
    case .i32: return Float(load(Int32.self))
    case .i16: return Float(load(Int16.self))
    case .i8: return Float(Int8(bitPattern: raw[offset]))
    case .u8: return Float(raw[offset])
    case .bool: return raw[offset] == 0 ? 0 : 1
    }
  }

  /// A contiguous row-major tensor of `shape` from `raw` (a scalar becomes shape `[1]`).
  ///
  /// - Throws: `PlexusError` when the shape is invalid or `raw` is too short.
  static func tensor(
    _ raw: UnsafeRawBufferPointer, dtype: WeightDType, shape: [Int], bigEndian: Bool
  ) throws -> Tensor {
    let count = try Tensor.elementCount(of: shape)
    let strides = contiguousStrides(shape)
    return try tensor(
      raw, dtype: dtype, shape: shape, strides: strides, offset: 0, bigEndian: bigEndian,
      storageCount: count)
  }

  /// The row-major strides of `shape`, in elements.
  static func contiguousStrides(_ shape: [Int]) -> [Int] {
    var strides = [Int](repeating: 1, count: shape.count)
    for axis in stride(from: shape.count - 2, through: 0, by: -1) {
      strides[axis] = strides[axis + 1] * shape[axis + 1]
    }
    return strides
  }

  /// The largest element index a view of `shape`, `strides` and `offset` reads, or `nil` for
  /// an empty view.
  ///
  /// - Throws: `InteropError` when the index overflows.
  static func lastIndex(shape: [Int], strides: [Int], offset: Int) throws -> Int? {
    guard !shape.contains(0) else { return nil }
    var last = offset
    for (size, stride) in zip(shape, strides) {
      let (step, overflow1) = (size - 1).multipliedReportingOverflow(by: stride)
      let (sum, overflow2) = last.addingReportingOverflow(step)
      guard !overflow1, !overflow2 else {
        throw InteropError("size \(shape) with stride \(strides) overflows")
      }
      last = sum
    }
    return last
  }

  /// The view of a storage of `storageCount` elements with `shape`, `strides` (in elements)
  /// and `offset`, gathered into a contiguous tensor (a scalar becomes shape `[1]`).
  ///
  /// - Throws: `InteropError` when the view reads past the storage or `raw` is shorter than
  ///   the storage.
  static func tensor(
    _ raw: UnsafeRawBufferPointer, dtype: WeightDType, shape: [Int], strides: [Int], offset: Int,
    bigEndian: Bool, storageCount: Int
  ) throws -> Tensor {
    let count = try Tensor.elementCount(of: shape)
    // A view can repeat its storage's elements (stride 0): its size is bounded by the most
    // values a parameter may hold, not by the file.
    guard count <= max(storageCount, ParameterAllocation.defaultMaximumElements) else {
      throw InteropError(
        "size \(shape) holds \(count) elements, more than the \(ParameterAllocation.defaultMaximumElements) "
          + "a tensor may have")
    }
    let (storageBytes, overflow) = storageCount.multipliedReportingOverflow(by: dtype.size)
    guard !overflow, storageBytes <= raw.count else {
      throw InteropError(
        "a storage of \(storageCount) \(dtype.rawValue) elements needs more than the "
          + "\(raw.count) bytes present")
    }
    if let last = try lastIndex(shape: shape, strides: strides, offset: offset),
      last >= storageCount
    {
      throw InteropError(
        "size \(shape), stride \(strides) and offset \(offset) read element \(last) of a "
          + "storage of \(storageCount)")
    }
    let resultShape = shape.isEmpty ? [1] : shape
    if dtype == .f32, !bigEndian, strides == contiguousStrides(shape) {
      return Tensor(shape: resultShape) { destination in
        guard count > 0 else { return }
        UnsafeMutableRawBufferPointer(destination).copyMemory(
          from: UnsafeRawBufferPointer(rebasing: raw[(offset * 4)..<((offset + count) * 4)]))
      }
    }
    return Tensor(shape: resultShape) { destination in
      guard count > 0 else { return }
      var index = [Int](repeating: 0, count: shape.count)
      var element = offset
      for position in 0..<count {
        destination[position] = value(
          raw, at: element * dtype.size, dtype: dtype, bigEndian: bigEndian)
        var axis = shape.count - 1
        while axis >= 0 {
          index[axis] += 1
          element += strides[axis]
          if index[axis] < shape[axis] { break }
          element -= strides[axis] * shape[axis]
          index[axis] = 0
          axis -= 1
        }
      }
    }
  }

  /// Appends `value` stored as `dtype`, little-endian: floats rounded to nearest even,
  /// integers exact.
  ///
  /// - Throws: `InteropError` when an integer type cannot hold the value exactly.
  static func append(_ value: Float, as dtype: WeightDType, to data: inout Data) throws {
    func integer<T: FixedWidthInteger>(_: T.Type) throws -> T {
      guard value.rounded() == value, let result = T(exactly: value) else {
        throw InteropError("\(value) is not a \(dtype.rawValue) value")
      }
      return result
    }
    switch dtype {
    case .f64: data.appendLittleEndian(Double(value).bitPattern)
    case .f32: data.appendLittleEndian(value.bitPattern)
    case .f16: data.appendLittleEndian(Float16(value).bitPattern)
    case .bf16: data.appendLittleEndian(value.bfloat16Bits)
    case .i64: data.appendLittleEndian(try integer(Int64.self))
    case .i32: data.appendLittleEndian(try integer(Int32.self))
    case .i16: data.appendLittleEndian(try integer(Int16.self))
    case .i8: data.appendLittleEndian(try integer(Int8.self))
    case .u8: data.appendLittleEndian(try integer(UInt8.self))
    case .bool:
      guard value == 0 || value == 1 else { throw InteropError("\(value) is not a BOOL value") }
      data.append(value == 0 ? 0 : 1)
    }
  }
}

/// A named tensor to write and the element type to store it as.
public struct TypedTensor: Sendable {
  /// The name in the file.
  public var name: String
  /// The values.
  public var tensor: Tensor
  /// The element type stored (integer types must hold every value exactly).
  public var dtype: WeightDType

  /// Creates a named tensor stored as `dtype`.
  public init(name: String, tensor: Tensor, dtype: WeightDType = .f32) {
    self.name = name
    self.tensor = tensor
    self.dtype = dtype
  }
}
