import PlexusCore

/// Max pooling over windows of channels-last images.
///
/// Input `[N, H, W, C]`, output `[N, OH, OW, C]`. Strides default to the pool size; padded
/// positions never win the maximum.
///
/// ```swift
/// let pool = try MaxPool2D(poolSize: 2)
/// ```
public final class MaxPool2D: UnaryLayer {
  /// The hyperparameters (see `PoolingConfig`).
  public typealias Config = PoolingConfig

  public static let typeName = "plexus.max_pool2d"
  public let state = LayerState()
  public var config: Config { pooling.config }
  private let pooling: WindowPooling

  /// - Throws: `PlexusError.invalidConfiguration` for pool sizes, strides or padding amounts
  ///   out of range.
  public init(config: Config) throws {
    pooling = try WindowPooling(kind: .maximum, config: config, layer: "max_pool2d")
  }

  /// Creates a max pooling layer with a square window (strides default to the window).
  ///
  /// - Throws: `PlexusError.invalidConfiguration` for sizes or padding out of range.
  public convenience init(
    poolSize: Int = 2, strides: Int? = nil, padding: Padding = .valid, name: String = ""
  ) throws {
    try self.init(
      config: Config(
        poolSize: [poolSize, poolSize], strides: strides.map { [$0, $0] }, padding: padding))
    self.name = name
  }

  public func build(for inputShape: SymbolicShape) throws -> SymbolicShape {
    try pooling.build(inputShape: inputShape, layer: name)
  }

  public func forward(_ input: Tensor, record: CallRecord) throws -> Tensor {
    try pooling.forward(input, record: record, layer: name)
  }

  public func backward(_ outputGradient: Tensor, record: CallRecord, computingInputGradient: Bool)
    throws -> Tensor?
  {
    guard computingInputGradient else { return nil }
    return try pooling.backward(outputGradient, record: record, layer: name)
  }
}
