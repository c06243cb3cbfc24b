import Foundation
import Plexus
import PlexusCommands
import Testing

/// The syntax error a spec text gives.
private func syntaxError(_ text: String) -> SpecError? {
  do {
    _ = try TrainingSpec.decode(Data(text.utf8), baseDirectory: URL(fileURLWithPath: "/"))
    return nil
  } catch {
    return error as? SpecError
  }
}

private func syntaxError(bytes: [UInt8]) -> SpecError? {
  do {
    _ = try TrainingSpec.decode(Data(bytes), baseDirectory: URL(fileURLWithPath: "/"))
    return nil
  } catch {
    return error as? SpecError
  }
}

@Suite struct SpecSyntaxTests {
  /// Each malformed text, the line and column of its error and a part of the message.
  @Test(
    arguments: [
      ("{\"layers\": [\n  {\"type\": \"plexus.dense\",,}\n]}", 2, 27, "expected a key"),
      ("{\"epochs\": 3\n \"seed\": 1}", 2, 2, "expected ',' or '}' after the value of 'epochs'"),
      ("{\"a\": [1, 2,]}", 1, 13, "no trailing comma"),
      ("{\"a\": 1,}", 1, 9, "no trailing comma"),
      ("{\"a\": tru}", 1, 7, "found 'tru'"),
      ("{\"a\": 'x'}", 1, 7, "double quotes"),
      ("{\"a\": \"x\ny\"}", 1, 9, "past the end of its line"),
      ("{\"a\": \"x", 1, 7, "not terminated"),
      ("{\"a\": 1e400}", 1, 7, "too large"),
      ("{\"a\": 012}", 1, 7, "cannot start with 0"),
      ("{\"a\": -}", 1, 8, "expected a digit after '-'"),
      ("{\"a\": 1.}", 1, 9, "after the decimal point"),
      ("{\"a\": \"\\q\"}", 1, 8, "unknown escape"),
      ("{\"a\": \"\\uD800\"}", 1, 8, "surrogate"),
      ("{\"a\": 1, \"a\": 2}", 1, 10, "appears twice"),
      ("{\"a\": 1}}", 1, 9, "end of the text after the top-level value"),
      ("", 1, 1, "the text is empty"),
      ("  \n", 2, 1, "the text is empty"),
      ("{\"a\": 1", 1, 8, "found the end of the text"),
      ("{\"é\": \"ü\" x}", 1, 11, "found 'x'"),
      ("{\r\n\"a\": x}", 2, 6, "expected a value"),
    ] as [(String, Int, Int, String)])
  func malformedJSONGivesLineAndColumn(
    text: String, line: Int, column: Int, message: String
  ) throws {
    let error = try #require(syntaxError(text), "accepted: \(text.debugDescription)")
    #expect(error.line == line, "\(error)")
    #expect(error.column == column, "\(error)")
    #expect(error.message.hasPrefix("not valid JSON: "))
    #expect(error.message.contains(message), "\(error)")
  }

  @Test func theDescriptionHasTheFormCompilersUse() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let spec = try folder.write("{\"layers\": [}\n", to: "broken.json")
    #expect {
      try TrainingSpec.load(contentsOf: spec)
    } throws: { error in
      "\(error)".hasPrefix("\(spec.path):1:13: not valid JSON: expected a value")
    }
  }

  @Test func bytesThatAreNotUTF8AreNamed() throws {
    let error = try #require(
      syntaxError(bytes: Array("{\"a\": \"".utf8) + [0xC3, 0x28, 0x22, 0x7D]))
    #expect(error.line == 1 && error.column == 8)
    #expect(error.message.contains("not UTF-8"))
    // Overlong encodings and surrogates written as UTF-8 are refused too.
    #expect(syntaxError(bytes: Array("{\"a\": \"".utf8) + [0xC0, 0xAF, 0x22, 0x7D]) != nil)
    #expect(syntaxError(bytes: Array("{\"a\": \"".utf8) + [0xED, 0xA0, 0x80, 0x22, 0x7D]) != nil)
  }

  @Test func deepNestingIsAnErrorNotACrash() throws {
    let deep = String(repeating: "[", count: 100_000)
    let error = try #require(syntaxError("{\"a\": \(deep)"))
    #expect(error.message.contains("nested more than"))
    #expect(error.line == 1)
  }

  @Test func validTextReadsAsBefore() throws {
    // Escapes, a byte order mark, surrogate pairs and every literal.
    let text =
      "\u{FEFF}{\"name\": \"a\\u00e9\\ud83d\\ude00\\n\\t\\\"\\/\", \"layers\": [{\"type\": "
      + "\"plexus.dense\", \"config\": {\"units\": 3, \"useBias\": true}}], \"loss\": \"mse\", "
      + "\"optimizer\": {\"type\": \"sgd\", \"learningRate\": 1.5e-2}, \"shuffle\": false, "
      + "\"inputShape\": null, \"data\": {\"source\": \"digits\"}}"
    let spec = try TrainingSpec.decode(Data(text.utf8), baseDirectory: URL(fileURLWithPath: "/"))
    #expect(spec.name == "aé😀\n\t\"/")
    #expect(spec.shuffle == false)
    #expect(spec.inputShape == nil)
    #expect(spec.optimizer.parameters["learningRate"] == .number(0.015))
  }
}
