import PlexusCore

/// A minimal fully connected layer for training tests in the core (which cannot import
/// PlexusPerceptron): `y = x · kernel + bias`, kernel `[inputs, units]`.
final class TestLinear: UnaryLayer {
  struct Config: LayerConfiguration {
    var units: Int
    var regularizer: Regularizer?
  }

  static let typeName = "test.linear"
  let state = LayerState()
  let config: Config
  let kernel: Parameter
  let bias = Parameter(name: "bias")

  init(config: Config) throws {
    guard config.units > 0 else { throw PlexusError.invalidConfiguration("units must be positive") }
    self.config = config
    kernel = Parameter(name: "kernel", regularizer: config.regularizer)
  }

  convenience init(units: Int, regularizer: Regularizer? = nil) throws {
    try self.init(config: Config(units: units, regularizer: regularizer))
  }

  var parameters: [Parameter] { [kernel, bias] }

  func build(for inputShape: SymbolicShape) throws -> SymbolicShape {
    let features = try ShapeCheck.require(
      inputShape, rank: 1, layer: name, expected: "[features]")[0]
    let units = config.units
    let limit = (6 / Float(features + units)).squareRoot()
    try kernel.declare(shape: [features, units]) { generator in
      .uniform([features, units], low: -limit, high: limit, using: &generator)
    }
    try bias.declare(shape: [units], filledWith: 0)
    return [units]
  }

  func forward(_ input: Tensor, record: CallRecord) throws -> Tensor {
    var output = Tensor.zeros([input.batchCount, config.units])
    try output.addToLastAxis(bias.value)
    try Tensor.matmul(input, kernel.value, into: &output, beta: 1)
    return output
  }

  func backward(_ outputGradient: Tensor, record: CallRecord, computingInputGradient: Bool)
    throws -> Tensor?
  {
    try Tensor.matmul(
      record.inputs[0], outputGradient, transposeA: true, into: &kernel.gradient, beta: 1)
    try bias.gradient += outputGradient.sumOverBatch()
    return try Tensor.matmul(outputGradient, kernel.value, transposeB: true)
  }
}

/// Synthetic data sets for training tests.
enum TrainingData {
  /// Two Gaussian blobs in 2-D, linearly separable: class 0 around (-2, -2), class 1 around
  /// (2, 2). Returns inputs `[n, 2]` and labels `[n]` (0 or 1).
  static func blobs(count: Int, seed: UInt64) -> (x: Tensor, y: Tensor) {
    var generator = SeededGenerator(seed: seed)
    var inputs: [Float] = []
    var labels: [Float] = []
    for index in 0..<count {
      let label: Float = index % 2 == 0 ? 0 : 1
      let center: Float = label == 0 ? -2 : 2
      inputs.append(center + 0.7 * generator.nextNormal())
      inputs.append(center + 0.7 * generator.nextNormal())
      labels.append(label)
    }
    return (
      (try? Tensor(shape: [count, 2], scalars: inputs)) ?? Tensor.zeros([count, 2]),
      Tensor(labels)
    )
  }

  /// A noisy linear regression `y = 2 x0 - 3 x1 + 0.5` with inputs `[n, 2]`, targets `[n, 1]`.
  static func linear(count: Int, seed: UInt64) -> (x: Tensor, y: Tensor) {
    var generator = SeededGenerator(seed: seed)
    let x = Tensor.normal([count, 2], using: &generator)
    var y = Tensor.zeros([count, 1])
    for row in 0..<count {
      y[row, 0] = 2 * x[row, 0] - 3 * x[row, 1] + 0.5 + 0.01 * generator.nextNormal()
    }
    return (x, y)
  }
}
