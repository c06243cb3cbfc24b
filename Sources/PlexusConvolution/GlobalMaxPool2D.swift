import PlexusCore

/// Takes the maximum of each channel over all positions: `[N, H, W, C]` becomes `[N, C]` (or
/// `[N, 1, 1, C]` with `keepDims`).
///
/// ```swift
/// let pool = GlobalMaxPool2D()
/// ```
public final class GlobalMaxPool2D: Layer {
  /// The hyperparameters of a global max pooling layer.
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

  public static let typeName = "plexus.global_max_pool2d"
  public var name = ""
  public let config: Config
  private var inputShape: [Int]?
  private var outputShape: [Int]?
  private var cachedOutputShape: [Int]?
  private var argmax: [Int32] = []

  /// Creates a global pooling layer from its configuration.
  public init(config: Config) { self.config = config }

  /// Creates a global max pooling layer.
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
    let shape = [batch] + outputShape
    var winners = [Int32](repeating: 0, count: batch * channels)
    let output = Tensor(unsafeUninitializedShape: shape) { out in
      input.withUnsafeBufferPointer { x in
        winners.withUnsafeMutableBufferPointer { argmax in
          for sample in 0..<batch {
            let best = out.baseAddress! + sample * channels
            let index = argmax.baseAddress! + sample * channels
            let start = x.baseAddress! + sample * positions * channels
            best.update(from: start, count: channels)
            var row = start + channels
            for position in 1..<Swift.max(positions, 1) {
              let offset = Int32(truncatingIfNeeded: position * channels)
              for channel in 0..<channels where row[channel] > best[channel] {
                best[channel] = row[channel]
                index[channel] = offset
              }
              row += channels
            }
          }
        }
      }
    }
    argmax = winners
    cachedOutputShape = shape
    return output
  }

  public func backward(_ outputGradient: Tensor) throws -> Tensor {
    try ShapeCheck.requireGradient(outputGradient, matches: cachedOutputShape, layer: name)
    guard let inputShape else { throw PlexusError.notBuilt("layer '\(name)' is not built") }
    let batch = outputGradient.batchCount
    let positions = inputShape[0] * inputShape[1]
    let channels = inputShape[2]
    return Tensor(shape: [batch] + inputShape) { dx in
      outputGradient.withUnsafeBufferPointer { dy in
        argmax.withUnsafeBufferPointer { winners in
          for sample in 0..<batch {
            let target = dx.baseAddress! + sample * positions * channels
            for channel in 0..<channels {
              let index = sample * channels + channel
              target[Int(winners[index]) + channel] += dy[index]
            }
          }
        }
      }
    }
  }
}
