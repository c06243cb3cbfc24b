// libFuzzer target for the Keras 3 .keras reader: the zip, config.json (the architecture
// translation of every supported layer), metadata.json and model.weights.h5. Built by
// scripts/fuzz-interop.sh and linked against the package's modules, built for fuzzing
// (.build/fuzz-pm), and libhdf5.

import Foundation
import PlexusCore
import PlexusInterop
import PlexusPerceptron

let kerasFuzzRegistry: LayerRegistry = {
  let registry = LayerRegistry()
  PerceptronLayers.register(in: registry)
  return registry
}()

/// An empty HDF5 file, as model.weights.h5 beside a mutated config (made per input: a global
/// `Data` is reported as leaked by LeakSanitizer, which cannot see its tagged pointers).
private func emptyWeights() -> Data {
  guard let file = try? HDF5File.create(source: "fuzz weights"), let image = try? file.image()
  else { return Data() }
  return image
}

/// Reads the bytes as a .keras file; then, so that mutations reach the config parser behind
/// the zip's checksums, reads an archive made here with the bytes as config.json (and as
/// metadata.json) beside an empty weights file. An error thrown is the expected outcome for
/// malformed bytes; a crash, a sanitizer report, a hang or a large allocation is a finding.
@_cdecl("LLVMFuzzerTestOneInput")
public func kerasArchiveReaderFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let bytes = Data(bytes: data, count: size)
  exercise(bytes)
  var writer = ZipWriter()
  if (try? writer.add("config.json", contents: bytes)) != nil,
    (try? writer.add("metadata.json", contents: bytes, method: .deflated, level: 1)) != nil,
    (try? writer.add("model.weights.h5", contents: emptyWeights())) != nil,
    let archive = try? writer.finish()
  {
    exercise(archive)
  }
  return 0
}

private func exercise(_ bytes: Data) {
  guard let keras = try? KerasFile(data: bytes, source: "fuzz") else { return }
  _ = try? keras.datasets()
  if let architecture = keras.architecture {
    _ = try? KerasExport.kerasConfig(architecture)
  }
  _ = try? keras.loadModel(registry: kerasFuzzRegistry)
}
