import Foundation
import Plexus
import Testing

@Suite struct ResumeTrainingTests {
  @Test func trainingResumedFromAFileMatchesAnUninterruptedRun() throws {
    var generator = SeededGenerator(seed: 4)
    let x = Tensor.normal([32, 4], using: &generator)
    let y = Tensor(shape: [32, 1]) { target in
      x.withUnsafeBufferPointer { input in
        for row in 0..<32 { target[row] = input[row * 4] - 0.5 * input[row * 4 + 2] }
      }
    }
    func makeModel() throws -> Sequential {
      let model = Sequential([try Dense(units: 6, activation: .tanh), try Dense(units: 1)])
      try model.build(inputShape: [4], seed: 9)
      return model
    }
    func options(epochs: Int, initialEpoch: Int = 0) -> TrainingOptions {
      var options = TrainingOptions(epochs: epochs, batchSize: 8, seed: 3)
      options.initialEpoch = initialEpoch
      return options
    }

    let uninterrupted = try makeModel()
    try uninterrupted.fit(
      x, y, loss: MeanSquaredError(), optimizer: Adam(learningRate: 0.01),
      options: options(epochs: 4))

    let first = try makeModel()
    let adam = Adam(learningRate: 0.01)
    let history = try first.fit(
      x, y, loss: MeanSquaredError(), optimizer: adam, options: options(epochs: 2))
    let folder = try TemporaryFolder()
    let url = folder.file("checkpoint.plexus")
    try first.save(to: url, history: history, optimizer: adam)

    let file = try PlexusFile(contentsOf: url)
    #expect(try file.trainingHistory() == history)
    let resumed = try Sequential.load(from: file, registry: LayerRegistry.standard())
    let optimizer = try #require(try file.restoreOptimizer(for: resumed))
    try resumed.fit(
      x, y, loss: MeanSquaredError(), optimizer: optimizer,
      options: options(epochs: 4, initialEpoch: 2))
    for (a, b) in zip(uninterrupted.parameters, resumed.parameters) {
      #expect(bitwiseEqual(a.value, b.value))
    }
  }

  /// Dropout draws from its layer's random stream; the file keeps the stream, so a resumed
  /// run masks the same units as an uninterrupted one.
  @Test func resumingContinuesDropoutsRandomStream() throws {
    var generator = SeededGenerator(seed: 8)
    let x = Tensor.normal([24, 5], using: &generator)
    let y = Tensor.normal([24, 2], using: &generator)
    func makeModel() throws -> Sequential {
      let model = Sequential(
        name: "net",
        [
          try Dense(units: 7, activation: .relu), try Dropout(rate: 0.4),
          Sequential(
            name: "block", [try Dense(units: 6, activation: .tanh), try Dropout(rate: 0.3)]),
          try Dense(units: 2),
        ])
      try model.build(inputShape: [5], seed: 11)
      return model
    }
    func options(epochs: Int, initialEpoch: Int = 0) -> TrainingOptions {
      var options = TrainingOptions(epochs: epochs, batchSize: 6, seed: 2)
      options.initialEpoch = initialEpoch
      return options
    }
    let uninterrupted = try makeModel()
    try uninterrupted.fit(
      x, y, loss: MeanSquaredError(), optimizer: Adam(learningRate: 0.01),
      options: options(epochs: 4))

    let first = try makeModel()
    let adam = Adam(learningRate: 0.01)
    let history = try first.fit(
      x, y, loss: MeanSquaredError(), optimizer: adam, options: options(epochs: 2))
    #expect(Set(first.randomStreams.keys) == ["dropout_1", "block.dropout_1"])
    let folder = try TemporaryFolder()
    let url = folder.file("checkpoint.plexus")
    try first.save(to: url, history: history, optimizer: adam)

    func resume(from file: PlexusFile) throws -> Sequential {
      let resumed = try Sequential.load(from: file, registry: LayerRegistry.standard())
      let optimizer = try #require(try file.restoreOptimizer(for: resumed))
      try resumed.fit(
        x, y, loss: MeanSquaredError(), optimizer: optimizer,
        options: options(epochs: 4, initialEpoch: 2))
      return resumed
    }
    let file = try PlexusFile(contentsOf: url)
    #expect(try file.randomStreams() == first.randomStreams)
    let resumed = try resume(from: file)
    for (a, b) in zip(uninterrupted.parameters, resumed.parameters) {
      #expect(bitwiseEqual(a.value, b.value))
    }

    // The same file without the streams (as files written before they were saved) still
    // loads, and resumes with other masks: the streams are what makes the run identical.
    var metadata = try #require(file.metadata)
    metadata.values[RandomStreamsMetadata.key] = nil
    let old = folder.file("old.plexus")
    try first.save(
      to: old,
      options: SaveOptions(
        metadata: metadata, optimizerState: try adam.exportState(for: first.trainableParameters)))
    let withoutStreams = try resume(from: try PlexusFile(contentsOf: old))
    #expect(
      zip(uninterrupted.parameters, withoutStreams.parameters).contains {
        !bitwiseEqual($0.value, $1.value)
      })
  }

  @Test func malformedRandomStreamsAreNamed() throws {
    let model = try SampleModels.dense.built(seed: 1)
    let folder = try TemporaryFolder()
    for (value, message) in [
      ("[1, 2]", "expected an object"),
      (#"{"dense_1": ["00", "01", "02", "03"]}"#, "four state words of 16"),
      (
        #"{"dense_1": ["0000000000000000", "0000000000000000", "0000000000000000", "0000000000000000"]}"#,
        "all zero"
      ),
      (
        #"{"nowhere": ["0000000000000001", "0000000000000000", "0000000000000000", "0000000000000000"]}"#,
        "which the model does not have"
      ),
    ] {
      let url = folder.file("m.plexus")
      try model.save(
        to: url,
        options: SaveOptions(metadata: ModelMetadata(values: [RandomStreamsMetadata.key: value])))
      #expect("\(value)") {
        _ = try PlexusFile(contentsOf: url).loadModel(registry: .standard())
      } throws: { error in
        error is PlexusFormatError && "\(error)".contains(message)
      }
    }
  }
}
