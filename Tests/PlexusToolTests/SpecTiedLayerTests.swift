import Foundation
import Plexus
import PlexusCommands
import Testing

@Suite struct SpecTiedLayerTests {
  /// A spec's `plexus.dense_tied` uses the named layer's kernel (once in the file), so the
  /// trained model loads back; a `tiedTo` that names no layer is a spec error.
  @Test func tiedLayersInASpecShareTheirKernelAndLoadBack() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let plain = try String(contentsOf: writeBlobsSpec(in: folder, epochs: 2), encoding: .utf8)
    let tied = plain.replacingOccurrences(
      of: #"{"type": "plexus.dense", "config": {"units": 8, "activation": "tanh"}}"#,
      with:
        #"{"type": "plexus.dense", "name": "down", "config": {"units": 8, "activation": "tanh"}}, {"type": "plexus.dense_tied", "config": {"tiedTo": "down", "units": 2}}"#
    )
    let spec = try folder.write(tied, to: "tied.json")
    #expect(tied.contains("dense_tied"))
    let output = folder.file("tied.plexus")
    let report = try Train.run(
      TrainSettings(specPath: spec.path, outputPath: output.path, quiet: true),
      console: CapturedOutput())
    let file = try PlexusFile(contentsOf: output)
    #expect(!file.tensors.contains { $0.name.hasPrefix("dense_tied_1.kernel") })
    let loaded = try file.loadModel(registry: .standard())
    for (a, b) in zip(report.model.parameters, loaded.parameters) { #expect(a.value == b.value) }

    let wrong = try folder.write(
      tied.replacingOccurrences(of: #""tiedTo": "down""#, with: #""tiedTo": "dwon""#),
      to: "wrong.json")
    #expect {
      try Train.run(
        TrainSettings(specPath: wrong.path, outputPath: output.path, quiet: true),
        console: CapturedOutput())
    } throws: { error in
      let spec = error as? SpecError
      return spec?.path == "$.layers[1].config" && spec?.message.contains("'dwon'") == true
    }
  }
}
