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

  private static let tileElements = Atomic<Int>(1 << 16)

  /// How many elements of the unrolled column matrix (im2col) a convolution builds at once
  /// per thread (default 2^16 = 256 KiB, so that a tile stays in cache while `gemm` reads
  /// it). At least one row (one output position) is always unrolled; values below 1 are
  /// treated as 1.
  ///
  /// Setting it changes the process-wide value; `withColumnTileElements(_:_:)` changes it only
  /// for the code it runs (and tasks it starts), leaving other threads alone.
  public static var columnTileElements: Int {
    get { tileElementsOverride ?? tileElements.load(ordering: .relaxed) }
    set { tileElements.store(Swift.max(1, newValue), ordering: .relaxed) }
  }

  @TaskLocal private static var tileElementsOverride: Int?

  /// Runs `body` with `columnTileElements` set to `value` for this task only.
  public static func withColumnTileElements<Result>(
    _ value: Int, _ body: () throws -> Result
  ) rethrows -> Result {
    try $tileElementsOverride.withValue(Swift.max(1, value), operation: body)
  }

  private static let parallelWork = Atomic<Int>(1 << 25)

  /// The multiply-adds of one convolution pass (forward, or backward) from which the batch is
  /// split across threads (default 2^25, about 0.3 ms of work). On a small shared machine a
  /// second thread pays off only for large layers and costs far more than it gains when
  /// another process keeps a core busy; lower it on a dedicated machine. Values below 1 are
  /// treated as 1.
  ///
  /// Setting it changes the process-wide value; `withMinimumParallelWork(_:_:)` changes it only
  /// for the code it runs (and tasks it starts), leaving other threads alone.
  public static var minimumParallelWork: Int {
    get { parallelWorkOverride ?? parallelWork.load(ordering: .relaxed) }
    set { parallelWork.store(Swift.max(1, newValue), ordering: .relaxed) }
  }

  @TaskLocal private static var parallelWorkOverride: Int?

  /// Runs `body` with `minimumParallelWork` set to `value` for this task only.
  public static func withMinimumParallelWork<Result>(
    _ value: Int, _ body: () throws -> Result
  ) rethrows -> Result {
    try $parallelWorkOverride.withValue(Swift.max(1, value), operation: body)
  }
}
