import Foundation

/// A JSON document held as a value: layer configs inside model descriptions, metadata.
public enum JSONValue: Codable, Sendable, Equatable, Hashable {
  case null
  case bool(Bool)
  case number(Double)
  case string(String)
  case array([JSONValue])
  case object([String: JSONValue])

  public init(from decoder: Decoder) throws {
    let container = try decoder.singleValueContainer()
    if container.decodeNil() {
      self = .null
    } else if let value = try? container.decode(Bool.self) {
      self = .bool(value)
    } else if let value = try? container.decode(Double.self) {
      self = .number(value)
    } else if let value = try? container.decode(String.self) {
      self = .string(value)
    } else if let value = try? container.decode([JSONValue].self) {
      self = .array(value)
    } else if let value = try? container.decode([String: JSONValue].self) {
      self = .object(value)
    } else {
      throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a JSON value")
    }
  }

  public func encode(to encoder: Encoder) throws {
    var container = encoder.singleValueContainer()
    switch self {
    case .null: try container.encodeNil()
    case .bool(let value): try container.encode(value)
    case .number(let value): try container.encode(value)
    case .string(let value): try container.encode(value)
    case .array(let value): try container.encode(value)
    case .object(let value): try container.encode(value)
    }
  }

  /// The JSON form of an `Encodable` value.
  public init(encoding value: some Encodable) throws {
    let data = try JSONEncoder().encode(value)
    self = try JSONDecoder().decode(JSONValue.self, from: data)
  }

  /// Decodes a `Decodable` value from this JSON.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` prefixed with `context`, with the decoder's
  ///   explanation or the message of the configuration error the value threw (an unknown key).
  public func decode<T: Decodable>(_ type: T.Type, context: String) throws -> T {
    do {
      let data = try JSONEncoder().encode(self)
      return try JSONDecoder().decode(T.self, from: data)
    } catch let error as DecodingError {
      throw PlexusError.invalidConfiguration("\(context): \(JSONValue.explain(error))")
    } catch PlexusError.invalidConfiguration(let message) {
      throw PlexusError.invalidConfiguration("\(context): \(message)")
    }
  }

  /// The value under `key` of an object.
  public subscript(key: String) -> JSONValue? {
    if case .object(let members) = self { return members[key] }
    return nil
  }

  /// A readable explanation of a decoding error with its coding path.
  public static func explain(_ error: DecodingError) -> String {
    func path(_ context: DecodingError.Context) -> String {
      let components = context.codingPath.map { key in
        key.intValue.map { "[\($0)]" } ?? ".\(key.stringValue)"
      }
      return components.isEmpty ? "at the top level" : "at \(components.joined())"
    }
    switch error {
    case .keyNotFound(let key, let context):
      return "missing key '\(key.stringValue)' \(path(context))"
    case .typeMismatch(let type, let context):
      return "expected \(type) \(path(context)): \(context.debugDescription)"
    case .valueNotFound(let type, let context):
      return "expected a value of type \(type) \(path(context))"
    case .dataCorrupted(let context):
      // The decoder's own description says what is wrong with the value ("Parsed JSON number
      // <2.5> does not fit in Int"); the underlying error, when there is one, is about the
      // bytes and only helps when that description is empty.
      let underlying =
        (context.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String
      let description =
        context.debugDescription.isEmpty ? underlying ?? "" : context.debugDescription
      return "malformed data \(path(context)): \(description)"
    @unknown default:
      return "\(error)"
    }
  }
}
