import CZlib
import Foundation

/// Bounds that a zip archive must respect before any member is read: archives come from
/// strangers (`.npz` files, PyTorch state dicts), so declared sizes are checked against these
/// limits, against the file and against each other.
public struct ZipLimits: Sendable, Equatable {
  /// The most members an archive may list.
  public var maximumEntries: Int
  /// The largest uncompressed size one member may declare.
  public var maximumMemberSize: Int
  /// The largest sum of the members' uncompressed sizes.
  public var maximumTotalSize: Int
  /// The largest ratio of uncompressed to compressed size a deflated member may declare.
  /// Deflate cannot exceed about 1032:1, so a larger declaration is a lie (a zip bomb).
  public var maximumCompressionRatio: Int

  /// Creates limits.
  public init(
    maximumEntries: Int = 65_536, maximumMemberSize: Int = 1 << 33,
    maximumTotalSize: Int = 1 << 35, maximumCompressionRatio: Int = 1_100
  ) {
    self.maximumEntries = maximumEntries
    self.maximumMemberSize = maximumMemberSize
    self.maximumTotalSize = maximumTotalSize
    self.maximumCompressionRatio = maximumCompressionRatio
  }

  /// The default limits: 65,536 members, 8 GiB per member, 32 GiB in all, ratio 1100.
  public static let standard = ZipLimits()
}

/// How a zip member is stored.
public enum ZipMethod: UInt16, Sendable {
  /// Stored as is (method 0).
  case stored = 0
  /// Raw deflate (method 8).
  case deflated = 8
}

/// One member of a zip archive, as its central directory entry declares it.
public struct ZipEntry: Sendable, Equatable {
  /// The member's name (a path inside the archive; never used as a file-system path).
  public let name: String
  /// How it is stored.
  public let method: ZipMethod
  /// Its stored size in bytes.
  public let compressedSize: Int
  /// Its size once inflated.
  public let uncompressedSize: Int
  /// The CRC-32 of its uncompressed bytes.
  public let crc32: UInt32
  /// The offset of its local header in the archive.
  public let localHeaderOffset: Int
  /// The offset of its stored bytes in the archive.
  public let dataOffset: Int
}

/// A zip archive read from untrusted bytes.
///
/// Opening checks the whole structure before any member is read: the end of central directory
/// record (zip64 too) on a single disk, the central directory tiled exactly by its entries,
/// each entry's flags (no encryption), method (stored or deflated), UTF-8 name (non-empty, no
/// control characters, unique), zip64 extra fields, declared sizes (within `ZipLimits`, a
/// stored member's two sizes equal, a deflated member's ratio bounded), and its local header
/// (signature, the same name and method, its data inside the area before the central
/// directory, members not overlapping). Reading a member checks that it inflates to exactly its
/// declared size (inflation stops there) and matches its CRC-32.
public struct ZipArchive: Sendable {
  /// The members in central directory order.
  public let entries: [ZipEntry]
  private let data: Data
  private let source: String

  /// Maps and checks the archive at `url`.
  ///
  /// - Throws: `InteropError` naming the file and the problem; `PlexusError.io` when it cannot
  ///   be read.
  public init(contentsOf url: URL, limits: ZipLimits = .standard) throws {
    try self.init(data: try Data.mapping(url), source: url.path, limits: limits)
  }

  /// Checks an archive held in memory; `source` names it in errors.
  ///
  /// - Throws: `InteropError`.
  public init(data: Data, source: String = "zip data", limits: ZipLimits = .standard) throws {
    self.data = data
    self.source = source
    let reader = ZipBytes(data: data, source: source)
    let directory = try reader.endOfCentralDirectory()
    guard directory.entryCount <= limits.maximumEntries else {
      throw reader.error(
        "the archive lists \(directory.entryCount) members, more than the limit of "
          + "\(limits.maximumEntries)")
    }
    var entries: [ZipEntry] = []
    entries.reserveCapacity(directory.entryCount)
    var names = Set<String>()
    var position = directory.offset
    var total = 0
    for index in 0..<directory.entryCount {
      let entry = try reader.centralEntry(at: &position, index: index, directoryEnd: directory.end)
      guard names.insert(entry.name).inserted else {
        throw reader.error("member '\(entry.name)' appears twice")
      }
      try Self.check(entry, limits: limits, reader: reader)
      let (sum, overflow) = total.addingReportingOverflow(entry.uncompressedSize)
      guard !overflow, sum <= limits.maximumTotalSize else {
        throw reader.error(
          "the members declare more than \(limits.maximumTotalSize) bytes in all (limit)")
      }
      total = sum
      guard entry.dataOffset <= directory.offset,
        entry.compressedSize <= directory.offset - entry.dataOffset
      else {
        throw reader.error(
          "member '\(entry.name)': its \(entry.compressedSize) stored bytes from offset "
            + "\(entry.dataOffset) run past the central directory at \(directory.offset)")
      }
      entries.append(entry)
    }
    guard position == directory.end else {
      throw reader.error(
        "the central directory declares \(directory.end - directory.offset) bytes but its "
          + "\(directory.entryCount) entries take \(position - directory.offset)")
    }
    // No two members may share bytes (overlapping members are the classic zip bomb).
    let byOffset = entries.sorted { $0.localHeaderOffset < $1.localHeaderOffset }
    for (first, second) in zip(byOffset, byOffset.dropFirst())
    where second.localHeaderOffset < first.dataOffset + first.compressedSize {
      throw reader.error("members '\(first.name)' and '\(second.name)' overlap")
    }
    self.entries = entries
  }

  private static func check(_ entry: ZipEntry, limits: ZipLimits, reader: ZipBytes) throws {
    guard entry.uncompressedSize <= limits.maximumMemberSize else {
      throw reader.error(
        "member '\(entry.name)' declares \(entry.uncompressedSize) bytes, more than the limit of "
          + "\(limits.maximumMemberSize)")
    }
    switch entry.method {
    case .stored:
      guard entry.compressedSize == entry.uncompressedSize else {
        throw reader.error(
          "stored member '\(entry.name)' declares \(entry.compressedSize) stored bytes but "
            + "\(entry.uncompressedSize) uncompressed ones")
      }
    case .deflated:
      let (bound, overflow) = entry.compressedSize.multipliedReportingOverflow(
        by: limits.maximumCompressionRatio)
      guard overflow || entry.uncompressedSize <= bound else {
        throw reader.error(
          "member '\(entry.name)' declares \(entry.uncompressedSize) bytes from "
            + "\(entry.compressedSize) deflated ones, a ratio above "
            + "\(limits.maximumCompressionRatio) that deflate cannot reach (a zip bomb)")
      }
    }
  }

  /// The member named `name`, if the archive has one.
  public func entry(named name: String) -> ZipEntry? {
    entries.first { $0.name == name }
  }

  /// The uncompressed bytes of `entry`, checked against its declared size and CRC-32.
  ///
  /// - Throws: `InteropError` for a corrupt deflate stream, a size or checksum mismatch.
  public func contents(of entry: ZipEntry) throws -> Data {
    func fail(_ message: String) -> InteropError {
      InteropError("\(source): member '\(entry.name)': \(message)")
    }
    let start = data.startIndex + entry.dataOffset
    let stored = data[start..<(start + entry.compressedSize)]
    let result: Data
    switch entry.method {
    case .stored:
      result = stored
    case .deflated:
      result = try Deflate.inflate(stored, expectedSize: entry.uncompressedSize, fail: fail)
    }
    let crc = result.withUnsafeBytes { Deflate.crc32($0) }
    guard crc == entry.crc32 else {
      throw fail(
        "CRC-32 \(String(format: "%08x", crc)) does not match the declared "
          + String(format: "%08x", entry.crc32))
    }
    return result
  }

  /// The uncompressed bytes of the member named `name`.
  ///
  /// - Throws: `InteropError` when there is no such member or it is corrupt.
  public func contents(named name: String) throws -> Data {
    guard let entry = entry(named: name) else {
      throw InteropError("\(source): no member named '\(name)'")
    }
    return try contents(of: entry)
  }
}

/// The location of the central directory.
private struct CentralDirectory {
  var offset: Int
  var end: Int
  var entryCount: Int
}

/// Bounds-checked little-endian reads from the archive's bytes.
private struct ZipBytes {
  let data: Data
  let source: String

  func error(_ message: String) -> InteropError { InteropError("\(source): \(message)") }

  func bytes(_ offset: Int, _ count: Int, _ what: String) throws -> Data {
    guard offset >= 0, count >= 0, offset <= data.count, count <= data.count - offset else {
      throw error(
        "\(what) at offset \(offset) (\(count) bytes) runs past the end of the \(data.count)-byte "
          + "archive")
    }
    let start = data.startIndex + offset
    return data[start..<(start + count)]
  }

  func integer(_ offset: Int, _ size: Int, _ what: String) throws -> UInt64 {
    let field = try bytes(offset, size, what)
    return field.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
  }

  func u16(_ offset: Int, _ what: String) throws -> Int { Int(try integer(offset, 2, what)) }
  func u32(_ offset: Int, _ what: String) throws -> UInt32 {
    UInt32(try integer(offset, 4, what))
  }
  func u64(_ offset: Int, _ what: String) throws -> UInt64 { try integer(offset, 8, what) }

  /// A 64-bit size or offset as an `Int` no larger than the archive.
  func size(_ value: UInt64, _ what: String, limit: Int? = nil) throws -> Int {
    guard value <= UInt64(limit ?? data.count) else {
      throw error("\(what) \(value) exceeds the \(data.count)-byte archive")
    }
    return Int(value)
  }

  /// Finds and checks the end of central directory record (and its zip64 form).
  func endOfCentralDirectory() throws -> CentralDirectory {
    let count = data.count
    guard count >= 22 else {
      throw error("\(count) bytes is too short for a zip archive (at least 22 bytes)")
    }
    var found: Int?
    var offset = count - 22
    let lowest = max(0, count - 22 - 0xFFFF)
    while offset >= lowest {
      if try u32(offset, "signature") == 0x0605_4B50,
        try u16(offset + 20, "comment length") == count - offset - 22
      {
        found = offset
        break
      }
      offset -= 1
    }
    guard let record = found else {
      throw error(
        "no end of central directory record: not a zip archive, or truncated")
    }
    let disk = try u16(record + 4, "disk number")
    let directoryDisk = try u16(record + 6, "central directory disk")
    var diskEntries = UInt64(try u16(record + 8, "entry count"))
    var entries = UInt64(try u16(record + 10, "entry count"))
    var directorySize = UInt64(try u32(record + 12, "central directory size"))
    var directoryOffset = UInt64(try u32(record + 16, "central directory offset"))
    var directoryLimit = record
    if diskEntries == 0xFFFF || entries == 0xFFFF || directorySize == 0xFFFF_FFFF
      || directoryOffset == 0xFFFF_FFFF
    {
      let locator = record - 20
      guard locator >= 0, try u32(locator, "zip64 locator") == 0x0706_4B50 else {
        throw error("the end record asks for zip64 but no zip64 locator precedes it")
      }
      guard try u32(locator + 4, "zip64 disk") == 0, try u32(locator + 16, "disk count") <= 1
      else {
        throw error("multi-disk archives are not supported")
      }
      let zip64 = try size(try u64(locator + 8, "zip64 record offset"), "zip64 record offset")
      guard zip64 <= locator - 56, try u32(zip64, "zip64 record") == 0x0606_4B50 else {
        throw error("the zip64 end of central directory record at offset \(zip64) is missing")
      }
      guard try u32(zip64 + 16, "zip64 disk") == 0, try u32(zip64 + 20, "zip64 disk") == 0 else {
        throw error("multi-disk archives are not supported")
      }
      diskEntries = try u64(zip64 + 24, "zip64 entry count")
      entries = try u64(zip64 + 32, "zip64 entry count")
      directorySize = try u64(zip64 + 40, "zip64 central directory size")
      directoryOffset = try u64(zip64 + 48, "zip64 central directory offset")
      directoryLimit = zip64
    } else if disk != 0 || directoryDisk != 0 {
      throw error("multi-disk archives are not supported")
    }
    guard diskEntries == entries else {
      throw error("multi-disk archives are not supported")
    }
    let start = try size(directoryOffset, "central directory offset")
    let length = try size(directorySize, "central directory size")
    guard start <= directoryLimit, length <= directoryLimit - start else {
      throw error(
        "the central directory (\(length) bytes at offset \(start)) overlaps its end record at "
          + "\(directoryLimit)")
    }
    // Each entry takes at least 46 bytes.
    guard entries <= UInt64(length / 46) else {
      throw error(
        "the central directory of \(length) bytes cannot hold the \(entries) entries it declares")
    }
    return CentralDirectory(offset: start, end: start + length, entryCount: Int(entries))
  }

  /// Parses the central directory entry at `position` (advanced past it) and checks its local
  /// header.
  func centralEntry(at position: inout Int, index: Int, directoryEnd: Int) throws -> ZipEntry {
    let at = position
    guard try u32(at, "central directory entry") == 0x0201_4B50 else {
      throw error("central directory entry \(index) at offset \(at) has a bad signature")
    }
    let flags = try u16(at + 8, "flags")
    let methodCode = try u16(at + 10, "method")
    let crc = try u32(at + 16, "CRC-32")
    var compressed = UInt64(try u32(at + 20, "compressed size"))
    var uncompressed = UInt64(try u32(at + 24, "uncompressed size"))
    let nameLength = try u16(at + 28, "name length")
    let extraLength = try u16(at + 30, "extra length")
    let commentLength = try u16(at + 32, "comment length")
    let disk = try u16(at + 34, "disk")
    var localOffset = UInt64(try u32(at + 42, "local header offset"))
    let nameBytes = try bytes(at + 46, nameLength, "member name")
    let extra = try bytes(at + 46 + nameLength, extraLength, "extra field")
    position = at + 46 + nameLength + extraLength + commentLength
    guard position <= directoryEnd else {
      throw error("central directory entry \(index) runs past the central directory")
    }
    let name = try memberName(nameBytes, index: index)
    func fail(_ message: String) -> InteropError { error("member '\(name)': \(message)") }
    guard flags & 0x0001 == 0, flags & 0x0040 == 0, flags & 0x2000 == 0 else {
      throw fail("encrypted members are not supported")
    }
    guard let method = ZipMethod(rawValue: UInt16(methodCode)) else {
      let known = [12: "bzip2", 14: "LZMA", 93: "Zstandard", 95: "xz", 99: "AES encryption"]
      throw fail(
        "compression method \(methodCode)\(known[methodCode].map { " (\($0))" } ?? "") is not "
          + "supported; stored (0) and deflated (8) are")
    }
    // Zip64: the extra field holds the fields whose 32-bit form is all ones, in this order.
    if uncompressed == 0xFFFF_FFFF || compressed == 0xFFFF_FFFF || localOffset == 0xFFFF_FFFF
      || disk == 0xFFFF
    {
      guard let fields = try extraField(0x0001, in: extra, member: name) else {
        throw fail("its sizes need a zip64 extra field, which is missing")
      }
      var cursor = 0
      func next(_ what: String) throws -> UInt64 {
        guard cursor + 8 <= fields.count else { throw fail("the zip64 extra field lacks \(what)") }
        let value = fields.dropFirst(cursor).prefix(8).reversed().reduce(UInt64(0)) {
          $0 << 8 | UInt64($1)
        }
        cursor += 8
        return value
      }
      if uncompressed == 0xFFFF_FFFF { uncompressed = try next("the uncompressed size") }
      if compressed == 0xFFFF_FFFF { compressed = try next("the compressed size") }
      if localOffset == 0xFFFF_FFFF { localOffset = try next("the local header offset") }
      if disk == 0xFFFF {
        guard cursor + 4 <= fields.count else { throw fail("the zip64 extra field lacks the disk") }
        guard fields.dropFirst(cursor).prefix(4).allSatisfy({ $0 == 0 }) else {
          throw fail("multi-disk archives are not supported")
        }
      }
    } else if disk != 0 {
      throw fail("multi-disk archives are not supported")
    }
    let compressedSize = try size(compressed, "member '\(name)': compressed size")
    let uncompressedSize = try size(
      uncompressed, "member '\(name)': uncompressed size", limit: Int.max)
    let local = try size(localOffset, "member '\(name)': local header offset")

    // The local header: the same name and method; sizes when it states them.
    guard try u32(local, "local header of '\(name)'") == 0x0403_4B50 else {
      throw fail("no local header at offset \(local)")
    }
    let localFlags = try u16(local + 6, "local flags")
    guard try u16(local + 8, "local method") == methodCode else {
      throw fail("the local header names another compression method")
    }
    let localNameLength = try u16(local + 26, "local name length")
    let localExtraLength = try u16(local + 28, "local extra length")
    guard try bytes(local + 30, localNameLength, "local name") == nameBytes else {
      throw fail("the local header at offset \(local) names another member")
    }
    if localFlags & 0x0008 == 0 {
      let localCRC = try u32(local + 14, "local CRC-32")
      guard localCRC == crc else {
        throw fail("the local header's CRC-32 differs from the central directory's")
      }
      let localCompressed = UInt64(try u32(local + 18, "local compressed size"))
      let localUncompressed = UInt64(try u32(local + 22, "local uncompressed size"))
      guard localCompressed == 0xFFFF_FFFF || localCompressed == compressed,
        localUncompressed == 0xFFFF_FFFF || localUncompressed == uncompressed
      else {
        throw fail("the local header's sizes differ from the central directory's")
      }
    }
    let dataOffset = local + 30 + localNameLength + localExtraLength
    return ZipEntry(
      name: name, method: method, compressedSize: compressedSize,
      uncompressedSize: uncompressedSize, crc32: crc, localHeaderOffset: local,
      dataOffset: dataOffset)
  }

  /// The member name: UTF-8, non-empty, without control characters.
  func memberName(_ bytes: Data, index: Int) throws -> String {
    guard !bytes.isEmpty else { throw error("member \(index) has an empty name") }
    guard let name = String(bytes: bytes, encoding: .utf8) else {
      throw error("member \(index) has a name that is not UTF-8")
    }
    guard !name.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
      throw error(
        "member \(index) has a name with a control character: "
          + "'\(name.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? "?" : String($0) }.joined())'"
      )
    }
    return name
  }

  /// The payload of the extra field `id`, or `nil`; the fields must tile `extra` exactly.
  func extraField(_ id: Int, in extra: Data, member: String) throws -> Data? {
    var cursor = extra.startIndex
    var result: Data?
    while cursor < extra.endIndex {
      guard extra.endIndex - cursor >= 4 else {
        throw error("member '\(member)': a truncated extra field")
      }
      let fieldID = Int(extra[cursor]) | Int(extra[cursor + 1]) << 8
      let length = Int(extra[cursor + 2]) | Int(extra[cursor + 3]) << 8
      guard extra.endIndex - cursor - 4 >= length else {
        throw error("member '\(member)': extra field \(fieldID) runs past its area")
      }
      if fieldID == id, result == nil { result = extra[(cursor + 4)..<(cursor + 4 + length)] }
      cursor += 4 + length
    }
    return result.map { Data($0) }
  }
}

/// zlib's raw deflate and CRC-32, for zip members.
enum Deflate {
  /// The CRC-32 of `bytes` (in steps zlib's 32-bit lengths can take).
  static func crc32(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
    var crc: UInt = 0
    var base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self)
    var remaining = bytes.count
    while remaining > 0, let pointer = base {
      let step = min(remaining, 1 << 30)
      crc = CZlib.crc32(crc, pointer, UInt32(step))
      base = pointer + step
      remaining -= step
    }
    return UInt32(truncatingIfNeeded: crc)
  }

  /// Inflates a raw deflate stream into exactly `expectedSize` bytes: inflation stops at that
  /// size, and the stream must end there and use all its input.
  static func inflate(
    _ source: Data, expectedSize: Int, fail: (String) -> InteropError
  ) throws -> Data {
    var output = Data(count: expectedSize)
    var stream = z_stream()
    guard inflateInit2_(&stream, -15, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK
    else {
      throw fail("zlib could not start inflating")
    }
    defer { inflateEnd(&stream) }
    let produced: Int = try source.withUnsafeBytes { input in
      try output.withUnsafeMutableBytes { out in
        var inputOffset = 0
        var outputOffset = 0
        while true {
          let inputStep = min(input.count - inputOffset, Int(UInt32.max))
          let outputStep = min(out.count - outputOffset, Int(UInt32.max))
          // zlib needs a valid pointer even for zero lengths.
          var spare: UInt8 = 0
          let status: Int32 = withUnsafeMutablePointer(to: &spare) { sparePointer in
            stream.next_in = UnsafeMutablePointer(
              mutating: input.baseAddress.map {
                $0.advanced(by: inputOffset).assumingMemoryBound(to: UInt8.self)
              } ?? UnsafePointer(sparePointer))
            stream.avail_in = UInt32(inputStep)
            stream.next_out =
              out.baseAddress.map {
                $0.advanced(by: outputOffset).assumingMemoryBound(to: UInt8.self)
              } ?? sparePointer
            stream.avail_out = UInt32(outputStep)
            return CZlib.inflate(&stream, Z_NO_FLUSH)
          }
          inputOffset += inputStep - Int(stream.avail_in)
          outputOffset += outputStep - Int(stream.avail_out)
          switch status {
          case Z_STREAM_END:
            guard inputOffset == input.count else {
              throw fail(
                "\(input.count - inputOffset) stored bytes follow the end of its deflate stream")
            }
            return outputOffset
          case Z_OK:
            continue
          case Z_BUF_ERROR where outputOffset == out.count && inputOffset < input.count:
            throw fail("inflates past its declared size of \(expectedSize) bytes")
          case Z_BUF_ERROR:
            throw fail(
              "its deflate stream ends early, after \(outputOffset) of \(expectedSize) bytes")
          default:
            let reason = stream.msg.map { String(cString: $0) } ?? "status \(status)"
            throw fail("corrupt deflate stream (\(reason)) after \(outputOffset) bytes")
          }
        }
      }
    }
    guard produced == expectedSize else {
      throw fail("inflates to \(produced) bytes but declares \(expectedSize)")
    }
    return output
  }

  /// Deflates `source` as one raw stream at `level` (0-9).
  static func deflate(_ source: Data, level: Int32) throws -> Data {
    var stream = z_stream()
    guard
      deflateInit2_(
        &stream, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY, zlibVersion(),
        Int32(MemoryLayout<z_stream>.size)) == Z_OK
    else { throw InteropError("zlib could not start deflating") }
    defer { deflateEnd(&stream) }
    var output = Data()
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    try source.withUnsafeBytes { input in
      var inputOffset = 0
      var spare: UInt8 = 0
      while true {
        let step = min(input.count - inputOffset, 1 << 30)
        let finished = inputOffset + step == input.count
        let status: Int32 = withUnsafeMutablePointer(to: &spare) { sparePointer in
          chunk.withUnsafeMutableBufferPointer { buffer in
            stream.next_in = UnsafeMutablePointer(
              mutating: input.baseAddress.map {
                $0.advanced(by: inputOffset).assumingMemoryBound(to: UInt8.self)
              } ?? UnsafePointer(sparePointer))
            stream.avail_in = UInt32(step)
            stream.next_out = buffer.baseAddress
            stream.avail_out = UInt32(buffer.count)
            let status = CZlib.deflate(&stream, finished ? Z_FINISH : Z_NO_FLUSH)
            output.append(buffer.baseAddress!, count: buffer.count - Int(stream.avail_out))
            return status
          }
        }
        inputOffset += step - Int(stream.avail_in)
        if status == Z_STREAM_END { return }
        guard status == Z_OK || status == Z_BUF_ERROR else {
          throw InteropError("zlib deflate failed with status \(status)")
        }
      }
    }
    return output
  }
}
