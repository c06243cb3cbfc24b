import Foundation
import Plexus
import PlexusCommands
import Testing

/// Writes 60 binary-ish samples of six values (two patterns with a few flipped pixels) and a
/// spec training `layer` on them with `keys` added.
private func writePatternSpec(
  in folder: TemporaryFolder, layer: String, epochs: Int, keys: String = ""
) throws -> URL {
  var generator = SeededGenerator(seed: 21)
  var scalars: [Float] = []
  for sample in 0..<60 {
    let pattern: [Float] = sample % 2 == 0 ? [1, 1, 1, 0, 0, 0] : [0, 0, 0, 1, 1, 1]
    scalars += pattern.map { generator.nextUnitFloat() < 0.1 ? 1 - $0 : $0 }
  }
  try NumPy.write(try Tensor(shape: [60, 6], scalars: scalars), to: folder.file("x.npy"))
  try NumPy.write(Tensor((0..<60).map { Float($0 % 2) }), to: folder.file("y.npy"))
  return try folder.write(
    """
    {"name": "patterns", "inputShape": [6], "layers": [\(layer)], \(keys)
     "optimizer": {"type": "sgd", "learningRate": 0.1, "momentum": 0.5},
     "epochs": \(epochs), "batchSize": 5, "seed": 2,
     "data": {"source": "npy", "features": "x.npy", "labels": "y.npy", "testFraction": 0.25}}
    """, to: "patterns.json")
}

/// An RBM trained by CD-2 or PCD-2.
private func writeRBMSpec(in folder: TemporaryFolder, persistent: Bool, epochs: Int) throws
  -> URL
{
  try writePatternSpec(
    in: folder,
    layer: """
      {"type": "plexus.rbm_model", "name": "rbm",
       "config": {"visible": 6, "hidden": 4, "seed": 3, "gibbsSteps": 2, "persistent": \(persistent)}}
      """, epochs: epochs)
}

/// The blobs spec with `keys` added at the top level.
private func writeBlobsSpec(in folder: TemporaryFolder, epochs: Int, adding keys: String) throws
  -> URL
{
  let plain = try writeBlobsSpec(in: folder, epochs: epochs)
  let text = try String(contentsOf: plain, encoding: .utf8)
  return try folder.write(
    text.replacingOccurrences(of: #""name": "blobs","#, with: #""name": "blobs", \#(keys),"#),
    to: "control.json")
}

/// Trains `spec` for all its epochs, then for `first` epochs and resumes to the end; returns
/// both reports.
private func wholeAndResumed(
  _ spec: URL, in folder: TemporaryFolder, first: Int
) throws -> (whole: TrainReport, resumed: TrainReport) {
  let whole = try Train.run(
    TrainSettings(specPath: spec.path, outputPath: folder.file("whole.plexus").path, quiet: true),
    console: CapturedOutput())
  let half = folder.file("half.plexus")
  try Train.run(
    TrainSettings(specPath: spec.path, outputPath: half.path, epochs: first, quiet: true),
    console: CapturedOutput())
  let resumed = try Train.run(
    TrainSettings(
      specPath: spec.path, outputPath: folder.file("resumed.plexus").path, quiet: true,
      resumePath: half.path),
    console: CapturedOutput())
  return (whole, resumed)
}

private func expectSameParameters(
  _ a: any ModelProtocol, _ b: any ModelProtocol, sourceLocation: SourceLocation = #_sourceLocation
) {
  #expect(a.parameters.count == b.parameters.count, sourceLocation: sourceLocation)
  for (x, y) in zip(a.parameters, b.parameters) {
    #expect(x.value == y.value, sourceLocation: sourceLocation)
  }
}

@Suite struct ResumeStateTests {
  /// CD-k and PCD draw from the RBM's sampler; its generators and persistent chains are saved,
  /// so a resumed run continues them bit for bit.
  @Test(arguments: [false, true])
  func resumedRBMTrainingMatchesAnUninterruptedRun(persistent: Bool) throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let spec = try writeRBMSpec(in: folder, persistent: persistent, epochs: 6)
    let (whole, resumed) = try wholeAndResumed(spec, in: folder, first: 3)
    #expect(resumed.history.epochsCompleted == 6)
    #expect(resumed.history["loss"] == whole.history["loss"])
    #expect(resumed.history["pseudo_likelihood"] == whole.history["pseudo_likelihood"])
    expectSameParameters(whole.model, resumed.model)
    #expect(resumed.test == whole.test)

    let half = try PlexusFile(contentsOf: folder.file("half.plexus"))
    let states = try #require(try half.trainingStates())
    let state = try #require(states[""])
    #expect(Set(state.streams.keys) == ["gibbs", "monitor"])
    #expect(state.tensors.keys.sorted() == (persistent ? ["chains"] : []))
    if persistent { #expect(state.tensors["chains"]?.shape == [5, 6]) }
    // The chains and generators survive a codec conversion too.
    let converted = folder.file("converted.plexus")
    try PlexusConverter.convert(
      from: folder.file("half.plexus"), to: converted, codec: .raw)
    let reloaded = try #require(
      try PlexusFile(contentsOf: converted).loadModel(registry: .standard()) as? RBM)
    #expect(reloaded.trainingState.tensors["chains"] == state.tensors["chains"])
    #expect(
      reloaded.trainingState.streams["gibbs"]?.stateWords == state.streams["gibbs"]?.stateWords)
  }

  /// A DBN fine-tuned after pretraining keeps each RBM's sampler in the file; resuming the
  /// fine-tuning matches an uninterrupted run.
  @Test func resumedDBNFineTuningMatchesAnUninterruptedRun() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let spec = try writePatternSpec(
      in: folder,
      layer: """
        {"type": "plexus.dbn", "name": "dbn",
         "config": {"sizes": [6, 5, 4], "classes": 2, "seed": 3, "persistent": true}}
        """, epochs: 6,
      keys:
        #""loss": "softmax_cross_entropy", "pretraining": {"epochs": 3, "batchSize": 5, "optimizer": {"type": "sgd", "learningRate": 0.1}},"#
    )
    let (whole, resumed) = try wholeAndResumed(spec, in: folder, first: 2)
    #expect(resumed.history["loss"] == whole.history["loss"])
    expectSameParameters(whole.model, resumed.model)
    let states = try #require(
      try PlexusFile(contentsOf: folder.file("half.plexus")).trainingStates())
    #expect(states.keys.sorted() == ["rbm_1", "rbm_2"])
    #expect(states["rbm_1"]?.tensors["chains"]?.shape == [5, 6])
  }

  /// Early stopping with `restoreBestWeights` whose best epoch lies before the interruption:
  /// the best weights are saved, both in a checkpoint and in a run that ended by restoring them
  /// (which also saves the last epoch's weights to continue from).
  @Test func earlyStoppingRestoresTheSameBestWeightsAfterAResume() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    // With mode max on the falling loss, epoch 1 stays the best: its weights are restored.
    let spec = try writeBlobsSpec(
      in: folder, epochs: 6,
      adding:
        #""earlyStopping": {"monitor": "loss", "mode": "max", "patience": 100, "restoreBestWeights": true}"#
    )
    let (whole, resumed) = try wholeAndResumed(spec, in: folder, first: 3)
    #expect(resumed.history["loss"] == whole.history["loss"])
    expectSameParameters(whole.model, resumed.model)
    #expect(resumed.test == whole.test)

    // The 3-epoch run restored epoch 1's weights and kept epoch 3's for resuming.
    let half = try PlexusFile(contentsOf: folder.file("half.plexus"))
    let halfModel = try half.loadModel(registry: .standard())
    let saved = try #require(try half.earlyStoppingWeights(for: halfModel))
    #expect(saved.bestEpoch == 1)
    #expect(saved.best == halfModel.parameters.map(\.value))
    let resume = try #require(saved.resume)
    #expect(resume != saved.best)

    // From a checkpoint written mid-run (epoch 3 of 6, before any restore).
    let checkpoint = folder.file("every3.checkpoint.plexus")
    try Train.run(
      TrainSettings(
        specPath: spec.path, outputPath: folder.file("every3.plexus").path, epochs: 4,
        quiet: true, checkpointEvery: 3, checkpointPath: checkpoint.path),
      console: CapturedOutput())
    let checkpointFile = try PlexusFile(contentsOf: checkpoint)
    #expect(try checkpointFile.trainingHistory()?.epochsCompleted == 3)
    let fromCheckpoint = try Train.run(
      TrainSettings(
        specPath: spec.path, outputPath: folder.file("continued.plexus").path, quiet: true,
        resumePath: checkpoint.path),
      console: CapturedOutput())
    #expect(fromCheckpoint.history["loss"] == whole.history["loss"])
    expectSameParameters(whole.model, fromCheckpoint.model)
    // The weights restored are epoch 1's, not the checkpoint's.
    #expect(whole.model.parameters.map(\.value) == saved.best)
  }

  /// Reduce-on-plateau's counters and cooldown continue from the saved history: the rates and
  /// weights of a resumed run are those of an uninterrupted one.
  @Test func reduceOnPlateauContinuesAfterAResume() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    // Mode max on the falling loss never improves after epoch 1: a reduction every other epoch
    // (patience 1, cooldown 1).
    let spec = try writeBlobsSpec(
      in: folder, epochs: 7,
      adding:
        #""learningRateSchedule": {"type": "reduce_on_plateau", "monitor": "loss", "mode": "max", "factor": 0.5, "patience": 1, "cooldown": 1}"#
    )
    let (whole, resumed) = try wholeAndResumed(spec, in: folder, first: 4)
    let rates = try #require(whole.history["lr"])
    #expect(Set(rates).count >= 3, "rates \(rates)")
    #expect(resumed.history["lr"] == rates)
    #expect(resumed.history["loss"] == whole.history["loss"])
    expectSameParameters(whole.model, resumed.model)
  }

  /// `--checkpoint-best` with `--checkpoint-every 2` compares with the best checkpointed epoch
  /// (every second one), also after a resume, so the same epochs are written.
  @Test func checkpointBestContinuesAfterAResume() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let spec = try writeBlobsSpec(in: folder, epochs: 8)
    func checkpoints(_ console: CapturedOutput) -> [String] {
      console.text.split(separator: "\n").filter { $0.hasPrefix("checkpoint: epoch ") }
        .map { String($0.split(separator: " ")[2]) }
    }
    let wholeConsole = CapturedOutput()
    let whole = try Train.run(
      TrainSettings(
        specPath: spec.path, outputPath: folder.file("whole.plexus").path, checkpointEvery: 2,
        checkpointPath: folder.file("whole.best.plexus").path, checkpointBest: true),
      console: wholeConsole)
    let halfConsole = CapturedOutput()
    try Train.run(
      TrainSettings(
        specPath: spec.path, outputPath: folder.file("half.plexus").path, epochs: 5,
        checkpointEvery: 2, checkpointPath: folder.file("resumed.best.plexus").path,
        checkpointBest: true),
      console: halfConsole)
    let resumedConsole = CapturedOutput()
    try Train.run(
      TrainSettings(
        specPath: spec.path, outputPath: folder.file("resumed.plexus").path,
        resumePath: folder.file("half.plexus").path, checkpointEvery: 2,
        checkpointPath: folder.file("resumed.best.plexus").path, checkpointBest: true),
      console: resumedConsole)
    // The epochs the whole run checkpoints follow from its val_loss at epochs 2, 4, 6, 8.
    let losses = try #require(whole.history["val_loss"])
    var best = Float.infinity
    var expected: [String] = []
    for epoch in stride(from: 2, through: 8, by: 2) where losses[epoch - 1] < best {
      best = losses[epoch - 1]
      expected.append(String(epoch))
    }
    #expect(checkpoints(wholeConsole) == expected)
    #expect(checkpoints(halfConsole) + checkpoints(resumedConsole) == expected)
    let a = try PlexusFile(contentsOf: folder.file("whole.best.plexus")).loadModel(
      registry: .standard())
    let b = try PlexusFile(contentsOf: folder.file("resumed.best.plexus")).loadModel(
      registry: .standard())
    expectSameParameters(a, b)
  }

  /// Malformed training state in a file: clear errors naming the value.
  @Test func malformedTrainingStateIsNamed() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let rbm = try RBM(visible: 3, hidden: 2, persistent: true, seed: 1)
    let url = folder.file("rbm.plexus")
    var metadata = ModelMetadata()
    let cases: [(String, String)] = [
      ("not json", "expected an object"),
      (#"{"": {"streams": {"gibbs": ["1"]}, "tensors": {}}}"#, "four nonzero state words"),
      (
        #"{"": {"streams": {}, "tensors": {"chains": "training/model/chains"}}}"#,
        "no tensor of the 'training' group"
      ),
      (#"{"rbm": {"streams": {}, "tensors": {}}}"#, "which keeps none"),
      (
        #"{"": {"streams": {"other": ["0000000000000001","0000000000000001","0000000000000001","0000000000000001"]}, "tensors": {}}}"#,
        "keeps no training state 'other'"
      ),
    ]
    for (value, message) in cases {
      metadata.values[TrainingStateMetadata.key] = value
      try rbm.save(to: url, options: SaveOptions(metadata: metadata))
      #expect("\(value)") {
        try loadModel(from: url, registry: .standard())
      } throws: {
        "\($0)".contains(message)
      }
    }
    // Chains of the wrong width.
    metadata.values[TrainingStateMetadata.key] =
      #"{"": {"streams": {"gibbs": ["0000000000000001","0000000000000001","0000000000000001","0000000000000001"], "monitor": ["0000000000000001","0000000000000001","0000000000000001","0000000000000001"]}, "tensors": {"chains": "training/model/chains"}}}"#
    var options = SaveOptions(metadata: metadata)
    options.trainingTensors = [("training/model/chains", Tensor.zeros([2, 4]))]
    try rbm.save(to: url, options: options)
    #expect {
      try loadModel(from: url, registry: .standard())
    } throws: {
      "\($0)".contains("expected [n, 3]")
    }
    // Early stopping's weights that do not fit the model.
    metadata.values[TrainingStateMetadata.key] = nil
    metadata.values[EarlyStoppingMetadata.key] = #"{"bestEpoch": 0, "best": {}}"#
    try rbm.save(to: url, options: SaveOptions(metadata: metadata))
    let file = try PlexusFile(contentsOf: url)
    let model = try file.loadModel(registry: .standard())
    #expect {
      try file.earlyStoppingWeights(for: model)
    } throws: {
      "\($0)".contains("bestEpoch 0 is below 1")
    }
    metadata.values[EarlyStoppingMetadata.key] = #"{"bestEpoch": 2, "best": {"x": "y"}}"#
    try rbm.save(to: url, options: SaveOptions(metadata: metadata))
    let other = try PlexusFile(contentsOf: url)
    #expect {
      try other.earlyStoppingWeights(for: model)
    } throws: {
      "\($0)".contains("the best weights name parameters x")
    }
  }
}
