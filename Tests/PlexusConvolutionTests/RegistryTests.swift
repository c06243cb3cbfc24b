import PlexusConvolution
import PlexusCore
import PlexusPerceptron
import Testing

/// Registration of the convolution family and architectures made of its layers.
@Suite struct RegistryTests {
  @Test func registersEveryTypeItDeclares() {
    let registry = ConvolutionTesting.registry()
    let expected = ConvolutionLayers.typeNames
    #expect(expected.count == 13)
    for type in expected {
      #expect(registry.contains(type), "\(type)")
      #expect(registry.module(of: type) == "PlexusConvolution")
    }
  }

  @Test func unregisteredTypesNameThisModule() {
    let registry = LayerRegistry()
    registry.addProviderHints(ConvolutionLayers.typeNames, module: ConvolutionLayers.module)
    #expect(
      throws: PlexusError.unknownLayerType(type: "plexus.conv2d", module: "PlexusConvolution")
    ) {
      try registry.makeLayer(
        from: LayerDescription(type: "plexus.conv2d", name: "c", config: .object([:])))
    }
  }

  @Test func paddingEncodesAsKerasNamesOrExplicitAmounts() throws {
    let padding = try JSONValue(encoding: Padding.explicit(top: 1, bottom: 2, left: 3, right: 4))
    #expect(
      padding
        == .object([
          "top": .number(1), "bottom": .number(2), "left": .number(3), "right": .number(4),
        ]))
    #expect(try JSONValue(encoding: Padding.same) == .string("same"))
    #expect(try JSONValue(encoding: Padding.valid) == .string("valid"))
    #expect(
      try JSONValue.object(["left": .number(2)]).decode(Padding.self, context: "padding")
        == .explicit(top: 0, bottom: 0, left: 2, right: 0))
    #expect(throws: PlexusError.self) {
      try JSONValue.string("causal").decode(Padding.self, context: "padding")
    }
  }

  @Test func aConvolutionalModelRoundTripsThroughItsArchitecture() throws {
    let registry = ConvolutionTesting.registry()
    let model = Sequential([
      try Conv2D(filters: 4, kernelSize: 3, padding: .same, activation: .relu),
      try BatchNormalization(),
      try MaxPool2D(poolSize: 2),
      try Conv2D(filters: 6, kernelSize: 3, padding: .same, activation: .relu),
      GlobalAveragePool2D(),
      try Dense(units: 3),
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
