import PlexusCore

/// Averages each channel over all positions: `[N, H, W, C]` becomes `[N, C]` (or
/// `[N, 1, 1, C]` with `keepDims`).
///
/// ```swift
/// let pool = GlobalAveragePool2D()
/// ```
public final class GlobalAveragePool2D: Layer {
  /// The hyperparameters (see `GlobalPoolingConfig`).
  public typealias Config = GlobalPoolingConfig

  public static let typeName = "plexus.global_average_pool2d"
  public var name = ""
  public var config: Config { pooling.config }
  private var pooling: GlobalPooling

  /// Creates a global pooling layer from its configuration.
  public init(config: Config) { pooling = GlobalPooling(kind: .average, config: config) }

  /// Creates a global average pooling layer.
  public convenience init(keepDims: Bool = false, name: String = "") {
    self.init(config: Config(keepDims: keepDims))
    self.name = name
  }

  public func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    try pooling.build(inputShape: inputShape, layer: name)
  }

  public func forward(_ input: Tensor, training: Bool) throws -> Tensor {
    try pooling.forward(input, layer: name)
  }

  public func backward(_ outputGradient: Tensor) throws -> Tensor {
    try pooling.backward(outputGradient, layer: name)
  }
}
