import Foundation
import PlexusCore

/// An error in a Keras file: what is wrong and where (the file, the layer, the option).
public struct KerasError: Error, CustomStringConvertible, Equatable {
  /// The message.
  public var description: String

  init(_ description: String) { self.description = description }
}

/// The options of one Keras config object (a layer's `config`), read strictly: each key must
/// be read, checked to hold its neutral value, or listed as one that does not change what the
/// converted layer computes (initializers, for example, since the weights come with the
/// file). `finish()` refuses any key left over, naming the layer and the key, so an option
/// Plexus does not know is never dropped silently.
final class KerasOptions {
  /// How errors name the object: `layer 'dense_1' (Dense)`.
  let context: String
  private let members: [String: JSONValue]
  private var read = Set<String>()

  init(_ value: JSONValue, context: String) throws {
    guard case .object(let members) = value else {
      throw KerasError("\(context): the config is not an object")
    }
    self.members = members
    self.context = context
  }

  /// Whether the config has `key` (without reading it).
  func has(_ key: String) -> Bool { members[key] != nil }

  /// The raw value of `key`, marking it read; `nil` when absent.
  func value(_ key: String) -> JSONValue? {
    read.insert(key)
    return members[key]
  }

  /// Marks keys read whose value does not change what the converted model computes.
  func ignore(_ keys: String...) {
    for key in keys { read.insert(key) }
  }

  func fail(_ key: String, _ message: String) -> KerasError {
    KerasError("\(context): option '\(key)' \(message)")
  }

  /// `key` as an integer; `defaultValue` when absent (an error when absent and no default).
  func int(_ key: String, default defaultValue: Int? = nil, in range: ClosedRange<Int>? = nil)
    throws -> Int
  {
    guard let value = value(key), value != .null else {
      guard let defaultValue else { throw fail(key, "is missing") }
      return defaultValue
    }
    guard let number = Self.integer(value) else {
      throw fail(key, "must be an integer, found \(Self.render(value))")
    }
    if let range, !range.contains(number) {
      throw fail(key, "must be in \(range.lowerBound)...\(range.upperBound), found \(number)")
    }
    return number
  }

  /// `key` as a finite number; `defaultValue` when absent.
  func number(_ key: String, default defaultValue: Double? = nil) throws -> Double {
    guard let value = value(key), value != .null else {
      guard let defaultValue else { throw fail(key, "is missing") }
      return defaultValue
    }
    guard case .number(let number) = value, number.isFinite else {
      throw fail(key, "must be a finite number, found \(Self.render(value))")
    }
    return number
  }

  /// `key` as a boolean; `defaultValue` when absent.
  func bool(_ key: String, default defaultValue: Bool? = nil) throws -> Bool {
    guard let value = value(key), value != .null else {
      guard let defaultValue else { throw fail(key, "is missing") }
      return defaultValue
    }
    guard case .bool(let flag) = value else {
      throw fail(key, "must be true or false, found \(Self.render(value))")
    }
    return flag
  }

  /// `key` as a string; `defaultValue` when absent or null.
  func string(_ key: String, default defaultValue: String? = nil) throws -> String {
    guard let value = value(key), value != .null else {
      guard let defaultValue else { throw fail(key, "is missing") }
      return defaultValue
    }
    guard case .string(let text) = value else {
      throw fail(key, "must be a string, found \(Self.render(value))")
    }
    return text
  }

  /// `key` as `count` positive integers: one integer is repeated (Keras's `kernel_size=3`).
  func extent(_ key: String, count: Int, default defaultValue: [Int]? = nil) throws -> [Int] {
    guard let value = value(key), value != .null else {
      guard let defaultValue else { throw fail(key, "is missing") }
      return defaultValue
    }
    if let number = Self.integer(value) {
      guard number > 0 else { throw fail(key, "must be positive, found \(number)") }
      return Array(repeating: number, count: count)
    }
    guard case .array(let items) = value, items.count == count,
      let numbers = Optional(items.compactMap(Self.integer)), numbers.count == count,
      numbers.allSatisfy({ $0 > 0 })
    else {
      throw fail(key, "must be \(count) positive integers, found \(Self.render(value))")
    }
    return numbers
  }

  /// Checks that `key` is absent or holds one of `allowed` (its neutral values); the message
  /// says Plexus does not support another value.
  func require(_ key: String, in allowed: [JSONValue]) throws {
    guard let value = value(key) else { return }
    guard allowed.contains(value) else {
      throw fail(
        key,
        "is \(Self.render(value)); Plexus supports only "
          + allowed.map(Self.render).joined(separator: " or "))
    }
  }

  /// Checks that each key is absent or null (options Plexus has no counterpart for, such as
  /// constraints).
  func requireNull(_ keys: String...) throws {
    for key in keys {
      guard let value = value(key), value != .null else { continue }
      throw fail(key, "is set (\(Self.render(value))); Plexus has no equivalent, so it is refused")
    }
  }

  /// Refuses every key not read: an option Plexus does not know.
  func finish() throws {
    if let unknown = members.keys.sorted().first(where: { !read.contains($0) }) {
      throw KerasError(
        "\(context): unknown option '\(unknown)' (\(Self.render(members[unknown]!))); Plexus "
          + "cannot tell whether it changes the layer, so it refuses the file")
    }
  }

  /// An integer held exactly by a JSON number.
  static func integer(_ value: JSONValue) -> Int? {
    guard case .number(let number) = value, number.rounded() == number, abs(number) < 9.0e15
    else { return nil }
    return Int(exactly: number)
  }

  /// A short rendering of a JSON value for messages.
  static func render(_ value: JSONValue) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    let text = (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "?"
    return text.count > 200 ? String(text.prefix(200)) + "..." : text
  }
}

extension JSONValue {
  /// The members of an object, or `nil`.
  var objectMembers: [String: JSONValue]? {
    if case .object(let members) = self { return members }
    return nil
  }

  /// The items of an array, or `nil`.
  var arrayItems: [JSONValue]? {
    if case .array(let items) = self { return items }
    return nil
  }

  /// The text of a string, or `nil`.
  var stringValue: String? {
    if case .string(let text) = self { return text }
    return nil
  }
}
