import Foundation
import PlexusCore
import Testing

@Suite struct CSVTests {
  /// Writes `text` to a file in a fresh temporary folder and loads it.
  func load(
    _ text: String, labelColumn: CSV.LabelColumn = .last, hasHeader: Bool? = nil,
    delimiter: Character = ","
  ) throws -> Dataset {
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let url = folder.appendingPathComponent("data.csv")
    try Data(text.utf8).write(to: url)
    return try CSV.loadDataset(
      contentsOf: url, labelColumn: labelColumn, hasHeader: hasHeader, delimiter: delimiter)
  }

  /// The message of the error thrown when loading `text`.
  func failure(
    _ text: String, labelColumn: CSV.LabelColumn = .last, hasHeader: Bool? = nil,
    delimiter: Character = ","
  ) -> String {
    plexusErrorMessage {
      _ = try load(text, labelColumn: labelColumn, hasHeader: hasHeader, delimiter: delimiter)
    } ?? "no error"
  }

  @Test func headerIsDetectedAndLabelIsLast() throws {
    let data = try load("x1,x2,label\n1,2,0\n3.5,-4e-1,1\n")
    #expect(data.features.shape == [2, 2])
    #expect(data.features.scalars == [1, 2, 3.5, -0.4])
    #expect(data.labels.scalars == [0, 1])
    #expect(data.classCount == 2)
  }

  @Test func noHeaderCRLFBlankLinesBOMAndNoFinalNewline() throws {
    let data = try load("\u{FEFF}1,2,0\r\n\r\n 3 , 4 ,2\r\n\n5,6,1")
    #expect(data.features.scalars == [1, 2, 3, 4, 5, 6])
    #expect(data.labels.scalars == [0, 2, 1])
    #expect(data.classCount == 3)
  }

  @Test func labelColumnChoices() throws {
    let text = "label,a,b\n7,1,2\n8,3,4\n"
    let first = try load(text, labelColumn: .first)
    #expect(first.labels.scalars == [7, 8] && first.features.scalars == [1, 2, 3, 4])
    let middle = try load(text, labelColumn: .index(1))
    #expect(middle.labels.scalars == [1, 3] && middle.features.scalars == [7, 2, 8, 4])
    let named = try load(text, labelColumn: .named("b"))
    #expect(named.labels.scalars == [2, 4] && named.features.scalars == [7, 1, 8, 3])
  }

  @Test func quotedFieldsAndOtherDelimiters() throws {
    let quoted = try load(
      "\"a;b\",\"say \"\"hi\"\"\",\"label\"\n\"1.5\", \"2\" ,0\n", labelColumn: .named("label"))
    #expect(quoted.features.scalars == [1.5, 2])
    let headerName = try load(
      "\"a,b\",\"say \"\"hi\"\"\",c\n1,2,3\n", labelColumn: .named("say \"hi\""))
    #expect(headerName.labels.scalars == [2])
    let multiline = try load("\"first\nname\",y\n1,0\n2,1\n")
    #expect(multiline.count == 2)
    let semicolons = try load("1;2;0\n3;4;1\n", delimiter: ";")
    #expect(semicolons.features.scalars == [1, 2, 3, 4])
    let tabs = try load("f\tl\n 1\t0\n2 \t1\n", delimiter: "\t")
    #expect(tabs.features.scalars == [1, 2] && tabs.labels.scalars == [0, 1])
  }

  @Test func explicitHeaderFlag() throws {
    // A numeric first row is data unless told otherwise.
    #expect(try load("1,2\n3,4\n").count == 2)
    #expect(try load("1,2\n3,4\n", hasHeader: true).count == 1)
    #expect(try load("1,2\n3,4\n", hasHeader: false).count == 2)
    #expect(
      failure("a,b\n3,4\n", hasHeader: false).contains("line 1, column 1: non-numeric cell \"a\""))
  }

  @Test func emptyAndHeaderOnlyFiles() {
    #expect(failure("").contains("the file is empty"))
    #expect(failure("\n  \n\r\n").contains("the file is empty"))
    #expect(failure("a,b,c\n").contains("header on line 1 but no data rows"))
  }

  @Test func raggedRowsNameTheLine() {
    let message = failure("a,b,c\n1,2,3\n\n4,5\n")
    #expect(message.contains("line 4 has 2 fields, expected 3 as on line 1"), "\(message)")
    #expect(failure("1,2,3\n4,5,6,7\n").contains("line 2 has 4 fields, expected 3"))
    #expect(failure("1,2,3\n4,5,\n").contains("line 2, column 3: empty cell"))
    #expect(failure("1,2,3\n4,5,6,").contains("line 2 has 4 fields"))
  }

  @Test func badCellsNameLineAndColumn() {
    let message = failure("x,y,label\n1,2,0\n3,abc,1\n")
    #expect(message.contains("line 3, column 2: non-numeric cell \"abc\""), "\(message)")
    #expect(message.contains("data.csv"))
    #expect(failure("1,2,0\n3,,1\n").contains("line 2, column 2: empty cell"))
    #expect(failure("1,2,0\n3,nan,1\n").contains("line 2, column 2: non-finite value \"nan\""))
    #expect(failure("1,2,0\n3,inf,1\n").contains("line 2, column 2: non-finite value \"inf\""))
    #expect(
      failure("1,2,0\n3,1e40,1\n").contains(
        "line 2, column 2: the value 1e40 is beyond the float32 range"))
    #expect(failure("1,2,0\n3,0x10,1\n").contains("line 2, column 2: non-numeric cell \"0x10\""))
    #expect(failure("1,2,0\n3,4,1.2.3\n").contains("line 2, column 3"))
  }

  @Test func quotingErrors() {
    #expect(
      failure("1,2,0\n3,\"4,1\n").contains(
        "line 2, column 2: the quote that opens this field is never closed"))
    #expect(
      failure("1,2,0\n3,\"4\"x,1\n").contains(
        "line 2, column 2: unexpected character after the closing quote"))
  }

  @Test func badArguments() {
    #expect(failure("5\n6\n").contains("line 1 has 1 column"))
    #expect(
      failure("a,b\n1,2\n", labelColumn: .index(2)).contains("label column index 2 is out of range")
    )
    #expect(failure("a,b\n1,2\n", labelColumn: .index(-1)).contains("must be 0 or more"))
    #expect(failure("1,2\n3,4\n", labelColumn: .named("y")).contains("the file has no header row"))
    #expect(failure("a,b\n1,2\n", labelColumn: .named("y")).contains("no column named 'y'"))
    #expect(failure("1,2\n", delimiter: "\"").contains("CSV delimiter"))
    #expect(failure("1,2\n", delimiter: "\r\n").contains("CSV delimiter"))
    #expect(failure("1,2\n", delimiter: "é").contains("CSV delimiter"))
    let missing = URL(fileURLWithPath: "/nonexistent-plexus-folder/data.csv")
    let message = plexusErrorMessage { _ = try CSV.loadDataset(contentsOf: missing) }
    #expect(message?.contains("I/O error") == true && message?.contains(missing.path) == true)
  }

  @Test func textInput() throws {
    let data = try CSV.loadDataset(text: "1,2\n3,4\n", labelColumn: .first)
    #expect(data.labels.scalars == [1, 3])
    #expect(data.features.shape == [2, 1])
  }
}
