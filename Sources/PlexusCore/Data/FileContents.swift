import Foundation

/// The bytes of the file at `url`.
///
/// - Throws: `PlexusError.io` naming the path and the cause.
func fileContents(_ url: URL) throws -> Data {
  do {
    return try Data(contentsOf: url)
  } catch {
    throw PlexusError.io("cannot read \(url.path): \(error.localizedDescription)")
  }
}
