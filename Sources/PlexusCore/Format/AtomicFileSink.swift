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
///
/// A file that is replaced keeps its permissions (and its owner, when the process may set it);
/// a read-only file (no write permission bit set, or not writable by this process) is refused
/// rather than replaced, as `cp` and editors refuse it. A destination that is a symbolic link
/// replaces the file the link points to, and the link stays. New files get `0666` less the
/// process's umask, as files created by the shell do.
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
    let destination = destination.resolvingSymlinksInPath()
    self.destination = destination
    self.sizeLimit = sizeLimit
    let folder = destination.deletingLastPathComponent().path
    let name = destination.lastPathComponent
    var existing = stat()
    let replaces = stat(destination.path, &existing) == 0
    if replaces {
      let writeBits = mode_t(S_IWUSR | S_IWGRP | S_IWOTH)
      guard existing.st_mode & writeBits != 0, access(destination.path, W_OK) == 0 else {
        throw PlexusFormatError(
          .io,
          "'\(destination.path)' is read-only (mode \(String(existing.st_mode & 0o7777, radix: 8))); "
            + "it is kept as it is: make it writable (chmod u+w) or write elsewhere")
      }
    }
    var attempt = 0
    while true {
      let candidate = "\(folder)/.\(name).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
      let opened = open(candidate, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
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
    if replaces {
      // The replacement keeps the permissions and, where allowed, the owner of the file.
      _ = fchown(descriptor, existing.st_uid, existing.st_gid)
      guard fchmod(descriptor, existing.st_mode & 0o7777) == 0 else {
        throw ioError("set the permissions of")
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

/// Atomic whole-file writes for any file a Plexus program writes (`.npy`, pictures, plots,
/// other model formats).
public enum AtomicFile {
  /// Writes `data` to `url` through a temporary file in the same folder that is flushed and
  /// renamed over `url`, so an existing file is replaced only by a complete new one and keeps
  /// its permissions; a read-only file is refused and kept.
  ///
  /// - Throws: `PlexusError.io` saying what failed; the previous file is then unchanged.
  public static func write(_ data: Data, to url: URL) throws {
    do {
      let sink = try AtomicFileSink(destination: url, sizeLimit: nil)
      try data.withUnsafeBytes { try sink.write($0) }
      try sink.commit()
    } catch let error as PlexusFormatError {
      throw PlexusError.io(error.message)
    }
  }
}
