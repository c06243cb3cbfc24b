import PlexusCore

/// Registration of the layers and models of PlexusDBN.
public enum DBNLayers {
  /// The module name reported in registry errors.
  public static let module = "PlexusDBN"

  /// The layer types this module registers.
  public static let typeNames = [RBMLayer.typeName, RBM.typeName, DBN.typeName]

  /// Registers `plexus.rbm` (``RBMLayer``), `plexus.rbm_model` (``RBM``) and `plexus.dbn`
  /// (``DBN``).
  public static func register(in registry: LayerRegistry) {
    registry.registerBuiltIn(RBMLayer.self, module: module)
    registry.registerBuiltIn(RBM.self, module: module)
    registry.registerBuiltIn(DBN.self, module: module)
  }
}
