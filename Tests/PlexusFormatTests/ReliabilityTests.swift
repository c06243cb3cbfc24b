import Foundation
import Plexus
import Testing

/// Corrupt, truncated and hostile files: every one must give a clear `PlexusFormatError`, never a
/// crash, a hang, a huge allocation or a model with wrong weights.
@Suite struct ReliabilityTests {
  /// A model file of a few hundred bytes.
  static func tinyFile(codec: TensorCodec) throws -> [UInt8] {
    let model = Sequential([try Dense(units: 2, activation: .tanh)])
    try model.build(inputShape: [3], seed: 1)
    let folder = try TemporaryFolder()
    let url = folder.file("tiny.plexus")
    try model.save(
      to: url,
      options: SaveOptions(
        codec: codec, metadata: ModelMetadata(created: "2026-01-01T00:00:00Z", values: ["k": "v"])))
    return [UInt8](try Data(contentsOf: url))
  }

  static func load(_ bytes: [UInt8]) throws -> Sequential {
    try Sequential.load(from: try PlexusFile(bytes: bytes), registry: LayerRegistry.standard())
  }

  static func expectFormatError(_ bytes: [UInt8], _ comment: String) {
    do {
      _ = try load(bytes)
      Issue.record("loading succeeded: \(comment)")
    } catch let error as PlexusFormatError {
      if error.message.isEmpty { Issue.record("empty message: \(comment)") }
    } catch {
      Issue.record("not a PlexusFormatError (\(error)): \(comment)")
    }
  }

  @Test(arguments: [TensorCodec.shuffleDeflate, .raw])
  func truncationAtEveryOffsetIsAnError(codec: TensorCodec) throws {
    let bytes = try Self.tinyFile(codec: codec)
    #expect(bytes.count < 2048)
    _ = try Self.load(bytes)
    for length in 0..<bytes.count {
      Self.expectFormatError(
        Array(bytes[0..<length]), "truncated to \(length) of \(bytes.count) bytes")
    }
  }

  @Test(arguments: [TensorCodec.shuffleDeflate, .raw])
  func flippingAnyByteIsAnError(codec: TensorCodec) throws {
    let bytes = try Self.tinyFile(codec: codec)
    for offset in bytes.indices {
      for mask: UInt8 in [0xFF, 0x01, 0x80] {
        var corrupt = bytes
        corrupt[offset] ^= mask
        Self.expectFormatError(corrupt, "byte \(offset) xor \(mask)")
      }
    }
  }

  @Test func transferCorruptionsOfTheMagicAreNamed() throws {
    var bytes = try Self.tinyFile(codec: .raw)
    bytes[0] &= 0x7F
    #expect {
      try PlexusFile(bytes: bytes)
    } throws: { ($0 as? PlexusFormatError)?.kind == .badMagic && "\($0)".contains("7-bit") }
    bytes = try Self.tinyFile(codec: .raw)
    bytes.remove(at: 4)  // CR LF -> LF
    #expect {
      try PlexusFile(bytes: bytes)
    } throws: { ($0 as? PlexusFormatError)?.kind == .badMagic && "\($0)".contains("text-mode") }
  }

  // MARK: Hostile files with valid checksums

  /// The architecture JSON of the tiny model (a Dense 3 -> 2).
  static func architectureJSON() throws -> String {
    let file = try PlexusFile(bytes: try tinyFile(codec: .raw))
    let encoder = JSONEncoder()
    encoder.outputFormatting = .sortedKeys
    return String(decoding: try encoder.encode(file.architecture), as: UTF8.self)
  }

  /// A file whose tensor index and data payload are given; `entries` hold offsets relative to
  /// the data payload.
  static func assemble(
    _ entries: [TensorIndexEntry], data: [UInt8], major: UInt16 = 1, minor: UInt16 = 0,
    extra: ((inout FileBuilder) -> Void)? = nil, dataLength: UInt64? = nil,
    indexTransform: (String) -> String = { $0 },
    architectureTransform: (String) -> String = { $0 }
  ) throws -> [UInt8] {
    var builder = FileBuilder(major: major, minor: minor)
    builder.json("ARCH", architectureTransform(try architectureJSON()))
    extra?(&builder)
    builder.alignNextPayload()
    let dataStart = UInt64(builder.bytes.count + 16)
    builder.chunk("DATA", payload: data, declaredLength: dataLength)
    var absolute = entries
    for index in absolute.indices {
      let (sum, overflow) = absolute[index].offset.addingReportingOverflow(dataStart)
      absolute[index].offset = overflow ? absolute[index].offset : sum
    }
    let encoder = JSONEncoder()
    encoder.outputFormatting = .sortedKeys
    builder.json(
      "TIDX",
      indexTransform(
        "{\"tensors\":" + String(decoding: try encoder.encode(absolute), as: UTF8.self) + "}"))
    builder.chunk("TEND", payload: [])
    return builder.bytes
  }

  /// The tiny model's two tensors stored raw, with correct checksums.
  static func validEntries() -> (entries: [TensorIndexEntry], data: [UInt8]) {
    let kernel = [UInt8](repeating: 0, count: 24)
    let bias = [UInt8](repeating: 0, count: 8)
    let entries = [
      TensorIndexEntry(
        name: "dense_1.kernel", group: "model", dtype: .f32, shape: [3, 2], codec: .raw, offset: 0,
        storedLength: 24,
        rawLength: 24, crc32: TestCRC32.checksum(kernel)),
      TensorIndexEntry(
        name: "dense_1.bias", group: "model", dtype: .f32, shape: [2], codec: .raw, offset: 64,
        storedLength: 8,
        rawLength: 8, crc32: TestCRC32.checksum(bias)),
    ]
    return (entries, kernel + [UInt8](repeating: 0, count: 40) + bias)
  }

  static func expectError(
    _ kind: PlexusFormatError.Kind, containing text: String, _ bytes: [UInt8],
    sourceLocation: SourceLocation = #_sourceLocation
  ) {
    do {
      _ = try load(bytes)
      Issue.record("loading succeeded, expected \(kind)", sourceLocation: sourceLocation)
    } catch let error as PlexusFormatError {
      #expect(error.kind == kind, "\(error)", sourceLocation: sourceLocation)
      #expect(error.description.contains(text), "\(error)", sourceLocation: sourceLocation)
    } catch {
      Issue.record("not a PlexusFormatError: \(error)", sourceLocation: sourceLocation)
    }
  }

  @Test func handBuiltValidFileLoads() throws {
    let (entries, data) = Self.validEntries()
    let model = try Self.load(try Self.assemble(entries, data: data))
    #expect(model.parameters.allSatisfy { $0.value.scalars.allSatisfy { $0 == 0 } })
  }

  @Test func shapeWhoseProductOverflows() throws {
    var (entries, data) = Self.validEntries()
    entries[0].shape = [1 << 32, 1 << 32, 16]
    Self.expectError(
      .limitExceeded, containing: "overflows", try Self.assemble(entries, data: data))
    entries[0].shape = [3, -2]
    Self.expectError(.limitExceeded, containing: "negative", try Self.assemble(entries, data: data))
  }

  @Test func terabyteSizesAndOffsetsPastTheEnd() throws {
    var (entries, data) = Self.validEntries()
    entries[0].shape = [1 << 38]
    entries[0].rawLength = 1 << 40
    entries[0].storedLength = 1 << 40
    Self.expectError(
      .malformed, containing: "outside the data chunk", try Self.assemble(entries, data: data))

    (entries, data) = Self.validEntries()
    entries[1].offset = UInt64.max - 4
    Self.expectError(
      .malformed, containing: "outside the data chunk", try Self.assemble(entries, data: data))

    // A deflate tensor declaring 4 MiB from 16 stored bytes: more than deflate can produce.
    (entries, data) = Self.validEntries()
    entries[0] = TensorIndexEntry(
      name: "dense_1.kernel", group: "model", dtype: .f32, shape: [1 << 20], codec: .deflate,
      offset: 0,
      storedLength: 16, rawLength: 4 << 20, crc32: TestCRC32.checksum(data[0..<16]),
      blockSize: 4 << 20, blocks: [16])
    Self.expectError(
      .limitExceeded, containing: "more than deflate can produce",
      try Self.assemble(entries, data: data))

    // Terabytes of raw bytes in a list of blocks that does not match.
    entries[0].shape = [1 << 38]
    entries[0].rawLength = 1 << 40
    Self.expectError(
      .malformed, containing: "blocks listed", try Self.assemble(entries, data: data))
  }

  @Test func chunkLengthsThatOverflow() throws {
    let (entries, data) = Self.validEntries()
    for declared in [UInt64.max, UInt64.max - 15, UInt64(1) << 62] {
      Self.expectError(
        .truncated, containing: "payload",
        try Self.assemble(entries, data: data, dataLength: declared))
    }
  }

  @Test func deflateStreamThatInflatesPastItsDeclaredSize() throws {
    // 2 MiB of zeros deflate to about 2 KiB; the index declares a 4 KiB block.
    let folder = try TemporaryFolder()
    let url = folder.file("zeros.plexus")
    try PlexusWriter.write(
      architecture: LayerDescription(type: "plexus.sequential", name: "", config: .object([:])),
      tensors: [(name: "zeros", tensor: Tensor.zeros([1 << 19]))], to: url,
      options: SaveOptions(codec: .deflate, compressionLevel: 9, blockSize: 4 << 20))
    let bomb = try PlexusFile(contentsOf: url).withStoredBytes(of: "zeros") { [UInt8]($0) }
    #expect(bomb.count < 4096)
    let (valid, _) = Self.validEntries()
    let entries = [
      TensorIndexEntry(
        name: "dense_1.kernel", group: "model", dtype: .f32, shape: [3, 2], codec: .deflate,
        offset: 0,
        storedLength: UInt64(bomb.count), rawLength: 24, crc32: TestCRC32.checksum(bomb),
        blockSize: 4096,
        blocks: [UInt64(bomb.count)]),
      TensorIndexEntry(
        name: "dense_1.bias", group: "model", dtype: .f32, shape: [2], codec: .raw, offset: 4096,
        storedLength: 8,
        rawLength: 8, crc32: valid[1].crc32),
    ]
    let data = bomb + [UInt8](repeating: 0, count: 4096 - bomb.count + 8)
    Self.expectError(
      .malformed, containing: "inflates past its declared size",
      try Self.assemble(entries, data: data))
  }

  @Test func corruptTensorBytesAreCaughtByTheirChecksum() throws {
    // The data chunk's CRC is combined from the index's checksums, so a changed tensor byte with
    // a valid file structure is caught by the tensor's own checksum when it is decoded.
    let (entries, data) = Self.validEntries()
    var bytes = try Self.assemble(entries, data: data)
    let file = try PlexusFile(bytes: bytes)
    let offset = try #require(file.entry(named: "dense_1.kernel")).offset
    bytes[Int(offset)] ^= 0x40
    Self.expectError(.checksumMismatch, containing: "dense_1.kernel", bytes)
  }

  @Test func overlappingTensorsAreRejected() throws {
    var (entries, data) = Self.validEntries()
    entries[1].offset = 0
    entries[1].crc32 = TestCRC32.checksum(data[0..<8])
    Self.expectError(.malformed, containing: "overlap", try Self.assemble(entries, data: data))
  }

  @Test func unknownChunksAreSkippedOrRefusedByCriticality() throws {
    let (entries, data) = Self.validEntries()
    let skippable = try Self.assemble(entries, data: data, minor: 3) { builder in
      builder.json("XTRA", "{\"future\":true}", critical: false)
    }
    let file = try PlexusFile(bytes: skippable)
    #expect(file.chunks.contains { $0.type == "XTRA" && !$0.isKnown && !$0.isCritical })
    _ = try Sequential.load(from: file, registry: LayerRegistry.standard())

    let critical = try Self.assemble(entries, data: data, minor: 3) { builder in
      builder.json("XTRA", "{\"future\":true}", critical: true)
    }
    Self.expectError(.unsupportedVersion, containing: "format version 1.3", critical)
  }

  @Test func unknownDTypeOrCodecNamesTheVersionNeeded() throws {
    let (entries, data) = Self.validEntries()
    // A dtype and a codec that a newer minor version might add.
    let file = try Self.assemble(
      entries, data: data, minor: 2,
      indexTransform: { $0.replacingOccurrences(of: "\"f32\"", with: "\"f8e4\"") })
    Self.expectError(.unsupportedVersion, containing: "dtype 'f8e4'", file)
    let codec = try Self.assemble(
      entries, data: data, minor: 2,
      indexTransform: { $0.replacingOccurrences(of: "\"raw\"", with: "\"zstd\"") })
    Self.expectError(.unsupportedVersion, containing: "format version 1.2", codec)
  }

  @Test func newerMajorVersionIsRefused() throws {
    let (entries, data) = Self.validEntries()
    Self.expectError(
      .unsupportedVersion, containing: "2.0", try Self.assemble(entries, data: data, major: 2))
  }

  @Test func missingAndDuplicateChunks() throws {
    var builder = FileBuilder()
    builder.json("ARCH", try Self.architectureJSON())
    builder.chunk("TEND", payload: [])
    Self.expectError(.malformed, containing: "no 'TIDX' chunk", builder.bytes)

    let (entries, data) = Self.validEntries()
    let duplicate = try Self.assemble(entries, data: data) { builder in
      builder.json("META", "{}", critical: false)
      builder.json("META", "{}", critical: false)
    }
    Self.expectError(.malformed, containing: "appears 2 times", duplicate)
  }

  @Test func indexThatDoesNotFitTheModel() throws {
    var (entries, data) = Self.validEntries()
    entries[1].name = "dense_1.gain"
    Self.expectError(
      .modelMismatch, containing: "dense_1.bias", try Self.assemble(entries, data: data))
    (entries, data) = Self.validEntries()
    entries[0].shape = [2, 3]
    Self.expectError(
      .modelMismatch, containing: "expects shape [3, 2]", try Self.assemble(entries, data: data))
  }

  /// An architecture that declares layers far larger than any tensor in the file (a billion
  /// units, 2^62 units, a sample of 2^40 values) is an error before anything that size is
  /// allocated.
  @Test(arguments: [
    ("\"units\":2", "\"units\":1000000000", "would hold"),
    ("\"units\":2", "\"units\":4611686018427387904", "at most"),
    ("\"inputShape\":[3]", "\"inputShape\":[1099511627776]", "values per sample"),
  ])
  func architectureLargerThanItsTensorsIsAnError(original: String, hostile: String, message: String)
    throws
  {
    let (entries, data) = Self.validEntries()
    #expect(try Self.architectureJSON().contains(original))
    let bytes = try Self.assemble(
      entries, data: data,
      architectureTransform: { $0.replacingOccurrences(of: original, with: hostile) })
    #expect {
      _ = try Self.load(bytes)
    } throws: { error in
      "\(error)".contains(message)
    }
  }

  // MARK: Atomic saves

  @Test func interruptedSaveKeepsThePreviousFile() throws {
    let folder = try TemporaryFolder()
    let url = folder.file("model.plexus")
    let old = try SampleModels.dense.built(seed: 1)
    try old.save(to: url)
    let oldBytes = try Data(contentsOf: url)

    let new = Sequential([try Dense(units: 64), try Dense(units: 64)])
    try new.build(inputShape: [64], seed: 2)
    let scratch = folder.file("scratch.plexus")
    try new.save(to: scratch)
    let fullSize = try Data(contentsOf: scratch).count
    try FileManager.default.removeItem(at: scratch)

    // Fail after half of the bytes, as a full disk would.
    #expect {
      try new.save(to: url, options: SaveOptions(sizeLimit: UInt64(fullSize / 2)))
    } throws: {
      ($0 as? PlexusFormatError)?.kind == .io && "\($0)".contains("previous file is kept")
    }
    #expect(try Data(contentsOf: url) == oldBytes)
    let reloaded = try Sequential.load(from: url, registry: LayerRegistry.standard())
    for (a, b) in zip(old.parameters, reloaded.parameters) {
      #expect(bitwiseEqual(a.value, b.value))
    }
    #expect(
      try FileManager.default.contentsOfDirectory(atPath: folder.url.path) == ["model.plexus"])

    // A save into a folder that does not exist fails cleanly too.
    #expect(throws: PlexusFormatError.self) {
      try new.save(to: folder.file("missing/model.plexus"))
    }

    try new.save(to: url)
    let replaced = try Sequential.load(from: url, registry: LayerRegistry.standard())
    #expect(bitwiseEqual(replaced.parameters[0].value, new.parameters[0].value))
  }

  /// A replaced file keeps its permissions; a read-only one is refused and kept; a symbolic
  /// link stays a link to the replaced file.
  @Test func savesKeepPermissionsAndRefuseReadOnlyFiles() throws {
    let folder = try TemporaryFolder()
    let url = folder.file("model.plexus")
    let model = try SampleModels.dense.built(seed: 1)
    try model.save(to: url)
    func mode(_ path: String) throws -> Int {
      try (FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? -1
    }
    try FileManager.default.setAttributes([.posixPermissions: 0o640], ofItemAtPath: url.path)
    try model.save(to: url)
    #expect(try mode(url.path) == 0o640)

    try FileManager.default.setAttributes([.posixPermissions: 0o444], ofItemAtPath: url.path)
    let before = try Data(contentsOf: url)
    #expect {
      try model.save(to: url, options: SaveOptions(codec: .raw))
    } throws: {
      ($0 as? PlexusFormatError)?.kind == .io && "\($0)".contains("is read-only (mode 444)")
    }
    #expect(try Data(contentsOf: url) == before)
    #expect(try mode(url.path) == 0o444)
    #expect {
      try NumPy.write(Tensor([1, 2]), to: url)
    } throws: { "\($0)".contains("read-only") }

    try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: url.path)
    let link = folder.file("link.plexus")
    try FileManager.default.createSymbolicLink(at: link, withDestinationURL: url)
    try model.save(to: link, options: SaveOptions(codec: .raw))
    #expect(
      try FileManager.default.destinationOfSymbolicLink(atPath: link.path) == url.path)
    #expect(try PlexusFile(contentsOf: url).tensors.allSatisfy { $0.codec == .raw })
    #expect(try mode(url.path) == 0o600)
  }
}
