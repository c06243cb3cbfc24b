import PlexusCore

/// Max pooling over windows of channels-last images.
///
/// Input `[N, H, W, C]`, output `[N, OH, OW, C]`. Strides default to the pool size; padded
/// positions never win the maximum.
///
/// ```swift
/// let pool = try MaxPool2D(poolSize: 2)
/// ```
public final class MaxPool2D: Layer {
  /// The hyperparameters of a max pooling layer.
  public struct Config: LayerConfiguration {
    /// The window `[height, width]`.
    public var poolSize: [Int]
    /// The strides `[height, width]`; `nil` uses the pool size.
    public var strides: [Int]?
    /// How borders are padded (default `valid`).
    public var padding: Padding

    /// Creates a config.
    public init(poolSize: [Int] = [2, 2], strides: [Int]? = nil, padding: Padding = .valid) {
      self.poolSize = poolSize
      self.strides = strides
      self.padding = padding
    }

    private enum CodingKeys: String, CodingKey { case poolSize, strides, padding }

    public init(from decoder: Decoder) throws {
      let container = try decoder.container(keyedBy: CodingKeys.self)
      poolSize = try container.decodeIfPresent([Int].self, forKey: .poolSize) ?? [2, 2]
      strides = try container.decodeIfPresent([Int].self, forKey: .strides)
      padding = try container.decodeIfPresent(Padding.self, forKey: .padding) ?? .valid
    }
  }

  public static let typeName = "plexus.max_pool2d"
  public var name = ""
  public let config: Config
  private var inputShape: [Int]?
  private var outputShape: [Int]?
  private var geometry: ConvolutionGeometry?
  private var argmax: [Int32]?
  private var cachedInput: Tensor?
  private var cachedOutputShape: [Int]?

  /// - Throws: `PlexusError.invalidConfiguration` for non-positive pool sizes or strides, or
  ///   negative padding.
  public init(config: Config) throws {
    try Validate.positivePair(config.poolSize, what: "poolSize", layer: "max_pool2d")
    if let strides = config.strides {
      try Validate.positivePair(strides, what: "strides", layer: "max_pool2d")
    }
    try config.padding.validate(in: "max_pool2d")
    self.config = config
  }

  /// Creates a max pooling layer with a square window (strides default to the window).
  ///
  /// - Throws: `PlexusError.invalidConfiguration` for non-positive sizes or negative padding.
  public convenience init(
    poolSize: Int = 2, strides: Int? = nil, padding: Padding = .valid, name: String = ""
  )
    throws
  {
    try self.init(
      config: Config(
        poolSize: [poolSize, poolSize], strides: strides.map { [$0, $0] }, padding: padding))
    self.name = name
  }

  public func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    let geometry = try PoolingKernels.geometry(
      layer: name, inputShape: inputShape, poolSize: config.poolSize,
      strides: config.strides ?? config.poolSize,
      padding: config.padding)
    self.geometry = geometry
    self.inputShape = inputShape
    let output = [geometry.outputHeight, geometry.outputWidth, geometry.channels]
    outputShape = output
    return output
  }

  public func forward(_ input: Tensor, training: Bool) throws -> Tensor {
    try ShapeCheck.requireBatch(input, sampleShape: inputShape, layer: name)
    guard let geometry, let outputShape else {
      throw PlexusError.notBuilt("layer '\(name)' is not built")
    }
    let batch = input.batchCount
    let shape = [batch] + outputShape
    cachedInput = input
    cachedOutputShape = shape
    guard training else {
      // Inference needs no routing; backward recomputes it if it is asked for.
      argmax = nil
      return Tensor(unsafeUninitializedShape: shape) { out in
        input.withUnsafeBufferPointer { x in
          PoolingKernels.maxPoolForward(
            x.baseAddress!, samples: batch, geometry: geometry, output: out.baseAddress!,
            argmax: nil)
        }
      }
    }
    let (output, winners) = Self.pool(input, geometry: geometry, shape: shape)
    argmax = winners
    return output
  }

  /// Max pools `input` and records the winning offsets.
  private static func pool(_ input: Tensor, geometry: ConvolutionGeometry, shape: [Int]) -> (
    Tensor, [Int32]
  ) {
    let batch = input.batchCount
    var winners = [Int32](repeating: 0, count: shape.reduce(1, *))
    let output = Tensor(unsafeUninitializedShape: shape) { out in
      input.withUnsafeBufferPointer { x in
        winners.withUnsafeMutableBufferPointer { argmax in
          PoolingKernels.maxPoolForward(
            x.baseAddress!, samples: batch, geometry: geometry, output: out.baseAddress!,
            argmax: argmax.baseAddress!)
        }
      }
    }
    return (output, winners)
  }

  public func backward(_ outputGradient: Tensor) throws -> Tensor {
    try ShapeCheck.requireGradient(outputGradient, matches: cachedOutputShape, layer: name)
    guard let geometry, let cachedInput else {
      throw PlexusError.notBuilt("layer '\(name)' is not built")
    }
    let winners =
      argmax ?? Self.pool(cachedInput, geometry: geometry, shape: outputGradient.shape).1
    argmax = winners
    return Tensor(shape: cachedInput.shape) { dx in
      outputGradient.withUnsafeBufferPointer { dy in
        winners.withUnsafeBufferPointer { winners in
          PoolingKernels.maxPoolBackward(
            dy.baseAddress!, argmax: winners.baseAddress!, samples: cachedInput.batchCount,
            geometry: geometry,
            inputGradient: dx.baseAddress!)
        }
      }
    }
  }
}
