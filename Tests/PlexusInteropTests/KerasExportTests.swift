import Foundation
import Plexus
import Testing

@testable import PlexusInterop

/// A Python interpreter with Keras, for the round trips through Keras itself: the one named by
/// `PLEXUS_KERAS_PYTHON`, else `python3` when it imports keras. `nil` without one (CI).
let kerasPython: String? = {
  let environment = ProcessInfo.processInfo.environment
  let candidates = [environment["PLEXUS_KERAS_PYTHON"], "/usr/bin/env"].compactMap { $0 }
  for candidate in candidates {
    let arguments = candidate == "/usr/bin/env" ? ["python3"] : []
    let process = Process()
    process.executableURL = URL(fileURLWithPath: candidate)
    process.arguments = arguments + ["-c", kerasBackendSetup + "import keras"]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    do {
      try process.run()
      process.waitUntilExit()
    } catch {
      continue
    }
    if process.terminationStatus == 0 {
      return candidate == "/usr/bin/env" ? "python3" : candidate
    }
  }
  return nil
}()

/// Picks Keras's torch backend when torch is there and no backend is chosen.
private let kerasBackendSetup = """
  import os, importlib.util
  if "KERAS_BACKEND" not in os.environ and importlib.util.find_spec("torch"):
      os.environ["KERAS_BACKEND"] = "torch"

  """

/// Loads `model` with `keras.saving.load_model` (and, given, `weights` into it with
/// `load_weights`) and returns Keras's predictions for `input`.
func kerasPredictions(model: URL, weights: URL? = nil, input: Tensor) throws -> Tensor {
  let folder = FileManager.default.temporaryDirectory.appendingPathComponent(UUID().uuidString)
  try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
  defer { try? FileManager.default.removeItem(at: folder) }
  let inputURL = folder.appendingPathComponent("x.npy")
  let outputURL = folder.appendingPathComponent("y.npy")
  try NumPy.write(input, to: inputURL)
  let script =
    kerasBackendSetup + """
      import sys, numpy, keras
      model = keras.saving.load_model(sys.argv[1])
      if len(sys.argv) > 4:
          model.load_weights(sys.argv[4])
      x = numpy.load(sys.argv[2])
      numpy.save(sys.argv[3], numpy.asarray(model.predict(x, verbose=0), dtype="float32"))
      """
  let python = try #require(kerasPython)
  let process = Process()
  process.executableURL = URL(fileURLWithPath: python == "python3" ? "/usr/bin/env" : python)
  process.arguments =
    (python == "python3" ? ["python3"] : []) + [
      "-c", script, model.path, inputURL.path, outputURL.path,
    ] + (weights.map { [$0.path] } ?? [])
  let errors = Pipe()
  process.standardError = errors
  process.standardOutput = FileHandle.nullDevice
  try process.run()
  let message = errors.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  guard process.terminationStatus == 0 else {
    throw PlexusError.io(
      "keras failed: " + String(decoding: message.suffix(3000), as: UTF8.self))
  }
  return try NumPy.read(contentsOf: outputURL).tensor()
}

/// Models built in Plexus, covering every family the export maps.
enum PlexusExportModels {
  static func cnn() throws -> (any ModelProtocol, Tensor) {
    let model = Sequential([
      try Conv2D(filters: 3, kernelSize: 3, padding: .same, activation: .relu),
      try BatchNormalization(momentum: 0.9, epsilon: 1e-5),
      try MaxPool2D(poolSize: 2),
      try Conv2DTranspose(config: .init(filters: 2, kernelSize: [2, 2], strides: [2, 2])),
      try AveragePool2D(poolSize: 2, strides: 1, padding: .same),
      Flatten(name: "flatten"),
      try Dropout(rate: 0.25),
      try Dense(units: 4, activation: .softmax),
    ])
    try model.build(inputShape: [6, 6, 2], seed: 5)
    try perturbBatchNormalization(model)
    var generator = SeededGenerator(seed: 9)
    return (model, Tensor.normal([3, 6, 6, 2], using: &generator))
  }

  static func recurrent() throws -> (any ModelProtocol, Tensor) {
    let model = Sequential([
      try Embedding(inputDim: 9, outputDim: 4, maskZero: true),
      try Bidirectional(try LSTM(units: 3, returnSequences: true), mergeMode: .sum),
      try GRU(units: 3, resetAfter: true),
      try Dense(units: 2),
    ])
    try model.build(inputShape: [5], seed: 6)
    let ids: [Float] = [1, 2, 3, 0, 0, 4, 5, 6, 7, 8, 8, 1, 0, 0, 0]
    return (model, try Tensor(shape: [3, 5], scalars: ids))
  }

  /// Two dense layers at different depths, a shared layer and merges: the weights file's
  /// names depend on Keras's ordering of the layers.
  static func branches() throws -> (any ModelProtocol, Tensor) {
    let input = try Input(shape: [5], name: "x")
    let deep = try Dense(units: 4, activation: .tanh, name: "deep")(
      try Dense(units: 4, activation: .relu, name: "first")(input))
    let shallow = try Dense(units: 4, name: "shallow")(input)
    let shared = try Dense(units: 4, activation: .sigmoid, name: "shared")
    let merged = try Add(name: "add")([try shared(deep), try shared(shallow)])
    let joined = try Concatenate(name: "join")([merged, shallow])
    let output = try Dense(units: 2, name: "out")(
      Activation(try ActivationFunction(name: "leaky_relu", alpha: 0.1), name: "act")(joined))
    let model = try Model(inputs: [input], outputs: [output], seed: 7)
    var generator = SeededGenerator(seed: 10)
    return (model, Tensor.normal([4, 5], using: &generator))
  }

  /// Grouped, depthwise and separable convolutions after a zero padding, and recurrent layers
  /// with dropout.
  static func mobile() throws -> (any ModelProtocol, Tensor) {
    let model = Sequential([
      try Pad2D(top: 1, bottom: 1, left: 0, right: 2),
      try Conv2D(
        config: .init(filters: 4, kernelSize: [3, 3], activation: .relu, groups: 2)),
      try DepthwiseConv2D(kernelSize: 3, padding: .same, depthMultiplier: 2, activation: .relu),
      try SeparableConv2D(filters: 3, kernelSize: 2, strides: 2, depthMultiplier: 2),
      try Reshape([-1, 3]),
      try LSTM(config: .init(units: 3, returnSequences: true, dropout: 0.2, recurrentDropout: 0.1)),
      try GRU(config: .init(units: 2, recurrentDropout: 0.3, seed: 4)),
      try Dense(units: 2),
    ])
    try model.build(inputShape: [6, 5, 2], seed: 8)
    var generator = SeededGenerator(seed: 11)
    return (model, Tensor.normal([3, 6, 5, 2], using: &generator))
  }

  static func perturbBatchNormalization(_ model: any ModelProtocol) throws {
    var generator = SeededGenerator(seed: 3)
    for (path, parameter) in try model.builtGraph().namedParameters(prefix: "")
    where path.contains("moving") || path.hasSuffix("gamma") {
      let noise = Tensor.normal(parameter.value.shape, using: &generator)
      try parameter.assign(
        path.contains("variance") || path.hasSuffix("gamma")
          ? noise.map { 1 + abs($0) } : noise)
    }
  }

  static let all: [(String, @Sendable () throws -> (any ModelProtocol, Tensor))] = [
    ("cnn", cnn), ("recurrent", recurrent), ("branches", branches), ("mobile", mobile),
  ]
}

extension Layer {
  /// The layer, renamed.
  func named(_ name: String) -> Self {
    self.name = name
    return self
  }
}

func architecture(of model: any ModelProtocol) throws -> LayerDescription {
  var description = try LayerDescription(model)
  description.name = ""
  return description
}

@Suite struct KerasExportTests {
  @Test(arguments: KerasImportTests.families)
  func convertedKerasModelsExportAndReadBackExactly(family: String) throws {
    let original = try KerasFile(
      contentsOf: kerasFixtureFolder.appendingPathComponent("\(family).keras"))
    let architecture = try #require(original.architecture)
    let (model, _) = try original.loadModel(registry: .standard())
    let bytes = try KerasExport.kerasArchive(
      architecture: architecture, parameters: try model.builtGraph().namedParameters(prefix: ""))
    let reread = try KerasFile(data: bytes, source: "\(family) exported")
    #expect(reread.architecture == architecture)
    let (copy, _) = try reread.loadModel(registry: .standard())
    let (input, _) = try kerasReference(family)
    #expect(try copy.predict(input) == (try model.predict(input)))
  }

  @Test(arguments: PlexusExportModels.all.map(\.0))
  func plexusModelsExportAndReadBackExactly(name: String) throws {
    let (model, input) = try PlexusExportModels.all.first { $0.0 == name }!.1()
    let described = try architecture(of: model)
    let parameters = try model.builtGraph().namedParameters(prefix: "")
    let reread = try KerasFile(
      data: try KerasExport.kerasArchive(architecture: described, parameters: parameters),
      source: name)
    let (copy, _) = try reread.loadModel(registry: .standard())
    #expect(largestDifference(try copy.predict(input), try model.predict(input)) <= 1e-6)
    // The weights alone fill the same architecture.
    let weights = try KerasFile(
      data: try KerasExport.weightsFile(architecture: described, parameters: parameters),
      source: "\(name).weights.h5")
    let fresh = try KerasFile.makeModel(described, registry: .standard(), limit: 1 << 20)
    _ = try weights.assignWeights(to: fresh, architecture: described)
    #expect(largestDifference(try fresh.predict(input), try model.predict(input)) <= 1e-6)
  }

  @Test func theExportedFunctionalConfigListsLayersInKerasOrder() throws {
    let (model, _) = try PlexusExportModels.branches()
    let config = try KerasExport.kerasConfig(try architecture(of: model))
    let names = config.objectMembers?["config"]?.objectMembers?["layers"]?.arrayItems?.compactMap {
      $0.objectMembers?["name"]?.stringValue
    }
    // Deepest first (by distance to the output), ties in depth-first order from the output.
    #expect(names == ["x", "first", "deep", "shallow", "shared", "add", "join", "act", "out"])
    let paths = try KerasExport.weightNames(try architecture(of: model))
    #expect(paths.first! == ("first.kernel", "layers/dense/vars/0"))
    #expect(paths.first { $0.plexusPath == "shallow.kernel" }?.kerasPath == "layers/dense_2/vars/0")
  }

  @Test func layersAndOptionsKerasLacksAreErrorsNamingThem() throws {
    func refusal(_ layer: any Layer, inputShape: SymbolicShape) throws -> String {
      let model = Sequential([layer])
      try model.build(inputShape: inputShape, seed: 1)
      do {
        _ = try KerasExport.kerasConfig(try architecture(of: model))
        return "exported"
      } catch {
        return "\(error)"
      }
    }
    #expect(
      try refusal(
        try LSTM(config: .init(units: 2, maskValue: 0)).named("masked"), inputShape: [3, 2]
      )
      .contains("layer 'masked' (plexus.lstm): option 'maskValue' is set"))
    #expect(
      try refusal(
        try Dense(
          units: 2, activation: try ActivationFunction(name: "leaky_relu", alpha: 0.3),
          name: "leaky"),
        inputShape: [3]
      ).contains("layer 'leaky' (plexus.dense): activation"))
    #expect(
      try refusal(
        try Conv2D(
          filters: 1, kernelSize: 2, padding: .explicit(top: 1, bottom: 0, left: 0, right: 0),
          name: "pad"), inputShape: [4, 4, 1]
      )
      .contains("option 'padding'"))
    #expect(
      try refusal(
        try Pad2D(top: 1, bottom: 1, left: 1, right: 1, mode: .reflect, name: "mirror"),
        inputShape: [4, 4, 1]
      ).contains("layer 'mirror' (plexus.pad2d): option 'mode' is reflect"))
    #expect(
      try refusal(
        try Conv2DTranspose(config: .init(filters: 2, kernelSize: [2, 2], groups: 2)).named("up"),
        inputShape: [4, 4, 2]
      ).contains("Keras's Conv2DTranspose has no groups"))
    #expect(
      try refusal(try GaussianNoise(config: .init(stddev: 0.1)).named("noise"), inputShape: [3])
        .contains("layer 'noise' (plexus.gaussian_noise) has no Keras equivalent"))
  }

  // MARK: - Through Keras itself

  @Test(
    .enabled(
      if: kerasPython != nil,
      "needs a Python with keras (set PLEXUS_KERAS_PYTHON to its interpreter, e.g. a venv with keras, h5py, numpy and torch)"
    ),
    arguments: KerasImportTests.families + PlexusExportModels.all.map(\.0))
  func kerasLoadsTheExportedFileAndPredictsTheSame(name: String) throws {
    let model: any ModelProtocol
    let input: Tensor
    if let builder = PlexusExportModels.all.first(where: { $0.0 == name }) {
      (model, input) = try builder.1()
    } else {
      let file = try KerasFile(
        contentsOf: kerasFixtureFolder.appendingPathComponent("\(name).keras"))
      model = try file.loadModel(registry: .standard()).model
      input = try kerasReference(name).input
    }
    let described = try architecture(of: model)
    let parameters = try model.builtGraph().namedParameters(prefix: "")
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent(UUID().uuidString)
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let kerasURL = folder.appendingPathComponent("model.keras")
    let weightsURL = folder.appendingPathComponent("model.weights.h5")
    try KerasExport.kerasArchive(architecture: described, parameters: parameters).write(
      to: kerasURL)
    try KerasExport.weightsFile(architecture: described, parameters: parameters).write(
      to: weightsURL)
    let expected = try model.predict(input)
    let predicted = try kerasPredictions(model: kerasURL, input: input)
    #expect(largestDifference(predicted, expected) <= 1e-4, "\(name)")
    let reloaded = try kerasPredictions(model: kerasURL, weights: weightsURL, input: input)
    #expect(largestDifference(reloaded, expected) <= 1e-4, "\(name) with load_weights")
  }
}
