/// A layer that uses a parameter of another layer of its model (tied weights, such as a
/// decoder that applies the transposed kernel of an encoder's dense layer). Its config names
/// that layer; models made from a config link it (`ParameterSharing.link(_:)`) before they
/// build their layers, so the shared parameter is one object, stepped and saved once (the
/// graph lists each parameter once, under the path of the first layer that holds it).
///
/// An unlinked sharing layer (one loaded in a model without the layer it names, such as a
/// decoder saved alone) keeps a parameter of its own instead.
public protocol ParameterSharingLayer: Layer {
  /// The name of the layer whose parameter this layer uses.
  var sharedLayerName: String { get }
  /// Whether the layer uses the other layer's parameter (rather than its own).
  var isLinked: Bool { get }
  /// Links the layer to `layer`, the one `sharedLayerName` names.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` when `layer` has the wrong type or shapes.
  func link(to layer: any Layer) throws
}

/// Links the parameter-sharing layers of a model made from a config.
public enum ParameterSharing {
  /// Links each unlinked `ParameterSharingLayer` among `layers` and inside them (nested
  /// models) to the layer its `sharedLayerName` names among the same layers, nested ones
  /// included. A name that matches no layer is left for an enclosing model to link.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` when a name matches several layers, or from
  ///   `link(to:)`.
  public static func link(_ layers: [any Layer]) throws {
    var all: [any Layer] = []
    var pending = layers
    while let layer = pending.popLast() {
      all.append(layer)
      pending.append(contentsOf: layer.sublayers)
    }
    for case let sharing as any ParameterSharingLayer in all where !sharing.isLinked {
      let target = sharing.sharedLayerName
      let matches = all.filter { $0.name == target && $0 !== sharing }
      guard matches.count <= 1 else {
        throw PlexusError.invalidConfiguration(
          "layer '\(sharing.name)' shares the parameters of '\(target)', but the model has "
            + "\(matches.count) layers of that name")
      }
      if let match = matches.first { try sharing.link(to: match) }
    }
  }
}
