import CZlibSystem
import Foundation
import PlexusCore
import PlexusDatasets
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

  @Test func bundledPayloadIsAResourceFileThatDecodesToTheSameData() throws {
    let file = try Digits.bundledPayloadURL()
    #expect(file.lastPathComponent == Digits.payloadResourceName)
    #expect(file.deletingLastPathComponent().path.contains("Plexus_PlexusDatasets"))
    let fromFile = try Digits.load(contentsOf: file)
    let bundled = try Digits.load()
    #expect(fromFile.features == bundled.features && fromFile.labels == bundled.labels)
  }

  @Test func damagedPayloadsAreRejectedWithTheirSource() throws {
    let good = try Data(contentsOf: Digits.bundledPayloadURL())
    #expect(
      try Digits.decode(
        compressed: good, byteCount: Digits.payloadByteCount, crc32: Digits.payloadCRC32
      ).count == 1797)

    func message(_ body: () throws -> Dataset) -> String {
      do {
        _ = try body()
        return "no error"
      } catch let error as PlexusError {
        guard case .invalidData(let message) = error else { return "wrong case: \(error)" }
        return message
      } catch {
        return "not a PlexusError: \(error)"
      }
    }
    let wrongCRC = message {
      try Digits.decode(
        compressed: good, byteCount: Digits.payloadByteCount, crc32: Digits.payloadCRC32 ^ 1,
        source: "test bytes")
    }
    #expect(
      wrongCRC.hasPrefix("test bytes has CRC32 0xb89daea8, expected 0xb89daea9"), "\(wrongCRC)")
    let wrongSize = message {
      try Digits.decode(
        compressed: good, byteCount: Digits.payloadByteCount - 1, crc32: Digits.payloadCRC32,
        source: "test bytes")
    }
    #expect(wrongSize.contains("116805 bytes, but 116804 were declared"), "\(wrongSize)")
    let truncated = message {
      try Digits.decode(
        compressed: good.prefix(2000), byteCount: Digits.payloadByteCount,
        crc32: Digits.payloadCRC32, source: "test bytes")
    }
    #expect(
      truncated
        == "test bytes cannot be inflated to 116805 bytes: corrupt, truncated or not zlib data",
      "\(truncated)")
    let notZlib = message {
      try Digits.decode(
        compressed: Data("not a zlib stream".utf8), byteCount: Digits.payloadByteCount,
        crc32: Digits.payloadCRC32)
    }
    #expect(
      notZlib
        == "the digits payload cannot be inflated to 116805 bytes: corrupt, truncated or not zlib data",
      "\(notZlib)")
  }

  /// Writes `bytes` to a fresh temporary file and passes its URL to `body`.
  private func withTemporaryFile(_ bytes: Data, _ body: (URL) throws -> Void) throws {
    let file = FileManager.default.temporaryDirectory.appendingPathComponent(
      "plexus-digits-\(UInt64.random(in: 0...UInt64.max)).zlib")
    try bytes.write(to: file)
    defer { try? FileManager.default.removeItem(at: file) }
    try body(file)
  }

  @Test func corruptedPayloadFileIsRefusedNamingTheFile() throws {
    var corrupted = try Data(contentsOf: Digits.bundledPayloadURL())
    // Flip bits in the middle of the deflate stream.
    corrupted[corrupted.count / 2] ^= 0x5A
    try withTemporaryFile(corrupted) { file in
      #expect {
        try Digits.load(contentsOf: file)
      } throws: { error in
        guard case .invalidData(let message) = error as? PlexusError else { return false }
        return message.hasPrefix("the digits payload \(file.path) ")
      }
    }
  }

  /// Deflates `payload` and returns the stream with the payload's CRC32.
  private func deflated(_ payload: [UInt8]) -> (stream: Data, crc32: UInt32) {
    var length = compressBound(uLong(payload.count))
    var stream = [UInt8](repeating: 0, count: Int(length))
    let status = compress(&stream, &length, payload, uLong(payload.count))
    #expect(status == Z_OK)
    let crc = UInt32(truncatingIfNeeded: crc32(0, payload, uInt(payload.count)))
    return (Data(stream.prefix(Int(length))), crc)
  }

  @Test func validStreamsWithOutOfRangeValuesAreRefused() throws {
    // Streams that inflate to the right size with the right CRC32, but hold a pixel of 17 or
    // a label of 10.
    var payload = [UInt8](repeating: 0, count: Digits.payloadByteCount)
    payload[70] = 17
    let badPixel = deflated(payload)
    #expect {
      try Digits.decode(
        compressed: badPixel.stream, byteCount: Digits.payloadByteCount, crc32: badPixel.crc32,
        source: "test bytes")
    } throws: { error in
      error as? PlexusError == .invalidData("test bytes: pixel at byte 70 is 17, expected 0...16")
    }
    payload[70] = 16
    payload[Digits.payloadByteCount - 1] = 10
    let badLabel = deflated(payload)
    #expect {
      try Digits.decode(
        compressed: badLabel.stream, byteCount: Digits.payloadByteCount, crc32: badLabel.crc32,
        source: "test bytes")
    } throws: { error in
      error as? PlexusError
        == .invalidData("test bytes: label at byte 116804 is 10, expected 0...9")
    }
  }

  @Test func streamsOfTheWrongLengthAreRefused() throws {
    let short = deflated([UInt8](repeating: 0, count: Digits.payloadByteCount - 1))
    #expect {
      try Digits.decode(
        compressed: short.stream, byteCount: Digits.payloadByteCount, crc32: short.crc32,
        source: "test bytes")
    } throws: { error in
      error as? PlexusError == .invalidData("test bytes inflated to 116804 bytes, expected 116805")
    }
    let oneLonger = deflated([UInt8](repeating: 0, count: Digits.payloadByteCount + 1))
    #expect {
      try Digits.decode(
        compressed: oneLonger.stream, byteCount: Digits.payloadByteCount, crc32: oneLonger.crc32,
        source: "test bytes")
    } throws: { error in
      error as? PlexusError == .invalidData("test bytes inflated to 116806 bytes, expected 116805")
    }
    let muchLonger = deflated([UInt8](repeating: 0, count: 2 * Digits.payloadByteCount))
    #expect {
      try Digits.decode(
        compressed: muchLonger.stream, byteCount: Digits.payloadByteCount,
        crc32: muchLonger.crc32, source: "test bytes")
    } throws: { error in
      error as? PlexusError
        == .invalidData("test bytes cannot be inflated to 116805 bytes: it inflates to more bytes")
    }
  }

  @Test func missingOrOversizedPayloadFilesAreReportedWithTheirPath() throws {
    let missing = FileManager.default.temporaryDirectory.appendingPathComponent(
      "plexus-no-such-digits-\(UInt64.random(in: 0...UInt64.max)).zlib")
    #expect {
      try Digits.load(contentsOf: missing)
    } throws: { error in
      guard case .io(let message) = error as? PlexusError else { return false }
      return message.hasPrefix("cannot read the digits payload \(missing.path)")
    }
    try withTemporaryFile(Data(count: 1 << 20)) { file in
      #expect {
        try Digits.load(contentsOf: file)
      } throws: { error in
        guard case .invalidData(let message) = error as? PlexusError else { return false }
        return message.hasPrefix("the digits payload \(file.path) holds 1048576 bytes")
      }
    }
  }
}
