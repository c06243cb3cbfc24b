import Foundation
import Plexus

/// The spec reader's JSON: `StrictJSON`, with its syntax errors as `SpecError`s at `$`.
enum JSONText {
  /// Parses a whole spec document.
  ///
  /// - Throws: `SpecError` at `$` with the line and column of the first syntax error.
  static func parse(_ data: Data) throws -> JSONValue {
    do {
      return try StrictJSON.parse(data)
    } catch {
      throw SpecError(
        path: "$", message: "not valid JSON: \(error.message)", line: error.line,
        column: error.column)
    }
  }
}
