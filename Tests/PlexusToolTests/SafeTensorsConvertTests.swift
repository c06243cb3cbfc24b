import Foundation
import Plexus
import PlexusCommands
import PlexusInterop
import Testing

@Suite struct SafeTensorsConvertTests {
  /// Trains the small blobs model and saves it as `model.plexus`.
  private func trainedModel(in folder: TemporaryFolder) throws -> (URL, URL) {
    let spec = try writeBlobsSpec(in: folder)
    let model = folder.file("model.plexus")
    try Train.run(
      TrainSettings(specPath: spec.path, outputPath: model.path, quiet: true),
      console: CapturedOutput())
    return (spec, model)
  }

  @Test func plexusToSafetensorsAndBackIsExact() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let (_, model) = try trainedModel(in: folder)
    let exported = folder.file("model.safetensors")
    let console = CapturedOutput()
    try Convert.run(
      ConvertSettings(inputPath: model.path, outputPath: exported.path), console: console)
    #expect(console.text.contains("4 tensors as F32"))
    let file = try SafeTensorsFile(contentsOf: exported)
    #expect(
      file.entries.map(\.name) == [
        "dense_1.kernel", "dense_1.bias", "dense_2.kernel", "dense_2.bias",
      ])
    #expect(file.metadata["plexus.architecture"]?.contains("plexus.sequential") == true)

    let listing = CapturedOutput()
    try SafeTensorsConversion.inspect(path: exported.path, json: false, console: listing)
    #expect(listing.text.contains("safetensors, 4 tensors"))
    #expect(listing.text.contains("dense_1.kernel  F32    [2, 8]  64 bytes"))
    #expect(listing.text.contains("architecture: plexus.sequential"))
    let machine = CapturedOutput()
    try SafeTensorsConversion.inspect(path: exported.path, json: true, console: machine)
    let report = try JSONDecoder().decode(JSONValue.self, from: Data(machine.text.utf8))
    guard case .object(let members) = report, case .array(let tensors)? = members["tensors"] else {
      Issue.record("not a report: \(machine.text)")
      return
    }
    #expect(tensors.count == 4 && members["architecture"] == .string("plexus.sequential"))

    let back = folder.file("back.plexus")
    try Convert.run(
      ConvertSettings(inputPath: exported.path, outputPath: back.path), console: CapturedOutput())
    let original = try loadModel(from: model, registry: .standard())
    let reloaded = try loadModel(from: back, registry: .standard())
    for (a, b) in zip(original.namedParameters, reloaded.namedParameters) {
      #expect(a.path == b.path && a.parameter.value == b.parameter.value)
    }
    let x = try NumPy.read(contentsOf: folder.file("x.npy")).tensor()
    #expect(try original.predict(x) == reloaded.predict(x))

    // Half precision rounds but stays close.
    let half = folder.file("half.safetensors")
    try Convert.run(
      ConvertSettings(inputPath: model.path, outputPath: half.path, dtype: .f16),
      console: CapturedOutput())
    #expect(try SafeTensorsFile(contentsOf: half).entries.allSatisfy { $0.dtype == .f16 })
    #expect(throws: PlexusError.self) {
      try Convert.run(
        ConvertSettings(inputPath: model.path, outputPath: half.path, dtype: .int8),
        console: CapturedOutput())
    }
  }

  @Test func weightsOnlyFilesNeedAnArchitectureAndMatchByOrderAndShape() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let (spec, model) = try trainedModel(in: folder)
    let original = try loadModel(from: model, registry: .standard())
    // Foreign names, as another framework would write them.
    let foreign = folder.file("foreign.safetensors")
    try SafeTensorsFile.write(
      zip(["0.weight", "0.bias", "2.weight", "2.bias"], original.namedParameters).map {
        ($0, $1.parameter.value)
      }, to: foreign)
    let output = folder.file("converted.plexus")
    #expect {
      try Convert.run(
        ConvertSettings(inputPath: foreign.path, outputPath: output.path), console: CapturedOutput()
      )
    } throws: { "\($0)".contains("--architecture") }

    // The spec names no inputShape: the error says so.
    #expect {
      try Convert.run(
        ConvertSettings(
          inputPath: foreign.path, outputPath: output.path, architecturePath: spec.path),
        console: CapturedOutput())
    } throws: { "\($0)".contains("inputShape") }

    let console = CapturedOutput()
    try Convert.run(
      ConvertSettings(
        inputPath: foreign.path, outputPath: output.path, architecturePath: model.path),
      console: console)
    #expect(console.text.contains("matched by order and shape"))
    #expect(console.text.contains("0.weight [2, 8] -> dense_1.kernel"))
    let converted = try loadModel(from: output, registry: .standard())
    let x = try NumPy.read(contentsOf: folder.file("x.npy")).tensor()
    #expect(try converted.predict(x) == original.predict(x))

    // A shape that does not fit names the tensor and both shapes.
    let wrong = folder.file("wrong.safetensors")
    try SafeTensorsFile.write(
      [
        ("0.weight", Tensor.zeros([8, 2])), ("0.bias", Tensor.zeros([8])),
        ("2.weight", Tensor.zeros([8, 2])),
        ("2.bias", Tensor.zeros([2])),
      ], to: wrong)
    #expect {
      try Convert.run(
        ConvertSettings(
          inputPath: wrong.path, outputPath: output.path, architecturePath: model.path),
        console: CapturedOutput())
    } throws: {
      "\($0)".contains(
        "tensor '0.weight' has shape [8, 2] but parameter 'dense_1.kernel' has shape [2, 8]")
    }
    #expect {
      try Convert.run(
        ConvertSettings(inputPath: model.path, outputPath: folder.file("x.tflite").path),
        console: CapturedOutput())
    } throws: { "\($0)".contains("unknown format") }
  }
}
