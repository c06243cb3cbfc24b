import PlexusConvolution
import PlexusCore
import Testing

/// Batch statistics in training, moving statistics in inference, as Keras defines them.
@Suite struct BatchNormalizationTests {
  @Test func trainingNormalizesWithBatchStatisticsAndUpdatesTheMovingOnes() throws {
    let layer = try BatchNormalization(momentum: 0.9, epsilon: 1e-5)
    var generator = SeededGenerator(seed: 3)
    _ = try layer.build(inputShape: [3, 2], generator: &generator)
    // Channel 0 holds 1...12, channel 1 holds 10 * (1...12).
    let values = (1...12).flatMap { [Float($0), Float($0 * 10)] }
    let input = try Tensor(shape: [4, 3, 2], scalars: values)
    let output = try layer.forward(input, training: true)
    let mean: [Float] = [6.5, 65]
    let variance: [Float] = [143.0 / 12, 14300.0 / 12]  // biased, as Keras
    for channel in 0..<2 {
      let column = stride(from: channel, to: 24, by: 2).map { output[flat: $0] }
      let average = column.reduce(0, +) / 12
      let spread = column.map { ($0 - average) * ($0 - average) }.reduce(0, +) / 12
      #expect(abs(average) < 1e-5)
      #expect(abs(spread - variance[channel] / (variance[channel] + 1e-5)) < 1e-4)
    }
    let movingMean = try #require(layer.movingMean).value.scalars
    let movingVariance = try #require(layer.movingVariance).value.scalars
    for channel in 0..<2 {
      #expect(abs(movingMean[channel] - 0.1 * mean[channel]) < 1e-4)
      #expect(abs(movingVariance[channel] - (0.9 + 0.1 * variance[channel])) < 1e-2)
    }
    // Inference uses the moving statistics and leaves them alone.
    let inference = try layer.forward(input, training: false)
    let expected = (0..<24).map { index -> Float in
      let channel = index % 2
      return (values[index] - movingMean[channel]) / (movingVariance[channel] + 1e-5).squareRoot()
    }
    #expect(
      inference.maxAbsoluteDifference(to: try Tensor(shape: [4, 3, 2], scalars: expected)) < 1e-4)
    #expect(try #require(layer.movingMean).value.scalars == movingMean)
  }

  @Test func movingStatisticsAreNotTrainable() throws {
    let layer = try BatchNormalization(name: "bn")
    var generator = SeededGenerator(seed: 0)
    _ = try layer.build(inputShape: [4], generator: &generator)
    #expect(
      layer.namedParameters.map(\.path) == [
        "bn.gamma", "bn.beta", "bn.moving_mean", "bn.moving_variance",
      ])
    #expect(layer.parameters.filter(\.isTrainable).map(\.name) == ["gamma", "beta"])
  }
}
