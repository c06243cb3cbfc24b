// libFuzzer target for the safetensors reader. Built by scripts/fuzz-interop.sh together with
// the sources of PlexusCore and PlexusInterop in one module (so it has no imports of them).

import Foundation

/// Opens the bytes as a safetensors file, lists them as a weight file and decodes every
/// tensor. An error thrown is the expected outcome for a malformed file; a crash, a sanitizer
/// report, a hang or a large allocation is a finding.
@_cdecl("LLVMFuzzerTestOneInput")
public func safeTensorsReaderFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let bytes = Data(bytes: data, count: size)
  guard let file = try? SafeTensorsFile(data: bytes) else { return 0 }
  let view = WeightFile(file, source: "fuzz")
  for tensor in view.tensors { _ = try? view.tensor(named: tensor.name) }
  return 0
}
