/// Registration of the layers that live in PlexusCore.
public enum CoreLayers {
  /// The module name reported in registry errors.
  public static let module = "PlexusCore"

  /// The layer types this module registers.
  public static let typeNames = [
    Sequential.typeName, Model.typeName, Activation.typeName, Dropout.typeName, Flatten.typeName,
    Reshape.typeName, Add.typeName, Subtract.typeName, Multiply.typeName, Average.typeName,
    Maximum.typeName, Minimum.typeName, Concatenate.typeName, Split.typeName, SliceLayer.typeName,
    PReLU.typeName,
  ]

  /// Registers Sequential, Model, Activation, Dropout, Flatten, Reshape, the merge layers
  /// (Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate), Split, SliceLayer and
  /// PReLU.
  public static func register(in registry: LayerRegistry) {
    registry.registerBuiltIn(Sequential.self, module: module)
    registry.registerBuiltIn(Model.self, module: module)
    registry.registerBuiltIn(Activation.self, module: module)
    registry.registerBuiltIn(Dropout.self, module: module)
    registry.registerBuiltIn(Flatten.self, module: module)
    registry.registerBuiltIn(Reshape.self, module: module)
    registry.registerBuiltIn(Add.self, module: module)
    registry.registerBuiltIn(Subtract.self, module: module)
    registry.registerBuiltIn(Multiply.self, module: module)
    registry.registerBuiltIn(Average.self, module: module)
    registry.registerBuiltIn(Maximum.self, module: module)
    registry.registerBuiltIn(Minimum.self, module: module)
    registry.registerBuiltIn(Concatenate.self, module: module)
    registry.registerBuiltIn(Split.self, module: module)
    registry.registerBuiltIn(SliceLayer.self, module: module)
    registry.registerBuiltIn(PReLU.self, module: module)
  }
}
