import PlexusCore
import Testing

/// Parameters materialized for a model being loaded (initial values not drawn) start as zeros
/// whose pages are untouched until used: large ones map the kernel's zero pages, small ones are
/// zero-filled. They must read as zeros, take writes and assignments, and leave the values of
/// ordinary initialization alone.
@Suite struct ParameterLoadingTests {
  /// A parameter declared with a Glorot initializer and materialized.
  static func materialized(shape: [Int], drawing: Bool, seed: UInt64) throws -> Parameter {
    let parameter = Parameter(name: "kernel")
    try parameter.declare(
      shape: shape, initializer: .glorotUniform, fanIn: shape[0], fanOut: shape.last ?? 1)
    var generator = SeededGenerator(seed: seed)
    try ParameterAllocation.$current.withValue(ParameterAllocation(drawsInitialValues: drawing)) {
      try parameter.materialize(using: &generator)
    }
    return parameter
  }

  // 700 x 600 floats are 1.68 MB (mapped); 3 x 5 are 60 bytes (heap).
  @Test(arguments: [[700, 600], [3, 5], [1]])
  func loadingParametersAreZerosThatTakeWrites(shape: [Int]) throws {
    let parameter = try Self.materialized(shape: shape, drawing: false, seed: 3)
    #expect(parameter.isMaterialized)
    #expect(parameter.value.shape == shape && parameter.gradient.shape == shape)
    #expect(parameter.value.scalars.allSatisfy { $0 == 0 && $0.sign == .plus })
    #expect(parameter.gradient.scalars.allSatisfy { $0 == 0 })
    parameter.gradient.withUnsafeMutableBufferPointer { values in
      for index in values.indices { values[index] = Float(index % 7) }
    }
    #expect(parameter.gradient.scalars.enumerated().allSatisfy { $1 == Float($0 % 7) })
    parameter.zeroGradient()
    #expect(parameter.gradient.scalars.allSatisfy { $0 == 0 })
    let count = shape.reduce(1, *)
    let loaded = try Tensor(shape: shape, scalars: (0..<count).map { Float($0) * 0.5 })
    try parameter.assign(loaded)
    #expect(parameter.value.scalars == loaded.scalars)
    // A copy of the lazily zeroed gradient is independent of it (copy on write).
    var copy = parameter.gradient
    copy.withUnsafeMutableBufferPointer { $0[0] = 9 }
    #expect(parameter.gradient.scalars[0] == 0 && copy.scalars[0] == 9)
  }

  @Test func drawnInitialValuesAreUnchangedBySeed() throws {
    let first = try Self.materialized(shape: [700, 600], drawing: true, seed: 11)
    let second = try Self.materialized(shape: [700, 600], drawing: true, seed: 11)
    var generator = SeededGenerator(seed: 11)
    let expected = try Initializer.glorotUniform.make(
      shape: [700, 600], fanIn: 700, fanOut: 600, using: &generator)
    #expect(first.value.scalars == expected.scalars)
    #expect(second.value.scalars == expected.scalars)
    #expect(first.value.scalars.contains { $0 != 0 })
    #expect(first.gradient.scalars.allSatisfy { $0 == 0 })
  }
}
