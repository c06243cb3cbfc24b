import PlexusCore

/// Takes the maximum of each channel over all positions: `[N, H, W, C]` becomes `[N, C]` (or
/// `[N, 1, 1, C]` with `keepDims`).
///
/// ```swift
/// let pool = GlobalMaxPool2D()
/// ```
public final class GlobalMaxPool2D: UnaryLayer {
  /// The hyperparameters (see `GlobalPoolingConfig`).
  public typealias Config = GlobalPoolingConfig

  public static let typeName = "plexus.global_max_pool2d"
  public let state = LayerState()
  public var config: Config { pooling.config }
  private let pooling: GlobalPooling

  /// Creates a global pooling layer from its configuration.
  public init(config: Config) { pooling = GlobalPooling(kind: .maximum, config: config) }

  /// Creates a global max pooling layer.
  public convenience init(keepDims: Bool = false, name: String = "") {
    self.init(config: Config(keepDims: keepDims))
    self.name = name
  }

  public func build(for inputShape: SymbolicShape) throws -> SymbolicShape {
    try pooling.build(inputShape: inputShape, layer: name)
  }

  public func forward(_ input: Tensor, record: CallRecord) throws -> Tensor {
    pooling.forward(input, record: record)
  }

  public func backward(_ outputGradient: Tensor, record: CallRecord, computingInputGradient: Bool)
    throws -> Tensor?
  {
    computingInputGradient ? pooling.backward(outputGradient, record: record) : nil
  }
}
