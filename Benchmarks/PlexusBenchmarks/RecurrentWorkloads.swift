import Plexus

extension Workloads {
  /// The recurrent workloads: input 28, hidden 128, T 28, batch 64, the last output into
  /// Dense(10), softmax cross-entropy from logits, Adam; and an LSTM's batch-1 inference.
  static var recurrentWorkloads: [Workload] {
    [
      Workload(name: "lstm_train_step_batch64") {
        try recurrentTrainStep("lstm_train_step_batch64", layer: try LSTM(units: 128), $0)
      },
      Workload(name: "gru_train_step_batch64") {
        try recurrentTrainStep("gru_train_step_batch64", layer: try GRU(units: 128), $0)
      },
      Workload(name: "rnn_train_step_batch64") {
        try recurrentTrainStep("rnn_train_step_batch64", layer: try SimpleRNN(units: 128), $0)
      },
      Workload(name: "lstm_inference_batch1", run: lstmInferenceBatch1),
    ]
  }

  /// A recurrent layer over `[28, 28]` sequences followed by Dense(10), built with seed 0.
  static func recurrentModel(_ layer: any Layer) throws -> Sequential {
    let model = Sequential([layer, try Dense(units: 10)])
    try model.build(inputShape: [28, 28], seed: 0)
    return model
  }

  /// A batch of random sequences `[count, 28, 28]` and class labels.
  static func sequenceBatch(_ count: Int, seed: UInt64) -> (Tensor, Tensor) {
    var generator = SeededGenerator(seed: seed)
    let sequences = Tensor.normal([count, 28, 28], using: &generator)
    let labels = Tensor.uniform([count], low: 0, high: 10, using: &generator).map {
      $0.rounded(.down)
    }
    return (sequences, labels)
  }

  /// One training step: zero gradients, forward, loss, backward (no input gradient, as `fit`
  /// and PyTorch's leaf input), Adam step.
  static func recurrentTrainStep(_ name: String, layer: any Layer, _ seconds: Double) throws
    -> Measurement
  {
    let model = try recurrentModel(layer)
    let batches = (0..<4).map { sequenceBatch(64, seed: UInt64(20 + $0)) }
    let parameters = model.trainableParameters
    let loss = CategoricalCrossEntropy(fromLogits: true)
    let optimizer = Adam(learningRate: 1e-3)
    let graph = try model.builtGraph()
    let tape = graph.makeTape()  // reused by every step, as `fit` does
    var index = 0
    var result = try measure(name, seconds: seconds, inner: 3) {
      let (sequences, labels) = batches[index % batches.count]
      index += 1
      for parameter in parameters { parameter.zeroGradient() }
      let logits = try graph.forward([sequences], tape: tape, training: true)[0]
      _ = try graph.backward(
        [try loss.compute(predictions: logits, targets: labels).gradient], tape: tape,
        computingInputGradients: false)
      optimizer.step(parameters)
    }
    result.extra["steps_per_s"] = 1 / result.medianSeconds
    return result
  }

  /// The LSTM model's prediction for one sequence.
  static func lstmInferenceBatch1(_ seconds: Double) throws -> Measurement {
    let model = try recurrentModel(try LSTM(units: 128))
    let (sequence, _) = sequenceBatch(1, seed: 5)
    return try measure("lstm_inference_batch1", seconds: seconds, inner: 20) {
      _ = try model.predict(sequence)
    }
  }
}
