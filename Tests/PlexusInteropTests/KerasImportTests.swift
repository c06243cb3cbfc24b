import Foundation
import Plexus
import Testing

@testable import PlexusInterop

let kerasFixtureFolder = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
  .appendingPathComponent("keras")

/// A Keras fixture's reference input and Keras's output for it.
func kerasReference(_ name: String) throws -> (input: Tensor, output: Tensor) {
  (
    try NumPy.read(contentsOf: kerasFixtureFolder.appendingPathComponent("\(name).input.npy"))
      .tensor(),
    try NumPy.read(contentsOf: kerasFixtureFolder.appendingPathComponent("\(name).output.npy"))
      .tensor()
  )
}

/// The members of a fixture's `.keras` zip.
func kerasMembers(_ name: String) throws -> (config: JSONValue, metadata: Data?, weights: Data) {
  let data = try Data(contentsOf: kerasFixtureFolder.appendingPathComponent("\(name).keras"))
  let members = try KerasArchive.read(data, source: name)
  return (
    try JSONDecoder().decode(JSONValue.self, from: members.config), members.metadata,
    members.weights
  )
}

/// A `.keras` file made of a config and weights.
func kerasFile(config: JSONValue, weights: Data, source: String = "edited.keras") throws
  -> KerasFile
{
  let archive = try KerasArchive.write(
    config: try JSONEncoder().encode(config), metadata: Data("{}".utf8), weights: weights)
  return try KerasFile(data: archive, source: source)
}

/// `value` with the member at `path` (keys and array indices) replaced by `transform` of it.
func edited(_ value: JSONValue, at path: [String], _ transform: (JSONValue?) -> JSONValue?)
  -> JSONValue
{
  guard let key = path.first else { return transform(value) ?? .null }
  switch value {
  case .object(var members):
    if path.count == 1 {
      members[key] = transform(members[key])
    } else {
      members[key] = edited(members[key] ?? .null, at: Array(path.dropFirst()), transform)
    }
    return .object(members)
  case .array(var items):
    guard let index = Int(key), items.indices.contains(index) else { return value }
    items[index] = edited(items[index], at: Array(path.dropFirst()), transform)
    return .array(items)
  default:
    return value
  }
}

@Suite struct KerasImportTests {
  static let families = [
    "mlp", "cnn", "lstm", "gru", "embedding_rnn", "functional", "separable", "dropout_rnn",
  ]

  @Test(arguments: families, ["keras", "h5"])
  func convertedModelsPredictAsKerasDoes(family: String, fileExtension: String) throws {
    let file = try KerasFile(
      contentsOf: kerasFixtureFolder.appendingPathComponent("\(family).\(fileExtension)"))
    #expect(file.format == (fileExtension == "keras" ? .keras : .legacyModel))
    #expect(file.kerasVersion?.hasPrefix("3.") == true)
    let (model, assignments) = try file.loadModel(registry: .standard())
    #expect(assignments.count == model.parameters.count)
    let (input, expected) = try kerasReference(family)
    let output = try model.predict(input)
    let difference = largestDifference(output, expected)
    #expect(difference <= 1e-4, "\(family).\(fileExtension): \(difference)")
  }

  @Test func theFunctionalModelKeepsItsGraph() throws {
    let file = try KerasFile(
      contentsOf: kerasFixtureFolder.appendingPathComponent("functional.keras"))
    let architecture = try #require(file.architecture)
    #expect(architecture.type == "plexus.model")
    let config = try architecture.config.decode(Model.Config.self, context: "test")
    #expect(config.inputs.map(\.name) == ["features"])
    // The shared layer is one layer called twice.
    #expect(config.layers.filter { $0.name == "shared" }.count == 1)
    #expect(config.nodes.filter { $0.layer == "shared" }.count == 2)
    let (model, assignments) = try file.loadModel(registry: .standard())
    #expect(
      assignments.first { $0.plexusPath == "branch.kernel" }?.datasetPath == "layers/dense/vars/0")
    #expect(model.parameters.count == 8)
  }

  @Test func aKeras2FileReadsThroughItsLayerAndWeightNames() throws {
    let file = try KerasFile(contentsOf: kerasFixtureFolder.appendingPathComponent("mlp-keras2.h5"))
    #expect(file.format == .legacyModel)
    #expect(file.kerasVersion == "2.13.1")
    let (model, assignments) = try file.loadModel(registry: .standard())
    #expect(assignments.first?.datasetPath == "model_weights/dense/dense/kernel:0")
    let (input, expected) = try kerasReference("mlp")
    #expect(largestDifference(try model.predict(input), expected) <= 1e-4)
  }

  /// tf.keras 2 named a DepthwiseConv2D's kernel `depthwise_kernel`, Keras 3 `kernel`: both read.
  @Test func aKeras2FileWithDepthwiseAndSeparableConvolutionsReads() throws {
    let file = try KerasFile(
      contentsOf: kerasFixtureFolder.appendingPathComponent("separable-keras2.h5"))
    #expect(file.kerasVersion == "2.13.1")
    let (model, assignments) = try file.loadModel(registry: .standard())
    #expect(
      assignments.contains {
        $0.datasetPath == "model_weights/depthwise_conv2d/depthwise_conv2d/depthwise_kernel:0"
      })
    let (input, expected) = try kerasReference("separable")
    #expect(largestDifference(try model.predict(input), expected) <= 1e-4)
  }

  @Test func aWeightsFileFillsAGivenArchitecture() throws {
    let architecture = try #require(
      try KerasFile(contentsOf: kerasFixtureFolder.appendingPathComponent("mlp.keras"))
        .architecture)
    let model = try KerasFile.makeModel(architecture, registry: .standard(), limit: 1 << 20)
    let weights = try KerasFile(
      contentsOf: kerasFixtureFolder.appendingPathComponent("mlp.weights.h5"))
    #expect(weights.format == .weights)
    #expect(weights.architecture == nil)
    #expect(throws: KerasError.self) { try weights.loadModel(registry: .standard()) }
    let assignments = try weights.assignWeights(to: model, architecture: architecture)
    #expect(assignments.map(\.datasetPath).first == "layers/dense/vars/0")
    let (input, expected) = try kerasReference("mlp")
    #expect(largestDifference(try model.predict(input), expected) <= 1e-4)
  }

  @Test func datasetsListsWeightsAndOptimizerState() throws {
    let file = try KerasFile(contentsOf: kerasFixtureFolder.appendingPathComponent("lstm.keras"))
    let paths = try file.datasets().map(\.path)
    #expect(paths.contains("layers/lstm/cell/vars/0"))
    #expect(paths.contains("layers/lstm_1/cell/vars/2"))
  }

  // MARK: - Bad input

  /// Converting `config` (edited from a fixture's) with the fixture's weights fails with an
  /// error containing `message`.
  func expectRefusal(
    _ family: String, _ message: String, sourceLocation: SourceLocation = #_sourceLocation,
    edit: (JSONValue) -> JSONValue
  ) throws {
    let members = try kerasMembers(family)
    #expect(sourceLocation: sourceLocation) {
      let file = try kerasFile(config: edit(members.config), weights: members.weights)
      _ = try file.loadModel(registry: .standard())
    } throws: { error in
      let text = "\(error)"
      if !text.contains(message) { Issue.record("unexpected error: \(text)") }
      return text.contains(message)
    }
  }

  @Test func unsupportedLayersAndOptionsAreErrorsNamingThem() throws {
    let dense = ["config", "layers", "1", "config"]
    try expectRefusal("mlp", "Keras layer class Frobnicate has no Plexus equivalent") {
      edited($0, at: ["config", "layers", "1", "class_name"]) { _ in .string("Frobnicate") }
    }
    try expectRefusal("mlp", "layer 'dense' (Dense): unknown option 'sparkle'") {
      edited($0, at: dense + ["sparkle"]) { _ in .bool(true) }
    }
    try expectRefusal("mlp", "option 'kernel_constraint' is set") {
      edited($0, at: dense + ["kernel_constraint"]) { _ in
        .object(["class_name": .string("MaxNorm"), "config": .object([:])])
      }
    }
    try expectRefusal("mlp", "option 'activation' is 'hard_silu'") {
      edited($0, at: dense + ["activation"]) { _ in .string("hard_silu") }
    }
    try expectRefusal("mlp", "option 'dtype'") {
      edited($0, at: dense + ["dtype"]) { _ in .string("mixed_float16") }
    }
    try expectRefusal("lstm", "option 'recurrent_dropout' must be in [0, 1)") {
      edited($0, at: ["config", "layers", "1", "config", "recurrent_dropout"]) { _ in .number(1) }
    }
    try expectRefusal("separable", "option 'depthwise_constraint' is set") {
      edited($0, at: ["config", "layers", "3", "config", "depthwise_constraint"]) { _ in
        .object(["class_name": .string("NonNeg"), "config": .object([:])])
      }
    }
    try expectRefusal("separable", "option 'groups' is 5") {
      edited($0, at: ["config", "layers", "2", "config", "groups"]) { _ in .number(5) }
    }
    try expectRefusal("lstm", "option 'stateful' is true") {
      edited($0, at: ["config", "layers", "1", "config", "stateful"]) { _ in .bool(true) }
    }
    try expectRefusal("cnn", "option 'data_format' is \"channels_first\"") {
      edited($0, at: ["config", "layers", "1", "config", "data_format"]) { _ in
        .string("channels_first")
      }
    }
    try expectRefusal("mlp", "a custom layer") {
      edited($0, at: ["config", "layers", "1", "registered_name"]) { _ in .string("Mine>Dense") }
    }
  }

  @Test func weightsThatDoNotFitTheArchitectureAreErrorsNamingBothShapes() throws {
    try expectRefusal(
      "mlp",
      "dataset 'layers/dense/vars/0' has shape [6, 8] but parameter 'dense.kernel' has shape [6, 7]"
    ) {
      edited($0, at: ["config", "layers", "1", "config", "units"]) { _ in .number(7) }
    }
    // A layer whose weights the file does not have (missing HDF5 datasets).
    try expectRefusal("mlp", "no group 'layers/dense_3/vars'") {
      edited($0, at: ["config", "layers"]) { layers in
        var items = layers?.arrayItems ?? []
        var extra = items[1]
        extra = edited(extra, at: ["config", "name"]) { _ in .string("extra") }
        extra = edited(extra, at: ["config", "units"]) { _ in .number(3) }
        items.append(extra)
        return .array(items)
      }
    }
  }

  @Test func missingDatasetsAreErrors() throws {
    let members = try kerasMembers("mlp")
    let original = try HDF5File(image: members.weights, source: "weights")
    let copy = try HDF5File.create()
    for info in try KerasFile(
      data: try Data(contentsOf: kerasFixtureFolder.appendingPathComponent("mlp.keras")),
      source: "mlp"
    ).datasets()
    where info.path != "layers/dense_1/vars/1" {
      try copy.writeDataset(info.path, tensor: try original.readTensor(info.path))
    }
    #expect {
      _ = try kerasFile(config: members.config, weights: try copy.image()).loadModel(
        registry: .standard())
    } throws: { error in
      "\(error)".contains("group 'layers/dense_1/vars' holds 1 variables; layer 'dense_1' has 2")
    }
  }

  @Test func anEmbeddingWithMaskZeroMayFeedOnlyARecurrentLayer() throws {
    try expectRefusal("embedding_rnn", "Embedding 'embedding' has mask_zero and feeds") {
      edited($0, at: ["config", "layers"]) { layers in
        var items = layers?.arrayItems ?? []
        items.insert(
          .object([
            "class_name": .string("Dropout"),
            "config": .object(["name": .string("drop"), "rate": .number(0.1)]),
          ]), at: 2)
        return .array(items)
      }
    }
  }

  @Test func damagedArchivesAreErrors() throws {
    let bytes = try Data(contentsOf: kerasFixtureFolder.appendingPathComponent("mlp.keras"))
    for length in [2, 100, bytes.count / 2, bytes.count - 10] {
      #expect(throws: (any Error).self, "cut to \(length)") {
        try KerasFile(data: bytes.prefix(length), source: "cut")
      }
    }
    let members = try kerasMembers("mlp")
    let noWeights = try KerasArchive.write(
      config: try JSONEncoder().encode(members.config), metadata: Data(), weights: Data())
    #expect(throws: (any Error).self) { try KerasFile(data: noWeights, source: "empty weights") }
    #expect {
      try kerasFile(config: .string("not a model"), weights: members.weights)
    } throws: { error in "\(error)".contains("not an object") }
  }

  @Test func aZipMemberThatInflatesPastItsDeclaredSizeIsABomb() throws {
    // A config.json deflated from 4 MB of spaces, its declared size then lowered to 100 bytes
    // in both zip headers: inflating stops at the declared size.
    let config = Data(repeating: UInt8(ascii: " "), count: 4 << 20)
    var writer = ZipWriter()
    try writer.add("config.json", contents: config, method: .deflated)
    var bytes = try writer.finish()
    func patch(signature: UInt32, sizeOffset: Int) {
      var index = 0
      while index + 4 <= bytes.count {
        let value = bytes[index..<index + 4].enumerated().reduce(UInt32(0)) {
          $0 | UInt32($1.element) << (8 * UInt32($1.offset))
        }
        if value == signature {
          for byte in 0..<4 { bytes[index + sizeOffset + byte] = byte == 0 ? 100 : 0 }
        }
        index += 1
      }
    }
    patch(signature: 0x0403_4b50, sizeOffset: 22)
    patch(signature: 0x0201_4b50, sizeOffset: 24)
    #expect {
      try KerasArchive.read(bytes, source: "bomb.keras")
    } throws: { error in
      "\(error)".contains("inflates past its declared size of 100 bytes")
    }
  }
}
