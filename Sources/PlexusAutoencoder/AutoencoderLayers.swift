import PlexusCore

/// Registration of the layers and models of PlexusAutoencoder.
public enum AutoencoderLayers {
  /// The module name reported in registry errors.
  public static let module = "PlexusAutoencoder"

  /// The layer types this module registers.
  public static let typeNames = [
    Autoencoder.typeName, GaussianNoise.typeName, MaskingNoise.typeName,
    ActivityRegularization.typeName, KLDivergenceSparsity.typeName, DenseTied.typeName,
    VAE.typeName, GaussianSampling.typeName, ContractiveDense.typeName,
  ]

  /// Registers the autoencoder family: `plexus.autoencoder`, `plexus.gaussian_noise`,
  /// `plexus.masking_noise`, `plexus.activity_regularization`, `plexus.kl_sparsity`,
  /// `plexus.dense_tied`, `plexus.vae`, `plexus.gaussian_sampling` and
  /// `plexus.contractive_dense`.
  public static func register(in registry: LayerRegistry) {
    registry.registerBuiltIn(Autoencoder.self, module: module)
    registry.registerBuiltIn(GaussianNoise.self, module: module)
    registry.registerBuiltIn(MaskingNoise.self, module: module)
    registry.registerBuiltIn(ActivityRegularization.self, module: module)
    registry.registerBuiltIn(KLDivergenceSparsity.self, module: module)
    registry.registerBuiltIn(DenseTied.self, module: module)
    registry.registerBuiltIn(VAE.self, module: module)
    registry.registerBuiltIn(GaussianSampling.self, module: module)
    registry.registerBuiltIn(ContractiveDense.self, module: module)
  }
}
