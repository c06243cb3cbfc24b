// libFuzzer target for the .plexus reader. Built by scripts/fuzz-reader.sh together with the
// sources of PlexusCore and PlexusPerceptron in one module (so it has no imports of them). The
// seed corpus holds sequential models (format 1.0) and a graph model (format 1.1).

import Foundation

let fuzzRegistry: LayerRegistry = {
  let registry = LayerRegistry()
  PerceptronLayers.register(in: registry)
  return registry
}()

/// Opens the bytes as a model file and exercises everything a reader does with it: every
/// tensor, the optimizer state, verification, inspection and loading a model. An error thrown
/// is the expected outcome for a malformed file; a crash, a sanitizer report, a hang or a large
/// allocation is a finding.
func exercise(_ bytes: [UInt8]) {
  guard let file = try? PlexusFile(bytes: bytes) else { return }
  _ = try? file.tensors(group: TensorIndexEntry.modelGroup, threads: 1)
  _ = try? file.optimizerState()
  let report = PlexusInspection(file: file, verify: true)
  _ = report.renderText()
  _ = try? report.renderJSON()
  _ = try? file.loadModel(registry: fuzzRegistry)
}

/// The same bytes with every checksum recomputed — the header's, each chunk's and each tensor's
/// in the index — so that mutations reach the parsers behind the checksums.
func withChecksumsFixed(_ input: [UInt8]) -> [UInt8]? {
  guard input.count >= 16 else { return nil }
  func uint64(_ offset: Int) -> UInt64 {
    (0..<8).reduce(UInt64(0)) { $0 | UInt64(input[offset + $1]) << (8 * $1) }
  }
  var chunks: [(header: [UInt8], payload: [UInt8])] = []
  var position = 16
  while position + 16 <= input.count {
    let length = uint64(position + 8)
    guard length <= UInt64(input.count - position - 16) else { break }
    let end = position + 16 + Int(length)
    guard end + 4 <= input.count else { break }
    chunks.append((Array(input[position..<(position + 16)]), Array(input[(position + 16)..<end])))
    position = end + 4
    if chunks.last?.header.prefix(4).elementsEqual("TEND".utf8) == true { break }
  }
  for index in chunks.indices where chunks[index].header.prefix(4).elementsEqual("TIDX".utf8) {
    guard
      var document = try? JSONDecoder().decode(
        TensorIndexDocument.self, from: Data(chunks[index].payload))
    else {
      continue
    }
    for entry in document.tensors.indices {
      let tensor = document.tensors[entry]
      let (end, overflow) = tensor.offset.addingReportingOverflow(tensor.storedLength)
      guard !overflow, end <= UInt64(input.count) else { continue }
      document.tensors[entry].crc32 = CRC32.checksum(Array(input[Int(tensor.offset)..<Int(end)]))
    }
    let encoder = JSONEncoder()
    encoder.outputFormatting = .sortedKeys
    guard let payload = try? encoder.encode(document) else { continue }
    chunks[index].payload = [UInt8](payload)
    var length: [UInt8] = []
    length.appendLittleEndian(UInt64(payload.count))
    chunks[index].header.replaceSubrange(8..<16, with: length)
  }
  var output = Array(input[0..<12])
  output.appendLittleEndian(CRC32.checksum(output))
  for chunk in chunks {
    output += chunk.header + chunk.payload
    output.appendLittleEndian(CRC32.checksum(chunk.header + chunk.payload))
  }
  return output
}

@_cdecl("LLVMFuzzerTestOneInput")
public func plexusReaderFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let bytes = Array(UnsafeBufferPointer(start: data, count: size))
  exercise(bytes)
  if let fixed = withChecksumsFixed(bytes), fixed != bytes { exercise(fixed) }
  return 0
}
