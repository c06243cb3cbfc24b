import Foundation
import PlexusCore
import PlexusTestSupport
import Testing

@testable import PlexusRecurrent

/// Dropout on a recurrent layer's inputs and on the state its recurrent products read, as
/// Keras's `dropout` and `recurrent_dropout`: one mask per sample and call, the same at every
/// step, drawn from the layer's seeded stream; nothing changes in inference.
@Suite struct RecurrentDropoutTests {
  static let (batch, steps, features, units) = (3, 5, 3, 4)

  /// The layer types and GRU forms under test.
  enum Kind: String, CaseIterable, CustomStringConvertible {
    case simple, lstm, gruResetAfter, gruResetBefore
    var description: String { rawValue }
  }

  static func layer(
    _ kind: Kind, dropout: Float = 0.3, recurrentDropout: Float = 0.4, seed: UInt64? = 5,
    returnSequences: Bool = true
  ) throws -> any RecurrentLayerUnderTest {
    func configure<C: RecurrentConfiguration>(_ config: inout C) {
      config.units = Self.units
      config.returnSequences = returnSequences
      config.dropout = dropout
      config.recurrentDropout = recurrentDropout
      config.seed = seed
    }
    switch kind {
    case .simple:
      var config = SimpleRNN.Config.defaults
      configure(&config)
      return try SimpleRNN(config: config)
    case .lstm:
      var config = LSTM.Config.defaults
      configure(&config)
      return try LSTM(config: config)
    case .gruResetAfter, .gruResetBefore:
      var config = GRU.Config.defaults
      configure(&config)
      config.resetAfter = kind == .gruResetAfter
      return try GRU(config: config)
    }
  }

  /// A built layer whose parameters are copies of `weights` (or random, seeded, values).
  static func prepared(_ kind: Kind, weights: [Tensor]? = nil, seed: UInt64? = 5) throws
    -> any RecurrentLayerUnderTest
  {
    let layer = try Self.layer(kind, seed: seed)
    try RecurrentReference.prepare(layer, inputShapes: [[nil, Self.features]])
    if let weights {
      for (parameter, value) in zip(layer.parameters, weights) { parameter.value = value }
    }
    return layer
  }

  static func input(seed: UInt64 = 3) -> Tensor {
    var generator = SeededGenerator(seed: seed)
    return Tensor.normal([Self.batch, Self.steps, Self.features], using: &generator)
  }

  /// The masks a layer seeded with `seed` draws on its first call: the input scales, then the
  /// state's (each 0 or 1 / (1 - rate)).
  static func firstMasks(seed: UInt64, dropout: Float, recurrentDropout: Float) -> (
    [Float], [Float]
  ) {
    var generator = SeededGenerator(seed: seed)
    func draw(_ count: Int, _ rate: Float) -> [Float] {
      (0..<count).map { _ in generator.nextUnitFloat() < 1 - rate ? 1 / (1 - rate) : 0 }
    }
    return (
      draw(Self.batch * Self.features, dropout), draw(Self.batch * Self.units, recurrentDropout)
    )
  }

  @Test(arguments: Kind.allCases)
  func trainingUsesOneMaskPerSampleAtEveryStep(kind: Kind) throws {
    let layer = try Self.prepared(kind)
    let x = Self.input()
    let output = try layer.run([x], training: true, record: CallRecord())[0]
    let (inputScales, recurrentScales) = Self.firstMasks(
      seed: 5, dropout: 0.3, recurrentDropout: 0.4)
    #expect(inputScales.contains(0) && recurrentScales.contains(0))
    let core = layer.core
    let reference = RecurrentReference.run(
      kind: core.kind, x: x, h0: nil, c0: nil, kernel: core.kernel.value,
      recurrent: core.recurrentKernel.value, bias: core.bias.value, goBackwards: false,
      inputScales: inputScales, recurrentScales: recurrentScales)
    let expected = reference.sequence.flatMap { $0.flatMap { $0 } }
    let worst = zip(output.scalars, expected).map { abs(Double($0) - $1) }.max() ?? .infinity
    #expect(worst < 1e-5, "\(kind): largest difference \(worst)")
    // Without the masks the outputs differ: dropout did something.
    let plain = RecurrentReference.run(
      kind: core.kind, x: x, h0: nil, c0: nil, kernel: core.kernel.value,
      recurrent: core.recurrentKernel.value, bias: core.bias.value, goBackwards: false)
    let change =
      zip(output.scalars, plain.sequence.flatMap { $0.flatMap { $0 } })
      .map { abs(Double($0) - $1) }.max() ?? 0
    #expect(change > 1e-2)
  }

  @Test(arguments: Kind.allCases)
  func inferenceIgnoresDropout(kind: Kind) throws {
    let layer = try Self.prepared(kind)
    let plain = try Self.layer(kind, dropout: 0, recurrentDropout: 0)
    try RecurrentReference.prepare(plain, inputShapes: [[nil, Self.features]])
    for (target, source) in zip(plain.parameters, layer.parameters) { target.value = source.value }
    let x = Self.input()
    let dropped = try layer.run([x], training: false, record: CallRecord())[0]
    let expected = try plain.run([x], training: false, record: CallRecord())[0]
    #expect(dropped.scalars == expected.scalars)
  }

  @Test func seededLayersRepeatTheirMasksAndCallsDrawNewOnes() throws {
    let first = try Self.prepared(.lstm)
    let second = try Self.prepared(
      .lstm, weights: first.parameters.map(\.value))
    let x = Self.input()
    let a = try first.run([x], training: true, record: CallRecord())[0]
    let b = try second.run([x], training: true, record: CallRecord())[0]
    #expect(a.scalars == b.scalars)
    let next = try first.run([x], training: true, record: CallRecord())[0]
    #expect(next.scalars != a.scalars)
  }

  /// Central differences with the masks held fixed: every loss evaluation uses a fresh layer
  /// with the same seed and weights, which draws the same masks on its first call.
  @Test(arguments: Kind.allCases)
  func gradientsWithDropoutMatchFiniteDifferences(kind: Kind) throws {
    let layer = try Self.prepared(kind)
    let weights = layer.parameters.map(\.value)
    let x = Self.input()
    var generator = SeededGenerator(seed: 11)
    let projection = Tensor.normal([Self.batch, Self.steps, Self.units], using: &generator)
    func loss(weights: [Tensor], x: Tensor) throws -> Double {
      let fresh = try Self.prepared(kind, weights: weights)
      let output = try fresh.run([x], training: true, record: CallRecord())[0]
      return zip(output.scalars, projection.scalars).reduce(0) { $0 + Double($1.0 * $1.1) }
    }
    let record = CallRecord()
    for parameter in layer.parameters { parameter.zeroGradient() }
    _ = try layer.run([x], training: true, record: record)
    let inputGradient = try layer.gradients([projection], record: record)[0]!
    let epsilon: Float = 1e-2
    func relativeError(_ analytic: Float, _ numeric: Double) -> Double {
      abs(Double(analytic) - numeric) / max(abs(Double(analytic)) + abs(numeric), 1e-2)
    }
    var worst = 0.0
    for index in stride(from: 0, to: x.count, by: 2) {
      var plus = x
      plus[flat: index] += epsilon
      var minus = x
      minus[flat: index] -= epsilon
      let numeric =
        (try loss(weights: weights, x: plus) - loss(weights: weights, x: minus))
        / (2 * Double(epsilon))
      worst = max(worst, relativeError(inputGradient[flat: index], numeric))
    }
    for (position, parameter) in layer.parameters.enumerated() {
      let count = parameter.value.count
      for index in stride(from: 0, to: count, by: max(1, count / 24)) {
        var plus = weights
        plus[position][flat: index] += epsilon
        var minus = weights
        minus[position][flat: index] -= epsilon
        let numeric =
          (try loss(weights: plus, x: x) - loss(weights: minus, x: x)) / (2 * Double(epsilon))
        worst = max(worst, relativeError(parameter.gradient[flat: index], numeric))
      }
    }
    #expect(worst < 2e-2, "\(kind): largest relative error \(worst)")
  }

  @Test func ratesOutsideTheUnitIntervalAreRefused() {
    for (dropout, recurrentDropout) in [(Float(1), Float(0)), (-0.1, 0), (0, 1.5), (0, .nan)] {
      RecurrentReference.expectError("must be in [0, 1)") {
        _ = try Self.layer(.lstm, dropout: dropout, recurrentDropout: recurrentDropout)
      }
    }
  }

  @Test func descriptionsNameDropoutOnlyWhenItIsUsed() throws {
    let encoder = JSONEncoder()
    let plain = String(decoding: try encoder.encode(LSTM.Config(units: 3)), as: UTF8.self)
    #expect(!plain.contains("ropout"))
    let dropped = try LSTM.Config.decode(
      .object(["units": .number(3), "recurrentDropout": .number(0.25)]), context: "test")
    #expect(dropped.recurrentDropout == 0.25 && dropped.dropout == 0)
    let encoded = String(decoding: try encoder.encode(dropped), as: UTF8.self)
    #expect(encoded.contains("\"recurrentDropout\":0.25") && !encoded.contains("\"dropout\""))
  }
}
