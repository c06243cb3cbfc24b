import Foundation
import Plexus

/// An error in a JSON document (a training spec), located by its JSON path, or by its line and
/// column when the text is not valid JSON.
///
/// Its description reads `spec.json: at $.layers[1].config: missing key 'units'`, or
/// `spec.json:3:15: not valid JSON: expected ',' or '}' after the value of 'units', found '"'`
/// (the form compilers use, which editors jump to).
public struct SpecError: Error, CustomStringConvertible, Equatable, Sendable {
  /// The file the document came from, when it came from a file.
  public var file: String?
  /// The JSON path of the offending value (`$` is the document, `$.layers[1].config` a part).
  public var path: String
  /// What is wrong and what was expected.
  public var message: String
  /// The line of a syntax error, from 1.
  public var line: Int?
  /// The column of a syntax error, from 1, in Unicode scalars.
  public var column: Int?

  /// Creates an error.
  public init(
    file: String? = nil, path: String, message: String, line: Int? = nil, column: Int? = nil
  ) {
    self.file = file
    self.path = path
    self.message = message
    self.line = line
    self.column = column
  }

  public var description: String {
    if let line, let column {
      return "\(file ?? "spec"):\(line):\(column): \(message)"
    }
    return (file.map { "\($0): " } ?? "") + "at \(path): \(message)"
  }
}

/// A position in a JSON document: a value and its JSON path, with typed accessors whose errors
/// name the path and what was expected.
struct JSONCursor {
  /// The value here.
  let value: JSONValue
  /// The JSON path of `value`.
  let path: String

  init(_ value: JSONValue, path: String = "$") {
    self.value = value
    self.path = path
  }

  /// Parses JSON text strictly (``JSONText``).
  ///
  /// - Throws: `SpecError` at `$` with the line and column of the syntax error.
  static func parse(_ data: Data) throws -> JSONCursor {
    JSONCursor(try JSONText.parse(data))
  }

  func error(_ message: String) -> SpecError { SpecError(path: path, message: message) }

  /// A readable name of the value's JSON type, with the value when short.
  var typeDescription: String {
    switch value {
    case .null: return "null"
    case .bool(let flag): return "a boolean (\(flag))"
    case .number(let number): return "a number (\(Self.format(number)))"
    case .string(let text):
      return "a string (\"\(text.count > 40 ? String(text.prefix(40)) + "…" : text)\")"
    case .array(let items):
      return "an array of \(items.count) element\(items.count == 1 ? "" : "s")"
    case .object: return "an object"
    }
  }

  static func format(_ number: Double) -> String {
    if number.rounded() == number, abs(number) < 1e15 { return String(Int64(number)) }
    return String(number)
  }

  /// The members of an object.
  func object() throws -> [String: JSONValue] {
    guard case .object(let members) = value else {
      throw error("expected an object, found \(typeDescription)")
    }
    return members
  }

  /// Throws unless the value is an object whose keys are all in `allowed`.
  func requireKeys(in allowed: [String]) throws {
    let members = try object()
    if let unknown = members.keys.sorted().first(where: { !allowed.contains($0) }) {
      let suggestion =
        NameSuggestion.nearest(to: unknown, in: allowed).map { " (did you mean '\($0)'?)" } ?? ""
      throw error(
        "unknown key '\(unknown.prefix(80))'\(suggestion); expected one of "
          + allowed.joined(separator: ", "))
    }
  }

  /// The member `key` of an object, or `nil` when absent or `null`.
  func optional(_ key: String) throws -> JSONCursor? {
    let members = try object()
    guard let member = members[key], member != .null else { return nil }
    return JSONCursor(member, path: path + Self.pathComponent(key))
  }

  /// The member `key` of an object.
  ///
  /// - Throws: `SpecError` at this path when the key is missing.
  func required(_ key: String, expected: String) throws -> JSONCursor {
    guard let member = try optional(key) else {
      throw error("missing key '\(key)' (expected \(expected))")
    }
    return member
  }

  static func pathComponent(_ key: String) -> String {
    let simple = key.unicodeScalars.allSatisfy {
      CharacterSet.alphanumerics.contains($0) || $0 == "_"
    }
    return simple && !key.isEmpty ? ".\(key)" : "[\"\(key)\"]"
  }

  /// The elements of an array, each with its path.
  func array() throws -> [JSONCursor] {
    guard case .array(let items) = value else {
      throw error("expected an array, found \(typeDescription)")
    }
    return items.enumerated().map { JSONCursor($1, path: "\(path)[\($0)]") }
  }

  func string() throws -> String {
    guard case .string(let text) = value else {
      throw error("expected a string, found \(typeDescription)")
    }
    return text
  }

  func bool() throws -> Bool {
    guard case .bool(let flag) = value else {
      throw error("expected true or false, found \(typeDescription)")
    }
    return flag
  }

  func double() throws -> Double {
    guard case .number(let number) = value else {
      throw error("expected a number, found \(typeDescription)")
    }
    return number
  }

  /// An integer in `range`.
  func int(in range: ClosedRange<Int> = Int.min...Int.max, expected: String = "an integer") throws
    -> Int
  {
    guard case .number(let number) = value, number.rounded() == number,
      abs(number) <= 9_007_199_254_740_992
    else {
      throw error("expected \(expected), found \(typeDescription)")
    }
    let integer = Int(number)
    guard range.contains(integer) else { throw error("expected \(expected), found \(integer)") }
    return integer
  }

  /// A non-negative integer that fits in `UInt64` exactly as written in JSON (below 2^53).
  func seed() throws -> UInt64 {
    UInt64(
      try int(in: 0...9_007_199_254_740_992, expected: "a non-negative integer seed below 2^53"))
  }
}
