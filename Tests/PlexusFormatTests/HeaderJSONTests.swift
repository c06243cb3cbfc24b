import Foundation
import Plexus
import Testing

@testable import PlexusCore

/// The reader of the JSON chunks (`HeaderJSON` over `StrictJSON`) against the types' `Codable`
/// decoding with `JSONDecoder`, which it replaced on the open path: on the chunks of every golden
/// file and on thousands of variants of them with members removed, retyped, out of range,
/// `null` or added, both must accept the same documents with the same values and refuse the
/// same ones for the same reason.
@Suite struct HeaderJSONTests {
  /// The outcome of one reader on one document: the decoded value, or the class of failure.
  enum Outcome<Value: Equatable>: Equatable {
    case value(Value)
    /// An unknown dtype or codec (reported as needing a newer reader).
    case unknownValue(field: String, value: String)
    /// Any other refusal (reported as malformed).
    case refused
  }

  /// `OptimizerDocument` without `Equatable`, compared field by field.
  struct Optimizer: Equatable {
    var type: String
    var config: JSONValue
    var step: Int
    var slots: [String: String]
    init(_ document: OptimizerDocument) {
      (type, config, step, slots) = (document.type, document.config, document.step, document.slots)
    }
  }

  static func outcome<Value: Equatable>(_ body: () throws -> Value) -> Outcome<Value> {
    do {
      return .value(try body())
    } catch let error as UnknownFormatValue {
      return .unknownValue(field: error.field, value: error.value)
    } catch {
      return .refused
    }
  }

  /// Both readers' outcomes on a document.
  static func compare(_ type: String, _ text: [UInt8]) -> (old: String, new: String)? {
    let data = Data(text)
    func both<Value: Equatable>(
      _ old: () throws -> Value, _ new: (JSONValue) throws -> Value
    ) -> (old: String, new: String)? {
      let expected = outcome(old)
      let found = outcome { try new(try StrictJSON.parse(bytes: text)) }
      return expected == found ? nil : ("\(expected)", "\(found)")
    }
    switch type {
    case "ARCH":
      return both(
        { try JSONDecoder().decode(LayerDescription.self, from: data) },
        HeaderJSON.layerDescription)
    case "META":
      return both(
        { try JSONDecoder().decode(ModelMetadata.self, from: data) }, HeaderJSON.metadata)
    case "TIDX":
      return both(
        { try JSONDecoder().decode(TensorIndexDocument.self, from: data).tensors },
        HeaderJSON.tensorIndex)
    default:
      return both(
        { Optimizer(try JSONDecoder().decode(OptimizerDocument.self, from: data)) },
        { Optimizer(try HeaderJSON.optimizer($0)) })
    }
  }

  /// The JSON chunks of every golden file, with their types.
  static func goldenDocuments() throws -> [(type: String, value: JSONValue)] {
    let folder = GoldenFileTests.examples
    let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter {
      $0.hasSuffix(".plexus")
    }.sorted()
    var documents: [(type: String, value: JSONValue)] = []
    for name in names {
      let url = folder.appendingPathComponent(name)
      let bytes = try [UInt8](Data(contentsOf: url))
      for chunk in try PlexusFile(contentsOf: url).chunks
      where ["ARCH", "META", "TIDX", "OPTM"].contains(chunk.type) {
        let start = Int(chunk.payloadOffset)
        let payload = Array(bytes[start..<(start + Int(chunk.length))])
        documents.append((chunk.type, try StrictJSON.parse(bytes: payload)))
      }
    }
    return documents
  }

  /// Values that stand in for a member's value: other types, non-integers, negatives, numbers
  /// beyond `UInt32`, `Float` and `Int`, unknown dtype and codec names.
  static let replacements: [JSONValue] = [
    .null, .bool(true), .string("x"), .string("f64"), .string("zstd"), .number(1.5),
    .number(-1), .number(0), .number(4_294_967_296), .number(1e39), .number(1e20),
    .array([]), .array([.number(2), .number(3)]), .array([.string("2")]), .object([:]),
  ]

  /// Every variant of `value`: each member removed, replaced by each of `replacements` and an
  /// unknown member added, at every depth up to `depth` (and the first element of arrays).
  static func variants(of value: JSONValue, depth: Int) -> [JSONValue] {
    guard depth > 0 else { return [] }
    var result: [JSONValue] = []
    switch value {
    case .object(let members):
      var added = members
      added["futureMember"] = .number(1)
      result.append(.object(added))
      for key in members.keys.sorted() {
        var removed = members
        removed[key] = nil
        result.append(.object(removed))
        for replacement in replacements {
          var changed = members
          changed[key] = replacement
          result.append(.object(changed))
        }
        for inner in variants(of: members[key] ?? .null, depth: depth - 1) {
          var changed = members
          changed[key] = inner
          result.append(.object(changed))
        }
      }
    case .array(let items) where !items.isEmpty:
      for inner in variants(of: items[0], depth: depth - 1) {
        result.append(.array([inner] + items.dropFirst()))
      }
      result.append(.array([]))
    default:
      break
    }
    return result
  }

  @Test func readsTheGoldenChunksAsTheCodableDecoding() throws {
    let documents = try Self.goldenDocuments()
    #expect(Set(documents.map(\.type)) == ["ARCH", "META", "TIDX", "OPTM"])
    for (type, value) in documents {
      let text = [UInt8](try JSONEncoder().encode(value))
      let difference = Self.compare(type, text)
      #expect(difference == nil, "\(type): \(difference.map { "\($0)" } ?? "")")
      // The golden documents themselves must decode.
      if case .refused = Self.outcome({ try HeaderJSON.tensorIndex(value).count }), type == "TIDX" {
        Issue.record("a golden tensor index was refused")
      }
    }
  }

  @Test func agreesWithTheCodableDecodingOnAlteredChunks() throws {
    var compared = 0
    var refused = 0
    var seen = Set<[UInt8]>()
    for (type, value) in try Self.goldenDocuments() {
      // The tensor index is the deepest: tensors -> [entry] -> shape/blocks -> [number].
      for variant in Self.variants(of: value, depth: type == "TIDX" ? 4 : 3) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let text = [UInt8](try encoder.encode(variant))
        guard seen.insert(text).inserted else { continue }
        compared += 1
        if let difference = Self.compare(type, text) {
          Issue.record(
            "\(type): JSONDecoder gives \(difference.old), HeaderJSON \(difference.new) for \(String(decoding: text.prefix(300), as: UTF8.self))"
          )
        }
        if case .refused = Self.outcome({
          try HeaderJSON.tensorIndex(try StrictJSON.parse(bytes: text)).count
        }) {
          refused += 1
        }
      }
    }
    #expect(compared > 2000, "only \(compared) variants")
    #expect(refused > 100)
  }

  @Test func syntaxAndTypeErrorsAreMalformedWithAnExplanation() throws {
    let (entries, data) = ReliabilityTests.validEntries()
    let cases: [(transform: @Sendable (String) -> String, message: String?)] = [
      ({ $0.replacingOccurrences(of: ":", with: " : ") }, nil),
      ({ _ in "{\"tensors\": [" }, "invalid JSON: line 1, column 14"),
      ({ _ in "{\"tensors\": 3}" }, "expected an array at .tensors, found a number"),
      (
        { $0.replacingOccurrences(of: "\"group\"", with: "\"group\":\"model\",\"group\"") },
        "the key 'group' appears twice"
      ),
      ({ _ in "{\"tensors\": [{\"name\": \"a\"}]}" }, "missing key 'group' at .tensors[0]"),
      (
        { $0.replacingOccurrences(of: "\"rawLength\":24", with: "\"rawLength\":24.5") },
        "the number 24.5 at .tensors[0].rawLength is not an integer that fits in UInt64"
      ),
    ]
    for (transform, message) in cases {
      let bytes = try ReliabilityTests.assemble(entries, data: data, indexTransform: transform)
      if let message {
        ReliabilityTests.expectError(.malformed, containing: message, bytes)
      } else {
        let file = try PlexusFile(bytes: bytes)
        let plain = try PlexusFile(bytes: ReliabilityTests.assemble(entries, data: data))
        #expect(file.tensors == plain.tensors)
      }
    }
  }
}
