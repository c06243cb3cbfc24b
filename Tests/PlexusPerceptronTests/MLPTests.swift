import PlexusCore
import PlexusPerceptron
import Testing

@Suite struct MLPTests {
  @Test func buildsTheRequestedShapes() throws {
    let model = try MLP.make(inputs: 64, hidden: [128, 64], outputs: 10, seed: 3)
    #expect(model.isBuilt)
    #expect(model.layers.map(\.typeName) == ["plexus.dense", "plexus.dense", "plexus.dense"])
    #expect(model.layers.map(\.name) == ["dense_1", "dense_2", "dense_3"])
    #expect(model.layerOutputShapes == [[128], [64], [10]])
    #expect(model.parameterCount == 64 * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10)
    let activations = model.layers.compactMap { ($0 as? Dense)?.config.activation }
    #expect(activations == [.relu, .relu, .linear])
    var generator = SeededGenerator(seed: 1)
    let output = try model.predict(Tensor.normal([5, 64], using: &generator))
    #expect(output.shape == [5, 10])
  }

  @Test func addsDropoutAfterHiddenLayers() throws {
    let model = try MLP.make(
      inputs: 8, hidden: [16, 4], outputs: 3, activation: .tanh, outputActivation: .softmax,
      dropout: 0.25)
    #expect(
      model.layers.map(\.typeName) == [
        "plexus.dense", "plexus.dropout", "plexus.dense", "plexus.dropout", "plexus.dense",
      ])
    #expect(model.layerOutputShapes == [[16], [16], [4], [4], [3]])
    let output = try model.predict(Tensor(shape: [2, 8], repeating: 0.5))
    let rowSums = [output.samples(0..<1).sum(), output.samples(1..<2).sum()]
    #expect(rowSums.allSatisfy { abs($0 - 1) < 1e-5 })
  }

  @Test func noHiddenLayersGivesOneDense() throws {
    let model = try MLP.make(inputs: 4, hidden: [], outputs: 2)
    #expect(model.layers.count == 1)
    #expect(model.outputShape == [2])
  }

  @Test func sameSeedSameWeights() throws {
    let first = try MLP.make(inputs: 6, hidden: [5], outputs: 2, seed: 42)
    let second = try MLP.make(inputs: 6, hidden: [5], outputs: 2, seed: 42)
    let third = try MLP.make(inputs: 6, hidden: [5], outputs: 2, seed: 43)
    #expect(first.parameters.map(\.value) == second.parameters.map(\.value))
    #expect(first.parameters.map(\.value) != third.parameters.map(\.value))
  }

  @Test func rejectsBadSizes() {
    #expect(throws: PlexusError.invalidConfiguration("MLP inputs must be positive, got 0")) {
      try MLP.make(inputs: 0, hidden: [4], outputs: 2)
    }
    #expect(
      throws: PlexusError.invalidConfiguration(
        "MLP hidden layer 1 must have a positive width, got -3")
    ) {
      try MLP.make(inputs: 4, hidden: [4, -3], outputs: 2)
    }
    #expect(throws: PlexusError.invalidConfiguration("MLP outputs must be positive, got 0")) {
      try MLP.make(inputs: 4, hidden: [4], outputs: 0)
    }
    #expect(throws: PlexusError.invalidConfiguration("MLP dropout must be in [0, 1), got 1.0")) {
      try MLP.make(inputs: 4, hidden: [4], outputs: 2, dropout: 1)
    }
  }
}
