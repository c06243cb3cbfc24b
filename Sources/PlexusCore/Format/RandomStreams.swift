import Foundation

extension ModelProtocol {
  /// Every layer with its path: a layer's own name, prefixed by the names of the containers
  /// it sits in (`encoder.dropout_1`; a `Bidirectional`'s `forward_lstm` is
  /// `bidirectional.forward_lstm`), each layer once.
  public var layerPaths: [(path: String, layer: any Layer)] {
    var result: [(path: String, layer: any Layer)] = []
    var seen = Set<ObjectIdentifier>()
    var pending: [(prefix: String, layer: any Layer)] = sublayers.reversed().map { ("", $0) }
    while let (prefix, layer) = pending.popLast() {
      guard seen.insert(ObjectIdentifier(layer)).inserted else { continue }
      let path = prefix + layer.name
      result.append((path, layer))
      pending.append(contentsOf: layer.sublayers.reversed().map { (path + ".", $0) })
    }
    return result
  }

  /// The random streams of the layers that have one (dropout, noise, sampling layers), by
  /// layer path, as they stand: what training draws next.
  public var randomStreams: [String: SeededGenerator] {
    var streams: [String: SeededGenerator] = [:]
    for (path, layer) in layerPaths {
      if let stream = layer.state.randomStream { streams[path] = stream }
    }
    return streams
  }

  /// Sets the random streams of the layers named in `streams` (as `randomStreams` gives them),
  /// so that training continues with the draws a saved run would have made next.
  ///
  /// - Throws: `PlexusError.invalidArgument` naming a path that is no layer of the model.
  public func restoreRandomStreams(_ streams: [String: SeededGenerator]) throws {
    let layers = Dictionary(layerPaths.map { ($0.path, $0.layer) }, uniquingKeysWith: { a, _ in a })
    for path in streams.keys.sorted() where layers[path] == nil {
      throw PlexusError.invalidArgument(
        "a random stream is saved for layer '\(path)', which the model does not have")
    }
    for (path, stream) in streams { layers[path]?.state.randomStream = stream }
  }
}

/// How the random streams of a model's layers are kept in a model file: a `META` value under
/// ``key`` holding a JSON object that maps each layer path to its generator's four state
/// words, each as 16 lowercase hexadecimal digits (`Formats/plexus-format.md` §6).
public enum RandomStreamsMetadata {
  /// The metadata value key.
  public static let key = "plexus.random_streams"

  /// The JSON text of `streams`.
  public static func encode(_ streams: [String: SeededGenerator]) throws -> String {
    let words = streams.mapValues { stream in
      stream.stateWords.map { word in
        let digits = String(word, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
      }
    }
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    return String(decoding: try encoder.encode(words), as: UTF8.self)
  }

  /// The streams in a metadata value.
  ///
  /// - Throws: `PlexusFormatError` (`.malformed`) naming what is wrong.
  public static func decode(_ text: String) throws -> [String: SeededGenerator] {
    func fail(_ message: String) -> PlexusFormatError {
      PlexusFormatError(
        .malformed, "metadata value '\(key)': \(message)", chunk: PlexusFormat.ChunkType.metadata)
    }
    guard let object = try? JSONDecoder().decode([String: [String]].self, from: Data(text.utf8))
    else {
      throw fail("expected an object mapping layer paths to four hexadecimal state words")
    }
    var streams: [String: SeededGenerator] = [:]
    for (path, words) in object {
      let values = words.compactMap { $0.count == 16 ? UInt64($0, radix: 16) : nil }
      guard values.count == 4, words.count == 4 else {
        throw fail("layer '\(path)' needs four state words of 16 hexadecimal digits, got \(words)")
      }
      do {
        streams[path] = try SeededGenerator(stateWords: values)
      } catch {
        throw fail("layer '\(path)': \(error)")
      }
    }
    return streams
  }
}

extension ModelMetadata {
  /// Records the random streams of `model`'s layers (nothing when no layer has one), so that
  /// loading the file continues them.
  public mutating func recordRandomStreams(of model: any ModelProtocol) throws {
    let streams = model.randomStreams
    values[RandomStreamsMetadata.key] =
      streams.isEmpty ? nil : try RandomStreamsMetadata.encode(streams)
  }
}

extension PlexusFile {
  /// The layers' random streams saved in the metadata, or `nil` when none were saved.
  ///
  /// - Throws: `PlexusFormatError` (`.malformed`) for a malformed value.
  public func randomStreams() throws -> [String: SeededGenerator]? {
    guard let text = metadata?.values[RandomStreamsMetadata.key] else { return nil }
    return try RandomStreamsMetadata.decode(text)
  }
}
