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

  /// Creates settings.
  public init(
    specPath: String, outputPath: String? = nil, epochs: Int? = nil, seed: UInt64? = nil,
    quiet: Bool = false, resumePath: String? = nil, dataPaths: [String]? = nil
  ) {
    self.dataPaths = dataPaths
    self.specPath = specPath
    self.outputPath = outputPath
    self.epochs = epochs
    self.seed = seed
    self.quiet = quiet
    self.resumePath = resumePath
  }
}

/// What a `plexus train` run produced.
public struct TrainReport {
  /// The trained model.
  public var model: any ModelProtocol
  /// The per-epoch logs.
  public var history: History
  /// The loss and metrics on the held-out test split (`loss`, `accuracy`).
  public var test: [String: Float]
  /// Where the model was saved.
  public var output: URL
}

/// The work of `plexus train`.
public enum Train {
  /// Trains the model a spec describes, reports progress on `console`, evaluates it on the
  /// held-out test split and saves it as a `.plexus` file (with the loss, the optimizer and
  /// the training history in its metadata, and the optimizer state so training can resume).
  ///
  /// - Throws: `SpecError` for a malformed spec (naming the file and JSON path), `PlexusError`
  ///   for data or training problems.
  @discardableResult
  public static func run(
    _ settings: TrainSettings, console: any Console, registry: LayerRegistry = .standard(),
    clock: (() -> Double)? = nil
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

    // Checked before training, so a bad output path loses no run.
    try OutputPath.check(
      output.path, against: [specURL.path] + (settings.dataPaths ?? []), flag: "--output")
    let prepared: PreparedTraining
    do {
      prepared = try PreparedTraining(spec: spec, registry: registry)
    } catch var error as SpecError {
      error.file = specURL.path
      throw error
    }
    var model = prepared.model
    let data = prepared.data
    // Resuming: the saved weights, optimizer state and history replace the fresh ones.
    var previousHistory = History()
    var restoredOptimizer: (any Optimizer)?
    if let resumePath = settings.resumePath {
      let file = try PlexusFile(contentsOf: URL(fileURLWithPath: resumePath))
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
      guard previousHistory.epochsCompleted < spec.epochs else {
        throw PlexusError.invalidArgument(
          "\(resumePath) has trained \(previousHistory.epochsCompleted) epochs already; give "
            + "--epochs with a larger total to train on")
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
        optimizer: optimizerConfig, settings: settings, console: console, clock: clock)
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
    let progress = ProgressCallback(
      FitProgress(display: display, batchSize: min(spec.batchSize, data.train.count)))
    let optimizer = try restoredOptimizer ?? prepared.optimizerConfig.makeOptimizer()
    var options = TrainingOptions(
      epochs: spec.epochs, batchSize: spec.batchSize, shuffle: spec.shuffle, seed: spec.seed,
      validationSplit: Float(spec.validationSplit), metrics: prepared.metrics)
    options.initialEpoch = previousHistory.epochsCompleted
    if let resumePath = settings.resumePath, !settings.quiet {
      console.line(
        "resuming from \(resumePath) after epoch \(options.initialEpoch) of \(spec.epochs)")
    }
    var history: History
    let test: [String: Float]
    if let loss = prepared.loss, !model.learnsWithoutTargets {
      history = try model.fit(
        data.train.features, prepared.targets(of: data.train), loss: loss, optimizer: optimizer,
        options: options, callbacks: [progress])
      test = try model.evaluate(
        data.test.features, prepared.targets(of: data.test), loss: loss,
        metrics: prepared.metrics)
    } else {
      history = try model.fit(
        data.train.features, optimizer: optimizer, options: options, callbacks: [progress])
      test = try model.evaluate(inputs: [data.test.features], targets: [], losses: [])
    }
    console.line("test: \(ProgressFormat.figures(test)) (\(data.test.count) samples)")
    history = previousHistory.continued(with: history)

    var metadata = ModelMetadata(description: spec.name ?? "")
    metadata.values = try prepared.metadataValues()
    // The seed that split the data (after --seed), so `plexus evaluate --data spec.json`
    // tests on the same held-out samples.
    metadata.values[TrainingMetadata.dataSeedKey] = String(spec.seed)
    metadata.history = try JSONValue(encoding: history)
    // Dropout's and the noise layers' streams, so a resumed run draws what this one would have.
    try metadata.recordRandomStreams(of: model)
    try model.save(
      to: output,
      options: SaveOptions(
        metadata: metadata,
        optimizerState: try optimizer.exportState(for: model.trainableParameters)))
    console.line("saved model to \(output.path)")
    return TrainReport(model: model, history: history, test: test, output: output)
  }

  /// Pretrains a DBN's RBMs one after the other, with a header and progress for each.
  private static func pretrain(
    _ dbn: DBN, on features: Tensor, spec: TrainingSpec, pretraining: PretrainingSpec,
    optimizer: OptimizerConfig, settings: TrainSettings, console: any Console,
    clock: (() -> Double)?
  ) throws {
    let options = TrainingOptions(
      epochs: pretraining.epochs, batchSize: pretraining.batchSize, shuffle: spec.shuffle,
      seed: spec.seed)
    let batchSize = min(pretraining.batchSize, features.shape[0])
    try dbn.pretrain(
      features, optimizer: { try optimizer.makeOptimizer() }, options: options
    ) { index, rbm in
      if !settings.quiet {
        console.line(
          "pretraining \(rbm.name) (\(index + 1) of \(dbn.rbms.count)): \(rbm.config.visible) "
            + "visible, \(rbm.config.hidden) hidden, CD-\(rbm.config.gibbsSteps)"
            + (rbm.config.persistent ? " persistent" : "")
            + ", optimizer \(optimizer.typeName) (learning rate \(optimizer.learningRate)), "
            + "\(pretraining.epochs) epochs, batch \(pretraining.batchSize)")
      }
      let display = ProgressDisplay(console: console, quiet: settings.quiet, clock: clock)
      return [ProgressCallback(FitProgress(display: display, batchSize: batchSize))]
    }
  }
}
