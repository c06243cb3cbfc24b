import Foundation

extension Sequential {
  /// Trains the model on `x` and `y` with mini-batch gradient descent, as Keras' `fit`.
  ///
  /// Each step zeroes the gradients, runs the batch forward in training mode, computes the
  /// loss, runs backward, adds the regularizers' penalties (to the reported loss) and their
  /// gradients, clips the gradients when the options say so, and lets the optimizer update the
  /// trainable parameters.
  ///
  /// An unbuilt model is built first for the sample shape of `x`, with `options.seed` (as Keras
  /// builds on first use). Epochs and batches are numbered from 1.
  ///
  /// ```swift
  /// let history = try model.fit(
  ///   x, y, loss: CategoricalCrossEntropy(fromLogits: true), optimizer: Adam(learningRate: 0.01),
  ///   options: TrainingOptions(epochs: 20, batchSize: 32, validationSplit: 0.2, metrics: [.accuracy]))
  /// ```
  ///
  /// - Parameters:
  ///   - x: inputs `[N] + inputShape`.
  ///   - y: targets with `N` samples, in the form `loss` expects.
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
    try options.validate()
    let (trainX, trainY, validation) = try Self.splitData(x, y, options: options)
    if !isBuilt {
      try build(inputShape: trainX.sampleShape, seed: options.seed)
    }
    guard let outputShape else { throw PlexusError.notBuilt("the model could not be built") }
    try requireInput(trainX, role: "training inputs")
    try loss.validate(targets: trainY, predictionShape: [trainY.batchCount] + outputShape)
    if let validation {
      try requireInput(validation.x, role: "validation inputs")
      try loss.validate(
        targets: validation.y, predictionShape: [validation.y.batchCount] + outputShape)
    }

    let sampleCount = trainX.batchCount
    let batchSize = Swift.min(options.batchSize, sampleCount)
    let batches = (sampleCount + batchSize - 1) / batchSize
    let context = TrainingContext(
      model: self, optimizer: optimizer, epochs: options.epochs, batchesPerEpoch: batches,
      trainingSamples: sampleCount, validationSamples: validation?.x.batchCount ?? 0)
    let trainable = trainableParameters
    let regularized = trainable.filter { $0.regularizer != nil }
    let allParameters = parameters
    var order = Array(0..<sampleCount)
    var batchIndices: [Int] = []
    batchIndices.reserveCapacity(batchSize)
    let baseRate = options.baseLearningRate ?? optimizer.learningRate

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
        Self.shuffle(&order, using: &shuffler)
      }
      var running = MetricAccumulator(
        metrics: options.metrics, binaryThreshold: loss.binaryThreshold)

      for batch in 0..<batches {
        let start = batch * batchSize
        let end = Swift.min(sampleCount, start + batchSize)
        let xBatch: Tensor
        let yBatch: Tensor
        if options.shuffle {
          batchIndices.removeAll(keepingCapacity: true)
          batchIndices.append(contentsOf: order[start..<end])
          xBatch = trainX.gatherSamples(batchIndices)
          yBatch = trainY.gatherSamples(batchIndices)
        } else {
          xBatch = trainX.samples(start..<end)
          yBatch = trainY.samples(start..<end)
        }

        for parameter in allParameters { parameter.zeroGradient() }
        let predictions = try forward(xBatch, training: true)
        let (dataLoss, gradient) = try loss.compute(predictions: predictions, targets: yBatch)
        let batchLoss = dataLoss + Regularization.penalty(of: regularized)
        guard batchLoss.isFinite else {
          throw PlexusError.nonFiniteLoss(epoch: epoch, batch: batch + 1, value: batchLoss)
        }
        // The gradient with respect to the batch itself is not needed.
        _ = try backward(gradient, computingInputGradient: false)
        Regularization.addGradients(to: regularized)
        if let limit = options.clipValue {
          try GradientClipping.clipByValue(trainable, limit: limit)
        }
        if let maxNorm = options.clipGlobalNorm {
          try GradientClipping.clipByGlobalNorm(trainable, maxNorm: maxNorm)
        }
        optimizer.step(trainable)

        running.addLoss(batchLoss, batchSize: end - start)
        try running.addMetrics(predictions: predictions, targets: yBatch)
        if !callbacks.isEmpty {
          let logs = running.logs()
          for callback in callbacks {
            try callback.batchDidEnd(
              epoch: epoch, batch: batch + 1, batches: batches, logs: logs, context: context)
          }
        }
      }

      var logs = running.logs()
      if let validation {
        let validationLogs = try evaluate(
          validation.x, validation.y, loss: loss, batchSize: options.validationBatchSize,
          metrics: options.metrics, parameters: allParameters)
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
    for callback in callbacks {
      try callback.trainingDidEnd(history: context.history, context: context)
    }
    return context.history
  }

  /// Computes the loss and metrics of the model on `x` and `y` in inference mode, as Keras'
  /// `evaluate`. The loss is the mean over all samples plus the regularizers' penalties (so it
  /// is comparable with the training loss).
  ///
  /// - Returns: `"loss"` and one entry per metric (`"accuracy"`, `"mse"`, `"mae"`).
  /// - Throws: `PlexusError.notBuilt` for an unbuilt model, `.invalidArgument` for an empty
  ///   data set, different sample counts or a non-positive batch size, and the loss' errors
  ///   for targets that do not fit.
  public func evaluate(
    _ x: Tensor, _ y: Tensor, loss: any Loss, batchSize: Int = 256, metrics: [Metric] = []
  ) throws -> [String: Float] {
    guard batchSize > 0 else {
      throw PlexusError.invalidArgument("batch size must be positive, got \(batchSize)")
    }
    guard let outputShape else {
      throw PlexusError.notBuilt("the model must be built (or trained) before it is evaluated")
    }
    try Self.requireSamples(x, y, role: "evaluation")
    try requireInput(x, role: "evaluation inputs")
    try loss.validate(targets: y, predictionShape: [y.batchCount] + outputShape)
    return try evaluate(
      x, y, loss: loss, batchSize: batchSize, metrics: metrics, parameters: parameters)
  }

  private func evaluate(
    _ x: Tensor, _ y: Tensor, loss: any Loss, batchSize: Int, metrics: [Metric],
    parameters: [Parameter]
  ) throws -> [String: Float] {
    var accumulator = MetricAccumulator(metrics: metrics, binaryThreshold: loss.binaryThreshold)
    let total = x.batchCount
    var start = 0
    while start < total {
      let end = Swift.min(total, start + batchSize)
      let whole = start == 0 && end == total
      let xBatch = whole ? x : x.samples(start..<end)
      let yBatch = whole ? y : y.samples(start..<end)
      let predictions = try forward(xBatch, training: false)
      let (value, _) = try loss.compute(predictions: predictions, targets: yBatch)
      accumulator.addLoss(value, batchSize: end - start)
      try accumulator.addMetrics(predictions: predictions, targets: yBatch)
      start = end
    }
    var logs = accumulator.logs()
    logs["loss", default: 0] += Regularization.penalty(of: parameters)
    return logs
  }

  /// Throws unless `x` has the model's per-sample input shape.
  private func requireInput(_ x: Tensor, role: String) throws {
    guard let inputShape, x.rank == inputShape.count + 1, x.sampleShape == inputShape else {
      throw PlexusError.invalidShape(
        "\(role) have shape \(x.shape), but the model takes samples of shape \(inputShape ?? []) "
          + "(a batch [N, \((inputShape ?? []).map(String.init).joined(separator: ", "))])")
    }
  }

  /// Throws unless `x` and `y` are non-empty batches with the same number of samples.
  private static func requireSamples(_ x: Tensor, _ y: Tensor, role: String) throws {
    guard x.rank >= 1, y.rank >= 1 else {
      throw PlexusError.invalidShape(
        "\(role) data need a batch dimension: inputs have shape \(x.shape), targets \(y.shape)")
    }
    guard x.batchCount > 0 else {
      throw PlexusError.invalidArgument("\(role) data set is empty (inputs of shape \(x.shape))")
    }
    guard x.batchCount == y.batchCount else {
      throw PlexusError.invalidArgument(
        "\(role) inputs have \(x.batchCount) samples but targets have \(y.batchCount)")
    }
  }

  /// Validates the data and splits off validation samples (Keras: the last fraction).
  private static func splitData(
    _ x: Tensor, _ y: Tensor, options: TrainingOptions
  ) throws -> (x: Tensor, y: Tensor, validation: (x: Tensor, y: Tensor)?) {
    try requireSamples(x, y, role: "training")
    if let validation = options.validationData {
      try requireSamples(validation.x, validation.y, role: "validation")
      return (x, y, validation)
    }
    guard options.validationSplit > 0 else { return (x, y, nil) }
    let count = x.batchCount
    let splitAt = Int((Double(count) * (1 - Double(options.validationSplit))).rounded(.up))
    guard splitAt > 0, splitAt < count else {
      throw PlexusError.invalidArgument(
        "validation split \(options.validationSplit) of \(count) samples leaves "
          + "\(splitAt) for training and \(count - splitAt) for validation; both need at least one")
    }
    return (
      x.samples(0..<splitAt), y.samples(0..<splitAt),
      (x: x.samples(splitAt..<count), y: y.samples(splitAt..<count))
    )
  }

  /// A Fisher-Yates shuffle driven by the seeded generator, the same on every platform.
  private static func shuffle(_ order: inout [Int], using generator: inout SeededGenerator) {
    guard order.count > 1 else { return }
    for index in stride(from: order.count - 1, to: 0, by: -1) {
      let other = Int(generator.next() % UInt64(index + 1))
      order.swapAt(index, other)
    }
  }
}
