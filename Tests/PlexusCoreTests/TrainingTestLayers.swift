import PlexusCore

/// A minimal fully connected layer for training tests in the core (which cannot import
/// PlexusPerceptron): `y = x · kernel + bias`, kernel `[inputs, units]`.
final class TestLinear: Layer {
  struct Config: LayerConfiguration {
    var units: Int
    var regularizer: Regularizer?
  }

  static let typeName = "test.linear"
  var name = ""
  let config: Config
  private(set) var kernel: Parameter?
  private(set) var bias: Parameter?
  private var cachedInput: Tensor?

  init(config: Config) throws {
    guard config.units > 0 else { throw PlexusError.invalidConfiguration("units must be positive") }
    self.config = config
  }

  convenience init(units: Int, regularizer: Regularizer? = nil) {
    do { try self.init(config: Config(units: units, regularizer: regularizer)) } catch {
      preconditionFailure("\(error)")
    }
  }

  var parameters: [Parameter] { [kernel, bias].compactMap { $0 } }

  func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    try ShapeCheck.require(inputShape, rank: 1, layer: name, expected: "[features]")
    let features = inputShape[0]
    let limit = (6 / Float(features + config.units)).squareRoot()
    kernel = Parameter(
      name: "kernel",
      value: .uniform([features, config.units], low: -limit, high: limit, using: &generator),
      regularizer: config.regularizer)
    bias = Parameter(name: "bias", value: .zeros([config.units]))
    return [config.units]
  }

  func forward(_ input: Tensor, training: Bool) throws -> Tensor {
    guard let kernel, let bias else { throw PlexusError.notBuilt(name) }
    var output = Tensor.zeros([input.batchCount, config.units])
    output.addToLastAxis(bias.value)
    Tensor.matmul(input, kernel.value, into: &output, beta: 1)
    cachedInput = input
    return output
  }

  func backward(_ outputGradient: Tensor) throws -> Tensor {
    guard let kernel, let bias, let cachedInput else { throw PlexusError.notBuilt(name) }
    Tensor.matmul(cachedInput, outputGradient, transposeA: true, into: &kernel.gradient, beta: 1)
    bias.gradient += outputGradient.sumOverBatch()
    return Tensor.matmul(outputGradient, kernel.value, transposeB: true)
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
