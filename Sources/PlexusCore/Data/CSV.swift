import Foundation

/// Loads numeric CSV files with one label column into a ``Dataset``.
///
/// Every cell must be a finite number (`3`, `-0.5`, `1e-3`; surrounding spaces are ignored),
/// except the cells of an optional header row. Fields may be quoted with `"` (a doubled `""`
/// inside quotes is a literal quote); line ends may be `\n`, `\r\n` or `\r`; blank lines and a
/// UTF-8 byte order mark are skipped. Errors name the line and the column (both counted from
/// 1) of the offending cell.
///
/// ```swift
/// // label,x1,x2   or   x1,x2,label  (the default label column is the last one)
/// let iris = try CSV.loadDataset(contentsOf: url, labelColumn: .named("species"))
/// ```
public enum CSV {
  /// Which column holds the labels; all other columns are features, in file order.
  public enum LabelColumn: Sendable, Equatable {
    /// The first column.
    case first
    /// The last column.
    case last
    /// The column at this position, counted from 0.
    case index(Int)
    /// The column with this header name (the file must have a header row).
    case named(String)
  }

  /// Loads a CSV file as a dataset with features `[N, columns - 1]` and labels `[N]`.
  ///
  /// - Parameters:
  ///   - url: the file to read (UTF-8 or ASCII).
  ///   - labelColumn: the column that holds the labels (class indices or targets).
  ///   - hasHeader: whether the first row holds column names; `nil` detects it: the first
  ///     row is a header when at least one of its cells is not a number.
  ///   - delimiter: the field separator, an ASCII character other than `"` and line ends.
  /// - Throws: `PlexusError.io` when the file cannot be read; `PlexusError.invalidArgument`
  ///   for a bad delimiter or label column; `PlexusError.invalidData` for an empty file, a
  ///   file without data rows, fewer than two columns, a row whose field count differs from
  ///   the first row's, an empty or non-numeric cell, or an unterminated quote — with the
  ///   line and column.
  public static func loadDataset(
    contentsOf url: URL, labelColumn: LabelColumn = .last, hasHeader: Bool? = nil,
    delimiter: Character = ","
  ) throws -> Dataset {
    return try loadDataset(
      data: fileContents(url), source: url.path, labelColumn: labelColumn, hasHeader: hasHeader,
      delimiter: delimiter)
  }

  /// Loads a CSV file whose every column is a feature (inputs to predict from) as `[N, columns]`.
  ///
  /// The rules are those of ``loadDataset(contentsOf:labelColumn:hasHeader:delimiter:)``:
  /// every cell a finite decimal number (a `nan`, `inf` or a value beyond float32 is an
  /// error naming its line and column), an optional header row (detected when `hasHeader` is
  /// `nil`), the same number of fields on every row.
  ///
  /// - Throws: as `loadDataset`.
  public static func loadFeatures(
    contentsOf url: URL, hasHeader: Bool? = nil, delimiter: Character = ","
  ) throws -> Tensor {
    try loadDataset(
      data: fileContents(url), source: url.path, labelColumn: nil, hasHeader: hasHeader,
      delimiter: delimiter
    ).features
  }

  /// Loads CSV text whose every column is a feature; see
  /// ``loadFeatures(contentsOf:hasHeader:delimiter:)``.
  public static func loadFeatures(text: String, hasHeader: Bool? = nil, delimiter: Character = ",")
    throws -> Tensor
  {
    try loadDataset(
      data: Data(text.utf8), source: "CSV text", labelColumn: nil, hasHeader: hasHeader,
      delimiter: delimiter
    ).features
  }

  /// Loads CSV text as a dataset; see ``loadDataset(contentsOf:labelColumn:hasHeader:delimiter:)``.
  public static func loadDataset(
    text: String, labelColumn: LabelColumn = .last, hasHeader: Bool? = nil,
    delimiter: Character = ","
  ) throws -> Dataset {
    try loadDataset(
      data: Data(text.utf8), source: "CSV text", labelColumn: labelColumn, hasHeader: hasHeader,
      delimiter: delimiter)
  }

  /// Reads features and labels (`labelColumn`), or only features (`nil`: labels are zeros).
  private static func loadDataset(
    data: Data, source: String, labelColumn: LabelColumn?, hasHeader: Bool?, delimiter: Character
  ) throws -> Dataset {
    guard let delimiterByte = delimiter.asciiValue, delimiter != "\"", delimiter != "\n",
      delimiter != "\r", delimiter != "\r\n"
    else {
      throw PlexusError.invalidArgument(
        "CSV delimiter must be an ASCII character other than a quote or a line end, found \(delimiter.debugDescription)"
      )
    }
    return try data.withUnsafeBytes { raw in
      let buffer = raw.bindMemory(to: UInt8.self)
      var builder = try CSVDatasetBuilder(
        source: source, labelColumn: labelColumn, hasHeader: hasHeader)
      var parser = CSVRecordParser(buffer: buffer, delimiter: delimiterByte, source: source)
      while let record = try parser.next() {
        try builder.add(record, buffer: buffer)
      }
      return try builder.finish(fileIsEmpty: parser.sawOnlyWhitespace)
    }
  }
}

/// One CSV record: the byte ranges of its fields (quotes excluded) and where it starts.
private struct CSVRecord {
  var fields: [Range<Int>] = []
  var quoted: [Bool] = []
  var line = 1
}

/// Splits CSV bytes into records, following RFC 4180 quoting.
private struct CSVRecordParser {
  let buffer: UnsafeBufferPointer<UInt8>
  let delimiter: UInt8
  let source: String
  var position = 0
  var line = 1
  var sawOnlyWhitespace = true

  init(buffer: UnsafeBufferPointer<UInt8>, delimiter: UInt8, source: String) {
    self.buffer = buffer
    self.delimiter = delimiter
    self.source = source
    if buffer.count >= 3, buffer[0] == 0xEF, buffer[1] == 0xBB, buffer[2] == 0xBF { position = 3 }
  }

  private static let quote = UInt8(ascii: "\"")
  private static let newline = UInt8(ascii: "\n")
  private static let carriageReturn = UInt8(ascii: "\r")

  private func isLineEnd(_ byte: UInt8) -> Bool {
    byte == CSVRecordParser.newline || byte == CSVRecordParser.carriageReturn
  }

  private func isBlank(_ byte: UInt8) -> Bool {
    (byte == 0x20 || byte == 0x09) && byte != delimiter
  }

  /// Consumes one line end (`\n`, `\r\n` or `\r`) at `position`, if there is one.
  private mutating func consumeLineEnd() {
    guard position < buffer.count else { return }
    if buffer[position] == CSVRecordParser.carriageReturn {
      position += 1
      if position < buffer.count, buffer[position] == CSVRecordParser.newline { position += 1 }
      line += 1
    } else if buffer[position] == CSVRecordParser.newline {
      position += 1
      line += 1
    }
  }

  /// The next non-blank record, or `nil` at the end of the input.
  mutating func next() throws -> CSVRecord? {
    while position < buffer.count {
      var record = CSVRecord(line: line)
      var atRecordEnd = false
      while !atRecordEnd {
        let column = record.fields.count + 1
        // Leading blanks before an opening quote are allowed.
        var lookahead = position
        while lookahead < buffer.count, isBlank(buffer[lookahead]) { lookahead += 1 }
        if lookahead < buffer.count, buffer[lookahead] == CSVRecordParser.quote {
          let openLine = line
          position = lookahead + 1
          let start = position
          while true {
            guard position < buffer.count else {
              throw PlexusError.invalidData(
                "\(source): line \(openLine), column \(column): the quote that opens this field is never closed"
              )
            }
            let byte = buffer[position]
            if byte == CSVRecordParser.quote {
              if position + 1 < buffer.count, buffer[position + 1] == CSVRecordParser.quote {
                position += 2
                continue
              }
              break
            }
            if byte == CSVRecordParser.newline
              || (byte == CSVRecordParser.carriageReturn
                && !(position + 1 < buffer.count && buffer[position + 1] == CSVRecordParser.newline))
            {
              line += 1
            }
            position += 1
          }
          record.fields.append(start..<position)
          record.quoted.append(true)
          position += 1
          while position < buffer.count, isBlank(buffer[position]) { position += 1 }
          if position < buffer.count, buffer[position] != delimiter, !isLineEnd(buffer[position]) {
            throw PlexusError.invalidData(
              "\(source): line \(line), column \(column): unexpected character after the closing quote; expected the delimiter or a line end"
            )
          }
        } else {
          let start = position
          while position < buffer.count, buffer[position] != delimiter, !isLineEnd(buffer[position])
          {
            position += 1
          }
          record.fields.append(start..<position)
          record.quoted.append(false)
        }
        if position < buffer.count, buffer[position] == delimiter {
          position += 1
          if position == buffer.count {
            record.fields.append(position..<position)
            record.quoted.append(false)
            atRecordEnd = true
          }
        } else {
          consumeLineEnd()
          atRecordEnd = true
        }
      }
      // Skip blank lines (a single unquoted field of blanks).
      if record.fields.count == 1, !record.quoted[0],
        buffer[record.fields[0]].allSatisfy({ $0 == 0x20 || $0 == 0x09 })
      {
        continue
      }
      sawOnlyWhitespace = false
      return record
    }
    return nil
  }
}

/// Turns records into features and labels, checking every cell.
private struct CSVDatasetBuilder {
  let source: String
  /// `nil` when every column is a feature.
  let labelColumn: CSV.LabelColumn?
  let hasHeader: Bool?
  var columnCount: Int?
  var firstLine = 0
  /// The label column, or -1 when there is none.
  var labelIndex = -1
  var rows = 0
  var header: [String]?
  var features: [Float] = []
  var labels: [Float] = []

  init(source: String, labelColumn: CSV.LabelColumn?, hasHeader: Bool?) throws {
    self.source = source
    self.labelColumn = labelColumn
    self.hasHeader = hasHeader
    if case .index(let index) = labelColumn, index < 0 {
      throw PlexusError.invalidArgument("CSV label column index must be 0 or more, found \(index)")
    }
  }

  private func text(_ range: Range<Int>, _ buffer: UnsafeBufferPointer<UInt8>, quoted: Bool)
    -> String
  {
    let raw = String(decoding: UnsafeBufferPointer(rebasing: buffer[range]), as: UTF8.self)
    return quoted ? raw.replacingOccurrences(of: "\"\"", with: "\"") : raw
  }

  /// The number in a cell, or `nil` when the cell is not a finite number.
  private func number(_ range: Range<Int>, _ buffer: UnsafeBufferPointer<UInt8>) -> Float? {
    var lower = range.lowerBound
    var upper = range.upperBound
    while lower < upper, buffer[lower] == 0x20 || buffer[lower] == 0x09 { lower += 1 }
    while upper > lower, buffer[upper - 1] == 0x20 || buffer[upper - 1] == 0x09 { upper -= 1 }
    guard lower < upper else { return nil }
    // Only decimal notation: digits, sign, point and exponent (no "nan", "inf" or hex).
    for index in lower..<upper {
      switch buffer[index] {
      case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "+"), UInt8(ascii: "-"),
        UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E"):
        continue
      default:
        return nil
      }
    }
    let string = String(
      decoding: UnsafeBufferPointer(rebasing: buffer[lower..<upper]), as: UTF8.self)
    guard let value = Double(string), value.isFinite else { return nil }
    let single = Float(value)
    return single.isFinite ? single : nil
  }

  private mutating func resolveLabelColumn(count: Int, line: Int) throws {
    guard let labelColumn else { return }
    switch labelColumn {
    case .first: labelIndex = 0
    case .last: labelIndex = count - 1
    case .index(let index):
      guard index < count else {
        throw PlexusError.invalidArgument(
          "\(source): label column index \(index) is out of range: line \(line) has \(count) columns (indices 0...\(count - 1))"
        )
      }
      labelIndex = index
    case .named(let name):
      guard let header else {
        throw PlexusError.invalidArgument(
          "\(source): label column '\(name)' is named, but the file has no header row")
      }
      let trimmed = header.map { $0.trimmingCharacters(in: .whitespaces) }
      guard let index = trimmed.firstIndex(of: name) else {
        throw PlexusError.invalidArgument(
          "\(source): no column named '\(name)' in the header on line \(line); columns: \(trimmed.map { "'\($0)'" }.joined(separator: ", "))"
        )
      }
      labelIndex = index
    }
  }

  mutating func add(_ record: CSVRecord, buffer: UnsafeBufferPointer<UInt8>) throws {
    let count = record.fields.count
    if columnCount == nil {
      guard count >= (labelColumn == nil ? 1 : 2) else {
        throw PlexusError.invalidData(
          "\(source): line \(record.line) has \(count) column; a dataset needs a label column and at least one feature column"
        )
      }
      columnCount = count
      firstLine = record.line
      let isHeader = hasHeader ?? record.fields.contains { number($0, buffer) == nil }
      if isHeader {
        header = zip(record.fields, record.quoted).map { text($0, buffer, quoted: $1) }
        try resolveLabelColumn(count: count, line: record.line)
        return
      }
      try resolveLabelColumn(count: count, line: record.line)
    }
    guard count == columnCount else {
      throw PlexusError.invalidData(
        "\(source): line \(record.line) has \(count) fields, expected \(columnCount ?? 0) as on line \(firstLine)"
      )
    }
    for (column, range) in record.fields.enumerated() {
      guard let value = number(range, buffer) else {
        let cell = text(range, buffer, quoted: record.quoted[column])
        let trimmed = cell.trimmingCharacters(in: .whitespaces)
        let what: String
        if trimmed.isEmpty {
          what = "empty cell"
        } else if let value = Double(trimmed), !value.isFinite {
          what = "non-finite value \(trimmed.prefix(40).debugDescription)"
        } else if let value = Double(trimmed), value.isFinite, !Float(value).isFinite {
          what = "the value \(trimmed.prefix(40)) is beyond the float32 range"
        } else {
          what = "non-numeric cell \(cell.prefix(40).debugDescription)"
        }
        throw PlexusError.invalidData(
          "\(source): line \(record.line), column \(column + 1): \(what); expected a finite decimal number"
        )
      }
      if column == labelIndex {
        labels.append(value)
      } else {
        features.append(value)
      }
    }
    rows += 1
  }

  func finish(fileIsEmpty: Bool) throws -> Dataset {
    guard !fileIsEmpty, let columnCount else {
      throw PlexusError.invalidData("\(source): the file is empty; expected rows of numbers")
    }
    guard rows > 0 else {
      throw PlexusError.invalidData(
        "\(source): the file has a header on line \(firstLine) but no data rows")
    }
    let featureColumns = labelIndex >= 0 ? columnCount - 1 : columnCount
    return try Dataset(
      features: Tensor(shape: [rows, featureColumns], scalars: features),
      labels: labelIndex >= 0 ? Tensor(labels) : Tensor.zeros([rows]))
  }
}
