import PlexusConvolution
import PlexusCore
import Testing

/// Forward outputs of the lowered convolutions against direct nested-loop definitions.
@Suite struct ConvolutionReferenceTests {
  static let paddings: [Padding] = [.valid, .same, .explicit(top: 1, bottom: 0, left: 2, right: 1)]

  @Test(arguments: paddings)
  func conv2dMatchesDirectConvolutionOverAGridOfShapes(padding: Padding) throws {
    var generator = SeededGenerator(seed: 11)
    var compared = 0
    for (height, width) in [(5, 5), (6, 7), (4, 9)] {
      for channels in [1, 3] {
        for (kh, kw) in [(1, 1), (2, 2), (3, 3), (2, 3)] {
          for strides in [(1, 1), (2, 2), (1, 2)] {
            for dilation in [(1, 1), (2, 2), (1, 2)] {
              let config = Conv2D.Config(
                filters: 4, kernelSize: [kh, kw], strides: [strides.0, strides.1], padding: padding,
                dilation: [dilation.0, dilation.1], biasInitializer: .glorotUniform)
              let layer = try Conv2D(config: config)
              let input = Tensor.uniform(
                [2, height, width, channels], low: -1, high: 1, using: &generator)
              guard
                let expected = Reference.conv2d(
                  input: input, kernel: Tensor.zeros([kh, kw, channels, 4]), bias: nil,
                  strides: strides,
                  dilation: dilation, padding: padding)
              else {
                #expect(throws: PlexusError.self) {
                  _ = try layer.build(inputShape: [height, width, channels], generator: &generator)
                }
                continue
              }
              let outputShape = try layer.build(
                inputShape: [height, width, channels], generator: &generator)
              #expect([2] + outputShape == expected.shape)
              let kernel = try #require(layer.kernel)
              let reference = try #require(
                Reference.conv2d(
                  input: input, kernel: kernel.value, bias: layer.bias?.value, strides: strides,
                  dilation: dilation, padding: padding))
              let output = try layer.forward(input, training: false)
              #expect(output.shape == reference.shape)
              #expect(
                output.maxAbsoluteDifference(to: reference) < 1e-5,
                "H\(height) W\(width) C\(channels) k\(kh)x\(kw) s\(strides) d\(dilation) \(padding)"
              )
              compared += 1
            }
          }
        }
      }
    }
    #expect(compared > 150)
  }

  @Test func conv2dWithFusedActivationAppliesItAfterTheBias() throws {
    var generator = SeededGenerator(seed: 5)
    let layer = try Conv2D(filters: 3, kernelSize: 3, padding: .same, activation: .relu)
    _ = try layer.build(inputShape: [5, 4, 2], generator: &generator)
    try layer.bias?.assign(Tensor([0.5, -0.5, 0.1]))
    let input = Tensor.normal([3, 5, 4, 2], using: &generator)
    let kernel = try #require(layer.kernel)
    let reference = try #require(
      Reference.conv2d(
        input: input, kernel: kernel.value, bias: layer.bias?.value, strides: (1, 1),
        dilation: (1, 1),
        padding: .same))
    let output = try layer.forward(input, training: true)
    #expect(output.maxAbsoluteDifference(to: reference.map { max($0, 0) }) < 1e-5)
  }

  @Test func conv1dMatchesDirectConvolution() throws {
    var generator = SeededGenerator(seed: 12)
    for padding in [Padding.valid, .same, .explicit(top: 0, bottom: 0, left: 2, right: 0)] {
      for (kernelSize, stride, dilation) in [(3, 1, 1), (2, 2, 1), (3, 1, 2), (4, 3, 1)] {
        let layer = try Conv1D(
          filters: 5, kernelSize: kernelSize, strides: stride, padding: padding, dilation: dilation)
        let shape = try layer.build(inputShape: [11, 3], generator: &generator)
        let input = Tensor.normal([2, 11, 3], using: &generator)
        let kernel = try #require(layer.kernel)
        let reference = try #require(
          Reference.conv2d(
            input: try input.reshaped([2, 1, 11, 3]),
            kernel: try kernel.value.reshaped([1, kernelSize, 3, 5]),
            bias: layer.bias?.value, strides: (1, stride), dilation: (1, dilation), padding: padding
          ))
        let output = try layer.forward(input, training: false)
        #expect(output.shape == [2] + shape)
        #expect(
          output.maxAbsoluteDifference(to: try reference.reshaped(output.shape)) < 1e-5,
          "\(padding)")
      }
    }
  }

  @Test func conv2dTransposeMatchesDirectScatter() throws {
    var generator = SeededGenerator(seed: 13)
    let paddings: [Padding] = [.valid, .same, .explicit(top: 1, bottom: 0, left: 0, right: 1)]
    for padding in paddings {
      for (kernel, stride, dilation) in [
        (1, 1, 1), (3, 2, 1), (2, 2, 1), (3, 1, 2), (4, 3, 1), (1, 2, 1),
      ] {
        let config = Conv2DTranspose.Config(
          filters: 3, kernelSize: [kernel, kernel], strides: [stride, stride], padding: padding,
          dilation: [dilation, dilation], biasInitializer: .glorotUniform)
        let layer = try Conv2DTranspose(config: config)
        let shape = try layer.build(inputShape: [4, 3, 2], generator: &generator)
        let input = Tensor.normal([2, 4, 3, 2], using: &generator)
        let weights = try #require(layer.kernel)
        let reference = Reference.conv2dTranspose(
          input: input, kernel: weights.value, bias: layer.bias?.value, strides: (stride, stride),
          dilation: (dilation, dilation), padding: padding)
        let output = try layer.forward(input, training: false)
        #expect(output.shape == [2] + shape)
        #expect(
          output.maxAbsoluteDifference(to: reference) < 1e-5,
          "k\(kernel) s\(stride) d\(dilation) \(padding)")
      }
    }
  }

  @Test func transposeSamePaddingMultipliesTheExtentByTheStride() throws {
    var generator = SeededGenerator(seed: 1)
    let layer = try Conv2DTranspose(filters: 4, kernelSize: 3, strides: 2, padding: .same)
    #expect(try layer.build(inputShape: [7, 5, 3], generator: &generator) == [14, 10, 4])
  }

  @Test func poolingMatchesDirectDefinition() throws {
    var generator = SeededGenerator(seed: 14)
    let paddings: [Padding] = [.valid, .same, .explicit(top: 1, bottom: 1, left: 0, right: 1)]
    for padding in paddings {
      for ((size, stride), channels) in zip([(2, 2), (3, 2), (2, 1), (3, 3)], [3, 8, 5, 1]) {
        let input = Tensor.normal([2, 7, 6, channels], using: &generator)
        let maxPool = try MaxPool2D(poolSize: size, strides: stride, padding: padding)
        let averagePool = try AveragePool2D(poolSize: size, strides: stride, padding: padding)
        _ = try maxPool.build(inputShape: [7, 6, channels], generator: &generator)
        _ = try averagePool.build(inputShape: [7, 6, channels], generator: &generator)
        let expectedMax = try #require(
          Reference.pool(
            input: input, size: (size, size), strides: (stride, stride), padding: padding, max: true
          ))
        let expectedAverage = try #require(
          Reference.pool(
            input: input, size: (size, size), strides: (stride, stride), padding: padding,
            max: false))
        let maxOutput = try maxPool.forward(input, training: false)
        let averageOutput = try averagePool.forward(input, training: false)
        #expect(maxOutput.shape == expectedMax.shape)
        #expect(
          maxOutput.maxAbsoluteDifference(to: expectedMax) == 0, "max \(size)/\(stride) \(padding)")
        #expect(
          averageOutput.maxAbsoluteDifference(to: expectedAverage) < 1e-6,
          "avg \(size)/\(stride) \(padding)")
      }
    }
  }

  @Test func globalPoolingReducesEveryPosition() throws {
    var generator = SeededGenerator(seed: 15)
    let input = Tensor.normal([3, 4, 5, 2], using: &generator)
    let average = GlobalAveragePool2D()
    let maximum = GlobalMaxPool2D(keepDims: true)
    #expect(try average.build(inputShape: [4, 5, 2], generator: &generator) == [2])
    #expect(try maximum.build(inputShape: [4, 5, 2], generator: &generator) == [1, 1, 2])
    let averaged = try average.forward(input, training: false)
    let maxed = try maximum.forward(input, training: false)
    let expectedAverage = try #require(
      Reference.pool(input: input, size: (4, 5), strides: (4, 5), padding: .valid, max: false))
    let expectedMax = try #require(
      Reference.pool(input: input, size: (4, 5), strides: (4, 5), padding: .valid, max: true))
    #expect(averaged.maxAbsoluteDifference(to: try expectedAverage.reshaped([3, 2])) < 1e-6)
    #expect(maxed == expectedMax)
  }

  @Test func zeroPaddingAndUpSamplingPlaceValuesWhereExpected() throws {
    var generator = SeededGenerator(seed: 0)
    let input = try Tensor(shape: [1, 2, 2, 1], scalars: [1, 2, 3, 4])
    let pad = try ZeroPadding2D(top: 1, bottom: 0, left: 0, right: 2)
    #expect(try pad.build(inputShape: [2, 2, 1], generator: &generator) == [3, 4, 1])
    let expectedPadding: [Float] = [0, 0, 0, 0, 1, 2, 0, 0, 3, 4, 0, 0]
    #expect(try pad.forward(input, training: false).scalars == expectedPadding)
    let up = try UpSampling2D(config: .init(size: [2, 3]))
    #expect(try up.build(inputShape: [2, 2, 1], generator: &generator) == [4, 6, 1])
    let expectedUp: [Float] = [
      1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4,
    ]
    #expect(try up.forward(input, training: false).scalars == expectedUp)
  }

  @Test(arguments: [1, 2])
  func smallColumnTilesGiveTheSameResults(channels: Int) throws {
    var generator = SeededGenerator(seed: 16)
    let input = Tensor.normal([5, 6, 6, channels], using: &generator)
    let projection = Tensor.normal([5, 6, 6, 3], using: &generator)
    func run(_ layer: any Layer) throws -> (Tensor, Tensor, [Tensor]) {
      layer.zeroGradients()
      let output = try layer.forward(input, training: true)
      let gradient = try layer.backward(projection)
      return (output, gradient, layer.parameters.map(\.gradient))
    }
    for makeLayer in [
      { try Conv2D(filters: 3, kernelSize: 3, padding: .same) as any Layer },
      { try Conv2DTranspose(filters: 3, kernelSize: 3, padding: .same) as any Layer },
    ] {
      let layer = try makeLayer()
      var layerGenerator = SeededGenerator(seed: 3)
      _ = try layer.build(inputShape: [6, 6, channels], generator: &layerGenerator)
      let whole = try run(layer)
      // Tiles of a few rows, across samples; set for this test's task only, since tests run
      // concurrently and the tile size changes the summation order of other tests' results.
      let tiled = try ConvolutionLayers.withColumnTileElements(7 * 27) { try run(layer) }
      #expect(whole.0.maxAbsoluteDifference(to: tiled.0) < 1e-5)
      #expect(whole.1.maxAbsoluteDifference(to: tiled.1) < 1e-5)
      for (a, b) in zip(whole.2, tiled.2) { #expect(a.maxAbsoluteDifference(to: b) < 1e-4) }
    }
  }
}
