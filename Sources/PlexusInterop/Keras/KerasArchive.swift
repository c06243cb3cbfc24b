import Foundation
import PlexusCore
import ZIPFoundation

/// The zip container of a Keras 3 `.keras` file: `metadata.json`, `config.json` and
/// `model.weights.h5` (Keras may add an `assets` folder, which holds no weights).
///
/// Reading treats the zip as untrusted: each member read is looked up once (a name present
/// twice is refused), its declared size is bounded (64 MiB for the JSON members, 2^33 bytes for
/// the weights) and, when compressed, by deflate's 1032:1 limit over its stored size; inflating
/// stops as soon as more bytes come out than were declared (a zip bomb), and the CRC-32 is
/// checked.
enum KerasArchive {
  static let configName = "config.json"
  static let metadataName = "metadata.json"
  static let weightsName = "model.weights.h5"
  /// The largest JSON member read.
  static let maximumJSONBytes = 64 << 20
  /// The largest weights member read.
  static let maximumWeightsBytes = 1 << 33
  /// The most entries a `.keras` zip may have.
  static let maximumEntries = 100_000

  /// The three members of the archive in `data`; `source` names it in errors.
  static func read(_ data: Data, source: String) throws -> (
    config: Data, metadata: Data?, weights: Data
  ) {
    let archive: Archive
    do {
      archive = try Archive(data: data, accessMode: .read)
    } catch {
      throw KerasError("\(source): not a zip archive (a .keras file is one): \(error)")
    }
    var entries: [String: Entry] = [:]
    var count = 0
    for entry in archive {
      count += 1
      guard count <= maximumEntries else {
        throw KerasError("\(source): more than \(maximumEntries) zip entries")
      }
      let path = entry.path
      if [configName, metadataName, weightsName].contains(path) {
        guard entries.updateValue(entry, forKey: path) == nil else {
          throw KerasError("\(source): the zip holds '\(path)' twice")
        }
      }
    }
    func member(_ name: String, limit: Int) throws -> Data? {
      guard let entry = entries[name] else { return nil }
      guard entry.type == .file else { throw KerasError("\(source): '\(name)' is not a file") }
      let declared = entry.uncompressedSize
      guard declared <= UInt64(limit) else {
        throw KerasError(
          "\(source): '\(name)' declares \(declared) bytes, over the limit of \(limit)")
      }
      if entry.isCompressed {
        let (bound, overflow) = entry.compressedSize.multipliedReportingOverflow(by: 1032)
        guard overflow || declared <= bound + 1024 else {
          throw KerasError(
            "\(source): '\(name)' declares \(declared) bytes from \(entry.compressedSize) "
              + "compressed, more than deflate can expand (a zip bomb)")
        }
      }
      var result = Data()
      result.reserveCapacity(Int(declared))
      do {
        _ = try archive.extract(entry, skipCRC32: false) { chunk in
          guard UInt64(result.count + chunk.count) <= declared else {
            throw KerasError(
              "\(source): '\(name)' inflates past its declared \(declared) bytes (a zip bomb)")
          }
          result.append(chunk)
        }
      } catch let error as KerasError {
        throw error
      } catch {
        throw KerasError("\(source): cannot extract '\(name)': \(error)")
      }
      guard UInt64(result.count) == declared else {
        throw KerasError(
          "\(source): '\(name)' holds \(result.count) bytes but declares \(declared)")
      }
      return result
    }
    guard let config = try member(configName, limit: maximumJSONBytes) else {
      throw KerasError("\(source): the archive has no '\(configName)'; not a Keras 3 model file")
    }
    guard let weights = try member(weightsName, limit: maximumWeightsBytes) else {
      throw KerasError("\(source): the archive has no '\(weightsName)'")
    }
    let metadata = try member(metadataName, limit: maximumJSONBytes)
    return (config, metadata, weights)
  }

  /// The bytes of a `.keras` zip holding the three members, stored uncompressed as Keras
  /// writes them.
  static func write(config: Data, metadata: Data, weights: Data) throws -> Data {
    do {
      let archive = try Archive(data: Data(), accessMode: .create)
      for (name, bytes) in [(metadataName, metadata), (configName, config), (weightsName, weights)]
      {
        try archive.addEntry(
          with: name, type: .file, uncompressedSize: Int64(bytes.count),
          modificationDate: Date(), compressionMethod: .none
        ) { position, size in
          bytes.subdata(in: Int(position)..<(Int(position) + size))
        }
      }
      guard let data = archive.data else { throw KerasError("the zip archive produced no bytes") }
      return data
    } catch let error as KerasError {
      throw error
    } catch {
      throw KerasError("cannot write the .keras zip: \(error)")
    }
  }
}
