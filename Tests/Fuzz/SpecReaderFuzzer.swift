// libFuzzer target for the training-spec reader (`plexus train`'s JSON): the strict JSON
// parser, every key of the spec and of its layer, loss, optimizer, metric and callback
// configs, and building the model through the full layer registry. Built by
// scripts/fuzz-inputs.sh spec against the package's modules.

import Foundation
import Plexus
import PlexusCommands

let specRegistry = LayerRegistry.standard()

/// Reads the bytes as a spec and builds its model; an error is the expected outcome for a
/// malformed spec, a crash, a sanitizer report, a hang or a large allocation is a finding.
/// Parameters are bounded to 2^18 values each here (the tool allows 2^30), so a valid spec
/// with large layers does not count as an out-of-memory finding.
func exerciseSpec(_ bytes: [UInt8]) {
  guard
    let spec = try? TrainingSpec.decode(Data(bytes), baseDirectory: URL(fileURLWithPath: "/"))
  else { return }
  _ = try? spec.loss?.object
  ParameterAllocation.$current.withValue(
    ParameterAllocation(maximumElements: 1 << 18, drawsInitialValues: false)
  ) {
    guard
      let model = try? spec.buildModel(registry: specRegistry, inputShape: spec.inputShape ?? [8])
    else { return }
    _ = model.summary()
    _ = try? LayerDescription(model)
  }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func specReaderFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  exerciseSpec(Array(UnsafeBufferPointer(start: data, count: size)))
  return 0
}
