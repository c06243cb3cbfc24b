import Foundation

/// Builds a zip archive in memory: members stored or deflated, UTF-8 names, a fixed timestamp
/// (1980-01-01, so equal inputs give equal archives), no zip64 (a member or the archive above
/// 4 GiB is refused).
public struct ZipWriter: Sendable {
  private var archive = Data()
  private var directory = Data()
  private var names = Set<String>()
  private var count = 0

  /// Creates an empty archive.
  public init() {}

  /// Adds a member.
  ///
  /// - Parameters:
  ///   - name: the member's name: non-empty, without control characters, unique.
  ///   - contents: its bytes.
  ///   - method: stored or deflated.
  ///   - level: the zlib level 0-9 for deflated members.
  ///   - alignment: when given (a power of two up to 4096), the member's bytes start at a
  ///     multiple of it in the archive, padded by an extra field in the local header (as
  ///     `torch.save` aligns its storages to 64 bytes).
  /// - Throws: `InteropError` for a bad or repeated name, a level out of range, more than
  ///   65,535 members or sizes that need zip64.
  public mutating func add(
    _ name: String, contents: Data, method: ZipMethod = .stored, level: Int = 6,
    alignment: Int? = nil
  ) throws {
    if let alignment {
      guard alignment > 0, alignment <= 4096, alignment & (alignment - 1) == 0 else {
        throw InteropError("a zip member alignment must be a power of two up to 4096")
      }
    }
    guard !name.isEmpty,
      !name.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }),
      name.utf8.count <= 0xFFFF
    else {
      throw InteropError("zip member name '\(name)' is empty, too long or has a control character")
    }
    guard names.insert(name).inserted else {
      throw InteropError("zip member '\(name)' is added twice")
    }
    guard (0...9).contains(level) else {
      throw InteropError("the zlib level must be in 0...9, got \(level)")
    }
    guard count < 0xFFFF else { throw InteropError("a zip archive holds at most 65,535 members") }
    let stored = method == .deflated ? try Deflate.deflate(contents, level: Int32(level)) : contents
    let limit = 0xFFFF_FFFE
    let offset = archive.count
    guard contents.count <= limit, stored.count <= limit, offset <= limit,
      offset + 30 + name.utf8.count + stored.count <= limit
    else {
      throw InteropError(
        "zip member '\(name)' would pass 4 GiB; Plexus does not write zip64 archives")
    }
    let crc = contents.withUnsafeBytes { Deflate.crc32($0) }
    let nameBytes = Data(name.utf8)
    // An extra field of id 0x4246 ("FB") whose size pads the data to the alignment (at least
    // its 4-byte header).
    var padding = Data()
    if let alignment {
      let start = offset + 30 + nameBytes.count
      let length = (alignment - (start + 4) % alignment) % alignment + 4
      padding.appendLittleEndian(UInt16(0x4246))
      padding.appendLittleEndian(UInt16(length - 4))
      padding.append(Data(repeating: 0x5A, count: length - 4))
    }
    guard offset + 30 + nameBytes.count + padding.count + stored.count <= limit else {
      throw InteropError(
        "zip member '\(name)' would pass 4 GiB; Plexus does not write zip64 archives")
    }
    let flags: UInt16 = name.utf8.allSatisfy { $0 < 0x80 } ? 0 : 0x0800
    // Version 2.0, the flags, the method, the time (00:00) and date (1980-01-01), the CRC-32
    // and both sizes.
    var common = Data()
    common.appendLittleEndian(UInt16(20))
    common.appendLittleEndian(flags)
    common.appendLittleEndian(method.rawValue)
    common.appendLittleEndian(UInt16(0))
    common.appendLittleEndian(UInt16(0x21))
    common.appendLittleEndian(crc)
    common.appendLittleEndian(UInt32(stored.count))
    common.appendLittleEndian(UInt32(contents.count))
    common.appendLittleEndian(UInt16(nameBytes.count))

    archive.appendLittleEndian(UInt32(0x0403_4B50))
    archive.append(common)
    archive.appendLittleEndian(UInt16(padding.count))
    archive.append(nameBytes)
    archive.append(padding)
    archive.append(stored)

    directory.appendLittleEndian(UInt32(0x0201_4B50))
    directory.appendLittleEndian(UInt16(20))
    directory.append(common)
    directory.appendLittleEndian(UInt16(0))  // extra field length
    directory.appendLittleEndian(UInt16(0))  // comment length
    directory.appendLittleEndian(UInt16(0))  // disk
    directory.appendLittleEndian(UInt16(0))  // internal attributes
    directory.appendLittleEndian(UInt32(0))  // external attributes
    directory.appendLittleEndian(UInt32(offset))
    directory.append(nameBytes)
    count += 1
  }

  /// The archive's bytes: the members, the central directory and its end record.
  ///
  /// - Throws: `InteropError` when the archive would pass 4 GiB.
  public func finish() throws -> Data {
    guard archive.count + directory.count <= 0xFFFF_FFFE else {
      throw InteropError("the zip archive would pass 4 GiB; Plexus does not write zip64 archives")
    }
    var result = archive
    result.append(directory)
    result.appendLittleEndian(UInt32(0x0605_4B50))
    result.appendLittleEndian(UInt16(0))
    result.appendLittleEndian(UInt16(0))
    result.appendLittleEndian(UInt16(count))
    result.appendLittleEndian(UInt16(count))
    result.appendLittleEndian(UInt32(directory.count))
    result.appendLittleEndian(UInt32(archive.count))
    result.appendLittleEndian(UInt16(0))
    return result
  }
}

extension Data {
  /// Appends `value` in little-endian byte order.
  mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
    var little = value.littleEndian
    Swift.withUnsafeBytes(of: &little) { append(contentsOf: $0) }
  }
}
