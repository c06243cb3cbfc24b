import PlexusConvolution
import PlexusCore
import PlexusPerceptron
import PlexusTestSupport
import Testing

/// Registration and config round trips of the convolution family.
@Suite struct RegistryTests {
  static func registry() -> LayerRegistry {
    let registry = LayerRegistry()
    PerceptronLayers.register(in: registry)
    ConvolutionLayers.register(in: registry)
    return registry
  }

  @Test func registersEveryTypeTheRegistryAttributesToThisModule() {
    let registry = Self.registry()
    let expected = LayerRegistry.firstPartyModules.filter { $0.value == ConvolutionLayers.module }
      .keys.sorted()
    #expect(expected.count == 10)
    for type in expected {
      #expect(registry.contains(type), "\(type)")
      #expect(registry.module(of: type) == "PlexusConvolution")
    }
  }

  @Test func unregisteredTypesNameThisModule() {
    let registry = LayerRegistry()
    #expect(
      throws: PlexusError.unknownLayerType(type: "plexus.conv2d", module: "PlexusConvolution")
    ) {
      _ = try registry.makeLayer(
        from: LayerDescription(type: "plexus.conv2d", name: "c", config: .object([:])))
    }
  }

  @Test func everyLayerConfigRoundTrips() throws {
    let registry = Self.registry()
    let layers: [any Layer] = [
      try Conv2D(
        config: .init(
          filters: 8, kernelSize: [3, 2], strides: [2, 1],
          padding: .explicit(top: 1, bottom: 0, left: 2, right: 1),
          dilation: [1, 2], activation: .leakyRelu(alpha: 0.2), useBias: false,
          kernelInitializer: .heNormal,
          kernelRegularizer: Regularizer(l2: 1e-4))),
      try Conv2D(filters: 16, kernelSize: 3, padding: .same, activation: .relu),
      try Conv1D(
        filters: 4, kernelSize: 5, strides: 2, padding: .same, dilation: 1, activation: .tanh),
      try Conv2DTranspose(
        filters: 3, kernelSize: 3, strides: 2, padding: .same, activation: .sigmoid),
      try MaxPool2D(poolSize: 3, strides: 2, padding: .same),
      try MaxPool2D(),
      try AveragePool2D(config: .init(poolSize: [2, 3], strides: [1, 2], padding: .valid)),
      GlobalAveragePool2D(keepDims: true),
      GlobalMaxPool2D(),
      try BatchNormalization(momentum: 0.9, epsilon: 1e-5, center: false),
      try ZeroPadding2D(top: 1, bottom: 2, left: 3, right: 4),
      try UpSampling2D(config: .init(size: [2, 3])),
    ]
    for (index, layer) in layers.enumerated() {
      layer.name = "layer_\(index)"
      let copy = try LayerHarness.roundTripConfig(of: layer, registry: registry)
      #expect(type(of: copy) == type(of: layer))
      #expect(copy.name == layer.name)
    }
  }

  @Test func configsDecodeKerasLikeDefaults() throws {
    let registry = Self.registry()
    let layer = try registry.makeLayer(
      from: LayerDescription(
        type: "plexus.conv2d", name: "conv2d_1",
        config: .object(["filters": .number(6), "kernelSize": .array([.number(5), .number(5)])])))
    let conv = try #require(layer as? Conv2D)
    #expect(conv.config == Conv2D.Config(filters: 6, kernelSize: [5, 5]))
    let norm = try #require(
      try registry.makeLayer(
        from: LayerDescription(type: "plexus.batch_normalization", name: "bn", config: .object([:]))
      )
        as? BatchNormalization)
    #expect(norm.config.momentum == 0.99 && norm.config.epsilon == 1e-3)
    let padding = try JSONValue(encoding: Padding.explicit(top: 1, bottom: 2, left: 3, right: 4))
    #expect(
      padding
        == .object([
          "top": .number(1), "bottom": .number(2), "left": .number(3), "right": .number(4),
        ]))
    #expect(try JSONValue(encoding: Padding.same) == .string("same"))
  }

  @Test func aConvolutionalModelRoundTripsThroughItsArchitecture() throws {
    let registry = Self.registry()
    let model = Sequential([
      try Conv2D(filters: 4, kernelSize: 3, padding: .same, activation: .relu),
      try BatchNormalization(),
      try MaxPool2D(poolSize: 2),
      try Conv2D(filters: 6, kernelSize: 3, padding: .same, activation: .relu),
      GlobalAveragePool2D(),
      Dense(units: 3),
    ])
    try model.build(inputShape: [8, 8, 1], seed: 21)
    let encoded = try JSONValue(encoding: model.config)
    let copy = try Sequential(
      config: try encoded.decode(Sequential.Config.self, context: "model"), registry: registry)
    try copy.build(seed: 21)
    #expect(copy.config == model.config)
    #expect(copy.layerOutputShapes == model.layerOutputShapes)
    var generator = SeededGenerator(seed: 2)
    let input = Tensor.normal([2, 8, 8, 1], using: &generator)
    #expect(try copy.predict(input) == (try model.predict(input)))
    #expect(model.namedParameters.map(\.path).contains("batch_normalization_1.moving_variance"))
  }
}
