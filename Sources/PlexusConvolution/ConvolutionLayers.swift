import PlexusCore
import Synchronization

/// Registration of the layers of PlexusConvolution.
public enum ConvolutionLayers {
  /// The module name reported in registry errors.
  public static let module = "PlexusConvolution"

  /// Registers the convolution family's layers: `plexus.conv1d`, `plexus.conv2d`,
  /// `plexus.conv2d_transpose`, `plexus.max_pool2d`, `plexus.average_pool2d`,
  /// `plexus.global_average_pool2d`, `plexus.global_max_pool2d`,
  /// `plexus.batch_normalization`, `plexus.zero_padding2d` and `plexus.up_sampling2d`.
  public static func register(in registry: LayerRegistry) {
    registry.registerBuiltIn(Conv1D.self, module: module)
    registry.registerBuiltIn(Conv2D.self, module: module)
    registry.registerBuiltIn(Conv2DTranspose.self, module: module)
    registry.registerBuiltIn(MaxPool2D.self, module: module)
    registry.registerBuiltIn(AveragePool2D.self, module: module)
    registry.registerBuiltIn(GlobalAveragePool2D.self, module: module)
    registry.registerBuiltIn(GlobalMaxPool2D.self, module: module)
    registry.registerBuiltIn(BatchNormalization.self, module: module)
    registry.registerBuiltIn(ZeroPadding2D.self, module: module)
    registry.registerBuiltIn(UpSampling2D.self, module: module)
  }

  private static let columnLimit = Atomic<Int>(1 << 24)

  /// The largest unrolled column matrix (in `Float` elements, default 2^24 = 64 MiB) that a
  /// convolution builds at once. Larger batches are processed in chunks of samples, and
  /// training then unrolls the input again in backward instead of keeping the columns.
  /// Values below 1 are treated as 1.
  public static var maximumColumnElements: Int {
    get { columnLimit.load(ordering: .relaxed) }
    set { columnLimit.store(Swift.max(1, newValue), ordering: .relaxed) }
  }
}
