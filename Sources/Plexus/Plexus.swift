@_exported import PlexusConvolution
@_exported import PlexusCore
@_exported import PlexusPerceptron

extension LayerRegistry {
  /// A registry holding every layer that ships with Plexus: the core layers and those of each
  /// network family module.
  public static func standard() -> LayerRegistry {
    let registry = LayerRegistry()
    PlexusModules.registerAll(in: registry)
    return registry
  }
}

/// The network family modules bundled by the `Plexus` umbrella.
public enum PlexusModules {
  /// Registers the layers of every bundled module in `registry`.
  public static func registerAll(in registry: LayerRegistry) {
    CoreLayers.register(in: registry)
    PerceptronLayers.register(in: registry)
    ConvolutionLayers.register(in: registry)
  }
}
