/// A tensor in a model's definition, before any data flows: a model input or an output of a
/// layer applied to other symbolic tensors, as in Keras's functional API.
///
/// ```swift
/// let pixels = try Input(shape: [64], name: "pixels")
/// let hidden = try Dense(units: 128, activation: .relu)(pixels)
/// let logits = try Dense(units: 10)(hidden)
/// let model = try Model(inputs: [pixels], outputs: [logits])
/// ```
public final class SymbolicTensor: Sendable, CustomStringConvertible {
  /// Where a symbolic tensor comes from.
  public enum Source: Sendable {
    /// A model input with its name.
    case input(name: String)
    /// Output `index` of a layer call.
    case node(LayerCall, index: Int)
  }

  /// The per-sample shape (`nil` for a dimension that varies).
  public let shape: SymbolicShape
  /// Where the tensor comes from.
  public let source: Source

  init(shape: SymbolicShape, source: Source) {
    self.shape = shape
    self.source = source
  }

  public var description: String {
    switch source {
    case .input(let name): return "Input '\(name)' \(ShapeCheck.describeBatch(shape))"
    case .node(let call, let index):
      return "output \(index) of '\(call.layer.name)' \(ShapeCheck.describeBatch(shape))"
    }
  }
}

/// One application of a layer to symbolic tensors: a node of a model's graph.
public final class LayerCall: Sendable {
  /// The layer applied.
  public let layer: any Layer
  /// The tensors it was applied to.
  public let inputs: [SymbolicTensor]
  /// The per-sample shapes of its outputs.
  public let outputShapes: [SymbolicShape]

  init(layer: any Layer, inputs: [SymbolicTensor], outputShapes: [SymbolicShape]) {
    self.layer = layer
    self.inputs = inputs
    self.outputShapes = outputShapes
  }
}

/// A model input of a per-sample shape; `nil` marks a dimension that may vary from one call to
/// the next (a sequence length): `try Input(shape: [nil, 8])`. Unnamed inputs are named
/// `input_1`, `input_2`, ... by the model.
///
/// - Throws: `PlexusError.invalidShape` for a non-positive dimension or more than
///   `ParameterAllocation.maximumSampleElements` values per sample.
public func Input(shape: SymbolicShape, name: String = "") throws -> SymbolicTensor {
  try SymbolicTensor.input(shape: shape, name: name)
}

/// A model input of a fixed per-sample shape.
///
/// - Throws: as `Input(shape:name:)` with a symbolic shape.
public func Input(shape: [Int], name: String = "") throws -> SymbolicTensor {
  try Input(shape: shape.map { Int?.some($0) }, name: name)
}

extension SymbolicTensor {
  /// Creates a model input (as `Input(shape:name:)`; an empty name lets the model name it).
  ///
  /// - Throws: `PlexusError.invalidShape` for a non-positive dimension or more than
  ///   `ParameterAllocation.maximumSampleElements` values per sample.
  public static func input(shape: SymbolicShape, name: String) throws -> SymbolicTensor {
    guard shape.allSatisfy({ $0.map { $0 > 0 } ?? true }) else {
      throw PlexusError.invalidShape(
        "input '\(name)' has shape \(ShapeCheck.describe(shape)); dimensions must be positive")
    }
    let known = shape.compactMap { $0 }
    guard try Tensor.elementCount(of: known) <= ParameterAllocation.maximumSampleElements else {
      throw PlexusError.invalidShape(
        "input '\(name)' of shape \(ShapeCheck.describe(shape)) holds more than "
          + "\(ParameterAllocation.maximumSampleElements) values per sample")
    }
    return SymbolicTensor(shape: shape, source: .input(name: name))
  }
}

extension Layer {
  /// Applies the layer to symbolic tensors and returns all of its outputs, building the layer
  /// for their shapes on its first call (a layer applied again shares its weights).
  ///
  /// - Throws: the layer's build errors, such as `PlexusError.shapeMismatch` naming it.
  public func call(_ inputs: [SymbolicTensor]) throws -> [SymbolicTensor] {
    let outputShapes = try ensureBuilt(inputShapes: inputs.map(\.shape))
    let call = LayerCall(layer: self, inputs: inputs, outputShapes: outputShapes)
    return outputShapes.indices.map {
      SymbolicTensor(shape: outputShapes[$0], source: .node(call, index: $0))
    }
  }

  /// Applies a layer with one output to symbolic tensors (a merge layer to several).
  ///
  /// - Throws: as `call(_:)`, and `PlexusError.invalidArgument` when the layer has several
  ///   outputs (use `call(_:)`).
  public func callAsFunction(_ inputs: [SymbolicTensor]) throws -> SymbolicTensor {
    let outputs = try call(inputs)
    guard outputs.count == 1 else {
      throw PlexusError.invalidArgument(
        "layer '\(name)' has \(outputs.count) outputs; use call(_:) to get them all")
    }
    return outputs[0]
  }

  /// Applies a layer with one input and one output to a symbolic tensor.
  ///
  /// - Throws: as `callAsFunction(_:)` with an array.
  public func callAsFunction(_ input: SymbolicTensor) throws -> SymbolicTensor {
    try callAsFunction([input])
  }
}
