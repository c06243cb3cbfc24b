import Foundation
import Plexus
import PlexusONNX
import Testing

/// The fixtures of scripts/generate-onnx-fixtures.py.
let onnxFixtures = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!

func onnxFixture(_ name: String) -> URL { onnxFixtures.appendingPathComponent(name) }

func readArray(_ url: URL) throws -> Tensor { try NumPy.read(contentsOf: url).tensor() }

/// An `[N, C, ...]` tensor as `[N, ..., C]`.
func channelsLast(_ tensor: Tensor) throws -> Tensor {
  let rank = tensor.shape.count
  guard rank >= 3 else { return tensor }
  return try tensor.transposed(permutation: [0] + Array(2..<rank) + [1])
}

/// The largest absolute difference of two tensors of one shape.
func largestDifference(_ a: Tensor, _ b: Tensor) throws -> Float {
  #expect(a.shape == b.shape)
  guard a.shape == b.shape else { return .infinity }
  return zip(a.scalars, b.scalars).map { abs($0 - $1) }.max() ?? 0
}

@Suite struct ONNXImportTests {
  static let families = [
    "mlp", "cnn", "cnn_view", "global_pool", "pooling", "activations", "merge", "transposed",
    "conv1d", "grouped", "embedding",
  ]

  /// Both PyTorch exporters' files of every family import and predict what onnxruntime
  /// computed from them, within 1e-4 (images given channels-last, as Plexus reads them).
  @Test(arguments: families, ["torchscript", "dynamo"])
  func importedModelPredictsLikeOnnxRuntime(family: String, exporter: String) throws {
    let file = try ONNXModelFile(contentsOf: onnxFixture("\(family).\(exporter).onnx"))
    let (model, _) = try file.importModel(registry: .standard())
    let input = try channelsLast(try readArray(onnxFixture("\(family).x.npy")))
    let expected = try channelsLast(try readArray(onnxFixture("\(family).\(exporter).y.npy")))
    let predicted = try model.predict(input)
    #expect(try largestDifference(predicted, expected) < 1e-4)
  }

  /// Activations and biases fold into the layers before them; a flattened convolution output
  /// reaches the dense layer directly, its kernel rows permuted instead of the tensor.
  @Test func foldsActivationsAndPermutesDenseRowsAfterFlatten() throws {
    for exporter in ["torchscript", "dynamo"] {
      let imported = try ONNXModelFile(contentsOf: onnxFixture("mlp.\(exporter).onnx")).translate()
      let config = try imported.architecture.config.decode(Model.Config.self, context: "mlp")
      #expect(config.layers.map(\.type) == ["plexus.dense", "plexus.dense", "plexus.dense"])
      #expect(
        config.layers.map { $0.config.objectMembers?["activation"] }
          == [.string("relu"), .string("tanh"), .string("softmax")])

      let cnn = try ONNXModelFile(contentsOf: onnxFixture("cnn_view.\(exporter).onnx")).translate()
      let cnnConfig = try cnn.architecture.config.decode(Model.Config.self, context: "cnn")
      #expect(
        cnnConfig.layers.map(\.type) == [
          "plexus.batch_normalization", "plexus.conv2d", "plexus.max_pool2d", "plexus.conv2d",
          "plexus.flatten", "plexus.dense",
        ])
      #expect(cnnConfig.inputs.map(\.shape) == [[8, 6, 3]])
    }
  }

  /// Weights in an external data file next to the model are read from there.
  @Test func readsExternalData() throws {
    let file = try ONNXModelFile(contentsOf: onnxFixture("mlp_external.onnx"))
    #expect(file.initializers.allSatisfy { $0.externalLocation == "mlp_external.weights" })
    let (model, _) = try file.importModel(registry: .standard())
    let predicted = try model.predict(try readArray(onnxFixture("mlp.x.npy")))
    let expected = try readArray(onnxFixture("mlp_external.y.npy"))
    #expect(try largestDifference(predicted, expected) < 1e-4)
  }

  /// The same model imported predicts any batch size (the batch is dynamic).
  @Test func importedModelTakesOtherBatchSizes() throws {
    let (model, _) = try ONNXModelFile(contentsOf: onnxFixture("cnn.torchscript.onnx"))
      .importModel(registry: .standard())
    let input = try channelsLast(try readArray(onnxFixture("cnn.x.npy")))
    let all = try model.predict(input)
    let one = try model.predict(try input.slice(axis: 0, range: 1..<2))
    #expect(try largestDifference(one, try all.slice(axis: 0, range: 1..<2)) < 1e-6)
  }
}

extension JSONValue {
  var objectMembers: [String: JSONValue]? {
    if case .object(let members) = self { return members }
    return nil
  }
}
