import PlexusCore
import PlexusTestSupport
import Testing

/// The harness for one merge layer on two and three inputs.
func mergeTest(_ make: @escaping () -> any Layer, inputs: Int = 3) -> LayerTest {
  var shapes: [LayerShapeCase] = [.init(inputs: [[4], [4]], outputs: [[4]])]
  if inputs > 2 { shapes.append(.init(inputs: [[2, 3], [2, 3], [2, 3]], outputs: [[2, 3]])) }
  var test = LayerTest(
    registry: LayerRegistry(), shapes: shapes, badShapes: [[[4], [5]], [[4]]]
  ) { make() }
  // Well-separated inputs keep maximum and minimum away from their kinks.
  test.makeInputs = { shapes, generator in
    shapes.enumerated().map { index, shape in
      Tensor.normal(shape, standardDeviation: 0.2, using: &generator) + Float(index) * 2
    }
  }
  return test
}

/// Values of a merge on two fixed inputs.
func merged(_ layer: any Layer, _ a: [Float], _ b: [Float]) throws -> [Float] {
  try layer.ensureBuilt(inputShapes: [[a.count], [b.count]])
  let outputs = try layer.run(
    [try Tensor(shape: [1, a.count], scalars: a), try Tensor(shape: [1, b.count], scalars: b)],
    training: false, record: CallRecord())
  return outputs[0].scalars
}
