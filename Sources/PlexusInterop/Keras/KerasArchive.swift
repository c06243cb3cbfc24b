import Foundation
import PlexusCore

/// The zip container of a Keras 3 `.keras` file: `metadata.json`, `config.json` and
/// `model.weights.h5` (Keras may add an `assets` folder, which holds no weights).
///
/// Reading goes through the project's zip reader (`ZipArchive`), which treats the zip as
/// untrusted: declared sizes bounded and checked against the file, a member listed twice
/// refused, deflated members bounded by deflate's ratio and inflated no further than declared
/// (a zip bomb), CRC-32 checked. The JSON members are further bounded to 64 MiB.
enum KerasArchive {
  static let configName = "config.json"
  static let metadataName = "metadata.json"
  static let weightsName = "model.weights.h5"
  /// The largest JSON member read.
  static let maximumJSONBytes = 64 << 20
  /// The limits of a `.keras` zip: 100,000 members, 8 GiB for the weights.
  static let limits = ZipLimits(maximumEntries: 100_000, maximumMemberSize: 1 << 33)

  /// The three members of the archive in `data`; `source` names it in errors.
  static func read(_ data: Data, source: String) throws -> (
    config: Data, metadata: Data?, weights: Data
  ) {
    let archive: ZipArchive
    do {
      archive = try ZipArchive(data: data, source: source, limits: limits)
    } catch let error as InteropError {
      throw KerasError("not a readable zip archive (a .keras file is one): \(error)")
    }
    func member(_ name: String, limit: Int) throws -> Data? {
      guard let entry = archive.entry(named: name) else { return nil }
      guard entry.uncompressedSize <= limit else {
        throw KerasError(
          "\(source): '\(name)' declares \(entry.uncompressedSize) bytes, over the limit of "
            + "\(limit)")
      }
      do {
        return try archive.contents(of: entry)
      } catch let error as InteropError {
        throw KerasError("\(error)")
      }
    }
    guard let config = try member(configName, limit: maximumJSONBytes) else {
      throw KerasError("\(source): the archive has no '\(configName)'; not a Keras 3 model file")
    }
    guard let weights = try member(weightsName, limit: limits.maximumMemberSize) else {
      throw KerasError("\(source): the archive has no '\(weightsName)'")
    }
    let metadata = try member(metadataName, limit: maximumJSONBytes)
    return (config, metadata, weights)
  }

  /// The bytes of a `.keras` zip holding the three members, stored uncompressed as Keras
  /// writes them.
  static func write(config: Data, metadata: Data, weights: Data) throws -> Data {
    var writer = ZipWriter()
    do {
      for (name, bytes) in [(metadataName, metadata), (configName, config), (weightsName, weights)]
      {
        try writer.add(name, contents: bytes, method: .stored)
      }
      return try writer.finish()
    } catch let error as InteropError {
      throw KerasError("cannot write the .keras zip: \(error)")
    }
  }
}
