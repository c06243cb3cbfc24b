extension ModelProtocol {
  /// Trains a model with one input and one output on `x` and `y` with mini-batch gradient
  /// descent, as Keras' `fit`.
  ///
  /// Each step (the model's `trainStep`, by default `TrainingStepContext.supervisedStep`)
  /// zeroes the gradients, runs the batch forward in training mode, computes the loss plus the
  /// layers' contributed losses and the regularizers' penalties, runs backward, clips the
  /// gradients when the options say so and lets the optimizer update the trainable
  /// parameters.
  ///
  /// An unbuilt `Sequential` is built first for the sample shape of `x`, with `options.seed`
  /// (as Keras builds on first use). Epochs and batches are numbered from 1.
  ///
  /// ```swift
  /// let history = try model.fit(
  ///   x, y, loss: CategoricalCrossEntropy(fromLogits: true), optimizer: Adam(learningRate: 0.01),
  ///   options: TrainingOptions(epochs: 20, batchSize: 32, validationSplit: 0.2, metrics: [.accuracy]))
  /// ```
  ///
  /// - Returns: the per-epoch logs.
  /// - Throws: `PlexusError.invalidArgument` for bad options, an empty data set or a
  ///   validation split that leaves no samples; `.invalidShape` / `.shapeMismatch` /
  ///   `.invalidData` for data that does not fit the model or the loss (naming the sample);
  ///   `.nonFiniteLoss(epoch:batch:value:)` as soon as a batch loss is NaN or infinite (before
  ///   that batch updates any weight); and any error a callback throws.
  @discardableResult
  public func fit(
    _ x: Tensor, _ y: Tensor, loss: any Loss, optimizer: any Optimizer,
    options: TrainingOptions = TrainingOptions(), callbacks: [any TrainingCallback] = []
  ) throws -> History {
    try fit(
      inputs: [x], targets: [y], losses: [OutputLoss(loss)], optimizer: optimizer,
      options: options, callbacks: callbacks)
  }

  /// Trains a model whose training step needs no targets (an RBM, or a model with a custom
  /// `trainStep` that takes its targets from the inputs).
  ///
  /// - Throws: as `fit(_:_:loss:optimizer:options:callbacks:)`.
  @discardableResult
  public func fit(
    _ x: Tensor, optimizer: any Optimizer, options: TrainingOptions = TrainingOptions(),
    callbacks: [any TrainingCallback] = []
  ) throws -> History {
    try fit(
      inputs: [x], targets: [], losses: [], optimizer: optimizer, options: options,
      callbacks: callbacks)
  }

  /// Trains a model with inputs, targets and losses given by name (Keras' dictionaries):
  /// each output with a loss needs targets; `lossWeights` scales the outputs' losses in the
  /// total; `metrics` chooses the metrics per output (default: `options.metrics`). The logs
  /// hold `loss` (the total) and, for a model with several outputs, `<output>_loss` and
  /// `<output>_<metric>`.
  ///
  /// - Throws: `PlexusError.invalidArgument` for an unknown or missing name; as
  ///   `fit(_:_:loss:optimizer:options:callbacks:)`.
  @discardableResult
  public func fit(
    inputs: [String: Tensor], targets: [String: Tensor], losses: [String: any Loss],
    lossWeights: [String: Float] = [:], metrics: [String: [Metric]] = [:],
    optimizer: any Optimizer, options: TrainingOptions = TrainingOptions(),
    callbacks: [any TrainingCallback] = []
  ) throws -> History {
    let graph = try builtGraph()
    let (orderedTargets, outputLosses) = try Self.arrange(
      graph: graph, targets: targets, losses: losses, lossWeights: lossWeights, metrics: metrics)
    return try fit(
      inputs: ModelData.ordered(inputs, names: graph.inputs.map(\.name), role: "input"),
      targets: orderedTargets, losses: outputLosses, optimizer: optimizer, options: options,
      callbacks: callbacks)
  }

  /// Trains the model with one tensor per input, and per output its targets and loss (`nil`
  /// for outputs that no loss reads). All arrays are indexed as the model's inputs and
  /// outputs; `targets` and `losses` may be empty for a model with its own `trainStep`.
  ///
  /// - Throws: as `fit(_:_:loss:optimizer:options:callbacks:)`.
  @discardableResult
  public func fit(
    inputs: [Tensor], targets: [Tensor?], losses: [OutputLoss?], optimizer: any Optimizer,
    options: TrainingOptions = TrainingOptions(), callbacks: [any TrainingCallback] = []
  ) throws -> History {
    try options.validate()
    guard !inputs.isEmpty else {
      throw PlexusError.invalidArgument("fit needs at least one input tensor")
    }
    for input in inputs {
      guard input.rank >= 1 else {
        throw PlexusError.invalidShape(
          "training data need a batch dimension: inputs have shape \(input.shape)")
      }
    }
    let graph = try graphForTraining(
      sampleShapes: inputs.map { Array($0.shape.dropFirst()) }, seed: options.seed)
    let (targets, losses) = try Self.pad(targets: targets, losses: losses, graph: graph)
    let data = try TrainingData(inputs: inputs, targets: targets, role: "training")
    let (train, validation) = try data.split(options: options, outputs: graph.outputs.count)
    try train.validate(against: graph, losses: losses, role: "training")
    try validation?.validate(against: graph, losses: losses, role: "validation")
    try validateData(inputs: train.inputs, role: "training")
    if let validation { try validateData(inputs: validation.inputs, role: "validation") }
    if let weights = options.classWeights {
      let weighted = losses.indices.filter { losses[$0] != nil }
      guard weighted.count == 1, let index = weighted.first, let target = train.targets[index],
        let loss = losses[index]
      else {
        throw PlexusError.invalidArgument(
          "class weights apply to a model whose loss reads one output; this one has "
            + "\(weighted.count) outputs with a loss")
      }
      let width = graph.outputs[index].shape.last.flatMap { $0 } ?? 1
      try ClassWeighting.requireWeights(
        weights,
        for: ClassWeighting.classes(
          of: target, width: width, binary: loss.loss.binaryThreshold != nil))
    }

    let sampleCount = train.sampleCount
    let batchSize = Swift.min(options.batchSize, sampleCount)
    let batches = (sampleCount + batchSize - 1) / batchSize
    let context = TrainingContext(
      model: self, optimizer: optimizer, epochs: options.epochs, batchesPerEpoch: batches,
      trainingSamples: sampleCount, validationSamples: validation?.sampleCount ?? 0)
    let step = TrainingStepContext(
      model: self, graph: graph, optimizer: optimizer, losses: losses, options: options)
    let evaluation = TrainingStepContext(
      model: self, graph: graph, optimizer: nil, losses: losses, options: options)
    var order = Array(0..<sampleCount)
    var batchIndices: [Int] = []
    batchIndices.reserveCapacity(batchSize)
    let baseRate = options.baseLearningRate ?? optimizer.learningRate
    guard options.initialBatch <= batches else {
      throw PlexusError.invalidArgument(
        "initialBatch is \(options.initialBatch), but an epoch has only \(batches) batches of "
          + "\(batchSize) samples")
    }
    var firstBatch = options.initialBatch

    for callback in callbacks { try callback.trainingWillBegin(context: context) }
    var epoch = options.initialEpoch
    while epoch < options.epochs {
      epoch += 1
      if let schedule = options.schedule {
        let rate = schedule.learningRate(completedEpochs: epoch - 1, baseRate: baseRate)
        guard rate.isFinite, rate >= 0 else {
          throw PlexusError.invalidArgument(
            "the learning-rate schedule gave \(rate) for epoch \(epoch); expected a finite, non-negative rate"
          )
        }
        optimizer.learningRate = rate
      }
      for callback in callbacks {
        try callback.epochWillBegin(
          epoch: epoch, epochs: options.epochs, batchesPerEpoch: batches, context: context)
      }
      let epochRate = optimizer.learningRate
      if options.shuffle {
        // Each epoch's order depends only on the seed and the epoch number, so a run resumed
        // with `initialEpoch` sees the same batches as an uninterrupted one.
        var shuffler = SeededGenerator(
          seed: options.seed ^ (UInt64(epoch) &* 0x9E37_79B9_7F4A_7C15))
        for index in order.indices { order[index] = index }
        TrainingData.shuffle(&order, using: &shuffler)
      }
      var running = EpochLogs(graph: graph, losses: losses, options: options)
      step.epoch = epoch

      let startBatch = firstBatch
      firstBatch = 0
      for batch in startBatch..<batches {
        let start = batch * batchSize
        let end = Swift.min(sampleCount, start + batchSize)
        let trainingBatch: TrainingBatch
        if options.shuffle {
          batchIndices.removeAll(keepingCapacity: true)
          batchIndices.append(contentsOf: order[start..<end])
          trainingBatch = train.batch(indices: batchIndices)
        } else {
          trainingBatch = train.batch(range: start..<end)
        }
        step.batch = batch + 1
        let result = try trainStep(trainingBatch, context: step)
        guard result.loss.isFinite else {
          throw PlexusError.nonFiniteLoss(epoch: epoch, batch: batch + 1, value: result.loss)
        }
        try running.add(result, batch: trainingBatch)
        if !callbacks.isEmpty {
          let logs = running.logs()
          for callback in callbacks {
            try callback.batchDidEnd(
              epoch: epoch, batch: batch + 1, batches: batches, logs: logs, context: context)
          }
        }
      }

      // A weight that overflowed stops training as a non-finite loss does (a ReLU can hide it
      // from the loss); checked once per epoch, so the scan costs nothing per batch.
      for (path, parameter) in namedParameters where parameter.isMaterialized {
        if parameter.value.withUnsafeBufferPointer({ $0.contains { !$0.isFinite } }) {
          throw PlexusError.invalidData(
            "parameter '\(path)' holds a non-finite value after epoch \(epoch): training stopped "
              + "(lower the learning rate, or clip gradients)")
        }
      }
      var logs = running.logs()
      if let validation {
        let validationLogs = try Self.evaluate(
          validation, context: evaluation, model: self,
          batchSize: options.validationBatchSize)
        for (key, value) in validationLogs { logs["val_" + key] = value }
      }
      logs["lr"] = epochRate
      context.history.append(logs)
      for callback in callbacks {
        try callback.epochDidEnd(epoch: epoch, logs: logs, context: context)
      }
      if context.stopRequested {
        context.history.stoppedEarly = epoch < options.epochs
        break
      }
    }
    step.tape.clear()
    evaluation.tape.clear()
    for callback in callbacks {
      try callback.trainingDidEnd(history: context.history, context: context)
    }
    return context.history
  }

  /// Computes the loss and metrics of a model with one input and one output on `x` and `y` in
  /// inference mode, as Keras' `evaluate`. The loss is the mean over all samples plus the
  /// regularizers' penalties (so it is comparable with the training loss).
  ///
  /// - Returns: `"loss"` and one entry per metric (`"accuracy"`, `"mse"`, `"mae"`).
  /// - Throws: `PlexusError.notBuilt` for an unbuilt model, `.invalidArgument` for an empty
  ///   data set, different sample counts or a non-positive batch size, and the loss' errors
  ///   for targets that do not fit.
  public func evaluate(
    _ x: Tensor, _ y: Tensor, loss: any Loss, batchSize: Int = 256, metrics: [Metric] = []
  ) throws -> [String: Float] {
    try evaluate(
      inputs: [x], targets: [y], losses: [OutputLoss(loss, metrics: metrics)],
      batchSize: batchSize)
  }

  /// Computes the losses and metrics of the model on inputs and targets given per input and
  /// per output (`nil` for outputs without a loss), in inference mode.
  ///
  /// - Throws: as `evaluate(_:_:loss:batchSize:metrics:)`.
  public func evaluate(
    inputs: [Tensor], targets: [Tensor?], losses: [OutputLoss?], batchSize: Int = 256
  ) throws -> [String: Float] {
    guard batchSize > 0 else {
      throw PlexusError.invalidArgument("batch size must be positive, got \(batchSize)")
    }
    let graph: Graph
    do {
      graph = try builtGraph()
    } catch {
      throw PlexusError.notBuilt("the model must be built (or trained) before it is evaluated")
    }
    let (targets, losses) = try Self.pad(targets: targets, losses: losses, graph: graph)
    let data = try TrainingData(inputs: inputs, targets: targets, role: "evaluation")
    try data.validate(against: graph, losses: losses, role: "evaluation")
    try validateData(inputs: data.inputs, role: "evaluation")
    let context = TrainingStepContext(
      model: self, graph: graph, optimizer: nil, losses: losses,
      options: TrainingOptions(metrics: []))
    defer { context.tape.clear() }
    return try Self.evaluate(data, context: context, model: self, batchSize: batchSize)
  }

  /// Evaluates with inputs, targets and losses given by name.
  ///
  /// - Throws: as `evaluate(inputs:targets:losses:batchSize:)`.
  public func evaluate(
    inputs: [String: Tensor], targets: [String: Tensor], losses: [String: any Loss],
    lossWeights: [String: Float] = [:], metrics: [String: [Metric]] = [:], batchSize: Int = 256
  ) throws -> [String: Float] {
    let graph = try builtGraph()
    let (orderedTargets, outputLosses) = try Self.arrange(
      graph: graph, targets: targets, losses: losses, lossWeights: lossWeights, metrics: metrics)
    return try evaluate(
      inputs: ModelData.ordered(inputs, names: graph.inputs.map(\.name), role: "input"),
      targets: orderedTargets, losses: outputLosses, batchSize: batchSize)
  }

  private static func evaluate(
    _ data: TrainingData, context: TrainingStepContext, model: Self, batchSize: Int
  ) throws -> [String: Float] {
    var accumulator = EpochLogs(
      graph: context.graph, losses: context.losses, options: context.options)
    let total = data.sampleCount
    var start = 0
    while start < total {
      let end = Swift.min(total, start + batchSize)
      let batch = data.batch(range: start..<end)
      let result = try model.testStep(batch, context: context)
      try accumulator.add(result, batch: batch)
      start = end
    }
    var logs = accumulator.logs()
    logs["loss", default: 0] += Regularization.penalty(of: context.allParameters)
    return logs
  }

  /// Orders named targets, losses, weights and metrics by the graph's outputs.
  private static func arrange(
    graph: Graph, targets: [String: Tensor], losses: [String: any Loss],
    lossWeights: [String: Float], metrics: [String: [Metric]]
  ) throws -> ([Tensor?], [OutputLoss?]) {
    let names = graph.outputs.map(\.name)
    for (dictionary, role) in [
      (Array(targets.keys), "targets"), (Array(losses.keys), "losses"),
      (Array(lossWeights.keys), "loss weights"), (Array(metrics.keys), "metrics"),
    ] {
      if let unknown = dictionary.sorted().first(where: { !names.contains($0) }) {
        throw PlexusError.invalidArgument(
          "\(role) name '\(unknown)', which is not an output of the model; its outputs are "
            + names.joined(separator: ", "))
      }
    }
    for (name, weight) in lossWeights where !(weight.isFinite && weight >= 0) {
      throw PlexusError.invalidArgument(
        "the loss weight of output '\(name)' is \(weight); expected a finite, non-negative number")
    }
    let outputLosses: [OutputLoss?] = names.map { name in
      losses[name].map {
        OutputLoss($0, weight: lossWeights[name] ?? 1, metrics: metrics[name])
      }
    }
    return (names.map { targets[$0] }, outputLosses)
  }

  /// Pads per-output arrays to the graph's output count and checks that targets and losses
  /// come together.
  private static func pad(targets: [Tensor?], losses: [OutputLoss?], graph: Graph) throws -> (
    [Tensor?], [OutputLoss?]
  ) {
    let count = graph.outputs.count
    guard targets.count <= count, losses.count <= count else {
      throw PlexusError.invalidArgument(
        "the model has \(count) outputs but \(targets.count) targets and \(losses.count) losses were given"
      )
    }
    let paddedTargets = targets + Array(repeating: nil, count: count - targets.count)
    let paddedLosses = losses + Array(repeating: nil, count: count - losses.count)
    for (index, output) in graph.outputs.enumerated() {
      if paddedLosses[index] != nil, paddedTargets[index] == nil {
        throw PlexusError.invalidArgument("output '\(output.name)' has a loss but no targets")
      }
      for weight in [paddedLosses[index]?.weight].compactMap({ $0 })
      where !(weight.isFinite && weight >= 0) {
        throw PlexusError.invalidArgument(
          "the loss weight of output '\(output.name)' is \(weight); expected a finite, non-negative number"
        )
      }
      if paddedLosses[index] == nil, paddedTargets[index] != nil {
        throw PlexusError.invalidArgument(
          "targets were given for output '\(output.name)', which has no loss")
      }
    }
    return (paddedTargets, paddedLosses)
  }
}

/// The training data of one run: tensors per input and per output, all with the same number
/// of samples.
struct TrainingData {
  let inputs: [Tensor]
  let targets: [Tensor?]
  let sampleCount: Int

  init(inputs: [Tensor], targets: [Tensor?], role: String) throws {
    guard let first = inputs.first, first.rank >= 1 else {
      throw PlexusError.invalidShape("\(role) data need a batch dimension")
    }
    let count = first.shape[0]
    guard count > 0 else {
      throw PlexusError.invalidArgument(
        "\(role) data set is empty (inputs of shape \(first.shape))")
    }
    let single = inputs.count == 1 && targets.count <= 1
    for (index, tensor) in inputs.enumerated() {
      guard tensor.rank >= 1 else {
        throw PlexusError.invalidShape(
          "\(role) data need a batch dimension: input \(index) has shape \(tensor.shape)")
      }
      guard tensor.shape[0] == count else {
        throw PlexusError.invalidArgument(
          "\(role) input 0 has \(count) samples but input \(index) has \(tensor.shape[0])")
      }
    }
    for (index, tensor) in targets.enumerated() {
      guard let tensor else { continue }
      guard tensor.rank >= 1 else {
        throw PlexusError.invalidShape(
          "\(role) data need a batch dimension: inputs have shape \(first.shape), targets \(tensor.shape)"
        )
      }
      guard tensor.shape[0] == count else {
        throw PlexusError.invalidArgument(
          "\(role) inputs have \(count) samples but targets\(single ? "" : " of output \(index)") have \(tensor.shape[0])"
        )
      }
    }
    self.inputs = inputs
    self.targets = targets
    self.sampleCount = count
  }

  private init(inputs: [Tensor], targets: [Tensor?], count: Int) {
    self.inputs = inputs
    self.targets = targets
    self.sampleCount = count
  }

  /// Checks inputs against the graph's input shapes and targets against the losses.
  func validate(against graph: Graph, losses: [OutputLoss?], role: String) throws {
    guard inputs.count == graph.inputs.count else {
      throw PlexusError.invalidArgument(
        "the model takes \(graph.inputs.count) inputs, \(inputs.count) were given for \(role)")
    }
    for (input, spec) in zip(inputs, graph.inputs) {
      guard input.rank == spec.shape.count + 1,
        ShapeCheck.accepts(spec.shape, sample: input.shape.dropFirst())
      else {
        let which = graph.inputs.count > 1 ? " (input '\(spec.name)')" : ""
        throw PlexusError.invalidShape(
          "\(role) inputs\(which) have shape \(input.shape), but the model takes samples of shape "
            + "\(ShapeCheck.describe(spec.shape)) (a batch \(ShapeCheck.describeBatch(spec.shape)))"
        )
      }
    }
    for (index, input) in inputs.enumerated() {
      let which = graph.inputs.count > 1 ? " (input '\(graph.inputs[index].name)')" : ""
      try Self.requireFinite(input, what: "\(role) inputs\(which)")
    }
    for (index, target) in targets.enumerated() {
      guard let target else { continue }
      let which = graph.outputs.count > 1 ? " (output '\(graph.outputs[index].name)')" : ""
      try Self.requireFinite(target, what: "\(role) targets\(which)")
    }
    for (index, output) in graph.outputs.enumerated() {
      guard let loss = losses[index], let target = targets[index] else { continue }
      let known = output.shape.compactMap { $0 }
      guard known.count == output.shape.count else { continue }
      try loss.loss.validate(targets: target, predictionShape: [target.shape[0]] + known)
    }
  }

  /// Throws `PlexusError.invalidData` naming the sample and the position within it of the
  /// first NaN or infinite value of `tensor` (`[N, ...]`).
  static func requireFinite(_ tensor: Tensor, what: String) throws {
    guard let bad = tensor.firstNonFiniteValue() else { return }
    throw PlexusError.invalidData(
      "\(what): sample \(bad.sample) holds \(bad.value) at position \(bad.position); "
        + "data must be finite")
  }

  /// Splits off validation samples (Keras: the last fraction), or takes the options'
  /// validation data.
  func split(options: TrainingOptions, outputs: Int) throws -> (
    train: TrainingData, validation: TrainingData?
  ) {
    if let validation = options.validationData {
      guard inputs.count == 1 else {
        throw PlexusError.invalidArgument(
          "validationData holds one input and one target; split a model with several inputs "
            + "with validationSplit")
      }
      var validationTargets: [Tensor?] = Array(repeating: nil, count: targets.count)
      if !validationTargets.isEmpty { validationTargets[0] = validation.y }
      return (
        self,
        try TrainingData(inputs: [validation.x], targets: validationTargets, role: "validation")
      )
    }
    guard options.validationSplit > 0 else { return (self, nil) }
    let count = sampleCount
    let splitAt = Int((Double(count) * (1 - Double(options.validationSplit))).rounded(.up))
    guard splitAt > 0, splitAt < count else {
      throw PlexusError.invalidArgument(
        "validation split \(options.validationSplit) of \(count) samples leaves "
          + "\(splitAt) for training and \(count - splitAt) for validation; both need at least one")
    }
    return (batchData(range: 0..<splitAt), batchData(range: splitAt..<count))
  }

  private func batchData(range: Range<Int>) -> TrainingData {
    TrainingData(
      inputs: inputs.map { $0.samples(range) }, targets: targets.map { $0?.samples(range) },
      count: range.count)
  }

  func batch(range: Range<Int>) -> TrainingBatch {
    if range.lowerBound == 0, range.count == sampleCount {
      return TrainingBatch(inputs: inputs, targets: targets)
    }
    return TrainingBatch(
      inputs: inputs.map { $0.samples(range) }, targets: targets.map { $0?.samples(range) })
  }

  func batch(indices: [Int]) -> TrainingBatch {
    TrainingBatch(
      inputs: inputs.map { $0.gatherSamples(indices) },
      targets: targets.map { $0?.gatherSamples(indices) })
  }

  /// A Fisher-Yates shuffle driven by the seeded generator, the same on every platform.
  static func shuffle(_ order: inout [Int], using generator: inout SeededGenerator) {
    guard order.count > 1 else { return }
    for index in stride(from: order.count - 1, to: 0, by: -1) {
      let other = Int(generator.next() % UInt64(index + 1))
      order.swapAt(index, other)
    }
  }
}

/// The running logs of an epoch or an evaluation: the total loss, each output's loss and
/// metrics, and the steps' further values, as sample-weighted means.
struct EpochLogs {
  private let names: [String]
  private var total = MetricAccumulator(metrics: [], binaryThreshold: nil)
  private var perOutput: [MetricAccumulator?]
  private var extraSums: [String: Double] = [:]
  private var extraOrder: [String] = []
  private var samples = 0

  init(graph: Graph, losses: [OutputLoss?], options: TrainingOptions) {
    names = graph.outputs.map(\.name)
    perOutput = losses.map { outputLoss in
      outputLoss.map {
        MetricAccumulator(
          metrics: $0.metrics ?? options.metrics, binaryThreshold: $0.loss.binaryThreshold)
      }
    }
  }

  mutating func add(_ result: TrainingStepResult, batch: TrainingBatch) throws {
    let size = batch.sampleCount
    total.addLoss(result.loss, batchSize: size)
    samples += size
    for index in perOutput.indices {
      guard perOutput[index] != nil else { continue }
      if index < result.outputLosses.count, let value = result.outputLosses[index] {
        perOutput[index]!.addLoss(value, batchSize: size)
      }
      if index < result.outputs.count, let prediction = result.outputs[index],
        index < batch.targets.count, let target = batch.targets[index]
      {
        try perOutput[index]!.addMetrics(predictions: prediction, targets: target)
      }
    }
    for (key, value) in result.logs {
      if extraSums[key] == nil { extraOrder.append(key) }
      extraSums[key, default: 0] += Double(value) * Double(size)
    }
  }

  func logs() -> [String: Float] {
    var logs: [String: Float] = [:]
    let active = perOutput.indices.filter { perOutput[$0] != nil }
    for index in active {
      guard let accumulator = perOutput[index] else { continue }
      let prefix = active.count == 1 ? "" : names[index] + "_"
      for (key, value) in accumulator.logs() where !(active.count == 1 && key == "loss") {
        logs[prefix + key] = value
      }
    }
    for key in extraOrder {
      logs[key] = samples == 0 ? 0 : Float(extraSums[key, default: 0] / Double(samples))
    }
    logs["loss"] = total.logs()["loss"] ?? 0
    return logs
  }
}

extension Tensor {
  /// The first NaN or infinite value of a batch `[N, ...]`: its sample, its position within
  /// the sample and the value; `nil` when every value is finite.
  public func firstNonFiniteValue() -> (sample: Int, position: Int, value: Float)? {
    withUnsafeBufferPointer { values in
      guard let index = values.firstIndex(where: { !$0.isFinite }) else { return nil }
      let perSample = Swift.max(values.count / Swift.max(shape.first ?? 1, 1), 1)
      return (index / perSample, index % perSample, values[index])
    }
  }
}
