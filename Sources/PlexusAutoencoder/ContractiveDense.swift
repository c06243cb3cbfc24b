import PlexusCore

/// A dense layer that adds the contractive penalty of Rifai et al. (2011) to the training
/// objective: `weight · ‖∂h/∂x‖²_F`, the squared Frobenius norm of the Jacobian of its output
/// with respect to its input, averaged over the batch. As the code layer of an encoder it makes
/// a contractive autoencoder, whose codes change little under small changes of the input.
///
/// For `h = f(x W + b)` with an elementwise `f` the Jacobian's norm is
/// `Σ_j f'(z_j)² Σ_i W_ij²`, so the penalty and its gradient are exact and cheap. The
/// activation is `sigmoid` (the original's), `tanh`, `relu` or `linear`. The penalty is logged
/// as `contractive`; its gradient is added in `backward`. Registered as
/// `plexus.contractive_dense`; parameters `kernel` `[inputs, units]` and `bias`, as `Dense`.
public final class ContractiveDense: UnaryLayer {
  /// The hyperparameters of a contractive dense layer.
  public struct Config: DefaultedConfiguration {
    /// The number of output units.
    public var units: Int
    /// The activation: `sigmoid`, `tanh`, `relu` or `linear`.
    public var activation: ActivationFunction
    /// The weight of the penalty, finite and non-negative.
    public var weight: Float

    /// Creates a config.
    public init(units: Int, activation: ActivationFunction = .sigmoid, weight: Float = 0.1) {
      self.units = units
      self.activation = activation
      self.weight = weight
    }

    public static var defaults: Config { Config(units: 1) }
    public static var fields: [ConfigField<Config>] {
      [
        .required("units", \.units), .init("activation", \.activation),
        .init("weight", \.weight),
      ]
    }
  }

  /// The activations the penalty is defined for.
  public static let supportedActivations: [ActivationFunction] = [
    .sigmoid, .tanh, .relu, .linear,
  ]

  public static let typeName = "plexus.contractive_dense"
  public let state = LayerState()
  public let config: Config
  /// The weights, `[inputs, units]`.
  public let kernel = Parameter(name: "kernel")
  /// The biases, `[units]`.
  public let bias = Parameter(name: "bias")

  /// - Throws: `PlexusError.invalidConfiguration` for a unit count out of range, an activation
  ///   other than sigmoid, tanh, relu or linear, or a weight that is negative or not finite.
  public init(config: Config) throws {
    guard config.units > 0, config.units <= ParameterAllocation.maximumSampleElements else {
      throw PlexusError.invalidConfiguration(
        "contractive_dense units must be in 1...\(ParameterAllocation.maximumSampleElements), "
          + "got \(config.units)")
    }
    guard Self.supportedActivations.contains(config.activation) else {
      throw PlexusError.invalidConfiguration(
        "contractive_dense activation must be sigmoid, tanh, relu or linear, got "
          + "'\(config.activation.name)'")
    }
    guard config.weight.isFinite, config.weight >= 0 else {
      throw PlexusError.invalidConfiguration(
        "contractive_dense weight must be finite and non-negative, got \(config.weight)")
    }
    self.config = config
  }

  /// Creates a contractive dense layer.
  ///
  /// - Throws: as `init(config:)`.
  public convenience init(
    units: Int, activation: ActivationFunction = .sigmoid, weight: Float = 0.1, name: String = ""
  ) throws {
    try self.init(config: Config(units: units, activation: activation, weight: weight))
    self.name = name
  }

  public var parameters: [Parameter] { [kernel, bias] }

  public func build(for inputShape: SymbolicShape) throws -> SymbolicShape {
    let shape = try ShapeCheck.require(
      inputShape, rank: 1, layer: name, expected: "[features] (rank 1)")
    try kernel.declare(
      shape: [shape[0], config.units], initializer: .glorotUniform, fanIn: shape[0],
      fanOut: config.units)
    try bias.declare(
      shape: [config.units], initializer: .zeros, fanIn: shape[0], fanOut: config.units)
    return [config.units]
  }

  public func forward(_ input: Tensor, record: CallRecord) throws -> Tensor {
    var output = Tensor.zeros([input.batchCount, config.units])
    try output.addToLastAxis(bias.value)
    try Tensor.matmul(input, kernel.value, into: &output, beta: 1)
    if config.activation != .linear {
      output.withUnsafeMutableBufferPointer {
        config.activation.applyInPlace($0, lastDimension: config.units)
      }
    }
    if record.isTraining, config.weight > 0 {
      record.addLoss(try penalty(output: output), name: "contractive")
    }
    return output
  }

  /// `f'(z)` and `d f'(z) / dz` of each output, from the output alone.
  private func slopes(of output: Tensor) -> (slope: Tensor, curvature: Tensor) {
    var slope = output
    var curvature = output
    let activation = config.activation
    slope.withUnsafeMutableBufferPointer { d in
      curvature.withUnsafeMutableBufferPointer { c in
        for index in d.indices {
          let h = d[index]
          switch activation {
          case .sigmoid:
            d[index] = h * (1 - h)
            c[index] = d[index] * (1 - 2 * h)
          case .tanh:
            d[index] = 1 - h * h
            c[index] = -2 * h * d[index]
          case .relu:
            d[index] = h > 0 ? 1 : 0
            c[index] = 0
          default:
            d[index] = 1
            c[index] = 0
          }
        }
      }
    }
    return (slope, curvature)
  }

  /// `Σ_i W_ij²` for each unit `j`.
  private func columnSquares() -> [Float] {
    let units = config.units
    var sums = [Float](repeating: 0, count: units)
    kernel.value.withUnsafeBufferPointer { w in
      for index in w.indices { sums[index % units] += w[index] * w[index] }
    }
    return sums
  }

  /// The penalty of a batch given the layer's outputs on it: `weight / N · Σ_n Σ_j f'(z_nj)²
  /// Σ_i W_ij²`.
  ///
  /// - Throws: `PlexusError.shapeMismatch` for outputs that are not `[N, units]`.
  public func penalty(output: Tensor) throws -> Float {
    guard output.rank == 2, output.shape[1] == config.units else {
      throw PlexusError.shapeMismatch(
        layer: name, expected: "[N, \(config.units)]", found: output.shape)
    }
    let squares = columnSquares()
    let units = config.units
    var total: Double = 0
    slopes(of: output).slope.withUnsafeBufferPointer { d in
      for index in d.indices { total += Double(d[index] * d[index] * squares[index % units]) }
    }
    return config.weight * Float(total / Double(max(output.batchCount, 1)))
  }

  public func backward(_ outputGradient: Tensor, record: CallRecord, computingInputGradient: Bool)
    throws -> Tensor?
  {
    let output = record.outputs[0]
    let input = record.inputs[0]
    let units = config.units
    let (slope, curvature) = slopes(of: output)
    // dL/dz = dL/dh · f'(z), plus the penalty's 2λ/N f'(z) f''(z) Σ_i W_ij².
    var gradient = outputGradient
    let penalized = record.isTraining && config.weight > 0
    let scale = 2 * config.weight / Float(max(input.batchCount, 1))
    let squares = penalized ? columnSquares() : []
    var slopeSquareSums = [Float](repeating: 0, count: units)
    gradient.withUnsafeMutableBufferPointer { g in
      slope.withUnsafeBufferPointer { d in
        curvature.withUnsafeBufferPointer { c in
          for index in g.indices {
            g[index] *= d[index]
            if penalized {
              let unit = index % units
              g[index] += scale * d[index] * c[index] * squares[unit]
              slopeSquareSums[unit] += d[index] * d[index]
            }
          }
        }
      }
    }
    try Tensor.matmul(input, gradient, transposeA: true, into: &kernel.gradient, beta: 1)
    if penalized {
      // The penalty's direct dependence on W: 2λ/N W_ij Σ_n f'(z_nj)².
      let weights = kernel.value
      kernel.gradient.withUnsafeMutableBufferPointer { g in
        weights.withUnsafeBufferPointer { w in
          for index in g.indices {
            g[index] += scale * w[index] * slopeSquareSums[index % units]
          }
        }
      }
    }
    try bias.gradient += gradient.sumOverBatch()
    return computingInputGradient
      ? try Tensor.matmul(gradient, kernel.value, transposeB: true) : nil
  }
}
