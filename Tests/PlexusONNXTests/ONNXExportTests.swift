import Foundation
import Plexus
import PlexusONNX
import Testing

/// A Python with onnx, onnxruntime and numpy: `PLEXUS_ONNX_PYTHON`, else the package's
/// `.venv-onnx` (made by CI) or `.venv-bench`, else `python3`; `nil` when none imports them.
let onnxPython: String? = {
  let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()
  let candidates = [
    ProcessInfo.processInfo.environment["PLEXUS_ONNX_PYTHON"],
    root.appendingPathComponent(".venv-onnx/bin/python").path,
    root.appendingPathComponent(".venv-bench/bin/python").path,
    "/usr/bin/python3",
  ].compactMap { $0 }
  return candidates.first { path in
    guard FileManager.default.isExecutableFile(atPath: path) else { return false }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = ["-c", "import onnx, onnxruntime, numpy"]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    guard (try? process.run()) != nil else { return false }
    process.waitUntilExit()
    return process.terminationStatus == 0
  }
}()

/// A scratch folder removed by `remove()`.
struct ONNXScratch {
  let url: URL
  init() throws {
    url = FileManager.default.temporaryDirectory.appendingPathComponent(
      "plexus-onnx-" + UUID().uuidString)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
  }
  func file(_ name: String) -> URL { url.appendingPathComponent(name) }
  func remove() { try? FileManager.default.removeItem(at: url) }
}

/// Checks `model` with `onnx.checker` (full check, with shape inference) and runs it in
/// onnxruntime on `input` and on its first sample alone; returns both outputs.
func onnxRuntimeOutputs(model: URL, input: Tensor, folder: ONNXScratch) throws -> (Tensor, Tensor) {
  let inputURL = folder.file("x.npy")
  try NumPy.write(input, to: inputURL)
  let script = """
    import sys, numpy, onnx, onnxruntime
    onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)
    session = onnxruntime.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
    x = numpy.load(sys.argv[2])
    name = session.get_inputs()[0].name
    numpy.save(sys.argv[3], session.run(None, {name: x})[0].astype("float32"))
    numpy.save(sys.argv[4], session.run(None, {name: x[:1]})[0].astype("float32"))
    """
  let process = Process()
  process.executableURL = URL(fileURLWithPath: try #require(onnxPython))
  process.arguments = [
    "-c", script, model.path, inputURL.path, folder.file("all.npy").path,
    folder.file("one.npy").path,
  ]
  let errors = Pipe()
  process.standardError = errors
  process.standardOutput = FileHandle.nullDevice
  try process.run()
  let message = errors.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  guard process.terminationStatus == 0 else {
    throw PlexusError.io("onnx failed: " + String(decoding: message.suffix(3000), as: UTF8.self))
  }
  return (
    try readArray(folder.file("all.npy")), try readArray(folder.file("one.npy"))
  )
}

/// Plexus models covering every layer the export maps.
enum ONNXExportModels {
  static func randomInput(_ shape: [Int], seed: UInt64) -> Tensor {
    var generator = SeededGenerator(seed: seed)
    return Tensor.normal(shape, using: &generator)
  }

  static func perturbStatistics(_ model: any ModelProtocol) throws {
    var generator = SeededGenerator(seed: 3)
    for (path, parameter) in try model.builtGraph().namedParameters(prefix: "")
    where path.contains("moving") || path.hasSuffix("gamma") || path.hasSuffix("alpha")
      || path.hasSuffix("bias")
    {
      let noise = Tensor.normal(parameter.value.shape, using: &generator)
      try parameter.assign(
        path.contains("variance") || path.hasSuffix("gamma")
          ? noise.map { 1 + abs($0) } : noise * 0.3)
    }
  }

  static func cnn() throws -> (any ModelProtocol, [Int]) {
    let model = Sequential([
      try Conv2D(filters: 3, kernelSize: 3, padding: .same, activation: .relu),
      try BatchNormalization(momentum: 0.9, epsilon: 1e-5),
      try MaxPool2D(poolSize: 2),
      try Conv2DTranspose(
        config: .init(filters: 2, kernelSize: [3, 3], strides: [2, 2], padding: .same)),
      try AveragePool2D(poolSize: 2, strides: 1, padding: .same),
      Flatten(name: "flatten"),
      try Dropout(rate: 0.25),
      try Dense(units: 4, activation: .softmax),
    ])
    try model.build(inputShape: [6, 6, 2], seed: 5)
    return (model, [6, 6, 2])
  }

  static func images() throws -> (any ModelProtocol, [Int]) {
    let model = Sequential([
      try Conv2D(
        config: .init(
          filters: 4, kernelSize: [3, 2], strides: [2, 1],
          padding: .explicit(top: 1, bottom: 0, left: 2, right: 1), dilation: [1, 2],
          activation: .elu())),
      try ZeroPadding2D(top: 1, bottom: 0, left: 0, right: 2),
      try UpSampling2D(size: 2),
      try PReLU(sharedAxes: [1, 2]),
      try MaxPool2D(poolSize: 3, strides: 2, padding: .same),
      try Conv2D(filters: 3, kernelSize: 1, activation: .sigmoid),
      GlobalMaxPool2D(keepDims: true),
      GlobalAveragePool2D(),
      try Dense(units: 2),
    ])
    try model.build(inputShape: [7, 5, 3], seed: 6)
    return (model, [7, 5, 3])
  }

  /// Grouped, depthwise and separable convolutions and the three padding modes.
  static func grouped() throws -> (any ModelProtocol, [Int]) {
    let model = Sequential([
      try Conv2D(
        config: .init(filters: 6, kernelSize: [3, 3], padding: .same, activation: .relu, groups: 2)),
      try Pad2D(top: 1, bottom: 0, left: 2, right: 1, mode: .reflect),
      try DepthwiseConv2D(kernelSize: 3, strides: 2, depthMultiplier: 2, activation: .tanh),
      try Pad2D(top: 0, bottom: 1, left: 1, right: 1, mode: .edge),
      try SeparableConv2D(filters: 4, kernelSize: 2, padding: .same, depthMultiplier: 2),
      try Pad2D(top: 1, bottom: 1, left: 0, right: 0, mode: .constant, value: 0.5),
      try Conv2DTranspose(
        config: .init(filters: 4, kernelSize: [2, 2], strides: [2, 2], groups: 2)),
      Flatten(),
      try Dense(units: 3),
    ])
    try model.build(inputShape: [8, 7, 4], seed: 11)
    return (model, [8, 7, 4])
  }

  static func convolution1D() throws -> (any ModelProtocol, [Int]) {
    let model = Sequential([
      try Conv1D(filters: 3, kernelSize: 3, strides: 2, padding: .same, activation: .tanh),
      try BatchNormalization(),
      Flatten(),
      try Dense(units: 2),
    ])
    try model.build(inputShape: [9, 2], seed: 7)
    return (model, [9, 2])
  }

  static func branches() throws -> (any ModelProtocol, [Int]) {
    let input = try Input(shape: [5], name: "x")
    let first = try Dense(units: 4, activation: .relu, name: "first")(input)
    let deep = try Dense(units: 4, activation: .tanh, name: "deep")(first)
    let shallow = try Dense(units: 4, name: "shallow")(input)
    let shared = try Dense(units: 4, activation: .sigmoid, name: "shared")
    let (a, b) = (try shared(deep), try shared(shallow))
    let merged = try Add(name: "add")([a, b, first])
    let others = [
      try Subtract(name: "subtract")([a, b]), try Multiply(name: "multiply")([a, b, deep]),
      try Maximum(name: "maximum")([a, b]), try Minimum(name: "minimum")([a, b]),
      try Average(name: "average")([a, b]),
    ]
    let joined = try Concatenate(name: "join")([merged] + others)
    let output = try Dense(units: 2, name: "out")(
      Activation(try ActivationFunction(name: "leaky_relu", alpha: 0.1), name: "act")(joined))
    return (try Model(inputs: [input], outputs: [output], seed: 7), [5])
  }

  static func activations() throws -> (any ModelProtocol, [Int]) {
    let names: [(String, [String: Float])] = [
      ("sigmoid", [:]), ("tanh", [:]), ("relu", [:]), ("softplus", [:]), ("softsign", [:]),
      ("selu", [:]), ("elu", ["alpha": 0.7]), ("leaky_relu", ["alpha": 0.2]),
      ("hard_sigmoid", [:]), ("relu6", [:]), ("silu", [:]), ("mish", [:]), ("gelu", [:]),
      ("thresholded_relu", ["theta": 0.1]), ("exponential", [:]), ("log_softmax", [:]),
    ]
    var layers: [any Layer] = []
    for (name, parameters) in names {
      layers.append(try Dense(units: 6))
      layers.append(
        Activation(try ActivationRegistry.shared.makeFunction(name: name, parameters: parameters)))
    }
    let model = Sequential(layers)
    try model.build(inputShape: [6], seed: 8)
    return (model, [6])
  }

  static func sequences() throws -> (any ModelProtocol, [Int]) {
    let model = Sequential([
      try LSTM(units: 4, returnSequences: true),
      try GRU(units: 3, returnSequences: true, resetAfter: true),
      try GRU(units: 3, returnSequences: true, resetAfter: false),
      try SimpleRNN(units: 2, activation: .relu),
      try Reshape([2, 1]),
      Flatten(),
      try Dense(units: 2),
    ])
    try model.build(inputShape: [4, 3], seed: 9)
    return (model, [4, 3])
  }

  static func embedding() throws -> (any ModelProtocol, [Int]) {
    let model = Sequential([
      try Embedding(inputDim: 9, outputDim: 4),
      try LSTM(units: 3),
      try Dense(units: 2, activation: .softmax),
    ])
    try model.build(inputShape: [5], seed: 10)
    return (model, [5])
  }

  static let all: [(String, @Sendable () throws -> (any ModelProtocol, [Int]))] = [
    ("cnn", cnn), ("images", images), ("grouped", grouped), ("conv1d", convolution1D),
    ("branches", branches),
    ("activations", activations), ("sequences", sequences), ("embedding", embedding),
  ]

  /// The model and a batch of 7 inputs for it.
  static func make(_ name: String) throws -> (any ModelProtocol, Tensor) {
    let (model, shape) = try all.first { $0.0 == name }!.1()
    try perturbStatistics(model)
    if name == "embedding" {
      let ids = (0..<(7 * 5)).map { Float(($0 * 7 + 3) % 9) }
      return (model, try Tensor(shape: [7, 5], scalars: ids))
    }
    return (model, randomInput([7] + shape, seed: 12))
  }
}

@Suite struct ONNXExportTests {
  /// Every exported model passes onnx.checker and predicts in onnxruntime what Plexus
  /// predicts, within 1e-4, at batch sizes 7 and 1, with images channels-first and last.
  @Test(
    .enabled(
      if: onnxPython != nil,
      "needs a Python with onnx, onnxruntime and numpy: set PLEXUS_ONNX_PYTHON (CI makes .venv-onnx)"
    ),
    arguments: ONNXExportModels.all.map(\.0), ONNXInputLayout.allCases)
  func exportedModelRunsInOnnxRuntimeLikePlexus(name: String, layout: ONNXInputLayout) throws {
    let (model, input) = try ONNXExportModels.make(name)
    let folder = try ONNXScratch()
    defer { folder.remove() }
    let url = folder.file("\(name).onnx")
    try ONNXExporter(model: model, inputLayout: layout).write(to: url)
    let expected = try model.predict(input)
    let imageInput = input.shape.count == 4 && layout == .nchw
    let fed = imageInput ? try input.transposed(permutation: [0, 3, 1, 2]) : input
    var (all, one) = try onnxRuntimeOutputs(model: url, input: fed, folder: folder)
    if expected.shape.count == 4 && layout == .nchw {
      (all, one) = (try channelsLast(all), try channelsLast(one))
    }
    #expect(try largestDifference(all, expected) < 1e-4)
    #expect(try largestDifference(one, try expected.slice(axis: 0, range: 0..<1)) < 1e-4)
  }

  /// An exported model imports back into the same predictions (without Python).
  @Test(arguments: ["cnn", "images", "grouped", "conv1d", "branches"])
  func exportedModelImportsBack(name: String) throws {
    let (model, input) = try ONNXExportModels.make(name)
    let data = try ONNXExporter(model: model, inputLayout: .nchw).modelData()
    let file = try ONNXModelFile(data: data, source: name)
    #expect(file.opsetVersion == ONNXExporter.opset)
    #expect(file.inputs.first?.shape?.first == .named("N"))
    let (copy, _) = try file.importModel(registry: .standard())
    #expect(try largestDifference(try copy.predict(input), try model.predict(input)) < 1e-5)
  }

  /// A layer without an ONNX equivalent is named in the error.
  @Test func refusesLayersWithoutAnEquivalent() throws {
    let model = Sequential([try Dense(units: 3), try GaussianNoise(config: .init(stddev: 0.1))])
    try model.build(inputShape: [2], seed: 1)
    let error = #expect(throws: ONNXError.self) {
      try ONNXExporter(model: model).modelData()
    }
    #expect(error?.description.contains("plexus.gaussian_noise") == true)
  }
}
