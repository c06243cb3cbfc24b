import PlexusCore

/// Average pooling over windows of channels-last images.
///
/// Input `[N, H, W, C]`, output `[N, OH, OW, C]`. Strides default to the pool size. Each
/// window averages only the positions inside the input, so padding does not dilute border
/// outputs (as Keras; PyTorch's `count_include_pad=False`).
///
/// ```swift
/// let pool = try AveragePool2D(poolSize: 2)
/// ```
public final class AveragePool2D: Layer {
  /// The hyperparameters of an average pooling layer.
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

  public static let typeName = "plexus.average_pool2d"
  public var name = ""
  public let config: Config
  private var inputShape: [Int]?
  private var outputShape: [Int]?
  private var geometry: ConvolutionGeometry?
  private var cachedInputShape: [Int]?
  private var cachedOutputShape: [Int]?

  /// - Throws: `PlexusError.invalidConfiguration` for non-positive pool sizes or strides, or
  ///   negative padding.
  public init(config: Config) throws {
    try Validate.positivePair(config.poolSize, what: "poolSize", layer: "average_pool2d")
    if let strides = config.strides {
      try Validate.positivePair(strides, what: "strides", layer: "average_pool2d")
    }
    try config.padding.validate(in: "average_pool2d")
    self.config = config
  }

  /// Creates an average pooling layer with a square window (strides default to the window).
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
    let output = Tensor(unsafeUninitializedShape: shape) { out in
      input.withUnsafeBufferPointer { x in
        PoolingKernels.averagePoolForward(
          x.baseAddress!, samples: batch, geometry: geometry, output: out.baseAddress!)
      }
    }
    cachedInputShape = input.shape
    cachedOutputShape = shape
    return output
  }

  public func backward(_ outputGradient: Tensor) throws -> Tensor {
    try ShapeCheck.requireGradient(outputGradient, matches: cachedOutputShape, layer: name)
    guard let geometry, let cachedInputShape else {
      throw PlexusError.notBuilt("layer '\(name)' is not built")
    }
    return Tensor(shape: cachedInputShape) { dx in
      outputGradient.withUnsafeBufferPointer { dy in
        PoolingKernels.averagePoolBackward(
          dy.baseAddress!, samples: cachedInputShape[0], geometry: geometry,
          inputGradient: dx.baseAddress!)
      }
    }
  }
}
