import Foundation
import PlexusInterop
import Testing

/// Little-endian fields for archives built by hand.
extension Data {
  mutating func put<T: FixedWidthInteger>(_ value: T) {
    var little = value.littleEndian
    Swift.withUnsafeBytes(of: &little) { append(contentsOf: $0) }
  }

  mutating func set<T: FixedWidthInteger>(_ value: T, at offset: Int) {
    var little = value.littleEndian
    Swift.withUnsafeBytes(of: &little) { bytes in
      for (index, byte) in bytes.enumerated() { self[startIndex + offset + index] = byte }
    }
  }

  func integer(at offset: Int, size: Int) -> Int {
    (0..<size).reduce(0) { $0 | Int(self[startIndex + offset + $1]) << (8 * $1) }
  }
}

/// A member of an archive built by hand: its local header (with its data) and the fields its
/// central directory entry repeats.
struct HandMember {
  var name: String
  var data: Data
  var method: UInt16 = 0
  var flags: UInt16 = 0
  var crc: UInt32? = nil
  var compressedSize: UInt32? = nil
  var uncompressedSize: UInt32? = nil
  var localOffset: UInt32? = nil
}

/// Builds an archive from hand-made members (each stored as given), with the central
/// directory's fields taken from the members unless overridden.
func handArchive(_ members: [HandMember], localHeaders: Data? = nil) -> Data {
  var archive = Data()
  var directory = Data()
  for member in members {
    let offset = UInt32(archive.count)
    let crc =
      member.crc
      ?? member.data.withUnsafeBytes { raw in
        // zlib's CRC-32 through the writer: a one-member archive's central directory field.
        var writer = ZipWriter()
        try? writer.add("x", contents: Data(raw))
        let bytes = (try? writer.finish()) ?? Data()
        return UInt32(bytes.integer(at: 14, size: 4))
      }
    var common = Data()
    common.put(UInt16(20))
    common.put(member.flags)
    common.put(member.method)
    common.put(UInt16(0))
    common.put(UInt16(0x21))
    common.put(crc)
    common.put(member.compressedSize ?? UInt32(member.data.count))
    common.put(member.uncompressedSize ?? UInt32(member.data.count))
    common.put(UInt16(member.name.utf8.count))
    common.put(UInt16(0))
    archive.put(UInt32(0x0403_4B50))
    archive.append(common)
    archive.append(Data(member.name.utf8))
    archive.append(member.data)
    directory.put(UInt32(0x0201_4B50))
    directory.put(UInt16(20))
    directory.append(common)
    directory.append(Data(count: 6))
    directory.put(UInt32(0))
    directory.put(member.localOffset ?? offset)
    directory.append(Data(member.name.utf8))
  }
  var result = archive
  result.append(directory)
  result.put(UInt32(0x0605_4B50))
  result.put(UInt32(0))
  result.put(UInt16(members.count))
  result.put(UInt16(members.count))
  result.put(UInt32(directory.count))
  result.put(UInt32(archive.count))
  result.put(UInt16(0))
  return result
}

/// The message of the error `body` throws (any error), or `nil`.
func errorMessage(_ body: () throws -> Void) -> String? {
  do {
    try body()
    return nil
  } catch {
    return "\(error)"
  }
}

@Suite struct ZipArchiveTests {
  @Test func writesAndReadsStoredAndDeflatedMembers() throws {
    var writer = ZipWriter()
    let text = Data(String(repeating: "plexus ", count: 1000).utf8)
    try writer.add("a.txt", contents: text)
    try writer.add("deep/b.bin", contents: text, method: .deflated, level: 9)
    try writer.add("empty", contents: Data(), method: .deflated)
    try writer.add("größe", contents: Data([1, 2, 3]))
    let bytes = try writer.finish()
    let archive = try ZipArchive(data: bytes)
    #expect(archive.entries.map(\.name) == ["a.txt", "deep/b.bin", "empty", "größe"])
    #expect(archive.entries[1].method == .deflated)
    #expect(archive.entries[1].compressedSize < text.count / 10)
    #expect(try archive.contents(named: "a.txt") == text)
    #expect(try archive.contents(named: "deep/b.bin") == text)
    #expect(try archive.contents(named: "empty").isEmpty)
    #expect(try archive.contents(named: "größe") == Data([1, 2, 3]))
    #expect(throws: InteropError.self) { try archive.contents(named: "missing") }
    // Equal inputs give equal archives (a fixed timestamp).
    var again = ZipWriter()
    try again.add("a.txt", contents: text)
    try again.add("deep/b.bin", contents: text, method: .deflated, level: 9)
    try again.add("empty", contents: Data(), method: .deflated)
    try again.add("größe", contents: Data([1, 2, 3]))
    #expect(try again.finish() == bytes)
  }

  @Test func theWriterRefusesBadNamesAndLevels() throws {
    var writer = ZipWriter()
    try writer.add("a", contents: Data())
    #expect(errorMessage { try writer.add("a", contents: Data()) }?.contains("twice") == true)
    #expect(throws: InteropError.self) { try writer.add("", contents: Data()) }
    #expect(throws: InteropError.self) { try writer.add("bad\u{0}name", contents: Data()) }
    #expect(throws: InteropError.self) { try writer.add("b", contents: Data(), level: 10) }
  }

  @Test func truncatedAndForeignBytesAreRefused() throws {
    var writer = ZipWriter()
    try writer.add("a", contents: Data(repeating: 7, count: 100))
    let bytes = try writer.finish()
    for length in [0, 10, 21, 60, bytes.count - 1] {
      let message = errorMessage { _ = try ZipArchive(data: bytes.prefix(length)) }
      #expect(message != nil, "length \(length)")
    }
    #expect(
      errorMessage { _ = try ZipArchive(data: Data(repeating: 0x41, count: 100)) }?.contains(
        "no end of central directory") == true)
    // Bytes appended after the end record: it is not found where it must be.
    #expect(throws: InteropError.self) { try ZipArchive(data: bytes + Data([1, 2, 3])) }
  }

  @Test func aZipBombIsRefusedBeforeInflating() throws {
    // 64 MiB of zeros deflate to about 64 KiB: a real ratio of about 1000.
    var writer = ZipWriter()
    try writer.add("zeros", contents: Data(count: 64 << 20), method: .deflated, level: 9)
    let bomb = try writer.finish()
    #expect(bomb.count < 200_000)
    let limited = ZipLimits(maximumMemberSize: 1 << 20)
    #expect(
      errorMessage { _ = try ZipArchive(data: bomb, limits: limited) }?.contains(
        "more than the limit of 1048576") == true)
    #expect(
      errorMessage {
        _ = try ZipArchive(data: bomb, limits: ZipLimits(maximumTotalSize: 1 << 20))
      }?.contains("in all") == true)
    // A member that declares far more than deflate can produce from its bytes.
    let small = try ZipWriter.oneMember("x", Data(count: 1000), method: .deflated)
    var lying = small
    let directory = lying.integer(at: lying.count - 6, size: 4)
    lying.set(UInt32(0x7FFF_FFFF), at: 22)
    lying.set(UInt32(0x7FFF_FFFF), at: directory + 24)
    #expect(errorMessage { _ = try ZipArchive(data: lying) }?.contains("zip bomb") == true)
    // Overlapping members: member 'a' holds member 'b' (the overlapping-files zip bomb).
    let inner = handArchive([HandMember(name: "b", data: Data(count: 50))])
    let innerLocal = inner.prefix(30 + 1 + 50)
    // The second central entry points at the copy of b's local header inside a's data.
    let overlapping = handArchive([
      HandMember(name: "a", data: innerLocal),
      HandMember(name: "b", data: Data(count: 50), localOffset: 31),
    ])
    #expect(errorMessage { _ = try ZipArchive(data: overlapping) }?.contains("overlap") == true)
  }

  @Test func aMemberThatInflatesPastItsSizeOrFailsItsChecksumIsRefused() throws {
    let payload = Data((0..<2000).map { UInt8($0 % 7) })
    var bytes = try ZipWriter.oneMember("m", payload, method: .deflated)
    // Declare fewer bytes in both headers: inflation stops at the declared size.
    let directory = bytes.integer(at: bytes.count - 6, size: 4)
    bytes.set(UInt32(1000), at: 22)
    bytes.set(UInt32(1000), at: directory + 24)
    let archive = try ZipArchive(data: bytes)
    #expect(
      errorMessage { _ = try archive.contents(named: "m") }?.contains("past its declared size")
        == true)
    // A flipped byte in a stored member fails its CRC-32.
    var stored = try ZipWriter.oneMember("s", payload)
    stored[30 + 1 + 5] ^= 0xFF
    #expect(
      errorMessage { _ = try ZipArchive(data: stored).contents(named: "s") }?.contains("CRC-32")
        == true)
    // A corrupt deflate stream.
    var corrupt = try ZipWriter.oneMember("c", payload, method: .deflated)
    corrupt[30 + 1] = 0xFF
    #expect(throws: InteropError.self) { try ZipArchive(data: corrupt).contents(named: "c") }
  }

  @Test func unsupportedFeaturesAndBadNamesAreRefused() throws {
    let cases: [(HandMember, String)] = [
      (HandMember(name: "e", data: Data(count: 4), flags: 1), "encrypted"),
      (HandMember(name: "l", data: Data(count: 4), method: 14), "14 (LZMA) is not supported"),
      (HandMember(name: "tab\tname", data: Data(count: 4)), "control character"),
      (HandMember(name: "s", data: Data(count: 4), uncompressedSize: 8), "stored member"),
      (HandMember(name: "far", data: Data(count: 4), localOffset: 9999), "exceeds"),
    ]
    for (member, expected) in cases {
      let message = errorMessage { _ = try ZipArchive(data: handArchive([member])) }
      #expect(message?.contains(expected) == true, "\(member.name): \(message ?? "no error")")
    }
    let twice = handArchive([
      HandMember(name: "same", data: Data(count: 2)),
      HandMember(name: "same", data: Data(count: 2)),
    ])
    #expect(errorMessage { _ = try ZipArchive(data: twice) }?.contains("twice") == true)
    var notUTF8 = handArchive([HandMember(name: "ab", data: Data(count: 2))])
    // Both copies of the name: the local header's and the central directory's.
    for offset in [30, notUTF8.count - 22 - 2] { notUTF8[offset] = 0xFF }
    #expect(errorMessage { _ = try ZipArchive(data: notUTF8) }?.contains("not UTF-8") == true)
  }

  @Test func zip64RecordsAreRead() throws {
    let plain = try ZipWriter.oneMember("z", Data([9, 8, 7]))
    // Replace the end record by a zip64 record, its locator and an end record that defers to
    // them.
    let end = plain.count - 22
    let directorySize = plain.integer(at: end + 12, size: 4)
    let directoryOffset = plain.integer(at: end + 16, size: 4)
    var zip64 = plain.prefix(end)
    let recordOffset = zip64.count
    zip64.put(UInt32(0x0606_4B50))
    zip64.put(UInt64(44))
    zip64.put(UInt16(45))
    zip64.put(UInt16(45))
    zip64.put(UInt32(0))
    zip64.put(UInt32(0))
    zip64.put(UInt64(1))
    zip64.put(UInt64(1))
    zip64.put(UInt64(directorySize))
    zip64.put(UInt64(directoryOffset))
    zip64.put(UInt32(0x0706_4B50))
    zip64.put(UInt32(0))
    zip64.put(UInt64(recordOffset))
    zip64.put(UInt32(1))
    zip64.put(UInt32(0x0605_4B50))
    zip64.put(UInt32(0))
    zip64.put(UInt16(0xFFFF))
    zip64.put(UInt16(0xFFFF))
    zip64.put(UInt32(0xFFFF_FFFF))
    zip64.put(UInt32(0xFFFF_FFFF))
    zip64.put(UInt16(0))
    let archive = try ZipArchive(data: zip64)
    #expect(try archive.contents(named: "z") == Data([9, 8, 7]))
    // A zip64 end record without its locator.
    var broken = zip64
    broken[broken.count - 22 - 20] = 0
    #expect(errorMessage { _ = try ZipArchive(data: broken) }?.contains("zip64") == true)
  }
}

extension ZipWriter {
  /// A one-member archive.
  static func oneMember(_ name: String, _ contents: Data, method: ZipMethod = .stored) throws
    -> Data
  {
    var writer = ZipWriter()
    try writer.add(name, contents: contents, method: method)
    return try writer.finish()
  }
}
