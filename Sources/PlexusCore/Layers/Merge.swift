/// How an elementwise merge combines its inputs.
public enum MergeOperation: String, Codable, Sendable, CaseIterable {
  /// The sum of the inputs.
  case add
  /// The first input minus the second (exactly two inputs).
  case subtract
  /// The elementwise product.
  case multiply
  /// The mean of the inputs.
  case average
  /// The elementwise maximum (the gradient goes to the first input holding it).
  case maximum
  /// The elementwise minimum (the gradient goes to the first input holding it).
  case minimum
}

/// The shared implementation of the elementwise merge layers (`Add`, `Subtract`, `Multiply`,
/// `Average`, `Maximum`, `Minimum`): two or more inputs of the same shape, one output.
public protocol ElementwiseMerge: Layer where Config == MergeConfig {
  /// The operation the layer applies.
  static var operation: MergeOperation { get }

  /// Creates the layer (a merge has no hyperparameters).
  init(config: MergeConfig)
}

/// The configuration of an elementwise merge layer: it has no hyperparameters (`{}`; any key
/// is an error).
public struct MergeConfig: DefaultedConfiguration {
  /// Creates a config.
  public init() {}

  public static var defaults: MergeConfig { MergeConfig() }
  public static var fields: [ConfigField<MergeConfig>] { [] }
}

extension ElementwiseMerge {
  /// Creates the layer, optionally named.
  public init(name: String = "") {
    self.init(config: MergeConfig())
    self.name = name
  }

  public func build(for inputShapes: [SymbolicShape]) throws -> [SymbolicShape] {
    let operation = Self.operation
    guard inputShapes.count >= 2, operation != .subtract || inputShapes.count == 2 else {
      throw PlexusError.invalidArgument(
        "layer '\(name)' (\(Self.typeName)) takes \(operation == .subtract ? "exactly 2" : "at least 2") inputs, got \(inputShapes.count)"
      )
    }
    var merged = inputShapes[0]
    for (index, shape) in inputShapes.enumerated().dropFirst() {
      guard shape.count == merged.count else {
        throw PlexusError.shapeMismatch(
          layer: name,
          expected:
            "input \(index) of the shape of input 0, \(ShapeCheck.describe(inputShapes[0]))",
          found: ShapeCheck.flatten(shape))
      }
      for axis in shape.indices {
        switch (merged[axis], shape[axis]) {
        case (let a?, let b?) where a != b:
          throw PlexusError.shapeMismatch(
            layer: name,
            expected:
              "input \(index) of the shape of input 0, \(ShapeCheck.describe(inputShapes[0]))",
            found: ShapeCheck.flatten(shape))
        case (nil, let b): merged[axis] = b
        default: break
        }
      }
    }
    return [merged]
  }

  public func forward(_ inputs: [Tensor], record: CallRecord) throws -> [Tensor] {
    let shape = inputs[0].shape
    for (index, input) in inputs.enumerated().dropFirst() where input.shape != shape {
      throw PlexusError.shapeMismatch(
        layer: name, expected: "input \(index) of shape \(shape), as input 0",
        found: input.shape)
    }
    var output = inputs[0]
    let operation = Self.operation
    output.withUnsafeMutableBufferPointer { result in
      for input in inputs.dropFirst() {
        input.withUnsafeBufferPointer { other in
          switch operation {
          case .add, .average: for i in result.indices { result[i] += other[i] }
          case .subtract: for i in result.indices { result[i] -= other[i] }
          case .multiply: for i in result.indices { result[i] *= other[i] }
          case .maximum: for i in result.indices { result[i] = Swift.max(result[i], other[i]) }
          case .minimum: for i in result.indices { result[i] = Swift.min(result[i], other[i]) }
          }
        }
      }
      if operation == .average {
        let scale = 1 / Float(inputs.count)
        for i in result.indices { result[i] *= scale }
      }
    }
    return [output]
  }

  public func backward(
    _ outputGradients: [Tensor], record: CallRecord, computingInputGradients: Bool
  ) throws -> [Tensor?] {
    let gradient = outputGradients[0]
    let inputs = record.inputs
    switch Self.operation {
    case .add:
      return inputs.map { _ in gradient }
    case .subtract:
      var negated = gradient
      negated.withUnsafeMutableBufferPointer { buffer in
        for i in buffer.indices { buffer[i] = -buffer[i] }
      }
      return [gradient, negated]
    case .average:
      var scaled = gradient
      let scale = 1 / Float(inputs.count)
      scaled.withUnsafeMutableBufferPointer { buffer in
        for i in buffer.indices { buffer[i] *= scale }
      }
      return inputs.map { _ in scaled }
    case .multiply:
      // d/dx_k = g * prod_{j != k} x_j.
      return inputs.indices.map { k in
        var result = gradient
        result.withUnsafeMutableBufferPointer { buffer in
          for (j, input) in inputs.enumerated() where j != k {
            input.withUnsafeBufferPointer { x in
              for i in buffer.indices { buffer[i] *= x[i] }
            }
          }
        }
        return result
      }
    case .maximum, .minimum:
      let output = record.outputs[0]
      var results = inputs.map { Tensor.zeros($0.shape) }
      var taken = [Bool](repeating: false, count: gradient.count)
      for (k, input) in inputs.enumerated() {
        results[k].withUnsafeMutableBufferPointer { destination in
          input.withUnsafeBufferPointer { x in
            output.withUnsafeBufferPointer { y in
              gradient.withUnsafeBufferPointer { g in
                for i in destination.indices where !taken[i] && x[i] == y[i] {
                  destination[i] = g[i]
                  taken[i] = true
                }
              }
            }
          }
        }
      }
      return results
    }
  }
}

/// Adds its inputs elementwise, as Keras `layers.Add` (a residual connection).
public final class Add: ElementwiseMerge {
  public static let typeName = "plexus.add"
  public static let operation = MergeOperation.add
  public let state = LayerState()
  public let config: MergeConfig
  public init(config: MergeConfig) { self.config = config }
}

/// Subtracts its second input from its first, as Keras `layers.Subtract`.
public final class Subtract: ElementwiseMerge {
  public static let typeName = "plexus.subtract"
  public static let operation = MergeOperation.subtract
  public let state = LayerState()
  public let config: MergeConfig
  public init(config: MergeConfig) { self.config = config }
}

/// Multiplies its inputs elementwise, as Keras `layers.Multiply` (a gate).
public final class Multiply: ElementwiseMerge {
  public static let typeName = "plexus.multiply"
  public static let operation = MergeOperation.multiply
  public let state = LayerState()
  public let config: MergeConfig
  public init(config: MergeConfig) { self.config = config }
}

/// Averages its inputs elementwise, as Keras `layers.Average`.
public final class Average: ElementwiseMerge {
  public static let typeName = "plexus.average"
  public static let operation = MergeOperation.average
  public let state = LayerState()
  public let config: MergeConfig
  public init(config: MergeConfig) { self.config = config }
}

/// The elementwise maximum of its inputs, as Keras `layers.Maximum`.
public final class Maximum: ElementwiseMerge {
  public static let typeName = "plexus.maximum"
  public static let operation = MergeOperation.maximum
  public let state = LayerState()
  public let config: MergeConfig
  public init(config: MergeConfig) { self.config = config }
}

/// The elementwise minimum of its inputs, as Keras `layers.Minimum`.
public final class Minimum: ElementwiseMerge {
  public static let typeName = "plexus.minimum"
  public static let operation = MergeOperation.minimum
  public let state = LayerState()
  public let config: MergeConfig
  public init(config: MergeConfig) { self.config = config }
}
