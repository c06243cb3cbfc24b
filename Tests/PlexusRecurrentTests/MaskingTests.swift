import PlexusCore
import PlexusPerceptron
import PlexusRecurrent
import PlexusTestSupport
import Testing

/// Three sequences of 6 steps of 2 features, of lengths 6, 4 and 2, padded after their end
/// with `padding`.
private func paddedBatch(padding: Float) -> (x: Tensor, lengths: [Int]) {
  let lengths = [6, 4, 2]
  var generator = SeededGenerator(seed: 21)
  var x = Tensor.normal([3, 6, 2], using: &generator)
  for (sample, length) in lengths.enumerated() {
    for step in length..<6 {
      for feature in 0..<2 { x[sample, step, feature] = padding }
    }
  }
  return (x, lengths)
}

/// The layer's output for each sample run alone on its unpadded steps.
private func truncatedOutputs(_ layer: any Layer, _ x: Tensor, lengths: [Int]) throws -> [[Float]] {
  try lengths.enumerated().map { sample, length in
    let alone = try x.slice(axis: 0, range: sample..<(sample + 1)).slice(axis: 1, range: 0..<length)
    return try layer.run([alone], training: false, record: CallRecord())[0].scalars
  }
}

private func rows(_ tensor: Tensor) -> [[Float]] {
  let width = tensor.count / tensor.shape[0]
  return (0..<tensor.shape[0]).map { Array(tensor.scalars[($0 * width)..<(($0 + 1) * width)]) }
}

private func close(_ a: [[Float]], _ b: [[Float]], tolerance: Float = 1e-5) -> Bool {
  a.count == b.count
    && zip(a, b).allSatisfy { x, y in
      x.count == y.count && zip(x, y).allSatisfy { abs($0 - $1) <= tolerance }
    }
}

@Suite struct MaskingTests {
  @Test func passesTheHarness() throws {
    let test = LayerTest(
      registry: RecurrentLayerChecks.registry,
      shapes: [.init([5, 3], output: [5, 3]), .init([2, 2, 2], output: [2, 2, 2])],
      badShapes: [[[4]], [[]]]
    ) { try Masking(maskValue: 0.5) }
    try LayerHarness.run(test)
  }

  @Test func configDecodesAndRefusesUnknownKeysAndBadValues() throws {
    let message = try LayerHarness.checkConfigDecoding(
      Masking.self, registry: RecurrentLayerChecks.registry, minimal: "{}",
      defaults: Masking.Config(), full: Masking.Config(maskValue: -1),
      typo: #"{"maskvalue": 1}"#, suggestion: "maskValue")
    #expect(message.hasPrefix("config of layer type 'plexus.masking': unknown key 'maskvalue'"))
    #expect(throws: PlexusError.self) { try Masking(maskValue: .nan) }
  }

  @Test func maskedStepsAreZeroedAndMarked() throws {
    let (x, _) = paddedBatch(padding: -1)
    let layer = try Masking(maskValue: -1)
    try layer.build(inputShape: [6, 2])
    let record = CallRecord()
    let output = try layer.run([x], training: false, record: record)[0]
    let mask = try #require(record.outputMasks.first ?? nil)
    #expect(mask.isMasked(sample: 1, step: 4) && !mask.isMasked(sample: 1, step: 3))
    #expect(mask.masked.filter { $0 }.count == 2 + 4)
    #expect(output[1, 4, 0] == 0 && output[1, 3, 0] == x[1, 3, 0])
  }

  /// Masking before an LSTM, a stacked LSTM returning sequences, a GRU going backwards and a
  /// bidirectional layer: each padded sample gives what it gives run alone, unpadded.
  @Test func recurrentLayersSkipMaskedStepsThroughTheModel() throws {
    let (x, lengths) = paddedBatch(padding: 0)
    let cases: [(String, any Layer)] = [
      ("lstm", try LSTM(units: 4)),
      ("gru backwards", try GRU(units: 3, goBackwards: true)),
      (
        "stacked", Sequential([try LSTM(units: 3, returnSequences: true), try SimpleRNN(units: 2)])
      ),
      ("bidirectional", try Bidirectional(try LSTM(units: 3), mergeMode: .concat)),
    ]
    for (label, recurrent) in cases {
      let model = Sequential([try Masking(maskValue: 0), recurrent])
      try model.build(inputShape: [nil, 2], seed: 3)
      let padded = rows(try model.predict(x))
      #expect(close(padded, try truncatedOutputs(recurrent, x, lengths: lengths)), "\(label)")
    }
    // Without the mask the padding changes the outputs.
    let plain = try LSTM(units: 4)
    let unmasked = Sequential([plain])
    try unmasked.build(inputShape: [nil, 2], seed: 3)
    #expect(!close(rows(try unmasked.predict(x)), try truncatedOutputs(plain, x, lengths: lengths)))
  }

  @Test func anEmbeddingsPaddingIdMasksTheSteps() throws {
    let ids = try Tensor(shape: [2, 5], scalars: [3, 1, 4, 0, 0, 2, 5, 0, 0, 0])
    let embedding = try Embedding(inputDim: 6, outputDim: 3, maskZero: true)
    let lstm = try LSTM(units: 4)
    let model = Sequential([embedding, lstm])
    try model.build(inputShape: [nil], seed: 2)
    let padded = rows(try model.predict(ids))
    let first = try model.predict(try Tensor(shape: [1, 3], scalars: [3, 1, 4])).scalars
    let second = try model.predict(try Tensor(shape: [1, 2], scalars: [2, 5])).scalars
    #expect(close(padded, [first, second]))
  }

  @Test func perSampleLengthsMaskTheRestOfEachSequence() throws {
    // Padding of arbitrary values: the lengths alone decide.
    let (x, lengths) = paddedBatch(padding: 7)
    let sequences = try Input(shape: [nil, 2])
    let lengthInput = try Input(shape: [])
    let gru = try GRU(units: 3)
    let output = try gru(try LengthMasking()([sequences, lengthInput]))
    let model = try Model(inputs: [sequences, lengthInput], outputs: [output], seed: 4)
    let given = Tensor(lengths.map(Float.init))
    let padded = rows(try model.predict([x, given])[0])
    #expect(close(padded, try truncatedOutputs(gru, x, lengths: lengths)))

    // Gradients through time with lengths: finite differences agree.
    let report = try GradientCheck.check(
      layer: model, inputs: [x, given], epsilon: 1e-2, floor: 1e-2, checkingInputs: false)
    #expect(report.maximumError < 2e-2, "\(report)")

    for bad: Float in [7, -1, 2.5, .nan] {
      #expect { try model.predict([x, Tensor([6, 4, bad])]) } throws: {
        "\($0)".contains("the length of sample 2 is") && "\($0)".contains("0...6")
      }
    }
  }

  @Test func gradientsThroughTimeSkipMaskedSteps() throws {
    let (x, _) = paddedBatch(padding: 0)
    for recurrent in [
      try LSTM(units: 3, returnSequences: true) as any Layer, try GRU(units: 3),
      try Bidirectional(try SimpleRNN(units: 2), mergeMode: .sum),
    ] {
      let model = Sequential([try Masking(maskValue: 0), recurrent])
      try model.build(inputShape: [6, 2], seed: 5)
      // Parameters only: nudging a padded input value would unmask its step. Step 1e-2 and an
      // error floor of 1e-2 as the other checks through time: single-precision noise through
      // six steps dominates smaller recurrent-kernel gradients.
      let report = try GradientCheck.check(
        layer: model, inputs: [x], epsilon: 1e-2, floor: 1e-2, checkingInputs: false)
      #expect(report.maximumError < 2e-2, "\(recurrent.typeName): \(report)")
    }
    let direct = try LSTM(config: LSTM.Config(units: 3, returnSequences: true, maskValue: 0))
    try direct.build(inputShape: [6, 2], seed: 5)
    let report = try GradientCheck.check(
      layer: direct, inputs: [x], epsilon: 1e-2, floor: 1e-2, checkingInputs: false)
    #expect(report.maximumError < 2e-2, "maskValue: \(report)")
  }
}
