import CZlib
import Foundation
import PlexusKernels

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// CRC-32 (ISO-HDLC, as zlib, PNG and gzip) helpers.
enum CRC32 {
  /// The CRC-32 of `bytes`, continuing from `crc` (0 to start).
  static func update(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
    if bytes.count >= 64, plexus_crc32_accelerated() != 0,
      let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self)
    {
      // Carry-less multiplication folds 64 bytes per step: about four times zlib's speed.
      return plexus_crc32(crc, base, Int64(bytes.count))
    }
    var crc = UInt(crc)
    var base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self)
    var remaining = bytes.count
    // zlib takes a 32-bit length.
    while remaining > 0, let pointer = base {
      let step = Swift.min(remaining, 1 << 30)
      crc = CZlib.crc32(crc, pointer, UInt32(step))
      base = pointer + step
      remaining -= step
    }
    return UInt32(truncatingIfNeeded: crc)
  }

  /// The CRC-32 of `bytes`.
  static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 { update(0, bytes) }

  /// The CRC-32 of `bytes`.
  static func checksum(_ bytes: [UInt8]) -> UInt32 {
    bytes.withUnsafeBytes { update(0, $0) }
  }

  /// The CRC-32 of `a ‖ b` from the CRC-32 of `a`, the CRC-32 of `b` and the length of `b`.
  static func combine(_ first: UInt32, _ second: UInt32, secondLength: UInt64) -> UInt32 {
    UInt32(truncatingIfNeeded: crc32_combine(UInt(first), UInt(second), .init(secondLength)))
  }
}

/// Immutable bytes of a file being read: a memory map, or a private copy.
///
/// The bytes stay valid for the lifetime of the object.
final class FileBytes: @unchecked Sendable {
  let buffer: UnsafeRawBufferPointer
  private let release: @Sendable (UnsafeRawBufferPointer) -> Void
  /// Whether the bytes are a memory map of the file.
  let isMapped: Bool

  private init(
    buffer: UnsafeRawBufferPointer, isMapped: Bool,
    release: @escaping @Sendable (UnsafeRawBufferPointer) -> Void
  ) {
    self.buffer = buffer
    self.isMapped = isMapped
    self.release = release
  }

  deinit { release(buffer) }

  /// A private, 64-byte aligned copy of `bytes`.
  convenience init(copying bytes: UnsafeRawBufferPointer) {
    let storage = UnsafeMutableRawPointer.allocate(
      byteCount: Swift.max(bytes.count, 1), alignment: 64)
    if let source = bytes.baseAddress, bytes.count > 0 {
      storage.copyMemory(from: source, byteCount: bytes.count)
    }
    self.init(
      buffer: UnsafeRawBufferPointer(start: storage, count: bytes.count), isMapped: false,
      release: { buffer in UnsafeMutableRawPointer(mutating: buffer.baseAddress)?.deallocate() })
  }

  /// Maps (or, when `map` is false, reads) the file at `path`.
  ///
  /// - Throws: `PlexusFormatError` of kind `.io` when the file cannot be opened or read.
  static func read(path: String, map: Bool) throws -> FileBytes {
    let descriptor = open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else {
      throw PlexusFormatError(
        .io, "cannot open '\(path)' for reading: \(String(cString: strerror(errno)))")
    }
    defer { close(descriptor) }
    var status = stat()
    guard fstat(descriptor, &status) == 0 else {
      throw PlexusFormatError(.io, "cannot stat '\(path)': \(String(cString: strerror(errno)))")
    }
    guard (status.st_mode & S_IFMT) == S_IFREG else {
      throw PlexusFormatError(.io, "'\(path)' is not a regular file")
    }
    let size = Int(status.st_size)
    if map && size > 0 {
      if let address = mmap(nil, size, PROT_READ, MAP_PRIVATE, descriptor, 0), address != MAP_FAILED
      {
        return FileBytes(
          buffer: UnsafeRawBufferPointer(start: address, count: size), isMapped: true,
          release: { buffer in
            if let base = buffer.baseAddress {
              munmap(UnsafeMutableRawPointer(mutating: base), buffer.count)
            }
          })
      }
    }
    let storage = UnsafeMutableRawPointer.allocate(byteCount: Swift.max(size, 1), alignment: 64)
    var done = 0
    while done < size {
      let count = pread(descriptor, storage + done, size - done, off_t(done))
      if count < 0 && errno == EINTR { continue }
      guard count > 0 else {
        storage.deallocate()
        throw PlexusFormatError(
          .io, "cannot read '\(path)' at byte \(done): \(String(cString: strerror(errno)))")
      }
      done += count
    }
    return FileBytes(
      buffer: UnsafeRawBufferPointer(start: storage, count: size), isMapped: false,
      release: { buffer in UnsafeMutableRawPointer(mutating: buffer.baseAddress)?.deallocate() })
  }
}

/// Little-endian field access with bounds checks against a buffer.
struct ByteReader {
  let bytes: UnsafeRawBufferPointer

  /// Whether `offset ..< offset + length` lies inside the buffer (overflow-checked).
  func contains(offset: UInt64, length: UInt64) -> Bool {
    let (end, overflow) = offset.addingReportingOverflow(length)
    return !overflow && end <= UInt64(bytes.count)
  }

  func uint16(at offset: Int) -> UInt16 {
    UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8
  }

  func uint32(at offset: Int) -> UInt32 {
    var value: UInt32 = 0
    for index in 0..<4 { value |= UInt32(bytes[offset + index]) << (8 * index) }
    return value
  }

  func uint64(at offset: Int) -> UInt64 {
    var value: UInt64 = 0
    for index in 0..<8 { value |= UInt64(bytes[offset + index]) << (8 * index) }
    return value
  }

  func slice(_ offset: Int, _ length: Int) -> UnsafeRawBufferPointer {
    UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + length)])
  }
}

extension Array where Element == UInt8 {
  mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
    var little = value.littleEndian
    Swift.withUnsafeBytes(of: &little) { append(contentsOf: $0) }
  }
}

/// Pre-faulting of large memory ranges (Linux `MADV_POPULATE_READ` / `MADV_POPULATE_WRITE`).
enum MemoryAdvice {
  /// Ranges smaller than this are left to ordinary page faults.
  static let minimumBytes = 1 << 20

  /// Asks the kernel to map the pages of `range` now; a no-op where unsupported.
  static func populate(_ range: UnsafeRawBufferPointer, forWriting: Bool) {
    #if os(Linux)
      guard range.count >= minimumBytes, let base = range.baseAddress else { return }
      let page = Int(sysconf(Int32(_SC_PAGESIZE)))
      let start = (Int(bitPattern: base) + page - 1) / page * page
      let end = (Int(bitPattern: base) + range.count) / page * page
      guard end > start, let address = UnsafeMutableRawPointer(bitPattern: start) else { return }
      // MADV_POPULATE_READ = 22, MADV_POPULATE_WRITE = 23 (Linux 5.14).
      _ = madvise(address, end - start, forWriting ? 23 : 22)
    #endif
  }
}

extension Data {
  /// The bytes of the regular file at `path` without a copy: memory-mapped (read into memory
  /// when the file cannot be mapped), released when the last copy of the value goes.
  ///
  /// - Throws: `PlexusError.io` naming the file when it cannot be opened or read, or is not a
  ///   regular file.
  public static func mappingFile(atPath path: String) throws -> Data {
    let bytes: FileBytes
    do {
      bytes = try FileBytes.read(path: path, map: true)
    } catch let error as PlexusFormatError {
      throw PlexusError.io(error.message)
    }
    guard let base = bytes.buffer.baseAddress, !bytes.buffer.isEmpty else { return Data() }
    return Data(
      bytesNoCopy: UnsafeMutableRawPointer(mutating: base), count: bytes.buffer.count,
      deallocator: .custom { _, _ in withExtendedLifetime(bytes) {} })
  }
}
