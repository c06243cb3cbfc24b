@_exported import PlexusAutoencoder
@_exported import PlexusConvolution
@_exported import PlexusCore
@_exported import PlexusDBN
@_exported import PlexusDatasets
@_exported import PlexusPerceptron
@_exported import PlexusRecurrent

extension LayerRegistry {
  /// Tells this registry which bundled module provides each first-party layer type, so that
  /// loading a model whose module is not registered names the module to import.
  public func addBundledProviderHints() {
    var byModule: [String: [String]] = [:]
    for (type, module) in PlexusModules.layerProviders {
      byModule[module, default: []].append(type)
    }
    for (module, types) in byModule { addProviderHints(types, module: module) }
  }

  /// A registry holding every layer that ships with Plexus: the core layers and those of each
  /// network family module, and the layers of the plugins loaded into the process
  /// (`LayerPlugins`).
  public static func standard() -> LayerRegistry {
    let registry = LayerRegistry()
    PlexusModules.registerAll(in: registry)
    LayerPlugins.registerLoaded(in: registry)
    return registry
  }
}

/// The network family modules bundled by the `Plexus` umbrella.
public enum PlexusModules {
  /// Which bundled module provides each first-party layer type.
  public static var layerProviders: [String: String] {
    var providers: [String: String] = [:]
    for name in CoreLayers.typeNames { providers[name] = CoreLayers.module }
    for name in PerceptronLayers.typeNames { providers[name] = PerceptronLayers.module }
    for name in ConvolutionLayers.typeNames { providers[name] = ConvolutionLayers.module }
    for name in DBNLayers.typeNames { providers[name] = DBNLayers.module }
    for name in AutoencoderLayers.typeNames { providers[name] = AutoencoderLayers.module }
    for name in RecurrentLayers.typeNames { providers[name] = RecurrentLayers.module }
    return providers
  }

  /// Registers the layers of every bundled module in `registry`.
  public static func registerAll(in registry: LayerRegistry) {
    CoreLayers.register(in: registry)
    PerceptronLayers.register(in: registry)
    ConvolutionLayers.register(in: registry)
    DBNLayers.register(in: registry)
    AutoencoderLayers.register(in: registry)
    RecurrentLayers.register(in: registry)
  }
}
