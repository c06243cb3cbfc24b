import PlexusCore
import Testing

@Suite struct DigitsTests {
  @Test func countsAndShapes() throws {
    let digits = try Digits.load()
    #expect(digits.count == Digits.sampleCount)
    #expect(digits.count == 1797)
    #expect(digits.features.shape == [1797, 64])
    #expect(digits.labels.shape == [1797])
    #expect(digits.classCount == 10)
    #expect(digits.features.min() == 0)
    #expect(digits.features.max() == 1)
    // Pixel sum of the whole set in scikit-learn: 561718 (values 0...16).
    #expect(
      digits.features.withUnsafeBufferPointer { $0.reduce(0.0) { $0 + Double($1) * 16 } } == 561_718
    )
  }

  @Test func classesAreBalanced() throws {
    let digits = try Digits.load()
    var histogram = [Int](repeating: 0, count: 10)
    for label in digits.labels.scalars { histogram[Int(label)] += 1 }
    #expect(histogram == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180])
    for count in histogram { #expect((174...183).contains(count)) }
  }

  @Test func firstAndLastImagesMatchScikitLearn() throws {
    let digits = try Digits.load()
    // sklearn.datasets.load_digits().data[0].reshape(8, 8): a 0.
    let first: [Float] = [
      0, 0, 5, 13, 9, 1, 0, 0,
      0, 0, 13, 15, 10, 15, 5, 0,
      0, 3, 15, 2, 0, 11, 8, 0,
      0, 4, 12, 0, 0, 8, 8, 0,
      0, 5, 8, 0, 0, 9, 8, 0,
      0, 4, 11, 0, 1, 12, 7, 0,
      0, 2, 14, 5, 10, 12, 0, 0,
      0, 0, 6, 13, 10, 0, 0, 0,
    ]
    #expect(digits.features.samples(0..<1).scalars == first.map { $0 / 16 })
    #expect(Array(digits.labels.scalars.prefix(10)) == (0..<10).map(Float.init))
    #expect(Array(digits.labels.scalars.suffix(5)) == [9, 0, 8, 9, 8])
    // Row 3 of the last image and its pixel sum.
    #expect(
      Array(digits.features.samples(1796..<1797).scalars[24..<32])
        == [0, 0, 5, 16, 16, 10, 0, 0].map { $0 / 16 })
    #expect(digits.features.samples(1796..<1797).sum() * 16 == 392)
  }

  @Test func standardSplitIsDocumentedAndReproducible() throws {
    let (train, test) = try Digits.standardSplit()
    #expect(train.count == 1437)
    #expect(test.count == 360)
    let again = try Digits.standardSplit()
    #expect(again.train.features == train.features && again.test.labels == test.labels)
    // Exactly the documented rule: seed-0 permutation, last 360 are the test set.
    let all = try Digits.load()
    let order = Dataset.permutation(count: 1797, seed: 0)
    #expect(test.features == all.features.gatherSamples(Array(order[1437...])))
    #expect(train.labels == all.labels.gatherSamples(Array(order[..<1437])))
    #expect(Set(order[..<1437]).isDisjoint(with: order[1437...]))
    // Every class appears in the test set.
    #expect(Set(test.labels.scalars).count == 10)
  }

  @Test func imagesReshapeForConvolution() throws {
    let images = try Digits.load().reshapedFeatures([8, 8, 1])
    #expect(images.features.shape == [1797, 8, 8, 1])
    #expect(images.features[0, 1, 2, 0] == Float(13) / 16)
  }

  @Test func damagedPayloadsAreRejected() throws {
    let good = try Digits.decode(
      compressedBase64: Digits.compressedPayloadBase64, byteCount: Digits.payloadByteCount,
      crc32: Digits.payloadCRC32)
    #expect(good.count == 1797)
    #expect(throws: PlexusError.self) {
      try Digits.decode(
        compressedBase64: Digits.compressedPayloadBase64, byteCount: Digits.payloadByteCount,
        crc32: Digits.payloadCRC32 ^ 1)
    }
    #expect(throws: PlexusError.self) {
      try Digits.decode(
        compressedBase64: Digits.compressedPayloadBase64, byteCount: Digits.payloadByteCount - 1,
        crc32: Digits.payloadCRC32)
    }
    #expect(throws: PlexusError.self) {
      try Digits.decode(
        compressedBase64: String(Digits.compressedPayloadBase64.prefix(2000)),
        byteCount: Digits.payloadByteCount, crc32: Digits.payloadCRC32)
    }
    #expect(throws: PlexusError.self) {
      try Digits.decode(
        compressedBase64: "not base64!", byteCount: Digits.payloadByteCount, crc32: 0)
    }
  }
}
