import Foundation
import Plexus
import PlexusCommands
import Testing

/// The blobs spec with `extra` top-level members added (`"key": value, ...`).
private func blobsSpec(in folder: TemporaryFolder, epochs: Int, extra: String, name: String)
  throws -> URL
{
  let plain = try String(contentsOf: writeBlobsSpec(in: folder, epochs: epochs), encoding: .utf8)
  return try folder.write(
    plain.replacingOccurrences(
      of: #"{"name": "blobs", "#, with: "{\"name\": \"blobs\", \(extra), "),
    to: name)
}

private func decode(_ extra: String, validationSplit: Double = 0.2) throws -> TrainingSpec {
  try TrainingSpec.decode(
    Data(
      """
      {"layers": [{"type": "plexus.dense", "config": {"units": 2}}], "loss": "softmax_cross_entropy",
       "optimizer": "sgd", "validationSplit": \(validationSplit), "data": {"source": "digits"}, \(extra)}
      """.utf8), baseDirectory: URL(fileURLWithPath: "/"))
}

private func specError(_ extra: String, validationSplit: Double = 0.2) -> SpecError? {
  do {
    _ = try decode(extra, validationSplit: validationSplit)
    return nil
  } catch {
    return error as? SpecError
  }
}

@Suite struct TrainControlSpecTests {
  @Test func decodesMetricsWeightsEarlyStoppingAndSchedules() throws {
    let spec = try decode(
      """
      "metrics": ["accuracy", "f1", {"type": "top_k_accuracy", "k": 3}],
      "classWeights": {"1": 2.5, "3": 0},
      "earlyStopping": {"monitor": "val_loss", "patience": 3, "minDelta": 0.01, "restoreBestWeights": true},
      "learningRateSchedule": {"type": "step", "stepSize": 5, "gamma": 0.5}
      """)
    #expect(spec.metrics?.map(\.name) == ["accuracy", "f1", "top_k_accuracy"])
    #expect(spec.classWeights == [1, 2.5, 1, 0])
    #expect(
      spec.earlyStopping
        == EarlyStopping.Config(
          monitor: "val_loss", patience: 3, minDelta: 0.01, restoreBestWeights: true))
    #expect(spec.learningRateSchedule == .epochs(.step(StepDecay(stepSize: 5, gamma: 0.5))))
    let plateau = try decode(
      #""classWeights": [1, 3], "learningRateSchedule": {"type": "reduce_on_plateau", "factor": 0.5, "patience": 2}"#
    )
    #expect(plateau.classWeights == [1, 3])
    #expect(
      plateau.learningRateSchedule == .plateau(.init(factor: 0.5, patience: 2)))
    for schedule in [
      #"{"type": "exponential", "gamma": 0.9}"#, #"{"type": "cosine", "epochs": 10}"#,
      #"{"type": "constant"}"#,
    ] {
      #expect(throws: Never.self) { try decode("\"learningRateSchedule\": \(schedule)") }
    }
  }

  @Test(
    arguments: [
      (#""metrics": ["acuracy"]"#, "$.metrics[0]", "acuracy"),
      (#""metrics": "accuracy""#, "$.metrics", "expected an array"),
      (#""metrics": [{"type": "top_k_accuracy", "k": 0}]"#, "$.metrics[0]", "k must be in"),
      (#""classWeights": {"one": 2}"#, "$.classWeights.one", "class index"),
      (#""classWeights": {"1": -2}"#, "$.classWeights.1", "[0, 1e6]"),
      (#""classWeights": []"#, "$.classWeights", "1 to 65536"),
      (#""classWeights": 3"#, "$.classWeights", "expected an object"),
      (#""earlyStopping": {"patiense": 2}"#, "$.earlyStopping", "did you mean 'patience'"),
      (#""earlyStopping": {"patience": -1}"#, "$.earlyStopping", "patience must be in"),
      (#""earlyStopping": {"patience": 2.5}"#, "$.earlyStopping", "patience"),
      (#""earlyStopping": {"mode": "up"}"#, "$.earlyStopping", "mode"),
      (#""earlyStopping": true"#, "$.earlyStopping", "expected an object"),
      (
        #""learningRateSchedule": {"type": "linear"}"#, "$.learningRateSchedule.type",
        "reduce_on_plateau"
      ),
      (#""learningRateSchedule": {"gamma": 0.5}"#, "$.learningRateSchedule", "missing key 'type'"),
      (#""learningRateSchedule": {"type": "step"}"#, "$.learningRateSchedule", "stepSize"),
      (
        #""learningRateSchedule": {"type": "step", "stepSize": 0}"#, "$.learningRateSchedule",
        "step size must be positive"
      ),
      (
        #""learningRateSchedule": {"type": "reduce_on_plateau", "factor": 2}"#,
        "$.learningRateSchedule", "factor must be in (0, 1)"
      ),
      (
        #""learningRateSchedule": {"type": "reduce_on_plateau", "facter": 0.5}"#,
        "$.learningRateSchedule", "did you mean 'factor'"
      ),
      (
        #""learningRateSchedule": {"type": "exponential", "gamma": 0.5, "stepSize": 2}"#,
        "$.learningRateSchedule", "unknown key 'stepSize'"
      ),
    ] as [(String, String, String)])
  func badControlsNameTheirPath(extra: String, path: String, message: String) throws {
    let error = try #require(specError(extra), "accepted: \(extra)")
    #expect(error.path == path, "\(error)")
    #expect(error.message.contains(message), "\(error)")
  }

  @Test func validationMonitorsNeedAValidationSplit() throws {
    let error = try #require(
      specError(#""earlyStopping": {"monitor": "val_accuracy"}"#, validationSplit: 0))
    #expect(error.path == "$.earlyStopping.monitor")
    #expect(error.message.contains("or monitor 'accuracy'"))
    #expect(
      specError(
        #""learningRateSchedule": {"type": "reduce_on_plateau"}"#, validationSplit: 0)?.path
        == "$.learningRateSchedule.monitor")
    #expect(specError(#""earlyStopping": {"monitor": "loss"}"#, validationSplit: 0) == nil)
  }
}

@Suite struct TrainControlRunTests {
  @Test func earlyStoppingAndSchedulesTakeEffect() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    // No epoch after the first improves by 10: training stops after `patience` more.
    let stopping = try blobsSpec(
      in: folder, epochs: 20,
      extra: #""earlyStopping": {"monitor": "val_loss", "patience": 2, "minDelta": 10}"#,
      name: "stopping.json")
    let stopped = try Train.run(
      TrainSettings(specPath: stopping.path, outputPath: folder.file("a.plexus").path, quiet: true),
      console: CapturedOutput())
    #expect(stopped.history.epochsCompleted == 3 && stopped.history.stoppedEarly)

    let stepped = try blobsSpec(
      in: folder, epochs: 5,
      extra:
        #""learningRateSchedule": {"type": "step", "stepSize": 2, "gamma": 0.5}, "metrics": ["accuracy", "precision", "recall"], "classWeights": [1, 2]"#,
      name: "step.json")
    let report = try Train.run(
      TrainSettings(specPath: stepped.path, outputPath: folder.file("b.plexus").path, quiet: true),
      console: CapturedOutput())
    #expect(report.history["lr"] == [0.05, 0.05, 0.025, 0.025, 0.0125])
    #expect(report.history["val_precision"]?.count == 5)
    #expect(report.test["recall"] != nil)
  }

  /// A run resumed from a file keeps the plateau schedule's count and early stopping's, so it
  /// lowers the rate and stops where the uninterrupted run does.
  @Test func resumedRunsContinueTheCallbacks() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let spec = try blobsSpec(
      in: folder, epochs: 12,
      extra:
        #""learningRateSchedule": {"type": "reduce_on_plateau", "monitor": "val_loss", "factor": 0.5, "patience": 1, "minDelta": 0.05}, "earlyStopping": {"monitor": "loss", "patience": 3, "minDelta": 0.01}"#,
      name: "plateau.json")
    let whole = try Train.run(
      TrainSettings(specPath: spec.path, outputPath: folder.file("whole.plexus").path, quiet: true),
      console: CapturedOutput())
    let lr = try #require(whole.history["lr"])
    #expect(Set(lr).count > 1, "the rate never changed: \(lr)")
    let half = folder.file("half.plexus")
    try Train.run(
      TrainSettings(specPath: spec.path, outputPath: half.path, epochs: 4, quiet: true),
      console: CapturedOutput())
    let resumed = try Train.run(
      TrainSettings(
        specPath: spec.path, outputPath: folder.file("resumed.plexus").path, quiet: true,
        resumePath: half.path), console: CapturedOutput())
    #expect(resumed.history == whole.history)
    for (a, b) in zip(whole.model.parameters, resumed.model.parameters) {
      #expect(a.value == b.value)
    }
  }

  @Test func checkpointsAreResumableAndKeepTheBest() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let spec = try writeBlobsSpec(in: folder, epochs: 5)
    let output = folder.file("m.plexus")
    let console = CapturedOutput()
    try Train.run(
      TrainSettings(specPath: spec.path, outputPath: output.path, checkpointEvery: 2),
      console: console)
    #expect(console.text.contains("checkpoint: epoch 4 saved to"))
    let checkpoint = folder.file("m.checkpoint.plexus")
    let file = try PlexusFile(contentsOf: checkpoint)
    #expect(try file.trainingHistory()?.epochsCompleted == 4)
    #expect(file.hasOptimizerState)
    // Resumed from the checkpoint, the run ends as the uninterrupted one.
    let whole = try PlexusFile(contentsOf: output).loadModel(registry: .standard())
    let resumed = try Train.run(
      TrainSettings(
        specPath: spec.path, outputPath: folder.file("r.plexus").path, quiet: true,
        resumePath: checkpoint.path), console: CapturedOutput())
    for (a, b) in zip(whole.parameters, resumed.model.parameters) { #expect(a.value == b.value) }

    // Keeping the best: the file's last epoch is the one of the lowest val_loss among those
    // checked (every epoch here).
    let best = folder.file("best.plexus")
    let report = try Train.run(
      TrainSettings(
        specPath: spec.path, outputPath: folder.file("m2.plexus").path, quiet: true,
        checkpointEvery: 1, checkpointPath: best.path, checkpointBest: true),
      console: CapturedOutput())
    let losses = try #require(report.history["val_loss"])
    let bestEpoch = try #require(losses.indices.min { losses[$0] < losses[$1] }) + 1
    let kept = try #require(try PlexusFile(contentsOf: best).trainingHistory())
    #expect(kept.epochsCompleted == bestEpoch)
    #expect(kept["val_loss"]?.last == losses.min())

    // Mistakes are found before training.
    for settings in [
      TrainSettings(specPath: spec.path, outputPath: output.path, checkpointBest: true),
      TrainSettings(
        specPath: spec.path, outputPath: output.path, checkpointEvery: 1,
        checkpointPath: spec.path),
    ] {
      let console = CapturedOutput()
      #expect(throws: PlexusError.self) { try Train.run(settings, console: console) }
      #expect(!console.text.contains("epoch 1/"))
    }
    let noValidation = try folder.write(
      try String(contentsOf: spec, encoding: .utf8).replacingOccurrences(
        of: #""validationSplit": 0.25"#, with: #""validationSplit": 0"#), to: "plain.json")
    #expect {
      try Train.run(
        TrainSettings(
          specPath: noValidation.path, outputPath: output.path, checkpointEvery: 1,
          checkpointBest: true), console: CapturedOutput())
    } throws: { "\($0)".contains("validationSplit") }
  }

  /// An interruption stops after the batch, saves a resumable model, and the resumed run
  /// (within the epoch, dropout included) ends as an uninterrupted one. The interruption is
  /// asked after each of an epoch's 3 batches and at its end: the `calls`-th question says
  /// yes, and training stops in `epoch` after `batch` batches (after the last one, the epoch
  /// ends first).
  @Test(arguments: [(3, 1, 3), (5, 2, 1), (10, 3, 2)])
  func interruptedRunsResumeBitForBit(calls afterCalls: Int, epoch: Int, batch: Int) throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let plain = try writeBlobsSpec(in: folder, epochs: 4)
    let spec = try folder.write(
      try String(contentsOf: plain, encoding: .utf8).replacingOccurrences(
        of: #"{"type": "plexus.dense", "config": {"units": 2}}"#,
        with:
          #"{"type": "plexus.dropout", "config": {"rate": 0.3}}, {"type": "plexus.dense", "config": {"units": 2}}"#
      ), to: "dropout.json")
    let whole = try Train.run(
      TrainSettings(specPath: spec.path, outputPath: folder.file("whole.plexus").path, quiet: true),
      console: CapturedOutput())
    // 45 training samples in batches of 16: 3 batches per epoch.
    var calls = 0
    let output = folder.file("stopped.plexus")
    let console = CapturedOutput()
    let stopped = try Train.run(
      TrainSettings(specPath: spec.path, outputPath: output.path), console: console,
      interruption: {
        calls += 1
        return calls >= afterCalls
      })
    let stop = try #require(stopped.interruption)
    #expect(stop == TrainingStop(epoch: epoch, batch: batch, batches: 3))
    #expect(console.text.contains("saved a resumable model to \(output.path)"))
    #expect(!console.text.contains("test:"))
    let file = try PlexusFile(contentsOf: output)
    #expect(try file.trainingHistory()?.epochsCompleted == stop.epoch - (stop.batch < 3 ? 1 : 0))
    let resumed = try Train.run(
      TrainSettings(
        specPath: spec.path, outputPath: folder.file("resumed.plexus").path, quiet: true,
        resumePath: output.path), console: CapturedOutput())
    for (a, b) in zip(whole.model.parameters, resumed.model.parameters) {
      #expect(a.value == b.value)
    }
    #expect(resumed.history.epochsCompleted == 4)
  }
}
