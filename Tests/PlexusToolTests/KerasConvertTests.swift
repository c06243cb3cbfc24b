import Foundation
import Plexus
import PlexusCommands
import PlexusInterop
import Testing

/// The Keras fixtures written by scripts/generate-keras-fixtures.py (kept with the interop
/// tests).
private let kerasFixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
  .deletingLastPathComponent().appendingPathComponent("PlexusInteropTests/Fixtures/keras")

@Suite struct KerasConvertTests {
  @Test func kerasToPlexusToKerasKeepsThePredictions() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let input = try NumPy.read(contentsOf: kerasFixtures.appendingPathComponent("cnn.input.npy"))
      .tensor()
    let expected = try NumPy.read(
      contentsOf: kerasFixtures.appendingPathComponent("cnn.output.npy")
    ).tensor()
    let plexus = folder.file("cnn.plexus")
    let console = CapturedOutput()
    try Convert.run(
      ConvertSettings(
        inputPath: kerasFixtures.appendingPathComponent("cnn.keras").path,
        outputPath: plexus.path), console: console)
    #expect(console.text.contains("Keras 3 .keras Sequential model, 10 tensors:"))
    #expect(console.text.contains("layers/conv2d/vars/0"))
    #expect(console.text.contains("[3, 3, 2, 4] -> conv2d.kernel"))
    let model = try loadModel(from: plexus, registry: .standard())
    let difference = zip(try model.predict(input).scalars, expected.scalars).map { abs($0 - $1) }
      .max()!
    #expect(difference <= 1e-4)

    let keras = folder.file("cnn.keras")
    try Convert.run(
      ConvertSettings(inputPath: plexus.path, outputPath: keras.path), console: CapturedOutput())
    let weights = folder.file("cnn.weights.h5")
    try Convert.run(
      ConvertSettings(inputPath: plexus.path, outputPath: weights.path), console: CapturedOutput())
    let back = folder.file("back.plexus")
    try Convert.run(
      ConvertSettings(inputPath: weights.path, outputPath: back.path, architecturePath: keras.path),
      console: CapturedOutput())
    #expect(try loadModel(from: back, registry: .standard()).predict(input) == model.predict(input))

    // predict runs the .keras file directly.
    let inputs = folder.file("x.npy")
    try NumPy.write(input, to: inputs)
    let predictions = try Predict.run(
      PredictSettings(modelPath: keras.path, inputPath: inputs.path), console: CapturedOutput())
    #expect(predictions == (try model.predict(input)))
  }

  @Test func inspectListsLayersAndDatasets() throws {
    let text = CapturedOutput()
    try KerasConversion.inspect(
      path: kerasFixtures.appendingPathComponent("lstm.h5").path, json: false, console: text)
    #expect(text.text.contains("legacy Keras .h5 model, Keras 3.15.1, Sequential model"))
    #expect(text.text.contains("lstm_1   plexus.lstm"))
    #expect(text.text.contains("model_weights/lstm/lstm/lstm/lstm_cell/kernel "))
    let machine = CapturedOutput()
    try KerasConversion.inspect(
      path: kerasFixtures.appendingPathComponent("mlp.keras").path, json: true, console: machine)
    let report = try JSONDecoder().decode(JSONValue.self, from: Data(machine.text.utf8))
    guard case .object(let members) = report, case .array(let layers)? = members["layers"] else {
      Issue.record("not a report: \(machine.text)")
      return
    }
    #expect(layers.count == 5)
    #expect(members["model"] == .string("Sequential"))
  }

  @Test func misuseIsAnErrorSayingWhatToDo() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let weights = kerasFixtures.appendingPathComponent("mlp.weights.h5").path
    #expect {
      try Convert.run(
        ConvertSettings(inputPath: weights, outputPath: folder.file("m.plexus").path),
        console: CapturedOutput())
    } throws: { "\($0)".contains("give the architecture with --architecture") }
    #expect {
      try Convert.run(
        ConvertSettings(
          inputPath: kerasFixtures.appendingPathComponent("mlp.keras").path,
          outputPath: folder.file("m.safetensors").path), console: CapturedOutput())
    } throws: { "\($0)".contains("Keras files convert to and from .plexus") }
    let plexus = folder.file("m.plexus")
    try Convert.run(
      ConvertSettings(
        inputPath: kerasFixtures.appendingPathComponent("mlp.keras").path, outputPath: plexus.path),
      console: CapturedOutput())
    #expect {
      try Convert.run(
        ConvertSettings(inputPath: plexus.path, outputPath: folder.file("m.h5").path),
        console: CapturedOutput())
    } throws: { "\($0)".contains("not legacy .h5 models") }
    #expect {
      try Convert.run(
        ConvertSettings(
          inputPath: plexus.path, outputPath: folder.file("m.keras").path, dtype: .f16),
        console: CapturedOutput())
    } throws: { "\($0)".contains("Keras files store float32") }
  }
}
