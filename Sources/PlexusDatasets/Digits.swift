import CZlibSystem
import Foundation
import PlexusCore

/// The scikit-learn 8x8 handwritten digits, bundled with PlexusDatasets.
///
/// 1797 grayscale images of 8x8 pixels (values 0...16 in the original, scaled here to
/// `[0, 1]`), each labelled with its digit 0...9 — the test images of the UCI "Optical
/// Recognition of Handwritten Digits" data set (Alpaydin & Kaynak, CC BY 4.0) as shipped by
/// scikit-learn (`sklearn.datasets.load_digits`, BSD-3-Clause). See DIGITS-PROVENANCE.md in
/// the source folder.
///
/// The data is the resource file `digits.zlib` (44 KB, deflated) of the module's resource
/// bundle, which SwiftPM places next to every executable and test it builds; see
/// ``bundledPayloadURL()``. It is checked against its size and CRC32 on decode.
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
  /// The bundled payload is read and decoded once per process and then shared
  /// (copy-on-write).
  ///
  /// - Throws: `PlexusError.io` if the resource bundle or its `digits.zlib` cannot be found or
  ///   read (the message lists where it was looked for); `PlexusError.invalidData` naming the
  ///   file if it fails to inflate, has the wrong size or CRC32, or holds out-of-range values.
  public static func load() throws -> Dataset {
    try bundled.get()
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

  /// Reads and decodes a digits payload file, such as a copy of the bundled `digits.zlib`.
  ///
  /// The file holds what scripts/generate-digits.py writes: a zlib stream that inflates to
  /// ``payloadByteCount`` bytes with CRC32 ``payloadCRC32`` (see
  /// ``decode(compressed:byteCount:crc32:source:)``). Unlike ``load()``, nothing is cached.
  ///
  /// - Throws: `PlexusError.io` naming the path if the file cannot be read;
  ///   `PlexusError.invalidData` naming the path if it is larger than any deflated payload can
  ///   be or does not decode to the digits.
  public static func load(contentsOf file: URL) throws -> Dataset {
    let path = file.path
    // zlib's bound for the deflated payload: a larger file cannot be a payload, so it is not
    // read into memory.
    let largestStream = Int(compressBound(uLong(payloadByteCount)))
    let attributes: [FileAttributeKey: Any]
    do {
      attributes = try FileManager.default.attributesOfItem(atPath: path)
    } catch {
      throw PlexusError.io("cannot read the digits payload \(path): \(error.localizedDescription)")
    }
    if let size = (attributes[.size] as? NSNumber)?.intValue, size > largestStream {
      throw PlexusError.invalidData(
        "the digits payload \(path) holds \(size) bytes, more than a deflated payload of "
          + "\(payloadByteCount) bytes can (\(largestStream))")
    }
    let compressed: Data
    do {
      compressed = try Data(contentsOf: file)
    } catch {
      throw PlexusError.io("cannot read the digits payload \(path): \(error.localizedDescription)")
    }
    return try decode(
      compressed: compressed, byteCount: payloadByteCount, crc32: payloadCRC32,
      source: "the digits payload \(path)")
  }

  /// Decodes a digits payload in the form scripts/generate-digits.py writes: a zlib stream
  /// that inflates to `byteCount` bytes — 1797 x 64 pixel bytes (0...16, row-major) followed
  /// by 1797 label bytes (0...9) — whose CRC32 is `crc32`.
  ///
  /// ``load()`` decodes the bundled `digits.zlib` with ``payloadByteCount`` and
  /// ``payloadCRC32``; this is public so that a payload can be checked before it is bundled.
  ///
  /// - Parameters:
  ///   - compressed: the zlib stream.
  ///   - byteCount: the size the stream must inflate to; only 1797 x 65 is accepted.
  ///   - crc32: the CRC32 (zlib) the inflated bytes must have.
  ///   - source: what the bytes are, for error messages (for example the file they came from).
  /// - Throws: `PlexusError.invalidData` naming `source` when `byteCount` is not 1797 x 65, the
  ///   stream does not inflate to exactly `byteCount` bytes, the CRC32 differs, or a pixel or
  ///   label is out of range.
  public static func decode(
    compressed: Data, byteCount: Int, crc32: UInt32, source: String = "the digits payload"
  ) throws -> Dataset {
    let pixelCount = sampleCount * featureCount
    guard byteCount == pixelCount + sampleCount else {
      throw PlexusError.invalidData(
        "\(source): a digits payload holds \(pixelCount + sampleCount) bytes, but \(byteCount) "
          + "were declared")
    }
    let payload = try inflate(
      compressed, expectedByteCount: byteCount, expectedCRC32: crc32, source: source)
    return try payload.withUnsafeBufferPointer { bytes in
      if let bad = bytes[..<pixelCount].firstIndex(where: { $0 > 16 }) {
        throw PlexusError.invalidData(
          "\(source): pixel at byte \(bad) is \(bytes[bad]), expected 0...16")
      }
      if let bad = bytes[pixelCount...].firstIndex(where: { $0 >= UInt8(classCount) }) {
        throw PlexusError.invalidData(
          "\(source): label at byte \(bad) is \(bytes[bad]), expected 0...9")
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

  /// The bundled payload file: `digits.zlib` in the resource bundle `Plexus_PlexusDatasets`.
  ///
  /// The bundle is looked for next to the running executable (where SwiftPM puts it for the
  /// executables and tests it builds, so this works from any working directory), in the main
  /// bundle's resources (apps), and next to the bundle that holds this code (test bundles on
  /// Apple platforms). An installed executable needs the bundle directory copied beside it.
  ///
  /// This looks the bundle up itself rather than through SwiftPM's `Bundle.module`, which
  /// stops the process when the bundle is missing.
  ///
  /// - Throws: `PlexusError.io` naming the bundle, the file and every place looked in, if the
  ///   bundle or the file in it is not found.
  public static func bundledPayloadURL() throws -> URL {
    var searched: [String] = []
    for directory in resourceBundleSearchDirectories() {
      let bundleURL = directory.appendingPathComponent(resourceBundleFileName, isDirectory: true)
      guard !searched.contains(bundleURL.path) else { continue }
      searched.append(bundleURL.path)
      guard let bundle = Bundle(url: bundleURL) else { continue }
      if let file = bundle.url(forResource: payloadResourceName, withExtension: nil) {
        return file
      }
      throw PlexusError.io(
        "the resource bundle \(bundleURL.path) does not hold the digits payload "
          + "\(payloadResourceName): the bundle is incomplete; rebuild PlexusDatasets")
    }
    throw PlexusError.io(
      "the digits payload \(payloadResourceName) was not found: its resource bundle "
        + "\(resourceBundleFileName) is in none of \(searched.joined(separator: ", ")); "
        + "SwiftPM builds it next to the executable, so copy it beside an installed executable")
  }

  /// The bundled data set, or the error it failed with; decoded on first use.
  private static let bundled: Result<Dataset, PlexusError> = Result {
    try load(contentsOf: bundledPayloadURL())
  }
  .mapError { error in
    error as? PlexusError ?? PlexusError.invalidData("the bundled digits payload: \(error)")
  }

  /// The file name of the module's resource bundle, as SwiftPM names it: the package name,
  /// an underscore, the target name, and `.bundle` on Apple platforms or `.resources`
  /// elsewhere.
  static let resourceBundleFileName: String = {
    #if canImport(Darwin)
      return "Plexus_PlexusDatasets.bundle"
    #else
      return "Plexus_PlexusDatasets.resources"
    #endif
  }()

  /// The directories that may hold the resource bundle, most likely first.
  private static func resourceBundleSearchDirectories() -> [URL] {
    var directories = [Bundle.main.bundleURL]
    if let resources = Bundle.main.resourceURL { directories.append(resources) }
    // A test bundle (or framework) holding this code sits beside the resource bundles of
    // the build; on Linux this is the main bundle again.
    let codeBundle = Bundle(for: BundleMarker.self)
    if codeBundle.bundleURL != Bundle.main.bundleURL {
      if let resources = codeBundle.resourceURL { directories.append(resources) }
      directories.append(codeBundle.bundleURL.deletingLastPathComponent())
    }
    return directories
  }

  /// Inflates a zlib stream and checks its size and CRC32.
  private static func inflate(
    _ compressed: Data, expectedByteCount: Int, expectedCRC32: UInt32, source: String
  ) throws -> [UInt8] {
    // One spare byte, so a stream longer than expected is reported instead of truncated.
    var output = [UInt8](repeating: 0, count: expectedByteCount + 1)
    var outputLength = uLongf(expectedByteCount + 1)
    let status = output.withUnsafeMutableBufferPointer { destination in
      compressed.withUnsafeBytes { input in
        uncompress(
          destination.baseAddress, &outputLength,
          input.bindMemory(to: Bytef.self).baseAddress, uLong(input.count))
      }
    }
    guard status == Z_OK else {
      let reason: String
      switch status {
      case Z_DATA_ERROR: reason = "corrupt, truncated or not zlib data"
      case Z_BUF_ERROR: reason = "it inflates to more bytes"
      case Z_MEM_ERROR: reason = "out of memory"
      default: reason = "zlib status \(status)"
      }
      throw PlexusError.invalidData(
        "\(source) cannot be inflated to \(expectedByteCount) bytes: \(reason)")
    }
    guard Int(outputLength) == expectedByteCount else {
      throw PlexusError.invalidData(
        "\(source) inflated to \(outputLength) bytes, expected \(expectedByteCount)")
    }
    output.removeLast()
    let crc = output.withUnsafeBufferPointer { buffer in
      UInt32(truncatingIfNeeded: CZlibSystem.crc32(0, buffer.baseAddress, uInt(buffer.count)))
    }
    guard crc == expectedCRC32 else {
      throw PlexusError.invalidData(
        "\(source) has CRC32 0x\(String(crc, radix: 16)), expected "
          + "0x\(String(expectedCRC32, radix: 16))")
    }
    return output
  }
}

/// A class of this module, to find the bundle its code was loaded from.
private final class BundleMarker {}
