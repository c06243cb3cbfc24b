import Foundation
import Plexus
import PlexusCommands
import PlexusONNX
import Testing

@Suite struct ONNXCommandTests {
  /// `plexus convert model.onnx model.plexus` keeps the predictions; `plexus predict` runs the
  /// .onnx file directly (`--input-layout nchw` for ONNX's channels-first images); converting back gives an .onnx file that
  /// imports to the same predictions.
  @Test func convertsAndPredictsONNXFiles() throws {
    let folder = try ONNXScratch()
    defer { folder.remove() }
    let onnx = onnxFixture("cnn_view.torchscript.onnx").path
    let plexus = folder.file("cnn.plexus").path
    let console = CapturedOutput()
    try Convert.run(ConvertSettings(inputPath: onnx, outputPath: plexus), console: console)
    #expect(console.text.contains("Wrote \(plexus): 6 layers"))
    #expect(console.text.contains("note: input 'x': ONNX [N, 3, 8, 6] is read channels last"))

    let channelsFirst = try readArray(onnxFixture("cnn_view.x.npy"))
    let expected = try readArray(onnxFixture("cnn_view.torchscript.y.npy"))
    let model = try PlexusFile(contentsOf: URL(fileURLWithPath: plexus)).loadModel(
      registry: .standard())
    #expect(
      try largestDifference(try model.predict(try channelsLast(channelsFirst)), expected) < 1e-4)

    let inputs = folder.file("x.npy")
    try NumPy.write(channelsFirst, to: inputs)
    let predicted = try Predict.run(
      PredictSettings(modelPath: onnx, inputPath: inputs.path, inputsAreChannelsFirst: true),
      console: CapturedOutput())
    #expect(try largestDifference(predicted, expected) < 1e-4)

    for layout in ["nchw", "nhwc"] {
      let back = folder.file("back.\(layout).onnx").path
      var settings = ConvertSettings(inputPath: plexus, outputPath: back)
      settings.inputLayout = ONNXInputLayout(rawValue: layout)
      let output = CapturedOutput()
      try Convert.run(settings, console: output)
      #expect(output.text.contains("ONNX opset 17, dynamic batch"))
      let file = try ONNXModelFile(contentsOf: URL(fileURLWithPath: back))
      let declared = file.inputs.first?.shape
      #expect(
        declared
          == (layout == "nchw"
            ? [.named("N"), .fixed(3), .fixed(8), .fixed(6)]
            : [.named("N"), .fixed(8), .fixed(6), .fixed(3)]))
      let (copy, _) = try file.importModel(registry: .standard())
      #expect(
        try largestDifference(try copy.predict(try channelsLast(channelsFirst)), expected) < 1e-4)
    }
  }

  /// `--input-layout` is refused outside ONNX conversions and for unknown values.
  @Test func inputLayoutOptionIsChecked() throws {
    #expect(throws: (any Error).self) {
      try ConvertCommand.parse(["a.plexus", "b.safetensors", "--input-layout", "nchw"]).validate()
    }
    #expect(throws: (any Error).self) {
      try ConvertCommand.parse(["a.plexus", "b.onnx", "--input-layout", "chw"]).validate()
    }
    let settings = try ConvertCommand.parse(["a.plexus", "b.onnx", "--input-layout", "nhwc"])
      .settings
    #expect(settings.inputLayout == .nhwc)
  }

  /// `plexus inspect model.onnx` shows the inputs, outputs, operators, initializers and
  /// whether Plexus imports the graph.
  @Test func inspectShowsTheGraph() throws {
    let text = CapturedOutput()
    try ONNXConversion.inspect(
      path: onnxFixture("cnn_view.torchscript.onnx").path, json: false, console: text)
    #expect(text.text.contains("ONNX IR 8, opset 17, made by pytorch"))
    #expect(text.text.contains("  x  FLOAT [batch, 3, 8, 6]"))
    #expect(text.text.contains("Shape 1"))
    #expect(text.text.contains("conv1.weight"))
    #expect(text.text.contains("Plexus: imports as 6 Plexus layers"))
    let json = CapturedOutput()
    try ONNXConversion.inspect(
      path: onnxFixture("mlp_external.onnx").path, json: true, console: json)
    let report = try JSONDecoder().decode(JSONValue.self, from: Data(json.text.utf8))
    #expect(report.objectMembers?["opset"] == .number(17))
    #expect(
      report.objectMembers?["initializers"].flatMap {
        if case .array(let items) = $0 { return items.first?.objectMembers?["external"] }
        return nil
      } == .string("mlp_external.weights"))
  }
}
