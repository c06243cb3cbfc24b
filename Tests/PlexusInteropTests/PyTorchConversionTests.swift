import Foundation
import Plexus
import PlexusCommands
import PlexusInterop
import Testing

/// A fixture file's path.
func fixture(_ name: String) -> String { interopFixtures.appendingPathComponent(name).path }

/// The fixture's reference input as Plexus takes it: images from PyTorch's NCHW to NHWC.
func plexusInput(_ name: String) throws -> Tensor {
  let input = try NumPy.read(contentsOf: URL(fileURLWithPath: fixture("\(name)-input.npy")))
    .tensor()
  return input.rank == 4 ? try input.transposed(permutation: [0, 2, 3, 1]) : input
}

/// The largest difference between two tensors of one shape.
func largestDifference(_ a: Tensor, _ b: Tensor) -> Float {
  guard a.shape == b.shape else { return .infinity }
  return zip(a.scalars, b.scalars).map { abs($0 - $1) }.max() ?? 0
}

/// A folder removed at the end of a test.
struct ScratchFolder {
  let url: URL
  init() throws {
    url = FileManager.default.temporaryDirectory.appendingPathComponent(
      "plexus-interop-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
  }
  func file(_ name: String) -> String { url.appendingPathComponent(name).path }
  func remove() { try? FileManager.default.removeItem(at: url) }
}

/// A Python with torch, from `PLEXUS_PYTHON` or the package's `.venv-bench`, or `nil`.
let torchPython: String? = {
  let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()
  let candidates = [
    ProcessInfo.processInfo.environment["PLEXUS_PYTHON"],
    root.appendingPathComponent(".venv-bench/bin/python").path,
  ].compactMap { $0 }
  return candidates.first { path in
    guard FileManager.default.isExecutableFile(atPath: path) else { return false }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = ["-c", "import torch, safetensors"]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    guard (try? process.run()) != nil else { return false }
    process.waitUntilExit()
    return process.terminationStatus == 0
  }
}()

@Suite struct PyTorchConversionTests {
  static let models = ["mlp", "cnn", "lstm", "gru", "rnn", "grouped", "birnn"]

  /// Converts a fixture's state dict with its spec and returns the model and the tool's output.
  private func convert(
    _ name: String, from file: String? = nil, layout: WeightLayout? = nil, mapping: String? = nil,
    in folder: ScratchFolder
  ) throws -> (any ModelProtocol, String) {
    let output = folder.file("\(name)-\(UUID().uuidString).plexus")
    let console = CapturedOutput()
    try Convert.run(
      ConvertSettings(
        inputPath: file ?? fixture("\(name).pt"), outputPath: output,
        architecturePath: fixture("\(name).spec.json"), layout: layout, mappingPath: mapping),
      console: console)
    return (try loadModel(from: URL(fileURLWithPath: output), registry: .standard()), console.text)
  }

  /// Every model torch saved converts and predicts torch's outputs within 1e-4.
  @Test(arguments: models)
  func convertedStateDictsPredictWhatTorchPredicts(name: String) throws {
    let folder = try ScratchFolder()
    defer { folder.remove() }
    let (model, text) = try convert(name, in: folder)
    #expect(text.contains("PyTorch layout"), "\(text)")
    let expected = try NumPy.read(contentsOf: URL(fileURLWithPath: fixture("\(name)-output.npy")))
      .tensor()
    let predicted = try model.predict(try plexusInput(name))
    #expect(predicted.shape == expected.shape)
    #expect(largestDifference(predicted, expected) < 1e-4, "\(name)")
  }

  @Test func theTablePrintsEveryTensorAndHowItWasConverted() throws {
    let folder = try ScratchFolder()
    defer { folder.remove() }
    let (_, cnn) = try convert("cnn", in: folder)
    #expect(cnn.contains("matched by order and shape, PyTorch layout:"))
    #expect(cnn.contains("conv1.weight [4, 1, 3, 3]"))
    #expect(cnn.contains("-> conv2d_1.kernel [3, 3, 1, 4] (OIHW to HWIO)"))
    #expect(cnn.contains("-> batch_normalization_1.moving_variance [4]"))
    #expect(cnn.contains("bn1.num_batches_tracked []"))
    #expect(cnn.contains("left out: PyTorch's batch counter"))
    #expect(cnn.contains("rows from channels-first order (C=6, [2, 2])"))
    let (_, lstm) = try convert("lstm", in: folder)
    #expect(
      lstm.contains("rnn.weight_ih_l1 [48, 12]") && lstm.contains("-> lstm_2.kernel [12, 48]"))
    #expect(lstm.contains("summed with bias_hh"))
    let (_, gru) = try convert("gru", in: folder)
    #expect(gru.contains("gates r, z, n to z, r, h"))
  }

  /// The same state dicts saved as safetensors and .npz by torch and numpy, read in the
  /// PyTorch layout; a mapping file gives the same result.
  @Test func safetensorsAndNpzFilesWithTorchNamesConvertToo() throws {
    let folder = try ScratchFolder()
    defer { folder.remove() }
    for (name, file) in [("mlp", "mlp.safetensors"), ("cnn", "cnn.npz")] {
      let (model, text) = try convert(name, from: fixture(file), layout: .pytorch, in: folder)
      let expected = try NumPy.read(
        contentsOf: URL(fileURLWithPath: fixture("\(name)-output.npy"))
      ).tensor()
      #expect(largestDifference(try model.predict(try plexusInput(name)), expected) < 1e-4)
      #expect(text.contains("PyTorch layout"))
    }
    let (mapped, text) = try convert(
      "cnn", from: fixture("cnn.npz"), layout: .pytorch, mapping: fixture("cnn.mapping.json"),
      in: folder)
    #expect(text.contains("by the mapping file"))
    let expected = try NumPy.read(contentsOf: URL(fileURLWithPath: fixture("cnn-output.npy")))
      .tensor()
    #expect(largestDifference(try mapped.predict(try plexusInput("cnn")), expected) < 1e-4)
    // Without --layout pytorch, a file of torch names is read in Plexus's layout and the error
    // says what to do.
    #expect {
      _ = try convert("mlp", from: fixture("mlp.safetensors"), in: folder)
    } throws: { "\($0)".contains("use the pytorch layout") }
  }

  /// Export in the PyTorch layout and import back is exact; with a mapping file the names are
  /// torch's own.
  @Test(arguments: models)
  func pytorchLayoutRoundTripsExactly(name: String) throws {
    let folder = try ScratchFolder()
    defer { folder.remove() }
    let converted = folder.file("\(name).plexus")
    let console = CapturedOutput()
    try Convert.run(
      ConvertSettings(
        inputPath: fixture("\(name).pt"), outputPath: converted,
        architecturePath: fixture("\(name).spec.json")), console: console)
    let original = try loadModel(from: URL(fileURLWithPath: converted), registry: .standard())
    for format in ["safetensors", "npz", "pt"] {
      let exported = folder.file("\(name).\(format)")
      try Convert.run(
        ConvertSettings(inputPath: converted, outputPath: exported, layout: .pytorch),
        console: CapturedOutput())
      let back = folder.file("\(name)-back-\(format).plexus")
      try Convert.run(
        ConvertSettings(
          inputPath: exported, outputPath: back,
          architecturePath: format == "safetensors" ? nil : converted,
          layout: format == "npz" ? .pytorch : nil), console: CapturedOutput())
      let reloaded = try loadModel(from: URL(fileURLWithPath: back), registry: .standard())
      for (a, b) in zip(original.namedParameters, reloaded.namedParameters) {
        #expect(a.path == b.path && a.parameter.value == b.parameter.value, "\(name) \(format)")
      }
    }
    // A mapping made from the import's table exports torch's own names.
    let mapping = try mappingFromImport(name, in: folder)
    let torchNamed = folder.file("\(name)-torch.safetensors")
    try Convert.run(
      ConvertSettings(
        inputPath: converted, outputPath: torchNamed, layout: .pytorch, mappingPath: mapping),
      console: CapturedOutput())
    let names = try WeightFile(contentsOf: URL(fileURLWithPath: torchNamed)).tensors.map(\.name)
    let torchNames = try PyTorchFile(contentsOf: URL(fileURLWithPath: fixture("\(name).pt")))
      .entries.map(\.name)
    #expect(Set(names) == Set(torchNames))
    // As a .pt file with torch's names: the fixture's names and dtypes in its order, and back
    // through the same mapping exactly.
    let torchFile = folder.file("\(name)-torch.pt")
    try Convert.run(
      ConvertSettings(inputPath: converted, outputPath: torchFile, mappingPath: mapping),
      console: CapturedOutput())
    let written = try PyTorchFile(contentsOf: URL(fileURLWithPath: torchFile))
    let reference = try PyTorchFile(contentsOf: URL(fileURLWithPath: fixture("\(name).pt")))
    #expect(Set(written.entries.map(\.name)) == Set(reference.entries.map(\.name)))
    for entry in written.entries {
      let match = reference.entries.first { $0.name == entry.name }
      #expect(match?.dtype == entry.dtype && match?.shape == entry.shape, "\(entry.name)")
    }
    let back = folder.file("\(name)-back-torch.plexus")
    try Convert.run(
      ConvertSettings(
        inputPath: torchFile, outputPath: back, architecturePath: converted, mappingPath: mapping),
      console: CapturedOutput())
    let reloaded = try loadModel(from: URL(fileURLWithPath: back), registry: .standard())
    for (a, b) in zip(original.namedParameters, reloaded.namedParameters) {
      #expect(a.path == b.path && a.parameter.value == b.parameter.value, "\(name) torch .pt")
    }
  }

  /// The mapping file the conversion of a fixture amounts to (tensor name -> Plexus path, or
  /// null for what was left out).
  private func mappingFromImport(_ name: String, in folder: ScratchFolder) throws -> String {
    let (_, report) = try WeightConversion.loadModel(
      weightsPath: fixture("\(name).pt"), architecturePath: fixture("\(name).spec.json"),
      layout: nil, mappingPath: nil)
    let object = JSONValue.object(
      Dictionary(
        uniqueKeysWithValues: report.assignments.map {
          ($0.tensor, $0.parameter.map(JSONValue.string) ?? .null)
        }))
    let path = folder.file("\(name).mapping.json")
    try JSONEncoder().encode(object).write(to: URL(fileURLWithPath: path))
    return path
  }

  /// Files exported for PyTorch load with `load_state_dict(strict=True)` into the equivalent
  /// modules and give torch's outputs (scripts/check-pytorch-export.py, with torch).
  @Test(
    .enabled(
      if: torchPython != nil,
      "needs a Python with torch and safetensors: set PLEXUS_PYTHON (or make .venv-bench)"))
  func exportedFilesLoadInPyTorchStrictly() throws {
    let folder = try ScratchFolder()
    defer { folder.remove() }
    var cases: [JSONValue] = []
    // Each Plexus layer as the torch submodule it stands for, for exports under Plexus names.
    let modules: [String: [String: String]] = [
      "mlp": ["dense_1": "0", "dense_2": "2", "dense_3": "4"],
      "cnn": [
        "conv2d_1": "conv1", "batch_normalization_1": "bn1", "conv2d_2": "conv2", "dense_1": "fc",
      ],
      "gru": ["gru_1": "rnn", "dense_1": "fc"],
      "rnn": ["embedding_1": "embed", "simple_rnn_1": "rnn", "dense_1": "head"],
      "grouped": [
        "conv2d_1": "grouped", "depthwise_conv2d_1": "depthwise", "conv2d_transpose_1": "up",
        "dense_1": "fc",
      ],
      "birnn": ["bidirectional_1": "lstm", "bidirectional_2": "gru", "dense_1": "fc"],
    ]
    for name in Self.models {
      let converted = folder.file("\(name).plexus")
      try Convert.run(
        ConvertSettings(
          inputPath: fixture("\(name).pt"), outputPath: converted,
          architecturePath: fixture("\(name).spec.json")), console: CapturedOutput())
      let mapping = try mappingFromImport(name, in: folder)
      for format in ["safetensors", "npz", "pt"] {
        let file = "\(name)-torch.\(format)"
        try Convert.run(
          ConvertSettings(
            inputPath: converted, outputPath: folder.file(file), layout: .pytorch,
            mappingPath: mapping), console: CapturedOutput())
        cases.append(.object(["fixture": .string(name), "file": .string(file), "modules": .null]))
      }
      if let submodules = modules[name] {
        for file in ["\(name)-plexus.safetensors", "\(name)-plexus.pt"] {
          try Convert.run(
            ConvertSettings(inputPath: converted, outputPath: folder.file(file), layout: .pytorch),
            console: CapturedOutput())
          cases.append(
            .object([
              "fixture": .string(name), "file": .string(file),
              "modules": .object(submodules.mapValues { .string($0) }),
            ]))
        }
      }
    }
    try JSONEncoder().encode(JSONValue.object(["cases": .array(cases)])).write(
      to: folder.url.appendingPathComponent("manifest.json"))
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
      .deletingLastPathComponent().deletingLastPathComponent()
      .appendingPathComponent("scripts/check-pytorch-export.py")
    let process = Process()
    process.executableURL = URL(fileURLWithPath: torchPython!)
    process.arguments = [script.path, folder.url.path]
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    print(output)
    #expect(process.terminationStatus == 0, "\(output)")
    #expect(output.contains("\(cases.count) passed, 0 failed"), "\(output)")
  }

  /// A model built from a spec's layers.
  private func model(_ inputShape: [Int], _ layers: String) throws -> any ModelProtocol {
    let json = """
      {"inputShape": \(inputShape), "layers": [\(layers)], "loss": "mse", "optimizer": "sgd",
       "data": {"source": "digits"}}
      """
    let spec = try TrainingSpec.decode(
      Data(json.utf8), baseDirectory: FileManager.default.temporaryDirectory)
    return try spec.buildModel(registry: .standard(), inputShape: inputShape, seed: 3)
  }

  /// A dense layer after flattened channels-last data gets its rows permuted to PyTorch's
  /// channels-first order (images, 1-D convolutions), but not after a flattened sequence.
  @Test func flattenedSpatialDataPermutesTheNextDenseLayersRows() throws {
    let image = try model(
      [2, 3, 2],
      #"{"type": "plexus.flatten"}, {"type": "plexus.dropout", "config": {"rate": 0.5}}, {"type": "plexus.dense", "config": {"units": 2}}"#
    )
    let sequence = try model(
      [3, 2],
      #"{"type": "plexus.lstm", "config": {"units": 2, "returnSequences": true}}, {"type": "plexus.flatten"}, {"type": "plexus.dense", "config": {"units": 2}}"#
    )
    let signal = try model(
      [4, 1],
      #"{"type": "plexus.conv1d", "config": {"filters": 3, "kernelSize": 2}}, {"type": "plexus.flatten"}, {"type": "plexus.dense", "config": {"units": 2}}"#
    )
    for (model, permuted) in [(image, true), (sequence, false), (signal, true)] {
      let layers = try ParameterLayer.layers(of: model)
      let dense = try #require(layers.last)
      #expect((dense.flattenedSpatialShape != nil) == permuted)
      let tensors = try WeightExport.tensors(of: model, layout: .pytorch)
      let weight = try #require(tensors.first { $0.name == "\(dense.path).weight" }).tensor
      let kernel = try #require(dense.parameter("kernel")).value
      #expect((weight == (try kernel.transposed())) != permuted)
      // Importing the export gives the kernel back.
      let file = WeightFile(
        try SafeTensorsFile(data: try SafeTensorsFile.encode(tensors)), source: "export")
      try WeightImport.load(file, into: model, layout: .pytorch)
      #expect(try #require(dense.parameter("kernel")).value == kernel)
    }
    // In the image case the row of input (h, w, c) comes from PyTorch's column (c, h, w).
    let dense = try #require(try ParameterLayer.layers(of: image).last)
    let kernel = try #require(dense.parameter("kernel")).value
    let weight = try #require(
      try WeightExport.tensors(of: image, layout: .pytorch).first { $0.name.hasSuffix("weight") }
    ).tensor
    for h in 0..<2 {
      for w in 0..<3 {
        for c in 0..<2 {
          for unit in 0..<2 {
            #expect(kernel[(h * 3 + w) * 2 + c, unit] == weight[unit, c * 6 + h * 3 + w])
          }
        }
      }
    }
  }

  @Test func exportMappingsMustNameEveryLayer() throws {
    let folder = try ScratchFolder()
    defer { folder.remove() }
    let (model, _) = try convert("mlp", in: folder)
    let partial = WeightMapping([("0.weight", "dense_1.kernel"), ("0.bias", "dense_1.bias")])
    #expect {
      _ = try WeightExport.tensors(of: model, layout: .pytorch, mapping: partial)
    } throws: { "\($0)".contains("names no tensor of layer 'dense_2'") }
    #expect {
      _ = try WeightExport.tensors(of: model, layout: .plexus, mapping: partial)
    } throws: { "\($0)".contains("names no tensor for parameter 'dense_2.kernel'") }
    let paths = try model.builtGraph().namedParameters(prefix: "").map(\.path)
    let renamed = WeightMapping(paths.map { (name: "w\($0)", path: $0 as String?) })
    let tensors = try WeightExport.tensors(of: model, layout: .plexus, mapping: renamed)
    #expect(tensors.map(\.name) == paths.map { "w\($0)" })
  }

  /// `plexus predict` runs a state dict with its architecture, on images in PyTorch's layout.
  @Test func predictRunsAWeightFileWithItsArchitecture() throws {
    let folder = try ScratchFolder()
    defer { folder.remove() }
    for name in ["cnn", "lstm"] {
      let predicted = try Predict.run(
        PredictSettings(
          modelPath: fixture("\(name).pt"), inputPath: fixture("\(name)-input.npy"),
          outputPath: folder.file("\(name)-y.npy"), architecturePath: fixture("\(name).spec.json"),
          inputsAreChannelsFirst: name == "cnn"), console: CapturedOutput())
      let expected = try NumPy.read(
        contentsOf: URL(fileURLWithPath: fixture("\(name)-output.npy"))
      ).tensor()
      #expect(largestDifference(predicted, expected) < 1e-4, "\(name)")
    }
    #expect {
      try Predict.run(
        PredictSettings(
          modelPath: fixture("mlp.pt"), inputPath: fixture("mlp-input.npy"),
          architecturePath: fixture("mlp.spec.json"), inputsAreChannelsFirst: true),
        console: CapturedOutput())
    } throws: { "\($0)".contains("needs images [N, C, H, W]") }
    #expect {
      try Predict.run(
        PredictSettings(modelPath: fixture("mlp.pt"), inputPath: fixture("mlp-input.npy")),
        console: CapturedOutput())
    } throws: { "\($0)".contains("--architecture") }
  }

  /// `.plexus` to `.npz` in Plexus's layout and back is exact; `--to` names the format when
  /// the extension does not; bad flags are refused.
  @Test func npzInPlexusLayoutRoundTripsAndFlagsAreChecked() throws {
    let folder = try ScratchFolder()
    defer { folder.remove() }
    let (model, _) = try convert("cnn", in: folder)
    let converted = folder.file("cnn.plexus")
    try model.save(to: URL(fileURLWithPath: converted))
    let weights = folder.file("cnn.weights")
    let command = try ConvertCommand.parse([converted, weights, "--to", "npz"])
    try Convert.run(try command.settings, console: CapturedOutput())
    let archive = try NumPyArchive(contentsOf: URL(fileURLWithPath: weights))
    #expect(archive.members.first?.name == "conv2d_1.kernel")
    let back = folder.file("back.plexus")
    try FileManager.default.copyItem(atPath: weights, toPath: folder.file("cnn.npz"))
    let console = CapturedOutput()
    try Convert.run(
      try ConvertCommand.parse([folder.file("cnn.npz"), back, "--architecture", converted])
        .settings, console: console)
    #expect(console.text.contains("matched by name"))
    let reloaded = try loadModel(from: URL(fileURLWithPath: back), registry: .standard())
    for (a, b) in zip(model.namedParameters, reloaded.namedParameters) {
      #expect(a.parameter.value == b.parameter.value)
    }
    for arguments in [
      [converted, weights, "--to", "pt"], [converted, weights, "--layout", "tensorflow"],
    ] {
      #expect(throws: (any Error).self) { try ConvertCommand.parse(arguments).validate() }
    }
    #expect {
      try Convert.run(
        ConvertSettings(inputPath: converted, outputPath: back, layout: .pytorch),
        console: CapturedOutput())
    } throws: { "\($0)".contains("apply when one side is a weight file") }
  }

  // MARK: Bad input

  @Test func mismatchesNameTheTensorAndBothShapes() throws {
    let folder = try ScratchFolder()
    defer { folder.remove() }
    // An architecture whose first layer is narrower than the state dict's.
    var spec = try String(contentsOfFile: fixture("mlp.spec.json"), encoding: .utf8)
    spec = spec.replacingOccurrences(of: "\"units\": 32", with: "\"units\": 30")
    spec = spec.replacingOccurrences(of: "mlp-input.npy", with: fixture("mlp-input.npy"))
    spec = spec.replacingOccurrences(of: "mlp-output.npy", with: fixture("mlp-output.npy"))
    let specPath = folder.file("narrow.json")
    try spec.write(toFile: specPath, atomically: true, encoding: .utf8)
    let message = errorMessage {
      try Convert.run(
        ConvertSettings(
          inputPath: fixture("mlp.pt"), outputPath: folder.file("x.plexus"),
          architecturePath: specPath), console: CapturedOutput())
    }
    #expect(
      message?.contains(
        "tensor '0.weight' has shape [32, 64] but parameter 'dense_1.kernel' has shape [64, 30], "
          + "which needs [30, 64]") == true, "\(message ?? "no error")")
    #expect(message?.contains("--mapping") == true)
    // A state dict with more modules than the architecture has layers.
    let count = errorMessage {
      try Convert.run(
        ConvertSettings(
          inputPath: fixture("cnn.pt"), outputPath: folder.file("x.plexus"),
          architecturePath: fixture("mlp.spec.json")), console: CapturedOutput())
    }
    #expect(count?.contains("4 PyTorch modules (conv1, bn1, conv2, fc) for 3 layers") == true)
  }

  @Test func badMappingFilesAreClearErrors() throws {
    let folder = try ScratchFolder()
    defer { folder.remove() }
    let original = try String(contentsOfFile: fixture("cnn.mapping.json"), encoding: .utf8)
    let cases: [(String, String)] = [
      (original.replacingOccurrences(of: "\"fc.bias\"", with: "\"fc.b\""), "tensor 'fc.b'"),
      (original.replacingOccurrences(of: "dense_1.bias", with: "dense_9.bias"), "'dense_9.bias'"),
      (
        original.replacingOccurrences(of: "\"conv1.bias\": \"conv2d_1.bias\",", with: ""),
        "not in the mapping"
      ),
      (
        original.replacingOccurrences(of: "\"dense_1.bias\"", with: "\"dense_1.kernel\""),
        "goes to 'dense_1.bias'"
      ),
      ("[1, 2]", "a JSON object"),
      ("{\"fc.bias\": 3}", "not a Plexus path or null"),
    ]
    for (text, expected) in cases {
      let path = folder.file("map-\(UUID().uuidString).json")
      try text.write(toFile: path, atomically: true, encoding: .utf8)
      let message = errorMessage {
        _ = try convert(
          "cnn", from: fixture("cnn.npz"), layout: .pytorch, mapping: path, in: folder)
      }
      #expect(message?.contains(expected) == true, "\(expected): \(message ?? "no error")")
    }
  }

  @Test func conventionsPyTorchCannotExpressAreRefused() throws {
    let folder = try ScratchFolder()
    defer { folder.remove() }
    var spec = try String(contentsOfFile: fixture("gru.spec.json"), encoding: .utf8)
    spec = spec.replacingOccurrences(
      of: "\"units\": 10", with: "\"units\": 10, \"resetAfter\": false")
    spec = spec.replacingOccurrences(of: "gru-input.npy", with: fixture("gru-input.npy"))
    spec = spec.replacingOccurrences(of: "gru-output.npy", with: fixture("gru-output.npy"))
    let specPath = folder.file("before.json")
    try spec.write(toFile: specPath, atomically: true, encoding: .utf8)
    let message = errorMessage {
      try Convert.run(
        ConvertSettings(
          inputPath: fixture("gru.pt"), outputPath: folder.file("x.plexus"),
          architecturePath: specPath), console: CapturedOutput())
    }
    #expect(message?.contains("\"resetAfter\": true") == true, "\(message ?? "no error")")
    // A hostile pickle fails the conversion with the global named.
    let evil = errorMessage {
      try Convert.run(
        ConvertSettings(
          inputPath: fixture("evil.pt"), outputPath: folder.file("x.plexus"),
          architecturePath: fixture("mlp.spec.json")), console: CapturedOutput())
    }
    #expect(evil?.contains("system'") == true)
    #expect(!FileManager.default.fileExists(atPath: folder.file("x.plexus")))
    // A .pt file is written in PyTorch's layout only.
    let converted = folder.file("m.plexus")
    try Convert.run(
      ConvertSettings(
        inputPath: fixture("mlp.pt"), outputPath: converted,
        architecturePath: fixture("mlp.spec.json")), console: CapturedOutput())
    #expect {
      try Convert.run(
        ConvertSettings(inputPath: converted, outputPath: folder.file("m.pt"), layout: .plexus),
        console: CapturedOutput())
    } throws: { "\($0)".contains("written in PyTorch's layout (--layout pytorch), not plexus's") }
  }

  @Test func inspectListsNpzAndPyTorchFiles() throws {
    let torch = CapturedOutput()
    try WeightConversion.inspect(path: fixture("checkpoint.pt"), json: false, console: torch)
    #expect(torch.text.contains("pytorch, 3 tensors"))
    #expect(torch.text.contains("model.fc.weight  F32    [2, 3]  24 bytes  storage 0"))
    #expect(torch.text.contains("epoch = 5"))
    let views = CapturedOutput()
    try WeightConversion.inspect(path: fixture("tensors.pt"), json: false, console: views)
    #expect(views.text.contains("stride [1, 4]"))
    let npz = CapturedOutput()
    try WeightConversion.inspect(path: fixture("arrays.npz"), json: true, console: npz)
    let report = try JSONDecoder().decode(JSONValue.self, from: Data(npz.text.utf8))
    guard case .object(let members) = report, case .array(let tensors)? = members["tensors"] else {
      Issue.record("not a report: \(npz.text)")
      return
    }
    #expect(members["format"] == .string("npz") && tensors.count == 16)
    #expect(npz.text.contains("stored as '>f4'") && npz.text.contains("Fortran order"))
  }
}
