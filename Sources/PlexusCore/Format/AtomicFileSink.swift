import Foundation

#if canImport(Glibc)
  import Glibc
  private let posixWrite = Glibc.write
#elseif canImport(Darwin)
  import Darwin
  private let posixWrite = Darwin.write
#endif

/// Writes a file atomically: bytes go to a temporary file in the destination's folder, which is
/// flushed to disk and renamed over the destination only on `commit()`. Until then — after an
/// error, a crash or a full disk — the previous file at the destination is untouched; an
/// uncommitted temporary file is removed when the sink is released.
final class AtomicFileSink {
  let destination: URL
  private let temporaryPath: String
  private var descriptor: Int32
  private var buffer: [UInt8] = []
  private let bufferCapacity = 1 << 20
  private let sizeLimit: UInt64?
  private var committed = false
  /// The number of bytes written so far.
  private(set) var position: UInt64 = 0

  /// Creates the temporary file next to `destination`.
  ///
  /// - Parameter sizeLimit: the most bytes the file may have; writing past it throws.
  init(destination: URL, sizeLimit: UInt64?) throws {
    self.destination = destination
    self.sizeLimit = sizeLimit
    let folder = destination.deletingLastPathComponent().path
    let name = destination.lastPathComponent
    var attempt = 0
    while true {
      let candidate = "\(folder)/.\(name).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
      let opened = open(candidate, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
      if opened >= 0 {
        descriptor = opened
        temporaryPath = candidate
        break
      }
      attempt += 1
      guard errno == EEXIST, attempt < 16 else {
        throw PlexusFormatError(
          .io,
          "cannot create a temporary file in '\(folder)' to save '\(name)': \(String(cString: strerror(errno)))"
        )
      }
    }
    buffer.reserveCapacity(bufferCapacity)
  }

  deinit {
    if !committed {
      if descriptor >= 0 { close(descriptor) }
      unlink(temporaryPath)
    }
  }

  /// Appends bytes.
  func write(_ bytes: UnsafeRawBufferPointer) throws {
    let (end, overflow) = position.addingReportingOverflow(UInt64(bytes.count))
    if let sizeLimit, overflow || end > sizeLimit {
      throw PlexusFormatError(
        .io,
        "saving '\(destination.lastPathComponent)' would exceed the size limit of \(sizeLimit) bytes; the previous file is kept"
      )
    }
    if bytes.count >= bufferCapacity / 2 {
      // Large writes go straight to the file, after what is buffered.
      try flushBuffer()
      try writeFully(bytes)
    } else {
      if buffer.count + bytes.count > bufferCapacity { try flushBuffer() }
      buffer.append(contentsOf: bytes)
    }
    position = end
  }

  /// Appends bytes.
  func write(_ bytes: [UInt8]) throws {
    try bytes.withUnsafeBytes { try write($0) }
  }

  /// Overwrites bytes already written at `offset`.
  func patch(at offset: UInt64, _ bytes: [UInt8]) throws {
    try flushBuffer()
    try bytes.withUnsafeBytes { raw in
      guard let base = raw.baseAddress else { return }
      var done = 0
      while done < raw.count {
        let count = pwrite(descriptor, base + done, raw.count - done, off_t(offset) + off_t(done))
        if count < 0 && errno == EINTR { continue }
        guard count > 0 else { throw ioError("write") }
        done += count
      }
    }
  }

  /// Flushes the bytes to disk and renames the temporary file over the destination.
  func commit() throws {
    try flushBuffer()
    guard fsync(descriptor) == 0 else { throw ioError("flush") }
    guard close(descriptor) == 0 else {
      descriptor = -1
      throw ioError("close")
    }
    descriptor = -1
    guard rename(temporaryPath, destination.path) == 0 else { throw ioError("rename") }
    committed = true
    // Make the rename itself durable.
    let folder = open(destination.deletingLastPathComponent().path, O_RDONLY | O_CLOEXEC)
    if folder >= 0 {
      _ = fsync(folder)
      close(folder)
    }
  }

  private func flushBuffer() throws {
    guard !buffer.isEmpty else { return }
    try buffer.withUnsafeBytes { try writeFully($0) }
    buffer.removeAll(keepingCapacity: true)
  }

  private func writeFully(_ bytes: UnsafeRawBufferPointer) throws {
    guard let base = bytes.baseAddress else { return }
    var done = 0
    while done < bytes.count {
      let count = posixWrite(descriptor, base + done, bytes.count - done)
      if count < 0 && errno == EINTR { continue }
      guard count > 0 else { throw ioError("write") }
      done += count
    }
  }

  private func ioError(_ action: String) -> PlexusFormatError {
    PlexusFormatError(
      .io,
      "cannot \(action) the temporary file for '\(destination.path)': \(String(cString: strerror(errno))); the previous file is kept"
    )
  }
}
