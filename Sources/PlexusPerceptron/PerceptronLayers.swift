import PlexusCore

/// Registration of the layers of PlexusPerceptron.
public enum PerceptronLayers {
  /// The module name reported in registry errors.
  public static let module = "PlexusPerceptron"

  /// The layer types this module registers.
  public static let typeNames = [Dense.typeName, Perceptron.typeName]

  /// Registers the perceptron family's layers: `plexus.dense` and `plexus.perceptron`.
  public static func register(in registry: LayerRegistry) {
    registry.registerBuiltIn(Dense.self, module: module)
    registry.registerBuiltIn(Perceptron.self, module: module)
  }
}
