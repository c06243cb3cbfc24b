import Foundation
import Plexus

/// The settings of a `plexus train` run.
public struct TrainSettings: Sendable, Equatable {
  /// The spec file.
  public var specPath: String
  /// Where to save the model; `nil` saves `<spec file name>.plexus` in the current folder.
  public var outputPath: String?
  /// Overrides the spec's epoch count.
  public var epochs: Int?
  /// Overrides the spec's seed.
  public var seed: UInt64?
  /// Prints only the final figures.
  public var quiet: Bool
  /// A model file saved by `plexus train` to continue training from (its weights, optimizer
  /// state and history), up to the spec's (or `epochs`) total epoch count.
  public var resumePath: String?
  /// Data files that replace the spec's data: two `.npy` files (features, labels) or one CSV
  /// file whose last column is the label; paths relative to the current folder.
  public var dataPaths: [String]?
  /// Saves a resumable checkpoint every this many epochs.
  public var checkpointEvery: Int?
  /// Where checkpoints go; `nil` puts them beside the output as `<output>.checkpoint.plexus`.
  public var checkpointPath: String?
  /// Whether a checkpoint is written only when the validation loss improved, so the file
  /// holds the best epoch seen.
  public var checkpointBest: Bool
  /// An SVG file redrawn after every epoch with the loss and metrics so far.
  public var plotPath: String?

  /// Creates settings.
  public init(
    specPath: String, outputPath: String? = nil, epochs: Int? = nil, seed: UInt64? = nil,
    quiet: Bool = false, resumePath: String? = nil, dataPaths: [String]? = nil,
    checkpointEvery: Int? = nil, checkpointPath: String? = nil, checkpointBest: Bool = false,
    plotPath: String? = nil
  ) {
    self.specPath = specPath
    self.outputPath = outputPath
    self.epochs = epochs
    self.seed = seed
    self.quiet = quiet
    self.resumePath = resumePath
    self.dataPaths = dataPaths
    self.checkpointEvery = checkpointEvery
    self.checkpointPath = checkpointPath
    self.checkpointBest = checkpointBest
    self.plotPath = plotPath
  }
}

/// Where an interrupted run stopped.
public struct TrainingStop: Sendable, Equatable {
  /// The epoch that was running (from 1).
  public var epoch: Int
  /// The batches of that epoch that were trained.
  public var batch: Int
  /// The batches of an epoch.
  public var batches: Int

  /// Creates a stop.
  public init(epoch: Int, batch: Int, batches: Int) {
    self.epoch = epoch
    self.batch = batch
    self.batches = batches
  }
}

/// An interruption (Ctrl-C) that stopped a run before anything resumable was trained (during
/// a DBN's pretraining); nothing was saved.
public struct TrainingInterrupted: Error, CustomStringConvertible {
  /// What was running.
  public var description: String
}

/// What a `plexus train` run produced.
public struct TrainReport {
  /// The trained model.
  public var model: any ModelProtocol
  /// The per-epoch logs.
  public var history: History
  /// The loss and metrics on the held-out test split (`loss`, `accuracy`); empty when the run
  /// was interrupted.
  public var test: [String: Float]
  /// Where the model was saved.
  public var output: URL
  /// Where training stopped when it was interrupted; the model saved at `output` then resumes
  /// from there.
  public var interruption: TrainingStop?
}

/// The work of `plexus train`.
public enum Train {
  /// Trains the model a spec describes, reports progress on `console`, evaluates it on the
  /// held-out test split and saves it as a `.plexus` file (with the loss, the optimizer and
  /// the training history in its metadata, and the optimizer state and the layers' random
  /// streams so training can resume).
  ///
  /// - Parameters:
  ///   - settings: the spec, the output and the options of the run.
  ///   - console: where progress and results are written.
  ///   - registry: the layer types the spec may name.
  ///   - clock: seconds from any fixed origin, for the progress display (tests inject one).
  ///   - interruption: asked after every batch; when it returns `true` (the tool's Ctrl-C
  ///     handler), training stops there, the model is saved resumably at the output and the
  ///     report says where it stopped.
  /// - Throws: `SpecError` for a malformed spec (naming the file and JSON path), `PlexusError`
  ///   for data or training problems, ``TrainingInterrupted`` for an interruption during
  ///   pretraining.
  @discardableResult
  public static func run(
    _ settings: TrainSettings, console: any Console, registry: LayerRegistry = .standard(),
    clock: (() -> Double)? = nil, interruption: (() -> Bool)? = nil
  ) throws -> TrainReport {
    let specURL = URL(fileURLWithPath: settings.specPath)
    var spec = try TrainingSpec.load(contentsOf: specURL)
    if let epochs = settings.epochs { spec.epochs = epochs }
    if let seed = settings.seed { spec.seed = seed }
    if let dataPaths = settings.dataPaths {
      spec.data = try DataSpec(commandLine: dataPaths, replacing: spec.data)
    }
    let output = URL(
      fileURLWithPath: settings.outputPath ?? specURL.deletingPathExtension().lastPathComponent
        + ".plexus")
    let checkpoint = try checkpointURL(settings, output: output)
    let inputs =
      [specURL.path] + (settings.dataPaths ?? []) + [settings.resumePath].compactMap { $0 }

    // Checked before training, so a bad output path loses no run.
    for (url, flag) in [(output, "--output"), (checkpoint, "--checkpoint")] {
      guard let url else { continue }
      try OutputPath.check(url.path, against: inputs, flag: flag)
    }
    if let plotPath = settings.plotPath {
      try OutputPath.check(
        plotPath, against: inputs + [output.path, checkpoint?.path].compactMap { $0 },
        flag: "--plot")
    }
    // A resumed run continues with the seed that split and shuffled its data.
    var resumeFile: PlexusFile?
    if let resumePath = settings.resumePath {
      let file = try PlexusFile(contentsOf: URL(fileURLWithPath: resumePath))
      if let recorded = file.metadata?.values[TrainingMetadata.dataSeedKey].flatMap(UInt64.init) {
        if let seed = settings.seed, seed != recorded {
          throw PlexusError.invalidArgument(
            "\(resumePath) was trained with seed \(recorded); resuming with --seed \(seed) would "
              + "split and shuffle the data otherwise (leave --seed out)")
        }
        spec.seed = recorded
      }
      resumeFile = file
    }
    if settings.checkpointBest, spec.validationSplit == 0 {
      throw PlexusError.invalidArgument(
        "--checkpoint-best keeps the epoch of the lowest val_loss; the spec needs a "
          + "\"validationSplit\" such as 0.1")
    }

    let prepared: PreparedTraining
    do {
      prepared = try PreparedTraining(spec: spec, registry: registry)
    } catch var error as SpecError {
      error.file = specURL.path
      throw error
    }
    var model = prepared.model
    let data = prepared.data
    // Resuming: the saved weights, optimizer state, random streams and history replace the
    // fresh ones.
    var previousHistory = History()
    var restoredOptimizer: (any Optimizer)?
    var initialBatch = 0
    var savedStoppingWeights: EarlyStoppingMetadata.SavedWeights?
    if let file = resumeFile, let resumePath = settings.resumePath {
      let saved = try file.loadModel(registry: registry)
      guard try LayerDescription(saved) == LayerDescription(model) else {
        throw PlexusError.invalidArgument(
          "\(resumePath) holds a different architecture than \(settings.specPath) describes")
      }
      guard let optimizer = try file.restoreOptimizer(for: saved) else {
        throw PlexusError.invalidArgument(
          "\(resumePath) holds no optimizer state to resume from (save it with plexus train)")
      }
      previousHistory = try file.trainingHistory() ?? History()
      initialBatch = try TrainingMetadata.resumeBatch(in: file)
      guard previousHistory.epochsCompleted < spec.epochs else {
        throw PlexusError.invalidArgument(
          "\(resumePath) has trained \(previousHistory.epochsCompleted) epochs already; give "
            + "--epochs with a larger total to train on")
      }
      // A run that ended by restoring early stopping's best weights saved the last epoch's
      // beside them: training continues from those.
      savedStoppingWeights = try file.earlyStoppingWeights(for: saved)
      if let resume = savedStoppingWeights?.resume {
        for (parameter, value) in zip(saved.parameters, resume) { try parameter.assign(value) }
      }
      model = saved
      restoredOptimizer = optimizer
    }
    if !settings.quiet {
      console.line("Training \(spec.name ?? specURL.lastPathComponent) from \(settings.specPath)")
      console.line(
        "data: \(data.description): \(data.train.count) training / \(data.test.count) test samples, "
          + "features \(data.train.featureShape)"
          + (data.train.classCount.map { ", \($0) classes" } ?? ""))
      console.write(model.summary())
    }

    if settings.resumePath == nil, let dbn = model as? DBN, let pretraining = spec.pretraining,
      let optimizerConfig = prepared.pretrainingOptimizer
    {
      try pretrain(
        dbn, on: data.train.features, spec: spec, pretraining: pretraining,
        optimizer: optimizerConfig, settings: settings, console: console, clock: clock,
        interruption: interruption)
    }

    if !settings.quiet {
      console.line(
        (spec.pretraining == nil ? "" : "fine-tuning: ")
          + (prepared.lossFunction.map { "loss \($0.name), " } ?? "")
          + "optimizer \(prepared.optimizerConfig.typeName) "
          + "(learning rate \(prepared.optimizerConfig.learningRate)), \(spec.epochs) epochs, "
          + "batch \(spec.batchSize), seed \(spec.seed)"
          + (spec.validationSplit > 0 ? ", validation split \(spec.validationSplit)" : ""))
    }
    let display = ProgressDisplay(console: console, quiet: settings.quiet, clock: clock)
    let optimizer = try restoredOptimizer ?? prepared.optimizerConfig.makeOptimizer()
    var options = TrainingOptions(
      epochs: spec.epochs, batchSize: spec.batchSize, shuffle: spec.shuffle, seed: spec.seed,
      validationSplit: Float(spec.validationSplit), metrics: prepared.metrics)
    options.initialEpoch = previousHistory.epochsCompleted
    options.initialBatch = initialBatch
    options.classWeights = spec.classWeights
    // Schedules are relative to the spec's rate, also when the restored optimizer's rate has
    // moved.
    options.baseLearningRate = prepared.optimizerConfig.learningRate
    var callbacks: [any TrainingCallback] = [
      ProgressCallback(
        FitProgress(display: display, batchSize: min(spec.batchSize, data.train.count)))
    ]
    let control = try controlCallbacks(
      spec, options: &options, resumingAfter: previousHistory,
      savedStoppingWeights: savedStoppingWeights)
    callbacks += control.callbacks
    let writer = RunWriter(
      model: model, optimizer: optimizer, prepared: prepared, spec: spec,
      previousHistory: previousHistory)
    writer.earlyStopping = control.earlyStopping
    if let checkpoint, let every = settings.checkpointEvery {
      callbacks.append(
        CheckpointCallback(
          writer: writer, url: checkpoint, every: every, keepBest: settings.checkpointBest,
          console: console, quiet: settings.quiet))
    }
    if let plotPath = settings.plotPath {
      callbacks.append(PlotCallback(writer: writer, url: URL(fileURLWithPath: plotPath)))
    }
    let stopper = interruption.map { InterruptionCallback(isInterrupted: $0) }
    if let stopper { callbacks.append(stopper) }
    if let resumePath = settings.resumePath, !settings.quiet {
      console.line(
        "resuming from \(resumePath) after "
          + (initialBatch > 0
            ? "batch \(initialBatch) of epoch \(options.initialEpoch + 1) of \(spec.epochs)"
            : "epoch \(options.initialEpoch) of \(spec.epochs)"))
    }

    var history: History
    do {
      if let loss = prepared.loss, !model.learnsWithoutTargets {
        history = try model.fit(
          data.train.features, prepared.targets(of: data.train), loss: loss, optimizer: optimizer,
          options: options, callbacks: callbacks)
      } else {
        history = try model.fit(
          data.train.features, optimizer: optimizer, options: options, callbacks: callbacks)
      }
    } catch let stop as InterruptionCallback.Stopped {
      display.interrupted()
      let whole = previousHistory.continued(with: stop.history)
      try writer.save(to: output, history: whole, resumeBatch: stop.resumeBatch)
      console.line(
        "interrupted "
          + (stop.resumeBatch > 0
            ? "after batch \(stop.batch) of \(stop.batches) in epoch \(stop.epoch)"
            : "after epoch \(stop.epoch)")
          + ": saved a resumable model to \(output.path) (continue with: plexus train "
          + "\(settings.specPath) --resume \(output.path))")
      return TrainReport(
        model: model, history: whole, test: [:], output: output,
        interruption: TrainingStop(epoch: stop.epoch, batch: stop.batch, batches: stop.batches))
    }
    let test: [String: Float]
    if let loss = prepared.loss, !model.learnsWithoutTargets {
      test = try model.evaluate(
        data.test.features, prepared.targets(of: data.test), loss: loss,
        metrics: prepared.metrics)
    } else {
      test = try model.evaluate(inputs: [data.test.features], targets: [], losses: [])
    }
    console.line("test: \(ProgressFormat.figures(test)) (\(data.test.count) samples)")
    history = previousHistory.continued(with: history)
    try writer.save(to: output, history: history, resumeBatch: 0)
    if let plotPath = settings.plotPath {
      try HistoryPlot.write(
        history, title: spec.name ?? specURL.lastPathComponent, to: URL(fileURLWithPath: plotPath))
    }
    console.line("saved model to \(output.path)")
    return TrainReport(model: model, history: history, test: test, output: output)
  }

  /// Where checkpoints go: `--checkpoint`, else `<output without .plexus>.checkpoint.plexus`.
  private static func checkpointURL(_ settings: TrainSettings, output: URL) throws -> URL? {
    guard let every = settings.checkpointEvery else {
      if settings.checkpointPath != nil || settings.checkpointBest {
        throw PlexusError.invalidArgument(
          "--checkpoint and --checkpoint-best need --checkpoint-every N")
      }
      return nil
    }
    guard every > 0 else {
      throw PlexusError.invalidArgument("--checkpoint-every must be positive, got \(every)")
    }
    if let path = settings.checkpointPath { return URL(fileURLWithPath: path) }
    let base =
      output.pathExtension.lowercased() == "plexus" ? output.deletingPathExtension() : output
    return base.appendingPathExtension("checkpoint.plexus")
  }

  /// The spec's early stopping and learning-rate schedule: callbacks, or an epoch schedule in
  /// the options; on a resumed run, continued from the saved history (and early stopping's
  /// saved best weights).
  private static func controlCallbacks(
    _ spec: TrainingSpec, options: inout TrainingOptions, resumingAfter history: History,
    savedStoppingWeights: EarlyStoppingMetadata.SavedWeights?
  ) throws -> (callbacks: [any TrainingCallback], earlyStopping: EarlyStopping?) {
    var callbacks: [any TrainingCallback] = []
    var earlyStopping: EarlyStopping?
    if let config = spec.earlyStopping {
      let stopping = try EarlyStopping(config: config)
      try stopping.resume(
        after: history,
        bestWeights: config.restoreBestWeights ? savedStoppingWeights?.best : nil,
        ofEpoch: savedStoppingWeights?.bestEpoch)
      callbacks.append(stopping)
      earlyStopping = stopping
    }
    switch spec.learningRateSchedule {
    case .epochs(let schedule)?:
      options.schedule = try schedule.makeSchedule()
    case .plateau(let config)?:
      let plateau = try ReduceLearningRateOnPlateau(config: config)
      try plateau.resume(after: history)
      callbacks.append(plateau)
    case nil:
      break
    }
    return (callbacks, earlyStopping)
  }

  /// Pretrains a DBN's RBMs one after the other, with a header and progress for each.
  private static func pretrain(
    _ dbn: DBN, on features: Tensor, spec: TrainingSpec, pretraining: PretrainingSpec,
    optimizer: OptimizerConfig, settings: TrainSettings, console: any Console,
    clock: (() -> Double)?, interruption: (() -> Bool)?
  ) throws {
    let options = TrainingOptions(
      epochs: pretraining.epochs, batchSize: pretraining.batchSize, shuffle: spec.shuffle,
      seed: spec.seed)
    let batchSize = min(pretraining.batchSize, features.shape[0])
    var current = ""
    do {
      try dbn.pretrain(
        features, optimizer: { try optimizer.makeOptimizer() }, options: options
      ) { index, rbm in
        current = rbm.name
        if !settings.quiet {
          console.line(
            "pretraining \(rbm.name) (\(index + 1) of \(dbn.rbms.count)): \(rbm.config.visible) "
              + "visible, \(rbm.config.hidden) hidden, CD-\(rbm.config.gibbsSteps)"
              + (rbm.config.persistent ? " persistent" : "")
              + ", optimizer \(optimizer.typeName) (learning rate \(optimizer.learningRate)), "
              + "\(pretraining.epochs) epochs, batch \(pretraining.batchSize)")
        }
        let display = ProgressDisplay(console: console, quiet: settings.quiet, clock: clock)
        var callbacks: [any TrainingCallback] = [
          ProgressCallback(FitProgress(display: display, batchSize: batchSize))
        ]
        if let interruption { callbacks.append(InterruptionCallback(isInterrupted: interruption)) }
        return callbacks
      }
    } catch let stop as InterruptionCallback.Stopped {
      throw TrainingInterrupted(
        description:
          "interrupted while pretraining \(current) (batch \(stop.batch) of epoch \(stop.epoch)); "
          + "nothing was saved, since a pretraining run does not resume")
    }
  }
}

/// Saves a run's model, resumably, with everything `plexus train` records.
final class RunWriter {
  let model: any ModelProtocol
  let optimizer: any Optimizer
  let prepared: PreparedTraining
  let spec: TrainingSpec
  /// The history of the epochs run before this run (a resumed run's).
  let previousHistory: History
  /// The run's early stopping, whose best weights are saved with the model.
  var earlyStopping: EarlyStopping?

  init(
    model: any ModelProtocol, optimizer: any Optimizer, prepared: PreparedTraining,
    spec: TrainingSpec, previousHistory: History
  ) {
    self.model = model
    self.optimizer = optimizer
    self.prepared = prepared
    self.spec = spec
    self.previousHistory = previousHistory
  }

  /// Writes the model atomically with the loss, the optimizer, the data seed, `history`, the
  /// layers' random streams and training state, early stopping's best weights, the optimizer
  /// state and, for a run stopped within an epoch, the batches of the next epoch already
  /// trained.
  func save(to url: URL, history: History, resumeBatch: Int) throws {
    var metadata = ModelMetadata(description: spec.name ?? "")
    metadata.values = try prepared.metadataValues()
    // The seed that split the data (after --seed), so `plexus evaluate --data spec.json`
    // tests on the same held-out samples and a resumed run shuffles as this one did.
    metadata.values[TrainingMetadata.dataSeedKey] = String(spec.seed)
    if resumeBatch > 0 {
      metadata.values[TrainingMetadata.resumeBatchKey] = String(resumeBatch)
    }
    metadata.history = try JSONValue(encoding: history)
    // Dropout's and the noise layers' streams, so a resumed run draws what this one would have.
    try metadata.recordRandomStreams(of: model)
    // An RBM's sampler and persistent chains; early stopping's best (and last) weights.
    let training = try TrainingStateMetadata.encode(model)
    metadata.values[TrainingStateMetadata.key] = training.value
    var trainingTensors = training.tensors
    if let earlyStopping {
      let stopping = try EarlyStoppingMetadata.encode(earlyStopping, model: model)
      metadata.values[EarlyStoppingMetadata.key] = stopping.value
      trainingTensors += stopping.tensors
    }
    var options = SaveOptions(
      metadata: metadata,
      optimizerState: try optimizer.exportState(for: model.trainableParameters))
    options.trainingTensors = trainingTensors
    try model.save(to: url, options: options)
  }
}

/// Saves a resumable checkpoint every `every` epochs (or, keeping the best, when the
/// validation loss improved at such an epoch).
final class CheckpointCallback: TrainingCallback {
  let writer: RunWriter
  let url: URL
  let every: Int
  let keepBest: Bool
  let console: any Console
  let quiet: Bool
  private var best: Float?

  init(
    writer: RunWriter, url: URL, every: Int, keepBest: Bool, console: any Console, quiet: Bool
  ) {
    self.writer = writer
    self.url = url
    self.every = every
    self.keepBest = keepBest
    self.console = console
    self.quiet = quiet
    // A resumed run keeps the best of the epochs it checkpointed (every `every`-th).
    best = writer.previousHistory["val_loss"]?.enumerated()
      .filter { ($0.offset + 1) % every == 0 && !$0.element.isNaN }.map(\.element).min()
  }

  func epochDidEnd(epoch: Int, logs: [String: Float], context: TrainingContext) throws {
    guard epoch % every == 0 else { return }
    if keepBest {
      guard let value = logs["val_loss"], !value.isNaN else { return }
      if let best, value >= best { return }
      best = value
    }
    try writer.save(
      to: url, history: writer.previousHistory.continued(with: context.history), resumeBatch: 0)
    if !quiet {
      console.line(
        "checkpoint: epoch \(epoch) saved to \(url.path)"
          + (keepBest ? " (val_loss \(ProgressFormat.loss(Double(best ?? .nan))))" : ""))
    }
  }
}

/// Redraws the history plot after every epoch.
final class PlotCallback: TrainingCallback {
  let writer: RunWriter
  let url: URL

  init(writer: RunWriter, url: URL) {
    self.writer = writer
    self.url = url
  }

  func epochDidEnd(epoch: Int, logs: [String: Float], context: TrainingContext) throws {
    try HistoryPlot.write(
      writer.previousHistory.continued(with: context.history), title: writer.spec.name ?? "",
      to: url)
  }
}

/// Stops training after the batch in which an interruption was requested; after an epoch's
/// last batch it lets the epoch end first (validation, history, checkpoints), so the saved run
/// resumes at an epoch boundary.
final class InterruptionCallback: TrainingCallback {
  /// Thrown out of `fit` with where it stopped and the epochs completed by then.
  struct Stopped: Error {
    /// The epoch that was running.
    var epoch: Int
    /// The batches of it trained.
    var batch: Int
    /// The batches of an epoch.
    var batches: Int
    /// The completed epochs.
    var history: History
    /// The batches of the next epoch to skip when resuming: 0 when the epoch completed.
    var resumeBatch: Int { batch < batches ? batch : 0 }
  }

  let isInterrupted: () -> Bool
  private var stopAtEpochEnd = false

  init(isInterrupted: @escaping () -> Bool) {
    self.isInterrupted = isInterrupted
  }

  func batchDidEnd(
    epoch: Int, batch: Int, batches: Int, logs: [String: Float], context: TrainingContext
  ) throws {
    guard isInterrupted() else { return }
    guard batch < batches else {
      stopAtEpochEnd = true
      return
    }
    throw Stopped(epoch: epoch, batch: batch, batches: batches, history: context.history)
  }

  func epochDidEnd(epoch: Int, logs: [String: Float], context: TrainingContext) throws {
    guard stopAtEpochEnd || isInterrupted() else { return }
    throw Stopped(
      epoch: epoch, batch: context.batchesPerEpoch, batches: context.batchesPerEpoch,
      history: context.history)
  }
}
