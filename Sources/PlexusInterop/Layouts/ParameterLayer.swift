import Foundation
import PlexusCore

/// A layer of a model that holds parameters, as converters see it: its path, registered type,
/// config and parameters, and what its input is made of when that matters to another layout.
public struct ParameterLayer: Sendable {
  /// The layer's path in the model (`dense_1`, `encoder.dense_1`); its parameters' paths are
  /// `path.name`.
  public let path: String
  /// The registered type (`plexus.dense`).
  public let typeName: String
  /// The layer's config as saved.
  public let config: JSONValue
  /// The parameters by their names in the layer (`kernel`, `bias`), in the layer's order.
  public let parameters: [(name: String, parameter: Parameter)]
  /// For a layer whose input is a `Flatten` of channels-last spatial data (`[H, W, C]`, or
  /// `[L, C]` from a 1-D convolution), that data's shape: PyTorch flattens the same values in
  /// channels-first order, so the rows of a following dense kernel are permuted.
  public let flattenedSpatialShape: [Int]?
  /// For a direction of a `Bidirectional` wrapper, the wrapper's path: PyTorch names both
  /// directions after one module (`lstm.weight_ih_l0`, `lstm.weight_ih_l0_reverse`).
  public var bidirectionalWrapper: String? = nil
  /// Whether the layer is the backward direction of a `Bidirectional` wrapper.
  public var isReverseDirection = false

  /// The parameter named `name`, if the layer has one.
  public func parameter(_ name: String) -> Parameter? {
    parameters.first { $0.name == name }?.parameter
  }

  /// The layers of `model` that hold parameters, in the model's parameter order (nested
  /// models and wrappers walked into), each parameter once.
  ///
  /// - Throws: `PlexusError` when the model is not built or its parameter paths do not follow
  ///   the layers' names.
  public static func layers(of model: any ModelProtocol) throws -> [ParameterLayer] {
    var result: [ParameterLayer] = []
    var seen = Set<ObjectIdentifier>()
    try collect(graph: try model.builtGraph(), prefix: "", into: &result, seen: &seen)
    let expected = try model.builtGraph().namedParameters(prefix: "").map(\.path)
    let found = result.flatMap { layer in layer.parameters.map { "\(layer.path).\($0.name)" } }
    guard found == expected else {
      throw PlexusError.invalidArgument(
        "the model's parameter paths \(expected) do not follow its layers \(found)")
    }
    return result
  }

  private static let passThroughTypes: Set<String> = [
    "plexus.dropout", "plexus.activation", "plexus.gaussian_noise", "plexus.gaussian_dropout",
  ]
  private static let spatialTypes: Set<String> = [
    "plexus.conv1d", "plexus.conv2d", "plexus.conv2d_transpose", "plexus.max_pool2d",
    "plexus.average_pool2d", "plexus.zero_padding2d", "plexus.up_sampling2d",
    "plexus.batch_normalization",
  ]

  private static func collect(
    graph: Graph, prefix: String, into result: inout [ParameterLayer],
    seen: inout Set<ObjectIdentifier>
  ) throws {
    var firstCall: [Int: Graph.Node] = [:]
    for node in graph.nodes where firstCall[node.layerIndex] == nil {
      firstCall[node.layerIndex] = node
    }
    for (index, layer) in graph.layers.enumerated() {
      if let model = layer as? any ModelProtocol {
        try collect(
          graph: try model.builtGraph(), prefix: prefix + layer.name + ".", into: &result,
          seen: &seen)
        continue
      }
      let flattened = firstCall[index].flatMap { flattenedInput(of: $0, in: graph) }
      try collect(layer: layer, prefix: prefix, flattened: flattened, into: &result, seen: &seen)
    }
  }

  private static func collect(
    layer: any Layer, prefix: String, flattened: [Int]?, into result: inout [ParameterLayer],
    seen: inout Set<ObjectIdentifier>
  ) throws {
    if !layer.sublayers.isEmpty {
      for sublayer in layer.sublayers {
        if let model = sublayer as? any ModelProtocol {
          try collect(
            graph: try model.builtGraph(), prefix: prefix + layer.name + "." + sublayer.name + ".",
            into: &result, seen: &seen)
        } else {
          let first = result.count
          try collect(
            layer: sublayer, prefix: prefix + layer.name + ".", flattened: nil, into: &result,
            seen: &seen)
          if layer.typeName == "plexus.bidirectional" {
            for index in first..<result.count {
              result[index].bidirectionalWrapper = prefix + layer.name
              result[index].isReverseDirection = sublayer.name == "backward"
            }
          }
        }
      }
      return
    }
    let parameters = layer.parameters.filter { seen.insert(ObjectIdentifier($0)).inserted }
    guard !parameters.isEmpty else { return }
    let description = try LayerDescription(layer)
    result.append(
      ParameterLayer(
        path: prefix + layer.name, typeName: layer.typeName, config: description.config,
        parameters: parameters.map { ($0.name, $0) }, flattenedSpatialShape: flattened))
  }

  /// The channels-last shape a `Flatten` turned into this node's input, when it is spatial
  /// data.
  private static func flattenedInput(of node: Graph.Node, in graph: Graph) -> [Int]? {
    guard node.inputSlots.count == 1 else { return nil }
    var slot = node.inputSlots[0]
    // Back through layers that keep values in place.
    while let producer = graph.slotProducers[slot],
      passThroughTypes.contains(graph.nodes[producer].layer.typeName)
    {
      slot = graph.nodes[producer].inputSlots[0]
    }
    guard let producer = graph.slotProducers[slot],
      graph.nodes[producer].layer.typeName == "plexus.flatten",
      let flattenInput = graph.nodes[producer].inputSlots.first
    else { return nil }
    let shape = graph.slotShapes[flattenInput]
    guard shape.count >= 2, shape.allSatisfy({ $0 != nil }) else { return nil }
    if shape.count >= 3 { return shape.map { $0! } }
    // `[L, C]`: spatial only when a convolution made it (a sequence `[T, F]` is flattened in
    // the same order by both frameworks).
    var source = flattenInput
    while let maker = graph.slotProducers[source] {
      let type = graph.nodes[maker].layer.typeName
      if spatialTypes.contains(type) { return shape.map { $0! } }
      guard passThroughTypes.contains(type), let next = graph.nodes[maker].inputSlots.first else {
        return nil
      }
      source = next
    }
    return nil
  }
}
