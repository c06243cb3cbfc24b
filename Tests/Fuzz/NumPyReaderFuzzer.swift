// libFuzzer target for the .npy reader: header parsing (magic, version, the Python dict),
// dtypes, shapes and their size products, byte orders and Fortran order, and conversion to a
// tensor. Built by scripts/fuzz-inputs.sh npy against the package's modules.

import Foundation
import PlexusCore

/// Reads the bytes as a .npy file and converts what it holds; an error is the expected
/// outcome for a malformed file, a crash, a sanitizer report, a hang or a large allocation is
/// a finding.
func exerciseNumPy(_ bytes: [UInt8]) {
  guard let array = try? NumPy.read(data: Data(bytes)) else { return }
  let tensor = array.tensor()
  _ = tensor.firstNonFiniteValue()
  // What the tool does with training data: a dataset from features and labels.
  if tensor.rank >= 1 {
    _ = try? Dataset(features: tensor, labels: Tensor.zeros([tensor.shape[0]]))
  }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func numPyReaderFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  exerciseNumPy(Array(UnsafeBufferPointer(start: data, count: size)))
  return 0
}
