import Foundation
import PlexusCore
import PlexusDatasets
import Testing

@Suite struct ScalerTests {
  @Test func standardizerFitsOnTrainAndAppliesToTest() throws {
    let train = try Tensor(shape: [4, 3], scalars: [1, 10, 5, 2, 20, 5, 3, 30, 5, 4, 40, 5])
    let scaler = try Standardizer(fitting: train)
    #expect(scaler.mean == [2.5, 25, 5])
    #expect(abs(scaler.scale[0] - 1.118034) < 1e-5)  // population standard deviation
    #expect(scaler.scale[2] == 1)  // constant feature
    let scaled = try scaler.transform(train)
    for column in 0..<2 {
      let values = (0..<4).map { scaled[$0, column] }
      let mean = values.reduce(0, +) / 4
      let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 4
      #expect(abs(mean) < 1e-6 && abs(variance - 1) < 1e-5)
    }
    #expect((0..<4).allSatisfy { scaled[$0, 2] == 0 })
    // The test set uses the training statistics.
    let test = try Tensor(shape: [1, 3], scalars: [2.5, 25 + 11.18034, 7])
    let testScaled = try scaler.transform(test)
    #expect(
      abs(testScaled[0, 0]) < 1e-6 && abs(testScaled[0, 1] - 1) < 1e-5 && testScaled[0, 2] == 2)
    #expect(try scaler.inverseTransform(scaled).maxAbsoluteDifference(to: train) < 1e-5)
    #expect(throws: PlexusError.self) { try scaler.transform(Tensor.zeros([2, 4])) }
  }

  @Test func standardizerWorksOnImagesAndDatasets() throws {
    let (train, test) = try Digits.standardSplit()
    let scaler = try Standardizer(fitting: train.reshapedFeatures([8, 8, 1]).features)
    #expect(scaler.mean.count == 64)
    let scaledTest = try scaler.transform(test.reshapedFeatures([8, 8, 1]))
    #expect(scaledTest.features.shape == [360, 8, 8, 1])
    #expect(scaledTest.labels == test.labels)
  }

  @Test func minMaxScalerMapsToTheTargetRange() throws {
    let train = try Tensor(shape: [3, 2], scalars: [0, 5, 10, 5, 5, 5])
    let scaler = try MinMaxScaler(fitting: train, range: -1...1)
    let scaled = try scaler.transform(train)
    #expect(scaled.scalars == [-1, -1, 1, -1, 0, -1])
    #expect(try scaler.transform(try Tensor(shape: [1, 2], scalars: [20, 9])).scalars == [3, -1])
    #expect(try scaler.inverseTransform(scaled).scalars == [0, 5, 10, 5, 5, 5])
    #expect(throws: PlexusError.self) { try MinMaxScaler(fitting: train, range: 1...1) }
  }

  @Test func scalersRoundTripThroughJSONAndValidate() throws {
    let standardizer = try Standardizer(mean: [1, 2], scale: [3, 4])
    let decoded = try JSONDecoder().decode(
      Standardizer.self, from: JSONEncoder().encode(standardizer))
    #expect(decoded == standardizer)
    let minMax = try MinMaxScaler(minimum: [0], maximum: [2])
    #expect(
      try JSONDecoder().decode(MinMaxScaler.self, from: JSONEncoder().encode(minMax)) == minMax)
    #expect(throws: PlexusError.self) {
      try JSONDecoder().decode(Standardizer.self, from: Data(#"{"mean":[1],"scale":[0]}"#.utf8))
    }
    #expect(throws: PlexusError.self) {
      try JSONDecoder().decode(
        MinMaxScaler.self,
        from: Data(#"{"minimum":[0],"maximum":[1],"lowerBound":1,"upperBound":0}"#.utf8))
    }
    #expect(throws: PlexusError.self) { try Standardizer(mean: [1], scale: [1, 2]) }
    #expect(throws: PlexusError.self) { try MinMaxScaler(minimum: [2], maximum: [1]) }
    #expect(throws: PlexusError.self) { try Standardizer(fitting: Tensor.zeros([0, 3])) }
    #expect(throws: PlexusError.self) { try Standardizer(fitting: Tensor([1, .nan])) }
  }
}
