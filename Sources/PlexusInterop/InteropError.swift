import Foundation
import PlexusCore

/// An error in a file of another format (a zip archive, a NumPy `.npz`, a PyTorch state dict)
/// or in a conversion: what is wrong and where (the file, the member, the tensor, the byte
/// offset).
public struct InteropError: Error, CustomStringConvertible, Equatable, Sendable {
  /// The message.
  public var description: String

  /// Creates an error with its message.
  public init(_ description: String) { self.description = description }
}

extension Data {
  /// Writes atomically (a temporary file renamed into place, so a failed write keeps the
  /// previous file; a replaced file keeps its permissions, a read-only one is refused),
  /// answering failures with `PlexusError.io`.
  func writeAtomically(to url: URL) throws {
    try AtomicFile.write(self, to: url)
  }

  /// Maps the file at `url` (or reads it when it cannot be mapped), answering failures with
  /// `PlexusError.io`.
  static func mapping(_ url: URL) throws -> Data {
    try Data.mappingFile(atPath: url.path)
  }
}
