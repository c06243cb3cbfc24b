import PlexusConvolution
import PlexusCore
import PlexusPerceptron
import Testing

/// Malformed configurations and input shapes are answered with thrown errors.
@Suite struct BadInputTests {
  @Test func wrongInputRankIsRejectedAtBuildTime() throws {
    var generator = SeededGenerator(seed: 0)
    let layers: [any Layer] = [
      try Conv2D(filters: 4, kernelSize: 3, name: "conv2d_1"),
      try Conv2DTranspose(filters: 4, kernelSize: 3, name: "conv2d_transpose_1"),
      try MaxPool2D(name: "max_pool2d_1"),
      try AveragePool2D(name: "average_pool2d_1"),
      GlobalAveragePool2D(name: "global_average_pool2d_1"),
      GlobalMaxPool2D(name: "global_max_pool2d_1"),
      try ZeroPadding2D(1, name: "zero_padding2d_1"),
      try UpSampling2D(name: "up_sampling2d_1"),
    ]
    for layer in layers {
      #expect(throws: PlexusError.self, "\(layer.name)") {
        _ = try layer.build(inputShape: [28, 28], generator: &generator)
      }
    }
    #expect(
      throws: PlexusError.shapeMismatch(
        layer: "conv2d_1", expected: "[height, width, channels] (rank 3)", found: [28, 28])
    ) {
      _ = try Conv2D(filters: 4, kernelSize: 3, name: "conv2d_1").build(
        inputShape: [28, 28], generator: &generator)
    }
    #expect(throws: PlexusError.self) {
      _ = try Conv1D(filters: 4, kernelSize: 3).build(
        inputShape: [10, 4, 1], generator: &generator)
    }
    #expect(throws: PlexusError.self) {
      _ = try BatchNormalization().build(inputShape: [], generator: &generator)
    }
  }

  @Test func wrongChannelCountIsRejected() throws {
    var generator = SeededGenerator(seed: 0)
    #expect(
      throws: PlexusError.shapeMismatch(
        layer: "c", expected: "[height, width, 3] (rank 3)", found: [8, 8, 1])
    ) {
      _ = try Conv2D(3 => 8, kernelSize: 3, name: "c").build(
        inputShape: [8, 8, 1], generator: &generator)
    }
    #expect(throws: PlexusError.self) {
      _ = try Conv1D(2 => 8, kernelSize: 3).build(inputShape: [8, 5], generator: &generator)
    }
    // A built layer refuses batches whose channel count differs from the built one.
    let conv = try Conv2D(filters: 2, kernelSize: 3, name: "c")
    _ = try conv.build(inputShape: [6, 6, 3], generator: &generator)
    #expect(
      throws: PlexusError.shapeMismatch(
        layer: "c", expected: "[N] + [6, 6, 3]", found: [2, 6, 6, 1])
    ) {
      _ = try conv.forward(Tensor.zeros([2, 6, 6, 1]), training: false)
    }
    let norm = try BatchNormalization(name: "bn")
    _ = try norm.build(inputShape: [4, 4, 3], generator: &generator)
    #expect(throws: PlexusError.self) {
      _ = try norm.forward(Tensor.zeros([2, 4, 4, 2]), training: true)
    }
  }

  @Test func kernelLargerThanThePaddedInputIsRejected() throws {
    var generator = SeededGenerator(seed: 0)
    #expect(throws: PlexusError.self) {
      _ = try Conv2D(filters: 2, kernelSize: 5).build(inputShape: [4, 8, 1], generator: &generator)
    }
    #expect(throws: PlexusError.self) {
      _ = try Conv2D(filters: 2, kernelSize: 3, dilation: 3).build(
        inputShape: [6, 6, 1], generator: &generator)
    }
    #expect(throws: PlexusError.self) {
      _ = try Conv2D(
        filters: 2, kernelSize: 5, padding: .explicit(top: 0, bottom: 0, left: 1, right: 0)
      )
      .build(inputShape: [5, 3, 1], generator: &generator)
    }
    #expect(throws: PlexusError.self) {
      _ = try Conv1D(filters: 2, kernelSize: 7).build(inputShape: [6, 1], generator: &generator)
    }
    #expect(throws: PlexusError.self) {
      _ = try MaxPool2D(poolSize: 3).build(inputShape: [2, 2, 1], generator: &generator)
    }
    #expect(throws: PlexusError.self) {
      _ = try Conv2DTranspose(
        filters: 2, kernelSize: 2, padding: .explicit(top: 1, bottom: 1, left: 0, right: 0)
      )
      .build(inputShape: [1, 3, 1], generator: &generator)
    }
    // `same` padding makes any kernel fit.
    #expect(
      try Conv2D(filters: 2, kernelSize: 5, padding: .same).build(
        inputShape: [4, 3, 1], generator: &generator) == [4, 3, 2])
    // The model build names the layer that cannot take its input.
    let model = Sequential([
      try Conv2D(filters: 4, kernelSize: 3, activation: .relu), try MaxPool2D(poolSize: 2),
      try Conv2D(filters: 8, kernelSize: 3),
    ])
    do {
      try model.build(inputShape: [6, 6, 1])
      Issue.record("building a too small model must throw")
    } catch PlexusError.shapeMismatch(let layer, _, let found) {
      #expect(layer == "conv2d_2")
      #expect(found == [2, 2, 4])
    }
  }

  @Test func zeroOrNegativeSizesAreRejected() throws {
    #expect(
      throws: PlexusError.invalidConfiguration(
        "conv2d strides must be 2 positive integers, got [0, 0]")
    ) {
      _ = try Conv2D(filters: 2, kernelSize: 3, strides: 0)
    }
    #expect(throws: PlexusError.self) { _ = try Conv2D(filters: 2, kernelSize: 3, strides: -1) }
    #expect(throws: PlexusError.self) { _ = try Conv2D(filters: 0, kernelSize: 3) }
    #expect(throws: PlexusError.self) { _ = try Conv2D(filters: 2, kernelSize: 0) }
    #expect(throws: PlexusError.self) { _ = try Conv2D(filters: 2, kernelSize: 3, dilation: 0) }
    #expect(throws: PlexusError.self) { _ = try Conv2D(config: .init(filters: 2, kernelSize: [3])) }
    #expect(throws: PlexusError.self) {
      _ = try Conv2D(
        filters: 2, kernelSize: 3, padding: .explicit(top: -1, bottom: 0, left: 0, right: 0))
    }
    #expect(throws: PlexusError.self) { _ = try Conv1D(filters: 2, kernelSize: 3, strides: 0) }
    #expect(throws: PlexusError.self) {
      _ = try Conv1D(
        filters: 2, kernelSize: 3, padding: .explicit(top: 1, bottom: 0, left: 0, right: 0))
    }
    #expect(throws: PlexusError.self) {
      _ = try Conv2DTranspose(filters: 2, kernelSize: 3, strides: 0)
    }
    #expect(throws: PlexusError.self) { _ = try MaxPool2D(poolSize: 0) }
    #expect(throws: PlexusError.self) { _ = try MaxPool2D(poolSize: 2, strides: -2) }
    #expect(throws: PlexusError.self) { _ = try AveragePool2D(poolSize: 2, strides: 0) }
    #expect(throws: PlexusError.self) { _ = try UpSampling2D(size: 0) }
    #expect(throws: PlexusError.self) { _ = try ZeroPadding2D(-1) }
    #expect(throws: PlexusError.self) { _ = try BatchNormalization(momentum: 1.5) }
    #expect(throws: PlexusError.self) { _ = try BatchNormalization(epsilon: 0) }
    var generator = SeededGenerator(seed: 0)
    #expect(throws: PlexusError.self) {
      _ = try MaxPool2D(poolSize: 2, padding: .explicit(top: 2, bottom: 0, left: 0, right: 0))
        .build(inputShape: [6, 6, 1], generator: &generator)
    }
  }

  @Test func malformedConfigsFromFilesAreRejectedByTheRegistry() throws {
    let registry = LayerRegistry()
    ConvolutionLayers.register(in: registry)
    let cases: [(String, JSONValue)] = [
      (
        "plexus.conv2d",
        .object([
          "filters": .number(4), "kernelSize": .array([.number(3), .number(3)]),
          "strides": .array([.number(0), .number(1)]),
        ])
      ),
      ("plexus.conv2d", .object(["filters": .number(4)])),
      (
        "plexus.conv2d",
        .object([
          "filters": .number(4), "kernelSize": .array([.number(3), .number(3)]),
          "padding": .string("full"),
        ])
      ),
      ("plexus.conv1d", .object(["filters": .number(4), "kernelSize": .number(-3)])),
      (
        "plexus.max_pool2d",
        .object([
          "poolSize": .array([.number(2), .number(2)]),
          "strides": .array([.number(-1), .number(1)]),
        ])
      ),
      ("plexus.batch_normalization", .object(["momentum": .number(-0.5)])),
    ]
    for (type, config) in cases {
      #expect(throws: PlexusError.self, "\(type) \(config)") {
        _ = try registry.makeLayer(
          from: LayerDescription(type: type, name: "layer", config: config))
      }
    }
  }
}
