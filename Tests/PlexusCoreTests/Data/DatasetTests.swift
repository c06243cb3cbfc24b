import PlexusCore
import Testing

@Suite struct DatasetTests {
  /// Ten samples: features [10, 2] with row i = (i, 10 i), labels i mod 3.
  func makeDataset() throws -> Dataset {
    let features = try Tensor(
      shape: [10, 2], scalars: (0..<10).flatMap { [Float($0), Float($0 * 10)] })
    let labels = Tensor((0..<10).map { Float($0 % 3) })
    return try Dataset(features: features, labels: labels)
  }

  @Test func initValidatesSampleCounts() throws {
    let features = Tensor.zeros([4, 3])
    #expect(throws: PlexusError.self) { try Dataset(features: features, labels: Tensor.zeros([5])) }
    #expect(throws: PlexusError.self) {
      try Dataset(features: Tensor.zeros([]), labels: Tensor.zeros([1]))
    }
    #expect(throws: PlexusError.self) { try Dataset(features: features, labels: Tensor.zeros([])) }
    #expect(throws: PlexusError.self) {
      try Dataset(features: features, labels: Tensor([0, 1, .nan, 2]))
    }
    let data = try Dataset(features: features, labels: Tensor.zeros([4, 2]))
    #expect(data.count == 4)
    #expect(data.featureShape == [3])
    #expect(data.classCount == nil)
  }

  @Test func classCountIsInferredOnlyForClassIndices() throws {
    let features = Tensor.zeros([3, 1])
    #expect(try Dataset(features: features, labels: Tensor([0, 4, 2])).classCount == 5)
    #expect(try Dataset(features: features, labels: Tensor([0, 1.5, 2])).classCount == nil)
    #expect(try Dataset(features: features, labels: Tensor([0, -1, 2])).classCount == nil)
    #expect(try Dataset(features: features, labels: Tensor.zeros([3, 1])).classCount == nil)
  }

  @Test func validateClassLabelsNamesIndexAndValue() throws {
    try Dataset.validateClassLabels(Tensor([0, 2, 1]), classCount: 3)
    do {
      try Dataset.validateClassLabels(Tensor([0, 2, 1.5]), classCount: 3)
      Issue.record("a non-integral label was accepted")
    } catch let error as PlexusError {
      #expect(error.description.contains("index 2"))
      #expect(error.description.contains("1.5"))
      #expect(error.description.contains("not an integer"))
    }
    do {
      try Dataset.validateClassLabels(Tensor([0, 3, 1]), classCount: 3)
      Issue.record("an out-of-range label was accepted")
    } catch let error as PlexusError {
      #expect(error.description.contains("index 1"))
      #expect(error.description.contains("3.0"))
      #expect(error.description.contains("0..<3"))
    }
    #expect(throws: PlexusError.self) {
      try Dataset.validateClassLabels(Tensor([-1]), classCount: 3)
    }
    #expect(throws: PlexusError.self) {
      try Dataset.validateClassLabels(Tensor([0]), classCount: 0)
    }
    #expect(throws: PlexusError.self) {
      try Dataset.validateClassLabels(Tensor.zeros([2, 1]), classCount: 3)
    }
  }

  @Test func oneHotLabels() throws {
    let data = try Dataset(features: Tensor.zeros([3, 1]), labels: Tensor([2, 0, 1]))
    let oneHot = try data.oneHotLabels(classCount: 3)
    #expect(oneHot.shape == [3, 3])
    #expect(oneHot.scalars == [0, 0, 1, 1, 0, 0, 0, 1, 0])
    #expect(throws: PlexusError.self) { try data.oneHotLabels(classCount: 2) }
  }

  @Test func reshapedFeatures() throws {
    let data = try Dataset(features: Tensor.zeros([5, 64]), labels: Tensor.zeros([5]))
    let images = try data.reshapedFeatures([8, 8, 1])
    #expect(images.features.shape == [5, 8, 8, 1])
    #expect(images.labels == data.labels)
    #expect(images.classCount == 1)
    #expect(throws: PlexusError.self) { try data.reshapedFeatures([8, 7, 1]) }
    #expect(throws: PlexusError.self) { try data.reshapedFeatures([-8, -8]) }
  }

  @Test func permutationIsAReproducibleShuffle() {
    let first = Dataset.permutation(count: 100, seed: 5)
    #expect(first == Dataset.permutation(count: 100, seed: 5))
    #expect(first != Dataset.permutation(count: 100, seed: 6))
    #expect(first.sorted() == Array(0..<100))
    #expect(first != Array(0..<100))
    #expect(Dataset.permutation(count: 0, seed: 1).isEmpty)
    #expect(Dataset.permutation(count: 1, seed: 1) == [0])
  }

  @Test func permutationIsRoughlyUniform() {
    // Where element 0 lands over many seeds: each of 4 positions should get about 1/4.
    var histogram = [0, 0, 0, 0]
    for seed in 0..<4000 {
      histogram[Dataset.permutation(count: 4, seed: UInt64(seed)).firstIndex(of: 0) ?? 0] += 1
    }
    for count in histogram { #expect(count > 850 && count < 1150) }
  }

  @Test func shuffledKeepsPairsTogether() throws {
    let data = try makeDataset()
    let shuffled = data.shuffled(seed: 3)
    #expect(shuffled.count == 10)
    #expect(shuffled.features != data.features)
    for row in 0..<10 {
      let original = Int(shuffled.features[row, 0])
      #expect(shuffled.features[row, 1] == Float(original * 10))
      #expect(shuffled.labels[row] == Float(original % 3))
    }
    #expect(shuffled.features == data.shuffled(seed: 3).features)
  }

  @Test func splitIsDisjointCompleteAndReproducible() throws {
    let data = try makeDataset()
    let (train, test) = try data.split(testFraction: 0.25, seed: 9)
    #expect(train.count == 7)  // 2.5 rounds to 3 test samples
    #expect(test.count == 3)
    let trainIDs = (0..<train.count).map { Int(train.features[$0, 0]) }
    let testIDs = (0..<test.count).map { Int(test.features[$0, 0]) }
    #expect(Set(trainIDs).isDisjoint(with: testIDs))
    #expect((trainIDs + testIDs).sorted() == Array(0..<10))
    // Exactly: the last testCount samples of the seeded permutation.
    let order = Dataset.permutation(count: 10, seed: 9)
    #expect(trainIDs == Array(order[..<7]))
    #expect(testIDs == Array(order[7...]))
    let again = try data.split(testFraction: 0.25, seed: 9)
    #expect(again.train.features == train.features && again.test.labels == test.labels)
    #expect(train.classCount == 3)

    #expect(throws: PlexusError.self) { try data.split(testFraction: 0, seed: 1) }
    #expect(throws: PlexusError.self) { try data.split(testFraction: 1, seed: 1) }
    #expect(throws: PlexusError.self) { try data.split(testFraction: .nan, seed: 1) }
    #expect(throws: PlexusError.self) { try data.split(testFraction: 0.01, seed: 1) }  // 0 test samples
    #expect(throws: PlexusError.self) { try data.split(testCount: 10, seed: 1) }
    let single = try Dataset(features: Tensor.zeros([1, 2]), labels: Tensor([0]))
    #expect(throws: PlexusError.self) { try single.split(testCount: 1, seed: 1) }
  }

  @Test func batchesCoverEverySampleOnce() throws {
    let data = try makeDataset()
    let batches = try data.batches(size: 4)
    #expect(batches.count == 3)
    var seen: [Float] = []
    var sizes: [Int] = []
    for (features, labels) in batches {
      sizes.append(features.shape[0])
      #expect(labels.shape == [features.shape[0]])
      seen += (0..<features.shape[0]).map { features[$0, 0] }
    }
    #expect(sizes == [4, 4, 2])
    #expect(seen == (0..<10).map(Float.init))

    let shuffled = Array(try data.batches(size: 3, shuffle: true, seed: 2))
    #expect(shuffled.map { $0.features.shape[0] } == [3, 3, 3, 1])
    let order = shuffled.flatMap { batch in
      (0..<batch.features.shape[0]).map { Int(batch.features[$0, 0]) }
    }
    #expect(order == Dataset.permutation(count: 10, seed: 2))
    for batch in shuffled {
      for row in 0..<batch.features.shape[0] {
        #expect(batch.labels[row] == Float(Int(batch.features[row, 0]) % 3))
      }
    }
    #expect(throws: PlexusError.self) { try data.batches(size: 0) }
    #expect(Array(try data.batches(size: 100)).count == 1)
  }

  @Test func subsetAndSamplesCheckBounds() throws {
    let data = try makeDataset()
    #expect(try data.subset([9, 0, 9]).features.scalars == [9, 90, 0, 0, 9, 90])
    #expect(try data.samples(2..<4).labels.scalars == [2, 0])
    #expect(throws: PlexusError.self) { try data.subset([10]) }
    #expect(throws: PlexusError.self) { try data.subset([-1]) }
    #expect(throws: PlexusError.self) { try data.samples(8..<11) }
  }
}
