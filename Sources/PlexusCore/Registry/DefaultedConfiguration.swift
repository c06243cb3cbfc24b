import Foundation

/// A configuration that decodes key by key from a table of its fields: keys missing from the
/// JSON keep the values of a defaults instance, and a key the table does not know is an error
/// that suggests the nearest known key. Conforming types get `init(from:)` and `encode(to:)`;
/// each default is written once, in `defaults` (usually the memberwise initializer's defaults).
///
/// ```swift
/// public struct Config: DefaultedConfiguration {
///   public var units: Int
///   public var activation: ActivationFunction = .linear
///   public var useBias = true
///   public var kernelRegularizer: Regularizer?
///
///   public static var defaults: Config { Config(units: 1) }
///   public static var fields: [ConfigField<Config>] {
///     [
///       .required("units", \.units), .init("activation", \.activation),
///       .init("useBias", \.useBias), .init("kernelRegularizer", \.kernelRegularizer),
///     ]
///   }
/// }
/// ```
///
/// Decoding `{"units": 8, "useBais": false}` then fails with "unknown key 'useBais' (did you
/// mean 'useBias'?)"; `{"units": 8}` gives a linear activation with a bias and no regularizer.
/// A required field (`units`) must be present; its value in `defaults` is never used. An
/// optional property is left out of the JSON when it is `nil`, as synthesized `Codable` does.
public protocol DefaultedConfiguration: Codable, Sendable, Equatable {
  /// The values of the keys missing from the JSON.
  static var defaults: Self { get }

  /// Every JSON key with the property it stands for, in the order they are encoded.
  static var fields: [ConfigField<Self>] { get }
}

extension DefaultedConfiguration {
  /// Decodes with `Self.defaults` for missing keys.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` for an unknown key (suggesting the nearest
  ///   known one); `DecodingError` for a missing required key or a value of the wrong type.
  public init(from decoder: any Decoder) throws {
    try self.init(from: decoder, defaults: Self.defaults)
  }

  /// Decodes with `defaults` for missing keys, for types that share one configuration with
  /// other defaults (AdamW's weight decay is 0.01 where Adam's is 0).
  ///
  /// - Throws: as `init(from:)`.
  public init(from decoder: any Decoder, defaults: Self) throws {
    let container = try decoder.container(keyedBy: ConfigKey.self)
    let fields = Self.fields
    try ConfigKey.rejectUnknown(
      container.allKeys.map(\.stringValue), known: fields.map(\.key),
      codingPath: decoder.codingPath)
    var value = defaults
    for field in fields { try field.decode(&value, container) }
    self = value
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: ConfigKey.self)
    for field in Self.fields { try field.encode(self, &container) }
  }

  /// The JSON keys, in field order.
  public static var keys: [String] { fields.map(\.key) }

  /// The JSON keys that must be present, in field order.
  public static var requiredKeys: [String] { fields.filter(\.isRequired).map(\.key) }

  /// Decodes a JSON value, with `defaults` (or `Self.defaults`) for missing keys.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` prefixed with `context` for anything that
  ///   does not decode.
  public static func decode(_ json: JSONValue, defaults: Self? = nil, context: String) throws
    -> Self
  {
    do {
      let decoder = JSONDecoder()
      decoder.userInfo[DefaultsBox<Self>.key] = defaults ?? Self.defaults
      return try decoder.decode(DefaultsBox<Self>.self, from: JSONEncoder().encode(json)).value
    } catch let error as DecodingError {
      throw PlexusError.invalidConfiguration("\(context): \(JSONValue.explain(error))")
    } catch PlexusError.invalidConfiguration(let message) {
      throw PlexusError.invalidConfiguration("\(context): \(message)")
    }
  }

  /// Whether `other` is a configuration of the same type with the same values.
  public func isEqual(to other: any DefaultedConfiguration) -> Bool {
    (other as? Self) == self
  }
}

/// Carries the defaults of one decode through `JSONDecoder.userInfo`.
private struct DefaultsBox<Configuration: DefaultedConfiguration>: Decodable {
  static var key: CodingUserInfoKey {
    // A constant, valid key: the initializer fails only for no string at all.
    CodingUserInfoKey(rawValue: "plexus.configurationDefaults")!
  }
  let value: Configuration

  init(from decoder: any Decoder) throws {
    let defaults = decoder.userInfo[Self.key] as? Configuration ?? Configuration.defaults
    value = try Configuration(from: decoder, defaults: defaults)
  }
}

/// One field of a `DefaultedConfiguration`: its JSON key and its property.
public struct ConfigField<Root> {
  /// The JSON key.
  public let key: String
  /// Whether the key must be present.
  public let isRequired: Bool
  let decode: (inout Root, KeyedDecodingContainer<ConfigKey>) throws -> Void
  let encode: (Root, inout KeyedEncodingContainer<ConfigKey>) throws -> Void

  /// A field that keeps the default when its key is missing. `null` is rejected (the
  /// property is not optional).
  public init<Value: Codable>(_ key: String, _ property: WritableKeyPath<Root, Value>) {
    self.init(key: key, property: property, isRequired: false)
  }

  /// An optional field: a missing key keeps the default, `null` sets `nil`, and `nil` is left
  /// out when encoding.
  public init<Wrapped: Codable>(_ key: String, _ property: WritableKeyPath<Root, Wrapped?>) {
    let codingKey = ConfigKey(key)
    self.key = key
    isRequired = false
    decode = { root, container in
      guard container.contains(codingKey) else { return }
      root[keyPath: property] = try ConfigKey.decoding(key, in: container) {
        try container.decodeIfPresent(Wrapped.self, forKey: codingKey)
      }
    }
    encode = { root, container in
      try container.encodeIfPresent(root[keyPath: property], forKey: codingKey)
    }
  }

  /// A field whose key must be present.
  public static func required<Value: Codable>(
    _ key: String, _ property: WritableKeyPath<Root, Value>
  ) -> ConfigField {
    ConfigField(key: key, property: property, isRequired: true)
  }

  /// A field that keeps the default when its key is missing and is left out when encoding
  /// while it holds `omittedValue`: for keys added after files were written, so that the
  /// descriptions of older models stay exactly as they were.
  public static func omitted<Value: Codable & Equatable>(
    _ key: String, _ property: WritableKeyPath<Root, Value>, whenEqualTo omittedValue: Value
  ) -> ConfigField {
    let field = ConfigField(key: key, property: property, isRequired: false)
    let codingKey = ConfigKey(key)
    return ConfigField(
      key: key, isRequired: false, decode: field.decode,
      encode: { root, container in
        let value = root[keyPath: property]
        if value != omittedValue { try container.encode(value, forKey: codingKey) }
      })
  }

  private init(
    key: String, isRequired: Bool,
    decode: @escaping (inout Root, KeyedDecodingContainer<ConfigKey>) throws -> Void,
    encode: @escaping (Root, inout KeyedEncodingContainer<ConfigKey>) throws -> Void
  ) {
    self.key = key
    self.isRequired = isRequired
    self.decode = decode
    self.encode = encode
  }

  private init<Value: Codable>(
    key: String, property: WritableKeyPath<Root, Value>, isRequired: Bool
  ) {
    let codingKey = ConfigKey(key)
    self.key = key
    self.isRequired = isRequired
    decode = { root, container in
      guard isRequired || container.contains(codingKey) else { return }
      root[keyPath: property] = try ConfigKey.decoding(key, in: container) {
        try container.decode(Value.self, forKey: codingKey)
      }
    }
    encode = { root, container in
      try container.encode(root[keyPath: property], forKey: codingKey)
    }
  }
}

/// A configuration with no fields: `{}` decodes to it and any key is rejected. Losses and
/// metrics without hyperparameters use it.
public struct EmptyConfiguration: DefaultedConfiguration {
  /// Creates the empty configuration.
  public init() {}
  public static var defaults: EmptyConfiguration { EmptyConfiguration() }
  public static var fields: [ConfigField<EmptyConfiguration>] { [] }
}

extension ConfigKey {
  /// Runs `body` (one field's decoding); a number or value the field's type cannot hold
  /// (`"units": 2.5`, `1e300`, a string for a number) becomes an error naming the key, the value
  /// and the type, instead of the decoder's message about the bytes.
  static func decoding<Value>(
    _ key: String, in container: KeyedDecodingContainer<ConfigKey>, _ body: () throws -> Value
  ) throws -> Value {
    do {
      return try body()
    } catch let error as PlexusError {
      throw error
    } catch {
      // Foundation reports a number that does not fit its field as corrupt data, or as an
      // error of its own ("numberIsNotRepresentableInSwift"), with no key.
      if let decoding = error as? DecodingError {
        switch decoding {
        case .keyNotFound, .valueNotFound: throw error
        default: break
        }
      }
      guard let found = try? container.decode(JSONValue.self, forKey: ConfigKey(key)) else {
        throw error
      }
      // An error from inside a nested value (a layer description, a list) is more precise.
      switch found {
      case .object, .array: throw error
      default: break
      }
      let type = "\(Value.self)".replacingOccurrences(of: "Optional<", with: "")
        .replacingOccurrences(of: ">", with: "")
      throw PlexusError.invalidConfiguration(
        "key '\(key)': \(Self.describe(found)) is not a valid \(type)")
    }
  }

  private static func describe(_ value: JSONValue) -> String {
    switch value {
    case .number(let number):
      if number.rounded() == number, abs(number) < 1e15 { return String(Int(number)) }
      return "\(number)"
    case .string(let text): return "\"\(text)\""
    case .bool(let flag): return "\(flag)"
    case .null: return "null"
    case .array(let items): return "an array of \(items.count)"
    case .object: return "an object"
    }
  }
}

/// A JSON object key of a configuration.
public struct ConfigKey: CodingKey, Hashable, Sendable {
  public let stringValue: String
  public var intValue: Int? { nil }

  /// The key `name`.
  public init(_ name: String) { stringValue = name }
  public init(stringValue: String) { self.stringValue = stringValue }
  public init?(intValue: Int) { nil }

  /// Throws for the first key of `given` (in sorted order) that is not `known`.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` naming the key, the nearest known key when
  ///   one is close, and the known keys.
  public static func rejectUnknown(_ given: [String], known: [String], codingPath: [any CodingKey])
    throws
  {
    let knownSet = Set(known)
    guard let unknown = given.sorted().first(where: { !knownSet.contains($0) }) else { return }
    let location =
      codingPath.isEmpty
      ? ""
      : " at " + codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
    let suggestion =
      NameSuggestion.nearest(to: unknown, in: known).map {
        " (did you mean '\($0)'?)"
      } ?? ""
    let expected = known.isEmpty ? "no keys" : "one of " + known.sorted().joined(separator: ", ")
    throw PlexusError.invalidConfiguration(
      "unknown key '\(unknown)'\(location)\(suggestion); expected \(expected)")
  }
}
