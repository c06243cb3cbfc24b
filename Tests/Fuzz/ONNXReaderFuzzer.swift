// libFuzzer target for the ONNX reader and importer. Built by scripts/fuzz-onnx.sh with the
// sources of PlexusCore and PlexusONNX in one module (so it has no imports of them), linked
// against swift-protobuf built as its own module.

import Foundation

/// Decodes the bytes as an ONNX model, lists what inspection shows and translates the graph to
/// a Plexus architecture (decoding every initializer it reads). An error thrown is the
/// expected outcome for a malformed file; a crash, a sanitizer report, a hang or a large
/// allocation is a finding.
@_cdecl("LLVMFuzzerTestOneInput")
public func onnxReaderFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let bytes = Data(bytes: data, count: size)
  guard let file = try? ONNXModelFile(data: bytes, source: "fuzz") else { return 0 }
  _ = (file.inputs, file.outputs, file.nodes, file.operatorCounts, file.initializers)
  _ = file.initializerElementCount
  _ = try? file.translate()
  return 0
}
