import Dispatch
import Foundation
import PlexusCore
import PlexusTestSupport
import Synchronization
import Testing

/// A third-party layer defined outside Plexus: a learned per-feature scale, `y = x * gain`.
final class FeatureScale: UnaryLayer {
  struct Config: LayerConfiguration {
    var initialGain: Float
  }

  static let typeName = "com.example.feature_scale"
  let state = LayerState()
  let config: Config
  let gain = Parameter(name: "gain")

  init(config: Config) { self.config = config }

  var parameters: [Parameter] { [gain] }

  func build(for inputShape: SymbolicShape) throws -> SymbolicShape {
    let shape = try ShapeCheck.require(inputShape, rank: 1, layer: name, expected: "[features]")
    try gain.declare(shape: shape, filledWith: config.initialGain)
    return inputShape
  }

  func forward(_ input: Tensor, record: CallRecord) throws -> Tensor {
    var output = input
    let width = gain.value.count
    output.withUnsafeMutableBufferPointer { buffer in
      gain.value.withUnsafeBufferPointer { g in
        for index in buffer.indices { buffer[index] *= g[index % width] }
      }
    }
    return output
  }

  func backward(_ outputGradient: Tensor, record: CallRecord, computingInputGradient: Bool)
    throws -> Tensor?
  {
    try gain.gradient += (outputGradient * record.inputs[0]).sumOverBatch()
    var inputGradient = outputGradient
    let width = gain.value.count
    inputGradient.withUnsafeMutableBufferPointer { buffer in
      gain.value.withUnsafeBufferPointer { g in
        for index in buffer.indices { buffer[index] *= g[index % width] }
      }
    }
    return inputGradient
  }
}

@Suite struct RegistryTests {
  func registryWithCustomLayer() throws -> LayerRegistry {
    let registry = LayerRegistry()
    try registry.register(FeatureScale.self, module: "ExampleLayers")
    return registry
  }

  @Test func customLayerGradientsMatchFiniteDifferences() throws {
    let layer = FeatureScale(config: .init(initialGain: 0.7))
    layer.name = "scale"
    let report = try GradientCheck.check(layer: layer, batchInputShape: [3, 5])
    #expect(report.maximumError < 1e-2, "\(report)")
  }

  @Test func modelWithCustomLayerRoundTripsThroughJSONAndModelFile() throws {
    let registry = try registryWithCustomLayer()
    let model = Sequential([
      FeatureScale(config: .init(initialGain: 2)), Activation(.tanh), Flatten(),
    ])
    try model.build(inputShape: [4], seed: 1)
    var generator = SeededGenerator(seed: 5)
    try model.parameters[0].assign(Tensor.normal([4], using: &generator))
    let input = Tensor.normal([6, 4], using: &generator)
    let expected = try model.predict(input)

    // Architecture as JSON through the registry.
    let json = try JSONEncoder().encode(model.config)
    let config = try JSONDecoder().decode(Sequential.Config.self, from: json)
    let copy = try Sequential(config: config, registry: registry)
    try copy.build(inputShape: [4])
    #expect(
      copy.layers.map(\.typeName) == [
        "com.example.feature_scale", "plexus.activation", "plexus.flatten",
      ])
    #expect(copy.layers.map(\.name) == model.layers.map(\.name))
    try copy.parameters[0].assign(model.parameters[0].value)
    #expect(try copy.predict(input) == expected)

    // The whole model through a .plexus file.
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
      "plexus-registry-\(UUID())")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let url = folder.appendingPathComponent("custom.plexus")
    try model.save(to: url)
    let loaded = try Sequential.load(from: url, registry: registry)
    #expect(try loaded.predict(input) == expected)
    #expect(loaded.namedParameters.map(\.path) == ["feature_scale_1.gain"])

    // Without the registration, loading names the type and says how to register it.
    #expect {
      _ = try Sequential.load(from: url, registry: LayerRegistry())
    } throws: { error in
      let text = "\(error)"
      return text.contains("com.example.feature_scale") && text.contains("registry.register")
    }
  }

  @Test func unknownFirstPartyTypeNamesItsModule() throws {
    let description = LayerDescription(
      type: "plexus.conv2d", name: "conv2d_1", config: .object([:]))
    // The core knows no family: without a hint it says how to get every bundled module ...
    let registry = LayerRegistry()
    #expect {
      try registry.makeLayer(from: description)
    } throws: { error in
      error as? PlexusError == .unknownLayerType(type: "plexus.conv2d", module: nil)
        && "\(error)".contains("LayerRegistry.standard()")
    }
    // ... and with the hints a module declares, it names that module.
    registry.addProviderHints(["plexus.conv2d"], module: "PlexusConvolution")
    #expect(
      throws: PlexusError.unknownLayerType(type: "plexus.conv2d", module: "PlexusConvolution")
    ) {
      try registry.makeLayer(from: description)
    }
    #expect(
      "\(PlexusError.unknownLayerType(type: "plexus.conv2d", module: "PlexusConvolution"))"
        .contains("import PlexusConvolution"))
  }

  @Test func registrationRulesAreEnforced() throws {
    final class Unnamespaced: UnaryLayer {
      struct Config: LayerConfiguration {}
      static let typeName = "scale"
      let state = LayerState()
      let config = Config()
      init(config: Config) {}
      func build(for inputShape: SymbolicShape) throws -> SymbolicShape { inputShape }
      func forward(_ input: Tensor, record: CallRecord) throws -> Tensor { input }
      func backward(_ outputGradient: Tensor, record: CallRecord, computingInputGradient: Bool)
        throws -> Tensor?
      { outputGradient }
    }
    final class Impostor: UnaryLayer {
      struct Config: LayerConfiguration {}
      static let typeName = "plexus.activation"
      let state = LayerState()
      let config = Config()
      init(config: Config) {}
      func build(for inputShape: SymbolicShape) throws -> SymbolicShape { inputShape }
      func forward(_ input: Tensor, record: CallRecord) throws -> Tensor { input }
      func backward(_ outputGradient: Tensor, record: CallRecord, computingInputGradient: Bool)
        throws -> Tensor?
      { outputGradient }
    }
    let registry = try registryWithCustomLayer()
    #expect(throws: PlexusError.self) { try registry.register(Unnamespaced.self, module: "X") }
    // A name already taken by another class is refused, naming the module that holds it.
    #expect {
      try registry.register(Impostor.self, module: "Other")
    } throws: { error in
      "\(error)".contains("already registered by module PlexusCore")
    }
    // Registering the same class again is harmless.
    try registry.register(FeatureScale.self, module: "ExampleLayers")
    #expect(registry.module(of: "com.example.feature_scale") == "ExampleLayers")
  }

  @Test func registryIsSafeToUseFromManyThreads() throws {
    let registry = LayerRegistry()
    let description = LayerDescription(
      type: "plexus.activation", name: "a",
      config: try JSONValue(encoding: Activation.Config(activation: .relu)))
    let failures = Mutex(0)
    DispatchQueue.concurrentPerform(iterations: 64) { index in
      do {
        if index % 4 == 0 { try registry.register(FeatureScale.self, module: "ExampleLayers") }
        _ = try registry.makeLayer(from: description)
        _ = registry.typeNames
      } catch {
        failures.withLock { $0 += 1 }
      }
    }
    #expect(failures.withLock { $0 } == 0)
    #expect(registry.contains("com.example.feature_scale"))
  }
}

@Suite struct CoreLayerTests {
  @Test(arguments: [
    ActivationFunction.sigmoid, .tanh, .relu, .leakyRelu(alpha: 0.2), .elu(alpha: 1), .gelu,
    .softplus, .softmax,
    .linear,
  ])
  func activationGradientsMatchFiniteDifferences(function: ActivationFunction) throws {
    let layer = Activation(function, name: "activation")
    let report = try GradientCheck.check(layer: layer, batchInputShape: [4, 2, 3])
    #expect(report.maximumError < 1e-2, "\(report)")
  }

  @Test func activationValuesAreTheTextbookOnes() throws {
    let x = Tensor([-2, -0.5, 0, 1.5])
    #expect(ActivationFunction.relu.apply(x).scalars == [0, 0, 0, 1.5])
    #expect(ActivationFunction.step.apply(x).scalars == [0, 0, 1, 1])
    #expect(ActivationFunction.leakyRelu(alpha: 0.1).apply(x).scalars == [-0.2, -0.05, 0, 1.5])
    let softmax = ActivationFunction.softmax.apply(try Tensor(shape: [1, 3], scalars: [1, 2, 3]))
    let expected: [Float] = [0.09003057, 0.24472847, 0.66524096]
    for (value, reference) in zip(softmax.scalars, expected) {
      #expect(abs(value - reference) < 1e-6)
    }
    let huge = ActivationFunction.softmax.apply(try Tensor(shape: [1, 2], scalars: [1000, 0]))
    #expect(huge.scalars == [1, 0])
    #expect(ActivationFunction.sigmoid.apply(Tensor([-200])).scalars == [0])
    #expect(throws: PlexusError.self) { try ActivationFunction(name: "swish2") }
  }

  @Test func dropoutIsInvertedSeededAndIdentityInInference() throws {
    let layer = try Dropout(rate: 0.25, seed: 9, name: "dropout")
    try layer.build(inputShape: [1000], seed: 0)
    let input = Tensor(shape: [4, 1000], repeating: 1)
    #expect(try layer(input, training: false) == input)
    let record = CallRecord()
    let output = try layer(input, training: true, record: record)
    let kept = output.scalars.filter { $0 != 0 }
    #expect(kept.allSatisfy { abs($0 - 1 / 0.75) < 1e-6 })
    #expect(abs(Float(kept.count) / 4000 - 0.75) < 0.03)
    // Backward uses the same mask.
    let gradient = try layer.gradients([Tensor(shape: [4, 1000], repeating: 2)], record: record)
    #expect(gradient[0] == output * 2)
    // The same seed gives the same mask.
    let again = try Dropout(rate: 0.25, seed: 9, name: "dropout")
    try again.build(inputShape: [1000], seed: 1)
    #expect(try again(input, training: true) == output)
    #expect(throws: PlexusError.self) { try Dropout(rate: 1) }
    #expect(throws: PlexusError.self) { try Dropout(rate: -0.1) }
  }

  @Test func flattenAndReshapeMoveShapesAndGradients() throws {
    let flatten = Flatten(name: "flatten")
    let report = try GradientCheck.check(layer: flatten, batchInputShape: [2, 3, 4, 2])
    #expect(report.maximumError < 1e-3)
    let reshape = try Reshape([-1, 4], name: "reshape")
    #expect(try reshape.build(inputShape: [2, 6]) == [3, 4])
    #expect(throws: PlexusError.self) { try Reshape([-1, 4]).build(inputShape: [7]) }
    #expect(throws: PlexusError.self) { try Reshape([-1, -1]) }
    #expect(throws: PlexusError.self) { try Reshape([0, 3]) }
  }

  @Test func nestedModelsPrefixParameterPathsAndSummarize() throws {
    let inner = Sequential([FeatureScale(config: .init(initialGain: 1)), Activation(.relu)])
    let outer = Sequential([inner, FeatureScale(config: .init(initialGain: 1))])
    try outer.build(inputShape: [3])
    #expect(
      outer.namedParameters.map(\.path) == [
        "sequential_1.feature_scale_1.gain", "feature_scale_1.gain",
      ])
    let summary = outer.summary()
    #expect(summary.contains("sequential_1") && summary.contains("plexus.sequential"))
    #expect(summary.contains("Total params: 6"))
    #expect(throws: PlexusError.self) { try outer.predict(Tensor.zeros([2, 4])) }
    #expect(throws: PlexusError.self) { try outer.build(inputShape: [3, 3]) }
  }
}
