import CZlib
import Foundation

/// The scikit-learn 8x8 handwritten digits, bundled inside PlexusCore.
///
/// 1797 grayscale images of 8x8 pixels (values 0...16 in the original, scaled here to
/// `[0, 1]`), each labelled with its digit 0...9 — the test images of the UCI "Optical
/// Recognition of Handwritten Digits" data set (Alpaydin & Kaynak, CC BY 4.0) as shipped by
/// scikit-learn (`sklearn.datasets.load_digits`, BSD-3-Clause). See DIGITS-PROVENANCE.md in
/// the source folder.
///
/// The data is compiled into the library, so it loads from any executable without resource
/// bundles or network access. It is stored deflated and checked against a CRC32 on decode.
///
/// ```swift
/// let (train, test) = try Digits.standardSplit()      // 1437 / 360 samples
/// let images = try train.reshapedFeatures([8, 8, 1])  // [1437, 8, 8, 1] for a CNN
/// ```
public enum Digits {
  /// The number of images: 1797.
  public static let sampleCount = 1797
  /// The number of pixels per image: 64 (8x8, row-major).
  public static let featureCount = 64
  /// The image height and width: 8.
  public static let imageSide = 8
  /// The number of classes: 10 (the digits 0...9).
  public static let classCount = 10
  /// The number of test samples in ``standardSplit()``: 360.
  public static let standardTestCount = 360
  /// The seed of the shuffle in ``standardSplit()``: 0.
  public static let standardSplitSeed: UInt64 = 0

  /// The whole data set in scikit-learn's order.
  ///
  /// Features have shape `[1797, 64]`: pixel values divided by 16, so in `[0, 1]`, each row an
  /// 8x8 image in row-major order. Labels have shape `[1797]`: the digit of each image as a
  /// `Float` class index 0...9. The first image is a 0.
  ///
  /// The data is decoded once per process and then shared (copy-on-write).
  ///
  /// - Throws: `PlexusError.invalidData` if the embedded data fails to inflate, has the wrong
  ///   size or CRC32, or holds out-of-range values (which means the library binary is
  ///   damaged).
  public static func load() throws -> Dataset {
    try decoded.get()
  }

  /// The standard train/test split used across Plexus examples and benchmarks.
  ///
  /// Exactly: the samples of ``load()`` are put in the order of
  /// `Dataset.permutation(count: 1797, seed: 0)` (a seeded Fisher–Yates shuffle with seed 0);
  /// the last 360 samples of that order are the test set, the first 1437 the training set,
  /// both in shuffled order. This is `try Digits.load().split(testCount: 360, seed: 0)`.
  ///
  /// - Throws: the errors of ``load()``.
  public static func standardSplit() throws -> (train: Dataset, test: Dataset) {
    try load().split(testCount: standardTestCount, seed: standardSplitSeed)
  }

  private static let decoded: Result<Dataset, PlexusError> = Result {
    try decode(
      compressedBase64: compressedPayloadBase64, byteCount: payloadByteCount, crc32: payloadCRC32)
  }
  .mapError { error in
    error as? PlexusError ?? PlexusError.invalidData("embedded digits data: \(error)")
  }

  /// Decodes a digits payload in the form scripts/generate-digits.py writes: base64 text
  /// (line breaks ignored) of a zlib stream that inflates to `byteCount` bytes — 1797 x 64
  /// pixel bytes (0...16, row-major) followed by 1797 label bytes (0...9) — whose CRC32 is
  /// `crc32`.
  ///
  /// ``load()`` calls this with ``compressedPayloadBase64``, ``payloadByteCount`` and
  /// ``payloadCRC32``; it is public so that a payload can be checked before it is embedded.
  ///
  /// - Throws: `PlexusError.invalidData` when the text is not base64, the stream does not
  ///   inflate to exactly `byteCount` bytes, the CRC32 differs, or a pixel or label is out of
  ///   range.
  public static func decode(compressedBase64: String, byteCount: Int, crc32: UInt32) throws
    -> Dataset
  {
    let pixelCount = sampleCount * featureCount
    guard byteCount == pixelCount + sampleCount else {
      throw PlexusError.invalidData(
        "a digits payload holds \(pixelCount + sampleCount) bytes, but \(byteCount) were declared")
    }
    let payload = try inflate(
      base64: compressedBase64, expectedByteCount: byteCount, expectedCRC32: crc32,
      name: "digits payload")
    return try payload.withUnsafeBufferPointer { bytes in
      if let bad = bytes[..<pixelCount].firstIndex(where: { $0 > 16 }) {
        throw PlexusError.invalidData(
          "digits payload pixel at byte \(bad) is \(bytes[bad]), expected 0...16")
      }
      if let bad = bytes[pixelCount...].firstIndex(where: { $0 >= UInt8(classCount) }) {
        throw PlexusError.invalidData(
          "digits payload label at byte \(bad) is \(bytes[bad]), expected 0...9")
      }
      let features = Tensor(shape: [sampleCount, featureCount]) { destination in
        for index in 0..<pixelCount { destination[index] = Float(bytes[index]) / 16 }
      }
      let labels = Tensor(shape: [sampleCount]) { destination in
        for index in 0..<sampleCount { destination[index] = Float(bytes[pixelCount + index]) }
      }
      return try Dataset(features: features, labels: labels)
    }
  }

  /// Decodes base64, inflates the zlib stream and checks its size and CRC32.
  static func inflate(
    base64: String, expectedByteCount: Int, expectedCRC32: UInt32, name: String
  ) throws -> [UInt8] {
    guard let compressed = Data(base64Encoded: base64, options: .ignoreUnknownCharacters) else {
      throw PlexusError.invalidData("\(name) is not valid base64")
    }
    // One spare byte, so a stream longer than expected is reported instead of truncated.
    var output = [UInt8](repeating: 0, count: expectedByteCount + 1)
    var outputLength = uLongf(expectedByteCount + 1)
    let status = output.withUnsafeMutableBufferPointer { destination in
      compressed.withUnsafeBytes { source in
        uncompress(
          destination.baseAddress, &outputLength,
          source.bindMemory(to: Bytef.self).baseAddress, uLong(source.count))
      }
    }
    guard status == Z_OK else {
      throw PlexusError.invalidData(
        "\(name) failed to inflate (zlib status \(status)); expected \(expectedByteCount) bytes")
    }
    guard Int(outputLength) == expectedByteCount else {
      throw PlexusError.invalidData(
        "\(name) inflated to \(outputLength) bytes, expected \(expectedByteCount)")
    }
    output.removeLast()
    let crc = output.withUnsafeBufferPointer { buffer in
      UInt32(truncatingIfNeeded: CZlib.crc32(0, buffer.baseAddress, uInt(buffer.count)))
    }
    guard crc == expectedCRC32 else {
      throw PlexusError.invalidData(
        "\(name) has CRC32 0x\(String(crc, radix: 16)), expected 0x\(String(expectedCRC32, radix: 16))"
      )
    }
    return output
  }
}
