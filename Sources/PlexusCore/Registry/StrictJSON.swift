import Foundation

/// A strict RFC 8259 JSON reader, whose errors say where the text goes wrong: the line and
/// column (both from 1, columns counted in Unicode scalars) and what was expected. Faster than
/// `JSONDecoder` for a `JSONValue` (file headers are parsed with it).
///
/// Stricter than `JSONDecoder` where specs and file headers benefit: a key may appear only once in an object
/// (a second `"units"` would otherwise silently win), control characters must be escaped in
/// strings, a number must fit a `Double`, and nesting is limited to
/// ``maximumDepth`` levels so that no input exhausts the stack. A UTF-8 byte order mark at the
/// start is skipped.
public enum StrictJSON {
  /// The deepest nesting of arrays and objects accepted.
  public static let maximumDepth = 256

  /// A syntax error at a byte offset of the text.
  public struct SyntaxError: Error, CustomStringConvertible {
    /// The byte offset of the offending character (the text's length at its end).
    public var offset: Int
    /// What is wrong and what was expected.
    public var message: String
    /// The line and column (from 1) of `offset`, once the whole text is known.
    public var line = 0
    public var column = 0

    init(offset: Int, message: String) {
      self.offset = offset
      self.message = message
    }

    public var description: String { "line \(line), column \(column): \(message)" }
  }

  /// Parses a whole document.
  ///
  /// - Throws: `SyntaxError` with the line and column of the first syntax error.
  public static func parse(_ data: Data) throws(SyntaxError) -> JSONValue {
    try parse(bytes: [UInt8](data))
  }

  /// Parses a whole document from its bytes.
  ///
  /// - Throws: `SyntaxError` with the line and column of the first syntax error.
  public static func parse(bytes: [UInt8]) throws(SyntaxError) -> JSONValue {
    var reader = Reader(bytes: bytes)
    do {
      return try reader.document()
    } catch let error as SyntaxError {
      var located = error
      (located.line, located.column) = position(of: error.offset, in: bytes)
      throw located
    } catch {
      // The reader throws only syntax errors.
      throw SyntaxError(offset: 0, message: "\(error)")
    }
  }

  /// The line and column (from 1) of a byte offset; a column counts Unicode scalars, and
  /// `\n`, `\r\n` and `\r` each end a line.
  static func position(of offset: Int, in bytes: [UInt8]) -> (line: Int, column: Int) {
    var line = 1
    var lineStart = 0
    var index = 0
    let end = min(offset, bytes.count)
    while index < end {
      let byte = bytes[index]
      if byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") {
        if byte == UInt8(ascii: "\r"), index + 1 < end, bytes[index + 1] == UInt8(ascii: "\n") {
          index += 1
        }
        line += 1
        lineStart = index + 1
      }
      index += 1
    }
    // UTF-8 continuation bytes (10xxxxxx) do not start a scalar.
    let scalars = bytes[lineStart..<end].filter { $0 & 0xC0 != 0x80 }.count
    return (line, scalars + 1)
  }

  /// The offset of the first byte from `start` on that begins no valid UTF-8 sequence
  /// (overlong forms, surrogates and values above U+10FFFF are invalid), or `nil`.
  static func firstInvalidUTF8(_ bytes: [UInt8], from start: Int) -> Int? {
    var index = start
    while index < bytes.count {
      let lead = bytes[index]
      if lead < 0x80 {
        index += 1
        continue
      }
      let length: Int
      var scalar: UInt32
      let minimum: UInt32
      switch lead {
      case 0xC2...0xDF: (length, scalar, minimum) = (2, UInt32(lead & 0x1F), 0x80)
      case 0xE0...0xEF: (length, scalar, minimum) = (3, UInt32(lead & 0x0F), 0x800)
      case 0xF0...0xF4: (length, scalar, minimum) = (4, UInt32(lead & 0x07), 0x10000)
      default: return index
      }
      guard bytes.count - index >= length else { return index }
      for offset in 1..<length {
        let continuation = bytes[index + offset]
        guard continuation & 0xC0 == 0x80 else { return index }
        scalar = scalar << 6 | UInt32(continuation & 0x3F)
      }
      guard scalar >= minimum, scalar <= 0x10FFFF, !(0xD800...0xDFFF).contains(scalar) else {
        return index
      }
      index += length
    }
    return nil
  }

  private struct Reader {
    let bytes: [UInt8]
    var index = 0
    var depth = 0

    init(bytes: [UInt8]) {
      self.bytes = bytes
      if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { index = 3 }
    }

    private func fail(_ message: String, at offset: Int? = nil) -> SyntaxError {
      SyntaxError(offset: offset ?? index, message: message)
    }

    /// What stands at the current position, for messages: `'x'` or `the end of the text`.
    private var found: String {
      guard index < bytes.count else { return "the end of the text" }
      let byte = bytes[index]
      if byte >= 0x20, byte < 0x7F { return "'\(Character(UnicodeScalar(byte)))'" }
      // A multi-byte character: show it when it decodes, else its byte.
      var end = index + 1
      while end < bytes.count, end - index < 4, bytes[end] & 0xC0 == 0x80 { end += 1 }
      if byte >= 0x80, let text = String(validating: bytes[index..<end], as: UTF8.self) {
        return "'\(text)'"
      }
      return String(format: "the byte 0x%02X", byte)
    }

    private mutating func skipWhitespace() {
      while index < bytes.count {
        switch bytes[index] {
        case 0x20, 0x09, 0x0A, 0x0D: index += 1
        default: return
        }
      }
    }

    mutating func document() throws -> JSONValue {
      if let invalid = StrictJSON.firstInvalidUTF8(bytes, from: index) {
        throw fail(
          String(
            format: "the text is not UTF-8: the byte 0x%02X starts no valid character",
            bytes[invalid]),
          at: invalid)
      }
      skipWhitespace()
      guard index < bytes.count else {
        throw fail("the text is empty; expected a JSON object such as {\"layers\": [...]}")
      }
      let value = try self.value()
      skipWhitespace()
      guard index == bytes.count else {
        throw fail("expected the end of the text after the top-level value, found \(found)")
      }
      return value
    }

    private mutating func value() throws -> JSONValue {
      guard index < bytes.count else { throw fail("expected a value, found the end of the text") }
      switch bytes[index] {
      case UInt8(ascii: "{"): return try object()
      case UInt8(ascii: "["): return try array()
      case UInt8(ascii: "\""): return .string(try string())
      case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
      case UInt8(ascii: "t"): return try literal("true", .bool(true))
      case UInt8(ascii: "f"): return try literal("false", .bool(false))
      case UInt8(ascii: "n"): return try literal("null", .null)
      case UInt8(ascii: "'"):
        throw fail("expected a value, found a single quote; JSON strings use double quotes")
      default:
        throw fail(
          "expected a value (an object, array, string, number, true, false or null), found \(found)"
        )
      }
    }

    private mutating func literal(_ word: String, _ value: JSONValue) throws -> JSONValue {
      let start = index
      let letters = Array(word.utf8)
      guard bytes.count - index >= letters.count,
        Array(bytes[index..<(index + letters.count)]) == letters
      else {
        var end = index
        while end < bytes.count, end - index < 16,
          (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(bytes[end])
            || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(bytes[end])
        {
          end += 1
        }
        let word = String(decoding: bytes[start..<end], as: UTF8.self)
        throw fail(
          "expected a value, found '\(word)' (the literals are true, false and null; strings need double quotes)",
          at: start)
      }
      index += letters.count
      return value
    }

    private mutating func enter() throws {
      depth += 1
      guard depth <= StrictJSON.maximumDepth else {
        throw fail("arrays and objects are nested more than \(StrictJSON.maximumDepth) levels deep")
      }
    }

    private mutating func object() throws -> JSONValue {
      try enter()
      defer { depth -= 1 }
      index += 1  // {
      var members: [String: JSONValue] = [:]
      skipWhitespace()
      if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
        index += 1
        return .object(members)
      }
      while true {
        skipWhitespace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
          if index < bytes.count, bytes[index] == UInt8(ascii: "}"), !members.isEmpty {
            throw fail("expected another key after ',', found '}' (JSON allows no trailing comma)")
          }
          throw fail("expected a key (a string in double quotes), found \(found)")
        }
        let keyOffset = index
        let key = try string()
        guard members[key] == nil else {
          throw fail(
            "the key '\(key)' appears twice in this object; give each key once", at: keyOffset)
        }
        skipWhitespace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else {
          throw fail("expected ':' after the key '\(key)', found \(found)")
        }
        index += 1
        skipWhitespace()
        members[key] = try value()
        skipWhitespace()
        guard index < bytes.count else {
          throw fail("expected ',' or '}' after the value of '\(key)', found the end of the text")
        }
        switch bytes[index] {
        case UInt8(ascii: ","): index += 1
        case UInt8(ascii: "}"):
          index += 1
          return .object(members)
        default:
          throw fail("expected ',' or '}' after the value of '\(key)', found \(found)")
        }
      }
    }

    private mutating func array() throws -> JSONValue {
      try enter()
      defer { depth -= 1 }
      index += 1  // [
      var items: [JSONValue] = []
      skipWhitespace()
      if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
        index += 1
        return .array(items)
      }
      while true {
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]"), !items.isEmpty {
          throw fail(
            "expected another element after ',', found ']' (JSON allows no trailing comma)")
        }
        items.append(try value())
        skipWhitespace()
        guard index < bytes.count else {
          throw fail(
            "expected ',' or ']' after element \(items.count - 1), found the end of the text")
        }
        switch bytes[index] {
        case UInt8(ascii: ","): index += 1
        case UInt8(ascii: "]"):
          index += 1
          return .array(items)
        default:
          throw fail("expected ',' or ']' after element \(items.count - 1), found \(found)")
        }
      }
    }

    private mutating func string() throws -> String {
      let start = index
      index += 1  // "
      // The common string without escapes is one run of bytes, decoded at once.
      var end = index
      while end < bytes.count {
        let byte = bytes[end]
        if byte == UInt8(ascii: "\"") {
          let text = String(decoding: bytes[index..<end], as: UTF8.self)
          index = end + 1
          return text
        }
        if byte < 0x20 || byte == UInt8(ascii: "\\") { break }
        end += 1
      }
      var scalars = String.UnicodeScalarView()
      var runStart = index
      func flush(_ reader: Reader, upTo end: Int) {
        // The whole text was checked to be UTF-8 before parsing.
        guard runStart < end else { return }
        scalars.append(
          contentsOf: String(decoding: reader.bytes[runStart..<end], as: UTF8.self).unicodeScalars)
      }
      while true {
        guard index < bytes.count else {
          throw fail("the string that starts here is not terminated", at: start)
        }
        let byte = bytes[index]
        if byte == UInt8(ascii: "\"") {
          flush(self, upTo: index)
          index += 1
          return String(scalars)
        }
        if byte < 0x20 {
          throw fail(
            byte == 0x0A || byte == 0x0D
              ? "a string runs past the end of its line (close it with '\"', or write \\n)"
              : String(format: "a string holds the control character 0x%02X; escape it", byte))
        }
        if byte == UInt8(ascii: "\\") {
          flush(self, upTo: index)
          scalars.append(try escape())
          runStart = index
          continue
        }
        index += 1
      }
    }

    /// Reads an escape sequence at `index` (the backslash) and returns its scalar.
    private mutating func escape() throws -> Unicode.Scalar {
      let start = index
      index += 1
      guard index < bytes.count else {
        throw fail("the string that ends here is not terminated", at: start)
      }
      let byte = bytes[index]
      index += 1
      switch byte {
      case UInt8(ascii: "\""): return "\""
      case UInt8(ascii: "\\"): return "\\"
      case UInt8(ascii: "/"): return "/"
      case UInt8(ascii: "b"): return "\u{08}"
      case UInt8(ascii: "f"): return "\u{0C}"
      case UInt8(ascii: "n"): return "\n"
      case UInt8(ascii: "r"): return "\r"
      case UInt8(ascii: "t"): return "\t"
      case UInt8(ascii: "u"):
        let high = try hexQuad(escapeStart: start)
        if (0xD800..<0xDC00).contains(high) {
          let second = index
          guard bytes.count - index >= 2, bytes[index] == UInt8(ascii: "\\"),
            bytes[index + 1] == UInt8(ascii: "u")
          else {
            throw fail(
              "the escape \\u\(String(high, radix: 16, uppercase: true)) is half of a surrogate pair without its second half",
              at: start)
          }
          index += 2
          let low = try hexQuad(escapeStart: second)
          guard (0xDC00..<0xE000).contains(low) else {
            throw fail(
              "the escape \\u\(String(high, radix: 16, uppercase: true)) must be followed by a low surrogate (\\uDC00-\\uDFFF)",
              at: second)
          }
          return Unicode.Scalar(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))!
        }
        guard let scalar = Unicode.Scalar(high) else {
          throw fail(
            "the escape \\u\(String(high, radix: 16, uppercase: true)) is a lone low surrogate",
            at: start)
        }
        return scalar
      default:
        index -= 1
        throw fail(
          "unknown escape '\\\(found.dropFirst().dropLast())' in a string; the escapes are \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX",
          at: start)
      }
    }

    private mutating func hexQuad(escapeStart: Int) throws -> UInt32 {
      guard bytes.count - index >= 4 else {
        throw fail("a \\u escape needs four hexadecimal digits", at: escapeStart)
      }
      var value: UInt32 = 0
      for offset in 0..<4 {
        let byte = bytes[index + offset]
        let digit: UInt8
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
        default: throw fail("a \\u escape needs four hexadecimal digits", at: escapeStart)
        }
        value = value << 4 | UInt32(digit)
      }
      index += 4
      return value
    }

    private mutating func number() throws -> Double {
      let start = index
      func digits() -> Int {
        let first = index
        while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) {
          index += 1
        }
        return index - first
      }
      if bytes[index] == UInt8(ascii: "-") { index += 1 }
      let integerStart = index
      let integerDigits = digits()
      guard integerDigits > 0 else { throw fail("expected a digit after '-', found \(found)") }
      if integerDigits > 1, bytes[integerStart] == UInt8(ascii: "0") {
        throw fail("a number cannot start with 0 followed by more digits", at: integerStart)
      }
      if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
        index += 1
        guard digits() > 0 else {
          throw fail("expected a digit after the decimal point, found \(found)")
        }
      }
      if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E")
      {
        index += 1
        if index < bytes.count,
          bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-")
        {
          index += 1
        }
        guard digits() > 0 else { throw fail("expected a digit in the exponent, found \(found)") }
      }
      // An integer of up to 15 digits is exact in a Double: no text conversion needed.
      let length = index - start
      let negative = bytes[start] == UInt8(ascii: "-")
      if length - (negative ? 1 : 0) == integerDigits, integerDigits <= 15 {
        var magnitude: Int64 = 0
        for position in integerStart..<index {
          magnitude = magnitude * 10 + Int64(bytes[position] &- UInt8(ascii: "0"))
        }
        let value = Double(magnitude)
        return negative ? -value : value
      }
      let text = String(decoding: bytes[start..<index], as: UTF8.self)
      guard let value = Double(text), value.isFinite else {
        throw fail("the number \(text.prefix(40)) is too large for a 64-bit float", at: start)
      }
      return value
    }
  }
}
