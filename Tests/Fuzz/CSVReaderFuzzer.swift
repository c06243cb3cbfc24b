// libFuzzer target for the CSV reader: quoting, line ends, header detection, numbers, label
// columns by position and by name, and delimiters. Built by scripts/fuzz-inputs.sh csv
// against the package's modules.

import Foundation
import PlexusCore

/// Reads the bytes as CSV text in the ways the tool does: with the first byte choosing the
/// label column and the second the delimiter, and as features only. An error is the expected
/// outcome for malformed text, a crash, a sanitizer report or a hang is a finding.
func exerciseCSV(_ bytes: [UInt8]) {
  guard bytes.count >= 2 else { return }
  let columns: [CSV.LabelColumn] = [.last, .first, .index(Int(bytes[0] % 5)), .named("label")]
  let delimiters: [Character] = [",", ";", "\t", " ", "|", "\""]
  let column = columns[Int(bytes[0]) % columns.count]
  let delimiter = delimiters[Int(bytes[1]) % delimiters.count]
  let text = String(decoding: bytes.dropFirst(2), as: UTF8.self)
  let header: Bool? = bytes[0] & 0x80 == 0 ? nil : bytes[0] & 0x40 != 0
  if let dataset = try? CSV.loadDataset(
    text: text, labelColumn: column, hasHeader: header, delimiter: delimiter)
  {
    _ = dataset.features.firstNonFiniteValue()
    _ = dataset.classCount
  }
  _ = try? CSV.loadFeatures(text: text, hasHeader: header, delimiter: delimiter)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func csvReaderFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  exerciseCSV(Array(UnsafeBufferPointer(start: data, count: size)))
  return 0
}
