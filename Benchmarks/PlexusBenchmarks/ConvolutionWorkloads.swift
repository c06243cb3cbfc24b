import Plexus

extension Workloads {
  /// The convolution family's workloads (LeNet-5-like on 28x28x1, batch 64 and batch 1).
  static var convolutionWorkloads: [Workload] {
    [
      Workload(name: "lenet_train_step_batch64", run: lenetTrainStep),
      Workload(name: "lenet_inference_batch64", run: lenetInferenceBatch64),
      Workload(name: "lenet_inference_batch1", run: lenetInferenceBatch1),
      Workload(name: "depthwise3x3_step_batch16") {
        try layerStep("depthwise3x3_step_batch16", seconds: $0) {
          try DepthwiseConv2D(kernelSize: 3, padding: .same, activation: .relu)
        }
      },
      Workload(name: "conv2d_groups32_3x3_step_batch16") {
        try layerStep("conv2d_groups32_3x3_step_batch16", seconds: $0) {
          try Conv2D(
            config: .init(
              filters: 32, kernelSize: [3, 3], padding: .same, activation: .relu, groups: 32))
        }
      },
      Workload(name: "conv2d_groups4_3x3_step_batch16") {
        try layerStep("conv2d_groups4_3x3_step_batch16", seconds: $0) {
          try Conv2D(
            config: .init(
              filters: 32, kernelSize: [3, 3], padding: .same, activation: .relu, groups: 4))
        }
      },
      Workload(name: "conv2d_3x3_step_batch16") {
        try layerStep("conv2d_3x3_step_batch16", seconds: $0) {
          try Conv2D(filters: 32, kernelSize: 3, padding: .same, activation: .relu)
        }
      },
    ]
  }

  /// One forward and backward pass (with the input gradient) of a layer on a batch of 16
  /// images of 28x28x32: the grouped and depthwise convolutions of MobileNet-style models.
  static func layerStep(_ name: String, seconds: Double, _ make: () throws -> any Layer) throws
    -> Measurement
  {
    let layer = try make()
    try layer.build(inputShape: [28, 28, 32], seed: 1)
    var generator = SeededGenerator(seed: 2)
    let input = Tensor.uniform([16, 28, 28, 32], low: -1, high: 1, using: &generator)
    let gradient = Tensor.uniform([16, 28, 28, 32], low: -1, high: 1, using: &generator)
    let record = CallRecord()
    return try measure(name, seconds: seconds, inner: 2) {
      _ = try layer(input, training: true, record: record)
      _ = try layer.gradients([gradient], record: record)
    }
  }

  /// LeNet-5-like: conv5x5x6 ReLU, maxpool 2, conv5x5x16 ReLU, maxpool 2, dense 120 ReLU,
  /// dense 84 ReLU, dense 10 (logits).
  static func lenet(seed: UInt64 = 0) throws -> Sequential {
    let model = Sequential([
      try Conv2D(1 => 6, kernelSize: 5, activation: .relu), try MaxPool2D(poolSize: 2),
      try Conv2D(6 => 16, kernelSize: 5, activation: .relu), try MaxPool2D(poolSize: 2),
      Flatten(), try Dense(256 => 120, activation: .relu),
      try Dense(120 => 84, activation: .relu), try Dense(84 => 10),
    ])
    try model.build(inputShape: [28, 28, 1], seed: seed)
    return model
  }

  /// Fixed random 28x28 images in `[0, 1)` and class-index labels.
  static func lenetBatch(_ count: Int, seed: UInt64) -> (Tensor, Tensor) {
    var generator = SeededGenerator(seed: seed)
    let images = Tensor.uniform([count, 28, 28, 1], low: 0, high: 1, using: &generator)
    let labels = Tensor((0..<count).map { _ in Float(generator.next() % 10) })
    return (images, labels)
  }

  /// One training step: forward, softmax cross-entropy, backward and an Adam update
  /// (learning rate 1e-3, as the PyTorch reference).
  static func lenetTrainStep(_ seconds: Double) throws -> Measurement {
    let model = try lenet()
    let batches = (0..<8).map { lenetBatch(64, seed: UInt64(10 + $0)) }
    let parameters = model.trainableParameters
    let loss = CategoricalCrossEntropy(fromLogits: true)
    let optimizer = Adam(learningRate: 1e-3)
    let graph = try model.builtGraph()
    let tape = graph.makeTape()  // reused by every step, as `fit` does
    var index = 0
    var result = try measure("lenet_train_step_batch64", seconds: seconds, inner: 5) {
      let (images, labels) = batches[index % batches.count]
      index += 1
      for parameter in parameters { parameter.zeroGradient() }
      let logits = try graph.forward([images], tape: tape, training: true)[0]
      // As in `fit` (and PyTorch, whose input needs no gradient): no input gradient.
      _ = try graph.backward(
        [try loss.compute(predictions: logits, targets: labels).gradient], tape: tape,
        computingInputGradients: false)
      optimizer.step(parameters)
    }
    result.extra["steps_per_s"] = 1 / result.medianSeconds
    return result
  }

  static func lenetInferenceBatch64(_ seconds: Double) throws -> Measurement {
    let model = try lenet()
    let (images, _) = lenetBatch(64, seed: 3)
    var result = try measure("lenet_inference_batch64", seconds: seconds, inner: 10) {
      _ = try model.predict(images)
    }
    result.extra["images_per_s"] = 64 / result.medianSeconds
    return result
  }

  static func lenetInferenceBatch1(_ seconds: Double) throws -> Measurement {
    let model = try lenet()
    let (images, _) = lenetBatch(1, seed: 4)
    return try measure("lenet_inference_batch1", seconds: seconds, inner: 100) {
      _ = try model.predict(images)
    }
  }
}
