import Foundation
import PlexusCore

/// A NumPy `.npz` file: a zip archive of `.npy` arrays, as `np.savez` (members stored) and
/// `np.savez_compressed` (members deflated) write it. Array `x` is the member `x.npy`.
///
/// Reading goes through `ZipArchive` (every size bounded and checked, zip bombs refused) and
/// the core's `.npy` reader (format versions 1.0-3.0, either byte order, C or Fortran order);
/// every member must be an `.npy` array with a non-empty name, and all are checked when the
/// file is opened. Writing stores `float32` (or any `NumPyArray`) members, stored or deflated,
/// atomically.
///
/// ```swift
/// let file = try NumPyArchive(contentsOf: URL(fileURLWithPath: "weights.npz"))
/// let kernel = try file.tensor(named: "dense_1.kernel")
/// ```
public struct NumPyArchive: Sendable {
  /// One array of the archive.
  public struct Member: Sendable {
    /// The array's name: the member's name without `.npy`.
    public let name: String
    /// The array.
    public let array: NumPyArray
    /// How the member is stored.
    public let method: ZipMethod
  }

  /// The arrays in archive order.
  public let members: [Member]
  private let source: String

  /// Reads and checks the `.npz` file at `url`.
  ///
  /// - Throws: `InteropError` or `PlexusError.invalidData` naming the file and the member;
  ///   `PlexusError.io` when it cannot be read.
  public init(contentsOf url: URL, limits: ZipLimits = .standard) throws {
    try self.init(data: try Data.mapping(url), source: url.path, limits: limits)
  }

  /// Reads an `.npz` archive held in memory; `source` names it in errors.
  ///
  /// - Throws: `InteropError` for the archive, `PlexusError.invalidData` for a member's array.
  public init(data: Data, source: String = "npz data", limits: ZipLimits = .standard) throws {
    let archive = try ZipArchive(data: data, source: source, limits: limits)
    var members: [Member] = []
    for entry in archive.entries {
      guard entry.name.hasSuffix(".npy"), entry.name.count > 4 else {
        throw InteropError(
          "\(source): member '\(entry.name)' is not a named .npy array (an .npz holds only "
            + "NAME.npy members)")
      }
      let bytes = try archive.contents(of: entry)
      let array: NumPyArray
      do {
        array = try NumPy.read(data: bytes)
      } catch let error as PlexusError {
        throw PlexusError.invalidData("\(source): member '\(entry.name)': \(error)")
      }
      members.append(
        Member(name: String(entry.name.dropLast(4)), array: array, method: entry.method))
    }
    self.members = members
    self.source = source
  }

  /// The array named `name` as a `Float` tensor (a 0-d array becomes shape `[1]`).
  ///
  /// - Throws: `InteropError` for an unknown name.
  public func tensor(named name: String) throws -> Tensor {
    guard let member = members.first(where: { $0.name == name }) else {
      throw InteropError("\(source): no array named '\(name)'")
    }
    let tensor = member.array.tensor()
    return member.array.shape.isEmpty ? try tensor.reshaped([1]) : tensor
  }

  /// The bytes of an `.npz` archive holding `arrays` in the given order.
  ///
  /// - Throws: `InteropError` for an empty or repeated name.
  public static func encode(
    _ arrays: [(name: String, array: NumPyArray)], compressed: Bool = false
  ) throws -> Data {
    var writer = ZipWriter()
    for (name, array) in arrays {
      guard !name.isEmpty else { throw InteropError("an .npz array needs a non-empty name") }
      try writer.add(
        name + ".npy", contents: NumPy.encode(array), method: compressed ? .deflated : .stored)
    }
    return try writer.finish()
  }

  /// Writes `arrays` as an `.npz` file at `url`, atomically, members deflated when
  /// `compressed` (as `np.savez_compressed`), else stored (as `np.savez`).
  ///
  /// - Throws: as `encode`; `PlexusError.io` when the file cannot be written.
  public static func write(
    _ arrays: [(name: String, array: NumPyArray)], compressed: Bool = false, to url: URL
  ) throws {
    try encode(arrays, compressed: compressed).writeAtomically(to: url)
  }

  /// Writes `tensors` as `float32` arrays (see `write(_:compressed:to:)`).
  ///
  /// - Throws: as `write(_:compressed:to:)`.
  public static func write(
    _ tensors: [(name: String, tensor: Tensor)], compressed: Bool = false, to url: URL
  ) throws {
    try write(
      try tensors.map { (name: $0.name, array: try NumPyArray(float32: $0.tensor)) },
      compressed: compressed, to: url)
  }
}

extension NumPyArray {
  /// The tensor's values as a `float32` array of its shape.
  ///
  /// - Throws: `PlexusError` when the tensor's size overflows.
  public init(float32 tensor: Tensor) throws {
    var bytes = Data(capacity: tensor.count * 4)
    tensor.withUnsafeBufferPointer { values in
      for value in values { bytes.appendLittleEndian(value.bitPattern) }
    }
    try self.init(shape: tensor.shape, dtype: .float32, elementBytes: bytes)
  }
}
