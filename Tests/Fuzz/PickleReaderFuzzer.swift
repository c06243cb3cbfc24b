// libFuzzer target for the restricted unpickler and the PyTorch reader. Built by
// scripts/fuzz-interop.sh and linked against the package's modules, built for fuzzing
// (.build/fuzz-pm), and libhdf5.

import Foundation
import PlexusCore
import PlexusInterop

/// Storages that fuzzed pickles may name: keys 0-3 of 0, 6, 24 and 96 bytes (made per input:
/// a global `Data` is reported as leaked by LeakSanitizer, which cannot see its tagged
/// pointers).
private func storages() -> [(String, Data)] {
  [
    ("0", Data()), ("1", Data(repeating: 0x3F, count: 6)), ("2", Data(repeating: 0x41, count: 24)),
    ("3", Data((0..<96).map { UInt8(truncatingIfNeeded: $0 &* 37) })),
  ]
}

/// Runs the bytes as the `data.pkl` of a torch.save archive made here (so mutations reach the
/// unpickler behind the zip's checksums), decodes every tensor it describes, and reads the
/// bytes as a whole PyTorch file too. An error thrown is the expected outcome for a malformed
/// pickle; a crash, a sanitizer report, a hang or a large allocation is a finding.
@_cdecl("LLVMFuzzerTestOneInput")
public func pickleReaderFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let bytes = Data(bytes: data, count: size)
  var writer = ZipWriter()
  try? writer.add("archive/data.pkl", contents: bytes)
  try? writer.add("archive/byteorder", contents: Data((size % 2 == 0 ? "little" : "big").utf8))
  for (key, contents) in storages() { try? writer.add("archive/data/\(key)", contents: contents) }
  if let archive = try? writer.finish() { exercise(archive) }
  exercise(bytes)
  return 0
}

private func exercise(_ bytes: Data) {
  guard let file = try? PyTorchFile(data: bytes) else { return }
  let view = WeightFile(file, source: "fuzz")
  for tensor in view.tensors { _ = try? view.tensor(named: tensor.name) }
}
