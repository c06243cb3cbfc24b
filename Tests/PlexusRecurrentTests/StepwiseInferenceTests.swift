import Foundation
import PlexusCore
import PlexusPerceptron
import PlexusRecurrent
import Testing

@Suite struct StepwiseInferenceTests {
  /// Stepping through a sequence with carried states gives the full pass's outputs.
  @Test func steppingMatchesTheFullSequence() throws {
    var generator = SeededGenerator(seed: 12)
    let x = Tensor.normal([3, 7, 4], using: &generator)
    let layers: [any Layer] = [
      try LSTM(units: 5, returnSequences: true), try GRU(units: 5, returnSequences: true),
      try GRU(config: GRU.Config(units: 5, returnSequences: true, resetAfter: false)),
      try SimpleRNN(units: 5, returnSequences: true),
    ]
    for layer in layers {
      try layer.build(inputShape: [nil, 4], seed: 3)
      let full = try layer.run([x], training: false, record: CallRecord())[0]
      var states: [Tensor] = []
      for t in 0..<7 {
        let input = try x.slice(axis: 1, range: t..<(t + 1)).reshaped([3, 4])
        let (output, next): (Tensor, [Tensor])
        switch layer {
        case let lstm as LSTM: (output, next) = try lstm.step(input, states: states)
        case let gru as GRU: (output, next) = try gru.step(input, states: states)
        case let rnn as SimpleRNN: (output, next) = try rnn.step(input, states: states)
        default: fatalError("not a recurrent layer")
        }
        states = next
        let expected = try full.slice(axis: 1, range: t..<(t + 1)).reshaped([3, 5])
        let difference = zip(output.scalars, expected.scalars).map { abs($0 - $1) }.max()!
        #expect(difference < 1e-5, "\(layer.typeName) step \(t): \(difference)")
      }
      #expect(states.count == (layer is LSTM ? 2 : 1))
    }
  }

  @Test func badStepsAreClearErrors() throws {
    let lstm = try LSTM(units: 3)
    #expect(throws: PlexusError.self) { try lstm.step(Tensor.zeros([2, 4])) }
    try lstm.build(inputShape: [nil, 4], seed: 1)
    #expect(throws: PlexusError.self) { try lstm.step(Tensor.zeros([2, 5])) }
    #expect(throws: PlexusError.self) { try lstm.step(Tensor.zeros([2, 1, 4])) }
    #expect(throws: PlexusError.self) {
      try lstm.step(Tensor.zeros([2, 4]), states: [Tensor.zeros([2, 3])])
    }
    #expect(throws: PlexusError.self) {
      try lstm.step(Tensor.zeros([2, 4]), states: [Tensor.zeros([2, 3]), Tensor.zeros([1, 3])])
    }
  }

  /// A character-level language model (Embedding + LSTM + Dense) on generated sentences learns
  /// the text well below its unigram entropy, then writes text one character at a time with
  /// stepwise inference.
  @Test func aCharacterLanguageModelLearnsAndGenerates() throws {
    let subjects = ["the cat", "a dog", "the bird", "my friend"]
    let verbs = ["sees", "likes", "finds"]
    let objects = ["the sun.", "a tree.", "the sea.", "my hat."]
    var generator = SeededGenerator(seed: 3)
    var text = ""
    while text.count < 1200 {
      func pick(_ words: [String]) -> String { words[Int(generator.next() % UInt64(words.count))] }
      text += "\(pick(subjects)) \(pick(verbs)) \(pick(objects)) "
    }
    // Id 0 is padding (masked); characters are 1...
    let alphabet = Array(Set(text)).sorted()
    let ids = text.map { Float(alphabet.firstIndex(of: $0)! + 1) }
    let vocabulary = alphabet.count + 1
    // The unigram entropy of the text, in nats per character.
    var counts = [Float](repeating: 0, count: vocabulary)
    for id in ids { counts[Int(id)] += 1 }  // counts[0] stays 0
    let unigram = -counts.reduce(0.0) { total, count in
      let p = Double(count) / Double(ids.count)
      return total + (p > 0 ? p * Foundation.log(p) : 0)
    }

    // Contexts of 4 to 40 characters, left-padded to 40: the model learns to predict from any
    // context length, as generation with carried state needs.
    let window = 40
    var inputs: [Float] = []
    var targets: [Float] = []
    for end in window..<ids.count {
      let length = 4 + end % (window - 3)
      inputs += [Float](repeating: 0, count: window - length) + ids[(end - length)..<end]
      targets.append(ids[end])
    }
    let x = try Tensor(shape: [targets.count, window], scalars: inputs)
    let y = Tensor(targets)
    let embedding = try Embedding(inputDim: vocabulary, outputDim: 12, maskZero: true)
    let lstm = try LSTM(units: 48)
    let head = try Dense(units: vocabulary)
    let model = Sequential([embedding, lstm, head])
    try model.build(inputShape: [nil], seed: 5)
    let loss = CategoricalCrossEntropy(fromLogits: true)
    let history = try model.fit(
      x, y, loss: loss, optimizer: Adam(learningRate: 0.01),
      options: TrainingOptions(epochs: 12, batchSize: 64, seed: 2))
    let final = try #require(history["loss"]?.last)
    print("character LM: loss \(final) nats per character; unigram entropy \(unigram)")
    #expect(Double(final) < 0.5 * unigram, "loss \(final), unigram entropy \(unigram)")

    // Generation: feed a prompt step by step, then the most likely next character each step.
    // The stepwise logits after the prompt equal the full model's on the same window.
    let prompt = Array(ids[0..<8])
    var states: [Tensor] = []
    var logits = Tensor.zeros([1, vocabulary])
    func advance(_ id: Float) throws {
      let vector = try embedding.run(
        [try Tensor(shape: [1, 1], scalars: [id])], training: false, record: CallRecord())[0]
      let step = try lstm.step(try vector.reshaped([1, 12]), states: states)
      states = step.states
      logits = try head.run([step.output], training: false, record: CallRecord())[0]
    }
    for id in prompt { try advance(id) }
    let full = try model.predict(try Tensor(shape: [1, prompt.count], scalars: prompt))
    #expect(zip(logits.scalars, full.scalars).allSatisfy { abs($0 - $1) < 1e-4 })
    var written = ""
    for _ in 0..<(window - prompt.count) {
      let next = logits.argmaxPerSample()[0]
      guard next > 0 else { break }
      written.append(alphabet[next - 1])
      try advance(Float(next))
    }
    print("generated: \(written)")
    // What it writes is made of the text's words.
    let words = Set(text.split(separator: " ").map(String.init))
    let writtenWords = written.split(separator: " ").dropFirst().dropLast().map(String.init)
    #expect(!writtenWords.isEmpty)
    let known = writtenWords.filter { words.contains($0) }.count
    #expect(Double(known) >= 0.8 * Double(writtenWords.count), "\(written)")
  }
}
