import PlexusCore

/// Registration of the layers of PlexusConvolution.
public enum ConvolutionLayers {
  /// The module name reported in registry errors.
  public static let module = "PlexusConvolution"

  /// The layer types this module registers.
  public static let typeNames = [
    Conv1D.typeName, Conv2D.typeName, Conv2DTranspose.typeName, MaxPool2D.typeName,
    AveragePool2D.typeName, GlobalAveragePool2D.typeName, GlobalMaxPool2D.typeName,
    BatchNormalization.typeName, ZeroPadding2D.typeName, UpSampling2D.typeName,
    DepthwiseConv2D.typeName, SeparableConv2D.typeName, Pad2D.typeName,
  ]

  /// Registers the convolution family's layers: `plexus.conv1d`, `plexus.conv2d`,
  /// `plexus.conv2d_transpose`, `plexus.max_pool2d`, `plexus.average_pool2d`,
  /// `plexus.global_average_pool2d`, `plexus.global_max_pool2d`,
  /// `plexus.batch_normalization`, `plexus.zero_padding2d`, `plexus.up_sampling2d`,
  /// `plexus.depthwise_conv2d`, `plexus.separable_conv2d` and `plexus.pad2d`.
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
    registry.registerBuiltIn(DepthwiseConv2D.self, module: module)
    registry.registerBuiltIn(SeparableConv2D.self, module: module)
    registry.registerBuiltIn(Pad2D.self, module: module)
  }

  /// How many elements of the unrolled column matrix (im2col) a convolution builds at once
  /// per thread (default 2^16 = 256 KiB, so that a tile stays in cache while `gemm` reads
  /// it; `1...2^26`). At least one row (one output position) is always unrolled.
  public static let columnTileElements = TuningKnob(
    name: "ConvolutionLayers.columnTileElements", initialDefault: 1 << 16,
    validValues: 1...(1 << 26))

  /// The multiply-adds of one convolution pass (forward, or backward) from which the batch is
  /// split across up to `Parallel.maximumThreads` threads (default 2^25; `1...Int.max`). On
  /// a small shared machine a second thread pays off only for large layers and costs far
  /// more than it gains when another process keeps a core busy; lower it on a dedicated
  /// machine.
  public static let minimumParallelWork = TuningKnob(
    name: "ConvolutionLayers.minimumParallelWork", initialDefault: 1 << 25,
    validValues: 1...Int.max)

  /// The window element visits of one pooling pass from which the batch is split across
  /// threads (default 2^22; `1...Int.max`). Pooling is memory-bound, so threads pay off only
  /// for large batches of large images; above this, `Parallel.forEachChunk` splits the
  /// samples.
  public static let minimumParallelPoolingVisits = TuningKnob(
    name: "ConvolutionLayers.minimumParallelPoolingVisits", initialDefault: 1 << 22,
    validValues: 1...Int.max)
}
