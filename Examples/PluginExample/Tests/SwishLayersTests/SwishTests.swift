import PlexusCore
import SwishLayers
import Testing

/// The loss `sum(y * r)` of one forward pass, accumulated in double precision.
private func projectedLoss(_ layer: Swish, _ input: Tensor, _ projection: [Float]) throws -> Double
{
  let output = try layer.run([input], training: true, record: CallRecord())[0]
  return zip(output.scalars, projection).reduce(0) { $0 + Double($1.0) * Double($1.1) }
}

@Suite struct SwishTests {
  private func builtLayer(beta: Float) throws -> Swish {
    let layer = try Swish(config: .init(initialBeta: beta))
    _ = try layer.ensureBuilt(inputShapes: [[3]])
    var generator = SeededGenerator(seed: 1)
    try layer.initialize(using: &generator)
    return layer
  }

  @Test(arguments: [Float(1), 0.4, -1.7])
  func backwardMatchesFiniteDifferences(beta: Float) throws {
    let layer = try builtLayer(beta: beta)
    let input = try Tensor(shape: [2, 3], scalars: [-2.5, -0.3, 0, 0.7, 1.9, 4.2])
    let projection: [Float] = [0.3, -1.1, 0.8, 0.5, -0.2, 1.4]
    let record = CallRecord()
    _ = try layer.run([input], training: true, record: record)
    let gradients = try layer.backward(
      [try Tensor(shape: [2, 3], scalars: projection)], record: record,
      computingInputGradients: true)
    let inputGradient = try #require(gradients[0]).scalars
    let epsilon: Float = 1e-2
    for index in 0..<input.count {
      var plus = input.scalars
      var minus = input.scalars
      plus[index] += epsilon
      minus[index] -= epsilon
      let numeric =
        (try projectedLoss(layer, try Tensor(shape: [2, 3], scalars: plus), projection)
          - projectedLoss(layer, try Tensor(shape: [2, 3], scalars: minus), projection))
        / (2 * Double(epsilon))
      #expect(abs(numeric - Double(inputGradient[index])) < 2e-3, "input entry \(index)")
    }
    let analyticBeta = Double(layer.beta.gradient.scalars[0])
    func loss(beta value: Float) throws -> Double {
      layer.beta.value = try Tensor(shape: [1], scalars: [value])
      return try projectedLoss(layer, input, projection)
    }
    let numericBeta =
      (try loss(beta: beta + epsilon) - loss(beta: beta - epsilon)) / (2 * Double(epsilon))
    #expect(abs(numericBeta - analyticBeta) < 5e-3 * max(1, abs(numericBeta)))
  }

  @Test func refusesAnOutOfRangeBeta() {
    #expect(throws: PlexusError.self) { try Swish(config: .init(initialBeta: .nan)) }
    #expect(throws: PlexusError.self) { try Swish(config: .init(initialBeta: 1000)) }
  }

  @Test func registersThroughThePluginEntryPoint() throws {
    let registry = LayerRegistry()
    let loaded = try LayerPlugins.load(
      entry: plexusPluginEntryFunction, plugin: "in-process", base: registry)
    #expect(loaded.layerTypes == [Swish.typeName])
    #expect(registry.module(of: Swish.typeName) == "SwishLayers")
  }
}

/// The plugin's entry point as the C function the tool calls.
private let plexusPluginEntryFunction: LayerPluginEntry.Function = { request, argument, capacity in
  plexusPluginEntry(request, argument, capacity)
}
