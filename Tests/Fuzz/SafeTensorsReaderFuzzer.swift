// libFuzzer target for the safetensors reader. Built by scripts/fuzz-interop.sh and linked
// against the package's modules, built for fuzzing (.build/fuzz-pm), and libhdf5.

import Foundation
import PlexusCore
import PlexusInterop

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
