import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// Writes files so that readers see either the old file or the complete new one, never a
/// partial file.
enum AtomicFile {
  /// Writes `data` to a temporary file in the destination's folder, flushes it to disk and
  /// renames it over `url`. On failure the temporary file is removed and `url` is untouched.
  ///
  /// - Throws: `PlexusError.io` naming the path and the cause.
  static func write(_ data: Data, to url: URL) throws {
    let directory = url.deletingLastPathComponent()
    let temporary = directory.appendingPathComponent(
      ".\(url.lastPathComponent).\(UUID().uuidString).tmp")
    do {
      guard FileManager.default.createFile(atPath: temporary.path, contents: nil) else {
        throw PlexusError.io(
          "cannot create temporary file \(temporary.path) next to \(url.path)")
      }
      let handle = try FileHandle(forWritingTo: temporary)
      do {
        try handle.write(contentsOf: data)
        try handle.synchronize()
        try handle.close()
      } catch {
        try? handle.close()
        throw error
      }
      guard rename(temporary.path, url.path) == 0 else {
        let reason = String(cString: strerror(errno))
        throw PlexusError.io("cannot rename \(temporary.path) to \(url.path): \(reason)")
      }
    } catch let error as PlexusError {
      try? FileManager.default.removeItem(at: temporary)
      throw error
    } catch {
      try? FileManager.default.removeItem(at: temporary)
      throw PlexusError.io("cannot write \(url.path): \(error.localizedDescription)")
    }
  }
}
