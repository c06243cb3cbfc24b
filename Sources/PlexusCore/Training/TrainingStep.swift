/// One batch handed to a training or evaluation step.
public struct TrainingBatch {
  /// One tensor per model input, `[n] + inputShape`.
  public let inputs: [Tensor]
  /// One target tensor per model output (`nil` for an output without a loss).
  public let targets: [Tensor?]
  /// The number of samples in the batch.
  public var sampleCount: Int { inputs.first?.shape.first ?? 0 }

  /// Creates a batch.
  public init(inputs: [Tensor], targets: [Tensor?]) {
    self.inputs = inputs
    self.targets = targets
  }
}

/// The loss of one model output, its weight in the total objective and the metrics measured on
/// that output.
public struct OutputLoss {
  /// The loss of this output.
  public var loss: any Loss
  /// The weight of the loss in the total (Keras `loss_weights`).
  public var weight: Float
  /// The metrics of this output (`nil`: the training options' metrics).
  public var metrics: [Metric]?

  /// Creates an output loss.
  public init(_ loss: any Loss, weight: Float = 1, metrics: [Metric]? = nil) {
    self.loss = loss
    self.weight = weight
    self.metrics = metrics
  }
}

/// What a step reports: the batch's total objective, the outputs it computed (for metrics),
/// each output's own loss and any further values to log.
public struct TrainingStepResult {
  /// The total objective of the batch (weighted losses, layer losses, penalties), checked for
  /// NaN and logged as `loss`.
  public var loss: Float
  /// The outputs computed for the batch, one per model output (`nil` where not computed).
  public var outputs: [Tensor?]
  /// Each output's unweighted loss (`nil` for outputs without a loss).
  public var outputLosses: [Float?]
  /// Further values to log, averaged over the epoch's samples (`reconstruction_error`, `kl`).
  public var logs: [String: Float]

  /// Creates a result.
  public init(
    loss: Float, outputs: [Tensor?] = [], outputLosses: [Float?] = [], logs: [String: Float] = [:]
  ) {
    self.loss = loss
    self.outputs = outputs
    self.outputLosses = outputLosses
    self.logs = logs
  }
}

/// What a training or evaluation step works with: the model's graph and a tape reused across
/// steps, the optimizer, the losses per output and the options; and the standard supervised
/// steps, which custom steps may call.
public final class TrainingStepContext {
  /// The model being trained or evaluated.
  public let model: any ModelProtocol
  /// The model's graph.
  public let graph: Graph
  /// The tape reused by every step of this run.
  public let tape: GraphTape
  /// The optimizer (`nil` while evaluating).
  public let optimizer: (any Optimizer)?
  /// The loss of each graph output (`nil` for outputs that no loss reads).
  public let losses: [OutputLoss?]
  /// The training options.
  public let options: TrainingOptions
  /// The current epoch (from 1; 0 while evaluating).
  public internal(set) var epoch = 0
  /// The current batch within the epoch (from 1).
  public internal(set) var batch = 0
  /// The parameters training updates, each once.
  public let trainableParameters: [Parameter]
  /// Every parameter, each once.
  public let allParameters: [Parameter]
  let regularized: [Parameter]

  init(
    model: any ModelProtocol, graph: Graph, optimizer: (any Optimizer)?, losses: [OutputLoss?],
    options: TrainingOptions
  ) {
    self.model = model
    self.graph = graph
    self.tape = graph.makeTape()
    self.optimizer = optimizer
    self.losses = losses
    self.options = options
    self.allParameters = model.parameters
    let trainable = model.trainableParameters
    self.trainableParameters = trainable
    self.regularized = trainable.filter { $0.regularizer != nil }
  }

  /// Resets every parameter's gradient.
  public func zeroGradients() {
    for parameter in allParameters { parameter.zeroGradient() }
  }

  /// The regularizers' penalty on the trainable parameters.
  public var regularizationPenalty: Float { Regularization.penalty(of: regularized) }

  /// Adds the regularizers' gradients, clips the gradients as the options say and lets the
  /// optimizer update the trainable parameters.
  ///
  /// - Throws: `PlexusError.invalidArgument` when no optimizer is set; clipping errors.
  public func applyGradients() throws {
    guard let optimizer else {
      throw PlexusError.invalidArgument("no optimizer: gradients can only be applied in fit")
    }
    Regularization.addGradients(to: regularized)
    if let limit = options.clipValue {
      try GradientClipping.clipByValue(trainableParameters, limit: limit)
    }
    if let maxNorm = options.clipGlobalNorm {
      try GradientClipping.clipByGlobalNorm(trainableParameters, maxNorm: maxNorm)
    }
    optimizer.step(trainableParameters)
  }

  /// The standard supervised step: forward in training mode, the weighted output losses plus
  /// the layers' contributed losses plus the regularizers' penalties, backward, and the
  /// optimizer's update. The update is skipped when the objective is not finite (`fit` then
  /// stops with `PlexusError.nonFiniteLoss`).
  ///
  /// - Throws: the losses' and layers' errors.
  public func supervisedStep(_ batch: TrainingBatch) throws -> TrainingStepResult {
    zeroGradients()
    let outputs = try graph.forward(batch.inputs, tape: tape, training: true)
    var result = try lossesAndGradients(outputs: outputs, targets: batch.targets)
    for term in tape.contributedLosses {
      result.result.loss += term.value
      result.result.logs[term.name, default: 0] += term.value
    }
    result.result.loss += regularizationPenalty
    guard result.result.loss.isFinite else { return result.result }
    _ = try graph.backward(result.gradients, tape: tape, computingInputGradients: false)
    try applyGradients()
    return result.result
  }

  /// The standard evaluation step: the outputs in inference mode and their losses.
  ///
  /// - Throws: the losses' and layers' errors.
  public func supervisedTestStep(_ batch: TrainingBatch) throws -> TrainingStepResult {
    let outputs = try graph.forward(batch.inputs, tape: tape, training: false)
    return try lossesAndGradients(outputs: outputs, targets: batch.targets, gradients: false).result
  }

  private func lossesAndGradients(
    outputs: [Tensor], targets: [Tensor?], gradients needGradients: Bool = true
  ) throws -> (result: TrainingStepResult, gradients: [Tensor?]) {
    var total: Float = 0
    var gradients: [Tensor?] = Array(repeating: nil, count: outputs.count)
    var outputLosses: [Float?] = Array(repeating: nil, count: outputs.count)
    for (index, output) in outputs.enumerated() {
      guard let outputLoss = losses[index], let target = targets[index] else { continue }
      // Class weights weigh the training loss only (Keras' `class_weight`).
      var (value, gradient) =
        if needGradients, let weights = options.classWeights {
          try ClassWeighting.compute(
            loss: outputLoss.loss, predictions: output, targets: target, weights: weights)
        } else {
          try outputLoss.loss.compute(predictions: output, targets: target)
        }
      outputLosses[index] = value
      total += outputLoss.weight * value
      if needGradients {
        if outputLoss.weight != 1 {
          let weight = outputLoss.weight
          gradient.withUnsafeMutableBufferPointer { buffer in
            for position in buffer.indices { buffer[position] *= weight }
          }
        }
        gradients[index] = gradient
      }
    }
    return (
      TrainingStepResult(loss: total, outputs: outputs, outputLosses: outputLosses), gradients
    )
  }
}
