import Plexus

/// A named benchmark workload.
struct Workload {
  var name: String
  var run: (Double) throws -> Measurement
}

enum Workloads {
  static var all: [Workload] {
    [
      Workload(name: "sgemm_256x1024x1024", run: sgemm),
      Workload(name: "dense_forward_256x1024x1024", run: denseForward),
      Workload(name: "mlp_inference_batch1", run: mlpInferenceBatch1),
    ] + trainingWorkloads + convolutionWorkloads + recurrentWorkloads + dbnWorkloads
  }

  /// The digits MLP of the benchmarks: 64-128-64-10, ReLU.
  static func digitsMLP(seed: UInt64 = 0) throws -> Sequential {
    let model = Sequential([
      try Dense(64 => 128, activation: .relu), try Dense(128 => 64, activation: .relu),
      try Dense(64 => 10),
    ])
    try model.build(inputShape: [64], seed: seed)
    return model
  }

  static func sgemm(_ seconds: Double) throws -> Measurement {
    var generator = SeededGenerator(seed: 1)
    let a = Tensor.normal([256, 1024], using: &generator)
    let b = Tensor.normal([1024, 1024], using: &generator)
    var c = Tensor.zeros([256, 1024])
    var result = try measure("sgemm_256x1024x1024", seconds: seconds) {
      try Tensor.matmul(a, b, into: &c)
    }
    result.extra["gflops"] = 2 * 256 * 1024 * 1024 / result.medianSeconds / 1e9
    return result
  }

  static func denseForward(_ seconds: Double) throws -> Measurement {
    let layer = try Dense(1024 => 1024)
    try layer.build(inputShape: [1024], seed: 2)
    var generator = SeededGenerator(seed: 2)
    let input = Tensor.normal([256, 1024], using: &generator)
    let record = CallRecord()
    var result = try measure("dense_forward_256x1024x1024", seconds: seconds) {
      _ = try layer(input, record: record)
    }
    result.extra["gflops"] = 2 * 256 * 1024 * 1024 / result.medianSeconds / 1e9
    return result
  }

  static func mlpInferenceBatch1(_ seconds: Double) throws -> Measurement {
    let model = try digitsMLP()
    var generator = SeededGenerator(seed: 3)
    let input = Tensor.uniform([1, 64], low: 0, high: 1, using: &generator)
    return try measure("mlp_inference_batch1", seconds: seconds, inner: 100) {
      _ = try model.predict(input)
    }
  }
}
