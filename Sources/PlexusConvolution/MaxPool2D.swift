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
  /// The hyperparameters (see `PoolingConfig`).
  public typealias Config = PoolingConfig

  public static let typeName = "plexus.max_pool2d"
  public var name = ""
  public var config: Config { pooling.config }
  private var pooling: WindowPooling

  /// - Throws: `PlexusError.invalidConfiguration` for non-positive pool sizes or strides, or
  ///   negative padding.
  public init(config: Config) throws {
    pooling = try WindowPooling(kind: .maximum, config: config, layer: "max_pool2d")
  }

  /// Creates a max pooling layer with a square window (strides default to the window).
  ///
  /// - Throws: `PlexusError.invalidConfiguration` for non-positive sizes or negative padding.
  public convenience init(
    poolSize: Int = 2, strides: Int? = nil, padding: Padding = .valid, name: String = ""
  ) throws {
    try self.init(
      config: Config(
        poolSize: [poolSize, poolSize], strides: strides.map { [$0, $0] }, padding: padding))
    self.name = name
  }

  public func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    try pooling.build(inputShape: inputShape, layer: name)
  }

  public func forward(_ input: Tensor, training: Bool) throws -> Tensor {
    try pooling.forward(input, training: training, layer: name)
  }

  public func backward(_ outputGradient: Tensor) throws -> Tensor {
    try pooling.backward(outputGradient, layer: name)
  }
}
