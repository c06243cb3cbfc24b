import PlexusCore

/// Repeats each row and column of channels-last images (nearest-neighbour upsampling):
/// `[N, H, W, C]` becomes `[N, H * sizeHeight, W * sizeWidth, C]`.
///
/// ```swift
/// let up = try UpSampling2D(size: 2)
/// ```
public final class UpSampling2D: Layer {
  /// The hyperparameters of an upsampling layer.
  public struct Config: LayerConfiguration {
    /// The repetition factors `[height, width]`.
    public var size: [Int]
    /// Creates a config.
    public init(size: [Int] = [2, 2]) { self.size = size }

    private enum CodingKeys: String, CodingKey { case size }

    public init(from decoder: Decoder) throws {
      let container = try decoder.container(keyedBy: CodingKeys.self)
      size = try container.decodeIfPresent([Int].self, forKey: .size) ?? [2, 2]
    }
  }

  public static let typeName = "plexus.up_sampling2d"
  public var name = ""
  public let config: Config
  private var inputShape: [Int]?
  private var outputShape: [Int]?
  private var cachedOutputShape: [Int]?

  /// - Throws: `PlexusError.invalidConfiguration` unless `size` holds two positive factors.
  public init(config: Config) throws {
    try Validate.positivePair(config.size, what: "size", layer: "up_sampling2d")
    self.config = config
  }

  /// Creates an upsampling layer with the same factor along both axes.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` for a non-positive factor.
  public convenience init(size: Int = 2, name: String = "") throws {
    try self.init(config: Config(size: [size, size]))
    self.name = name
  }

  public func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    try ShapeCheck.require(
      inputShape, rank: 3, layer: name, expected: "[height, width, channels] (rank 3)")
    self.inputShape = inputShape
    let output = [inputShape[0] * config.size[0], inputShape[1] * config.size[1], inputShape[2]]
    outputShape = output
    return output
  }

  public func forward(_ input: Tensor, training: Bool) throws -> Tensor {
    try ShapeCheck.requireBatch(input, sampleShape: inputShape, layer: name)
    guard let inputShape, let outputShape else {
      throw PlexusError.notBuilt("layer '\(name)' is not built")
    }
    let shape = [input.batchCount] + outputShape
    cachedOutputShape = shape
    let (height, width, channels) = (inputShape[0], inputShape[1], inputShape[2])
    let (factorHeight, factorWidth) = (config.size[0], config.size[1])
    let outputRowLength = outputShape[1] * channels
    return Tensor(unsafeUninitializedShape: shape) { out in
      input.withUnsafeBufferPointer { x in
        var target = out.baseAddress!
        for sourceRow in 0..<(input.batchCount * height) {
          let rowStart = target
          let source = x.baseAddress! + sourceRow * width * channels
          for column in 0..<width {
            for _ in 0..<factorWidth {
              target.update(from: source + column * channels, count: channels)
              target += channels
            }
          }
          for _ in 1..<factorHeight {
            target.update(from: rowStart, count: outputRowLength)
            target += outputRowLength
          }
        }
      }
    }
  }

  public func backward(_ outputGradient: Tensor) throws -> Tensor {
    try ShapeCheck.requireGradient(outputGradient, matches: cachedOutputShape, layer: name)
    guard let inputShape else { throw PlexusError.notBuilt("layer '\(name)' is not built") }
    let (height, width, channels) = (inputShape[0], inputShape[1], inputShape[2])
    let (factorHeight, factorWidth) = (config.size[0], config.size[1])
    return Tensor(shape: [outputGradient.batchCount] + inputShape) { dx in
      outputGradient.withUnsafeBufferPointer { dy in
        var source = dy.baseAddress!
        for targetRow in 0..<(outputGradient.batchCount * height) {
          let target = dx.baseAddress! + targetRow * width * channels
          for _ in 0..<factorHeight {
            for column in 0..<width {
              let sums = target + column * channels
              for _ in 0..<factorWidth {
                for channel in 0..<channels { sums[channel] += source[channel] }
                source += channels
              }
            }
          }
        }
      }
    }
  }
}
