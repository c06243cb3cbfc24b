import PlexusCore

/// Repeats each row and column of channels-last images (nearest-neighbour upsampling):
/// `[N, H, W, C]` becomes `[N, H * sizeHeight, W * sizeWidth, C]`.
///
/// ```swift
/// let up = try UpSampling2D(size: 2)
/// ```
public final class UpSampling2D: UnaryLayer {
  /// The hyperparameters of an upsampling layer. An omitted `size` is `[2, 2]`; an unknown
  /// key is an error.
  public struct Config: DefaultedConfiguration {
    /// The repetition factors `[height, width]`.
    public var size: [Int]
    /// Creates a config.
    public init(size: [Int] = [2, 2]) { self.size = size }

    public static var defaults: Config { Config() }
    public static var fields: [ConfigField<Config>] { [.init("size", \.size)] }
  }

  public static let typeName = "plexus.up_sampling2d"
  public let state = LayerState()
  public let config: Config
  /// The per-sample input shape `[H, W, C]` the layer was built for.
  private let inputShape = BuildValue<[Int]>()

  /// - Throws: `PlexusError.invalidConfiguration` unless `size` holds two factors in
  ///   `1...16777216` (2^24).
  public init(config: Config) throws {
    try Validate.extents(config.size, what: "size", layer: "up_sampling2d")
    self.config = config
  }

  /// Creates an upsampling layer with the same factor along both axes.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` for a factor out of range.
  public convenience init(size: Int = 2, name: String = "") throws {
    try self.init(config: Config(size: [size, size]))
    self.name = name
  }

  public func build(for inputShape: SymbolicShape) throws -> SymbolicShape {
    let shape = try Validate.input(
      inputShape, rank: 3, layer: name, expected: "[height, width, channels] (rank 3)")
    let output = [shape[0] * config.size[0], shape[1] * config.size[1], shape[2]]
    try Validate.sampleSize(output, layer: name)
    self.inputShape.value = shape
    return output.map { $0 }
  }

  public func forward(_ input: Tensor, record: CallRecord) throws -> Tensor {
    let inputShape = try self.inputShape.get(layer: name)
    let (height, width, channels) = (inputShape[0], inputShape[1], inputShape[2])
    let (factorHeight, factorWidth) = (config.size[0], config.size[1])
    let shape = [input.batchCount, height * factorHeight, width * factorWidth, channels]
    let outputRowLength = shape[2] * channels
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

  public func backward(_ outputGradient: Tensor, record: CallRecord, computingInputGradient: Bool)
    throws -> Tensor?
  {
    guard computingInputGradient else { return nil }
    let inputShape = try self.inputShape.get(layer: name)
    let (height, width, channels) = (inputShape[0], inputShape[1], inputShape[2])
    let (factorHeight, factorWidth) = (config.size[0], config.size[1])
    return Tensor(shape: record.inputs[0].shape) { dx in
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
