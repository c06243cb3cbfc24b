// libFuzzer target for the HDF5 reader (libhdf5 behind HDF5File) and the Keras .h5 readers (a
// legacy full model, a weights file). Built by scripts/fuzz-interop.sh and linked against the
// package's modules, built for fuzzing (.build/fuzz-pm), and libhdf5.

import Foundation
import PlexusCore
import PlexusInterop
import PlexusPerceptron

let hdf5FuzzRegistry: LayerRegistry = {
  let registry = LayerRegistry()
  PerceptronLayers.register(in: registry)
  return registry
}()

/// Opens the bytes as an HDF5 file and walks it as the converters do (every group, dataset and
/// the string attributes Keras uses, every dataset read), then as a Keras file (its config
/// translated, its datasets listed, a model loaded). An error thrown is the expected outcome for
/// malformed bytes; a crash, a sanitizer report, a hang or a large allocation is a finding.
@_cdecl("LLVMFuzzerTestOneInput")
public func hdf5ReaderFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let bytes = Data(bytes: data, count: size)
  if let file = try? HDF5File(image: bytes, source: "fuzz") {
    var visited = 0
    func walk(_ path: String, depth: Int) {
      guard depth < 16, visited < 256, let members = try? file.members(of: path) else { return }
      for attribute in ["keras_version", "model_config", "backend"] {
        _ = try? file.stringAttribute(attribute, of: path.isEmpty ? "/" : path)
      }
      for attribute in ["layer_names", "weight_names"] {
        _ = try? file.stringsAttribute(attribute, of: path.isEmpty ? "/" : path)
      }
      for (name, kind) in members {
        visited += 1
        let child = path.isEmpty ? name : path + "/" + name
        _ = try? file.kind(of: child)
        switch kind {
        case .group: walk(child, depth: depth + 1)
        case .dataset:
          _ = try? file.datasetInfo(child)
          _ = try? file.readTensor(child, maximumElements: 1 << 20)
        case .other: continue
        }
      }
    }
    walk("", depth: 0)
  }
  if let keras = try? KerasFile(data: bytes, source: "fuzz") {
    _ = try? keras.datasets()
    _ = try? keras.loadModel(registry: hdf5FuzzRegistry)
  }
  return 0
}
