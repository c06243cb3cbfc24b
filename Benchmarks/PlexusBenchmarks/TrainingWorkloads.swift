import Plexus

extension Workloads {
  /// Workloads that need the training loop.
  static var trainingWorkloads: [Workload] {
    [Workload(name: "mlp_train_step_batch32", run: mlpTrainStep)]
  }

  /// One training step of the digits MLP (64-128-64-10 ReLU, softmax cross-entropy from
  /// logits, Adam), batch 32, cycling through the digits: zero gradients, forward, loss,
  /// backward, optimizer step — what the PyTorch reference times.
  static func mlpTrainStep(_ seconds: Double) throws -> Measurement {
    let model = try digitsMLP()
    let data = try Digits.load()
    let batches = try Array(data.batches(size: 32, shuffle: false, seed: 0)).filter {
      $0.features.batchCount == 32
    }
    let loss = CategoricalCrossEntropy(fromLogits: true)
    let optimizer = Adam(learningRate: 0.001)
    let parameters = model.trainableParameters
    let graph = try model.builtGraph()
    let tape = graph.makeTape()  // reused by every step, as `fit` does
    var index = 0
    return try measure("mlp_train_step_batch32", seconds: seconds, inner: 10) {
      let batch = batches[index % batches.count]
      index += 1
      model.zeroGradients()
      let output = try graph.forward([batch.features], tape: tape, training: true)[0]
      let (_, gradient) = try loss.compute(predictions: output, targets: batch.labels)
      // As `fit` does: no gradient for the batch itself.
      _ = try graph.backward([gradient], tape: tape, computingInputGradients: false)
      optimizer.step(parameters)
    }
  }
}
