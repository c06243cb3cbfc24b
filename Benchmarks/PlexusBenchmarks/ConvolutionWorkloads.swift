import Foundation
import Plexus

extension Workloads {
  /// The convolution family's workloads (LeNet-5-like on 28x28x1, batch 64 and batch 1).
  static var convolutionWorkloads: [Workload] {
    [
      Workload(name: "lenet_train_step_batch64", run: lenetTrainStep),
      Workload(name: "lenet_inference_batch64", run: lenetInferenceBatch64),
      Workload(name: "lenet_inference_batch1", run: lenetInferenceBatch1),
    ]
  }

  /// LeNet-5-like: conv5x5x6 ReLU, maxpool 2, conv5x5x16 ReLU, maxpool 2, dense 120 ReLU,
  /// dense 84 ReLU, dense 10 (logits).
  static func lenet(seed: UInt64 = 0) throws -> Sequential {
    let model = Sequential([
      try Conv2D(1 => 6, kernelSize: 5, activation: .relu), try MaxPool2D(poolSize: 2),
      try Conv2D(6 => 16, kernelSize: 5, activation: .relu), try MaxPool2D(poolSize: 2),
      Flatten(), Dense(256 => 120, activation: .relu), Dense(120 => 84, activation: .relu), Dense(84 => 10),
    ])
    try model.build(inputShape: [28, 28, 1], seed: seed)
    return model
  }

  /// Fixed random 28x28 images in `[0, 1)` and labels.
  static func lenetBatch(_ count: Int, seed: UInt64) -> (Tensor, [Int]) {
    var generator = SeededGenerator(seed: seed)
    let images = Tensor.uniform([count, 28, 28, 1], low: 0, high: 1, using: &generator)
    let labels = (0..<count).map { _ in Int(generator.next() % 10) }
    return (images, labels)
  }

  /// One training step: forward, softmax cross-entropy, backward and an Adam update
  /// (learning rate 1e-3, as the PyTorch reference).
  static func lenetTrainStep(_ seconds: Double) throws -> Measurement {
    let model = try lenet()
    let batches = (0..<8).map { lenetBatch(64, seed: UInt64(10 + $0)) }
    let parameters = model.trainableParameters
    let optimizer = BenchmarkAdam(parameters: parameters)
    var index = 0
    var result = try measure("lenet_train_step_batch64", seconds: seconds, inner: 5) {
      let (images, labels) = batches[index % batches.count]
      index += 1
      for parameter in parameters { parameter.zeroGradient() }
      let logits = try model.forward(images, training: true)
      _ = try model.backward(softmaxCrossEntropyGradient(logits: logits, labels: labels))
      optimizer.step()
    }
    result.extra["steps_per_s"] = 1 / result.medianSeconds
    return result
  }

  static func lenetInferenceBatch64(_ seconds: Double) throws -> Measurement {
    let model = try lenet()
    let (images, _) = lenetBatch(64, seed: 3)
    var result = try measure("lenet_inference_batch64", seconds: seconds, inner: 10) {
      _ = try model.forward(images, training: false)
    }
    result.extra["images_per_s"] = 64 / result.medianSeconds
    return result
  }

  static func lenetInferenceBatch1(_ seconds: Double) throws -> Measurement {
    let model = try lenet()
    let (images, _) = lenetBatch(1, seed: 4)
    return try measure("lenet_inference_batch1", seconds: seconds, inner: 100) {
      _ = try model.forward(images, training: false)
    }
  }

  /// The gradient of the mean softmax cross-entropy with respect to the logits.
  static func softmaxCrossEntropyGradient(logits: Tensor, labels: [Int]) -> Tensor {
    var gradient = ActivationFunction.softmax.apply(logits)
    let classes = logits.shape[1]
    let scale = 1 / Float(labels.count)
    gradient.withUnsafeMutableBufferPointer { buffer in
      for (row, label) in labels.enumerated() { buffer[row * classes + label] -= 1 }
      for index in buffer.indices { buffer[index] *= scale }
    }
    return gradient
  }
}

/// Adam (beta1 0.9, beta2 0.999, epsilon 1e-8) for the benchmark's training step.
final class BenchmarkAdam {
  let parameters: [Parameter]
  var first: [Tensor]
  var second: [Tensor]
  var stepCount = 0
  let learningRate: Float = 1e-3

  init(parameters: [Parameter]) {
    self.parameters = parameters
    first = parameters.map { Tensor.zeros($0.value.shape) }
    second = first
  }

  func step() {
    stepCount += 1
    let correction1 = 1 - Float(pow(0.9, Double(stepCount)))
    let correction2 = 1 - Float(pow(0.999, Double(stepCount)))
    let rate = learningRate * correction2.squareRoot() / correction1
    for (index, parameter) in parameters.enumerated() {
      let gradient = parameter.gradient
      first[index].withUnsafeMutableBufferPointer { m in
        second[index].withUnsafeMutableBufferPointer { v in
          parameter.value.withUnsafeMutableBufferPointer { w in
            gradient.withUnsafeBufferPointer { g in
              for i in 0..<g.count {
                m[i] = 0.9 * m[i] + 0.1 * g[i]
                v[i] = 0.999 * v[i] + 0.001 * g[i] * g[i]
                w[i] -= rate * m[i] / (v[i].squareRoot() + 1e-8)
              }
            }
          }
        }
      }
    }
  }
}
