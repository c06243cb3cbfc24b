// libFuzzer target for the zip and .npz readers. Built by scripts/fuzz-interop.sh and linked
// against the package's modules, built for fuzzing (.build/fuzz-pm), and libhdf5.

import Foundation
import PlexusCore
import PlexusInterop

/// Reads the bytes as an .npz archive and every array in it; then, so that mutations reach the
/// .npy parser behind the zip's checksums, reads them as one stored and one deflated member of
/// an archive made here. An error thrown is the expected outcome for malformed bytes; a crash,
/// a sanitizer report, a hang or a large allocation is a finding.
@_cdecl("LLVMFuzzerTestOneInput")
public func numPyArchiveReaderFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let bytes = Data(bytes: data, count: size)
  exercise(bytes)
  var writer = ZipWriter()
  if (try? writer.add("a.npy", contents: bytes)) != nil,
    (try? writer.add("b.npy", contents: bytes, method: .deflated, level: 1)) != nil,
    let archive = try? writer.finish()
  {
    exercise(archive)
  }
  return 0
}

private func exercise(_ bytes: Data) {
  if let zip = try? ZipArchive(data: bytes) {
    for entry in zip.entries { _ = try? zip.contents(of: entry) }
  }
  guard let archive = try? NumPyArchive(data: bytes) else { return }
  let view = WeightFile(archive, source: "fuzz")
  for tensor in view.tensors { _ = try? view.tensor(named: tensor.name) }
}
