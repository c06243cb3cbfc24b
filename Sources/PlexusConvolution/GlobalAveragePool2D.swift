import PlexusCore

/// Averages each channel over all positions: `[N, H, W, C]` becomes `[N, C]` (or
/// `[N, 1, 1, C]` with `keepDims`).
///
/// ```swift
/// let pool = GlobalAveragePool2D()
/// ```
public final class GlobalAveragePool2D: Layer {
  /// The hyperparameters of a global average pooling layer.
  public struct Config: LayerConfiguration {
    /// Whether the output keeps the spatial dimensions as `1 x 1`.
    public var keepDims: Bool
    /// Creates a config.
    public init(keepDims: Bool = false) { self.keepDims = keepDims }

    private enum CodingKeys: String, CodingKey { case keepDims }

    public init(from decoder: Decoder) throws {
      let container = try decoder.container(keyedBy: CodingKeys.self)
      keepDims = try container.decodeIfPresent(Bool.self, forKey: .keepDims) ?? false
    }
  }

  public static let typeName = "plexus.global_average_pool2d"
  public var name = ""
  public let config: Config
  private var inputShape: [Int]?
  private var outputShape: [Int]?
  private var cachedOutputShape: [Int]?

  /// Creates a global pooling layer from its configuration.
  public init(config: Config) { self.config = config }

  /// Creates a global average pooling layer.
  public convenience init(keepDims: Bool = false, name: String = "") {
    self.init(config: Config(keepDims: keepDims))
    self.name = name
  }

  public func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    try ShapeCheck.require(
      inputShape, rank: 3, layer: name, expected: "[height, width, channels] (rank 3)")
    self.inputShape = inputShape
    let output = config.keepDims ? [1, 1, inputShape[2]] : [inputShape[2]]
    outputShape = output
    return output
  }

  public func forward(_ input: Tensor, training: Bool) throws -> Tensor {
    try ShapeCheck.requireBatch(input, sampleShape: inputShape, layer: name)
    guard let inputShape, let outputShape else {
      throw PlexusError.notBuilt("layer '\(name)' is not built")
    }
    let batch = input.batchCount
    let positions = inputShape[0] * inputShape[1]
    let channels = inputShape[2]
    let scale = 1 / Float(positions)
    let shape = [batch] + outputShape
    cachedOutputShape = shape
    return Tensor(shape: shape) { out in
      input.withUnsafeBufferPointer { x in
        for sample in 0..<batch {
          let sums = out.baseAddress! + sample * channels
          var row = x.baseAddress! + sample * positions * channels
          for _ in 0..<positions {
            for channel in 0..<channels { sums[channel] += row[channel] }
            row += channels
          }
          for channel in 0..<channels { sums[channel] *= scale }
        }
      }
    }
  }

  public func backward(_ outputGradient: Tensor) throws -> Tensor {
    try ShapeCheck.requireGradient(outputGradient, matches: cachedOutputShape, layer: name)
    guard let inputShape else { throw PlexusError.notBuilt("layer '\(name)' is not built") }
    let batch = outputGradient.batchCount
    let positions = inputShape[0] * inputShape[1]
    let channels = inputShape[2]
    let scale = 1 / Float(positions)
    return Tensor(shape: [batch] + inputShape) { dx in
      outputGradient.withUnsafeBufferPointer { dy in
        for sample in 0..<batch {
          let gradient = dy.baseAddress! + sample * channels
          var row = dx.baseAddress! + sample * positions * channels
          for _ in 0..<positions {
            for channel in 0..<channels { row[channel] = gradient[channel] * scale }
            row += channels
          }
        }
      }
    }
  }
}
