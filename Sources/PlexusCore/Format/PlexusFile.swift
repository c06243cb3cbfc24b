import Foundation

/// A `.plexus` file opened for reading.
///
/// Opening parses and validates the header, every chunk boundary, the architecture, the metadata,
/// the optimizer record and the tensor index — with overflow-checked arithmetic and before
/// anything sized by the file is allocated — but reads no tensor bytes: a memory-mapped open
/// takes well under a millisecond. Tensors are decoded, checksummed and validated when asked for.
///
/// ```swift
/// let file = try PlexusFile(contentsOf: url)
/// print(file.architecture.type, file.tensors.map(\.name))
/// let kernel = try file.tensor(named: "dense_1.kernel")
/// ```
public final class PlexusFile: Sendable {
  /// The file's major format version.
  public let majorVersion: UInt16
  /// The file's minor format version.
  public let minorVersion: UInt16
  /// The file's size in bytes.
  public let fileSize: UInt64
  /// Every chunk in file order, including skipped unknown ones.
  public let chunks: [ChunkInfo]
  /// The root layer's description (for a `Sequential`, its config holds the layers and the input
  /// shape).
  public let architecture: LayerDescription
  /// The metadata, when the file has a `META` chunk.
  public let metadata: ModelMetadata?
  /// The tensor index, in file order.
  public let tensors: [TensorIndexEntry]
  /// Whether the bytes are memory-mapped (raw tensors can then be used in place).
  public var isMapped: Bool { bytes.isMapped }

  let bytes: FileBytes
  let optimizerDocument: OptimizerDocument?
  let dataChunk: ChunkInfo
  private let entryIndex: [String: Int]

  /// Opens the file at `url`, memory-mapping it unless `mapping` is false (then it is read into
  /// memory).
  ///
  /// - Throws: `PlexusFormatError` saying what is wrong and where.
  public convenience init(contentsOf url: URL, mapping: Bool = true) throws {
    let bytes = try FileBytes.read(path: url.path, map: mapping)
    try self.init(bytes: bytes)
  }

  /// Parses a file held in memory (the bytes are copied).
  ///
  /// - Throws: `PlexusFormatError` saying what is wrong and where.
  public convenience init(bytes: some ContiguousBytes) throws {
    let copy = bytes.withUnsafeBytes { FileBytes(copying: $0) }
    try self.init(bytes: copy)
  }

  init(bytes: FileBytes) throws {
    self.bytes = bytes
    let reader = ByteReader(bytes: bytes.buffer)
    let size = UInt64(bytes.buffer.count)
    fileSize = size
    (majorVersion, minorVersion) = try Self.parseHeader(reader)
    let chunkList = try Self.parseChunks(reader, minorVersion: minorVersion)
    chunks = chunkList

    func unique(_ type: String) throws -> ChunkInfo? {
      let found = chunkList.filter { $0.type == type }
      guard found.count <= 1 else {
        throw PlexusFormatError(
          .malformed, "chunk type '\(type)' appears \(found.count) times, expected at most once",
          chunk: type, offset: found[1].offset)
      }
      return found.first
    }
    func required(_ type: String) throws -> ChunkInfo {
      guard let chunk = try unique(type) else {
        throw PlexusFormatError(
          .malformed, "the file has no '\(type)' chunk, which every model file needs")
      }
      return chunk
    }
    let architectureChunk = try required(PlexusFormat.ChunkType.architecture)
    let indexChunk = try required(PlexusFormat.ChunkType.tensorIndex)
    dataChunk = try required(PlexusFormat.ChunkType.data)
    let metadataChunk = try unique(PlexusFormat.ChunkType.metadata)
    let optimizerChunk = try unique(PlexusFormat.ChunkType.optimizer)

    architecture = try Self.decodeJSON(
      chunk: architectureChunk, reader: reader, HeaderJSON.layerDescription)
    metadata = try metadataChunk.map {
      try Self.decodeJSON(chunk: $0, reader: reader, HeaderJSON.metadata)
    }
    let entries = try Self.decodeJSON(
      chunk: indexChunk, reader: reader, minorVersion: minorVersion, HeaderJSON.tensorIndex)
    tensors = entries
    entryIndex = try Self.validate(entries, data: dataChunk, indexChunk: indexChunk)
    try Self.verifyDataChunk(dataChunk, entries: entries, reader: reader)
    optimizerDocument = try optimizerChunk.map {
      try Self.decodeJSON(chunk: $0, reader: reader, HeaderJSON.optimizer)
    }
    if let optimizerDocument, let optimizerChunk {
      for (key, name) in optimizerDocument.slots.sorted(by: { $0.key < $1.key }) {
        guard let position = entryIndex[name],
          tensors[position].group == TensorIndexEntry.optimizerGroup
        else {
          throw PlexusFormatError(
            .malformed,
            "optimizer slot '\(key)' names tensor '\(name)', which is not an optimizer tensor of the index",
            chunk: optimizerChunk.type, offset: optimizerChunk.payloadOffset)
        }
      }
      guard optimizerDocument.step >= 0 else {
        throw PlexusFormatError(
          .malformed, "optimizer step \(optimizerDocument.step) is negative",
          chunk: optimizerChunk.type,
          offset: optimizerChunk.payloadOffset)
      }
    }
  }

  // MARK: Header and chunks

  private static func parseHeader(_ reader: ByteReader) throws -> (UInt16, UInt16) {
    let magic = PlexusFormat.magic
    let available = Swift.min(reader.bytes.count, magic.count)
    let found = (0..<available).map { reader.bytes[$0] }
    guard found == Array(magic[0..<available]) else {
      let hex = found.map { String(format: "%02X", $0) }.joined(separator: " ")
      var hint = ""
      if found.first == 0x09 {
        hint = " (the high bit of the first byte was cleared: a 7-bit transfer)"
      }
      if found.count >= 6, found[4] == 0x0A { hint = " (CR LF became LF: a text-mode transfer)" }
      throw PlexusFormatError(
        .badMagic,
        "not a .plexus file: expected magic 89 50 4C 58 0D 0A 1A 0A, found \(hex)\(hint)", offset: 0
      )
    }
    guard reader.bytes.count >= PlexusFormat.headerSize else {
      throw PlexusFormatError(
        .truncated,
        "the file has \(reader.bytes.count) bytes, fewer than the \(PlexusFormat.headerSize)-byte header",
        offset: UInt64(reader.bytes.count))
    }
    let expected = reader.uint32(at: 12)
    let actual = CRC32.checksum(reader.slice(0, 12))
    guard expected == actual else {
      throw PlexusFormatError(
        .checksumMismatch,
        "header CRC-32 is \(hex32(actual)), the header records \(hex32(expected))", offset: 12)
    }
    let major = reader.uint16(at: 8)
    let minor = reader.uint16(at: 10)
    guard major == PlexusFormat.majorVersion else {
      throw PlexusFormatError(
        .unsupportedVersion,
        "the file is format version \(major).\(minor), this reader reads major version \(PlexusFormat.majorVersion) "
          + "(format \(PlexusFormat.majorVersion).\(PlexusFormat.minorVersion)); it needs a reader for format \(major).\(minor)",
        offset: 8)
    }
    return (major, minor)
  }

  private static func parseChunks(_ reader: ByteReader, minorVersion: UInt16) throws -> [ChunkInfo]
  {
    var chunks: [ChunkInfo] = []
    var position = UInt64(PlexusFormat.headerSize)
    let size = UInt64(reader.bytes.count)
    let header = UInt64(PlexusFormat.chunkHeaderSize)
    let trailer = UInt64(PlexusFormat.chunkTrailerSize)
    while true {
      guard reader.contains(offset: position, length: header) else {
        throw PlexusFormatError(
          .truncated,
          "the file ends at byte \(size) inside or before a chunk header, before the '\(PlexusFormat.ChunkType.end)' chunk",
          offset: position)
      }
      guard chunks.count < PlexusFormat.Limits.maximumChunks else {
        throw PlexusFormatError(
          .limitExceeded, "more than \(PlexusFormat.Limits.maximumChunks) chunks", offset: position)
      }
      let start = Int(position)
      let typeBytes = (0..<4).map { reader.bytes[start + $0] }
      guard typeBytes.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else {
        let hex = typeBytes.map { String(format: "%02X", $0) }.joined(separator: " ")
        throw PlexusFormatError(
          .malformed, "chunk type bytes \(hex) are not printable ASCII", offset: position)
      }
      let type = String(decoding: typeBytes, as: UTF8.self)
      let flags = reader.uint32(at: start + 4)
      let length = reader.uint64(at: start + 8)
      let (withHeader, overflowA) = position.addingReportingOverflow(header)
      let (withPayload, overflowB) = withHeader.addingReportingOverflow(length)
      let (end, overflowC) = withPayload.addingReportingOverflow(trailer)
      guard !overflowA, !overflowB, !overflowC, end <= size else {
        throw PlexusFormatError(
          .truncated,
          "chunk declares a \(length)-byte payload, but only \(size - Swift.min(size, withHeader)) bytes follow its header",
          chunk: type, offset: position + 8)
      }
      let isKnown = PlexusFormat.ChunkType.known.contains(type)
      let chunk = ChunkInfo(
        type: type, offset: position, length: length,
        isCritical: flags & PlexusFormat.criticalFlag != 0,
        isKnown: isKnown)
      if !isKnown && chunk.isCritical {
        throw PlexusFormatError(
          .unsupportedVersion,
          "critical chunk type '\(type)' is unknown to this reader (format \(PlexusFormat.majorVersion).\(PlexusFormat.minorVersion)); "
            + "the file is format version \(PlexusFormat.majorVersion).\(minorVersion) and needs a reader for that version",
          chunk: type, offset: position)
      }
      if type != PlexusFormat.ChunkType.data {
        try verifyChunkCRC(chunk, reader: reader)
      }
      chunks.append(chunk)
      position = end
      if type == PlexusFormat.ChunkType.end {
        guard length == 0 else {
          throw PlexusFormatError(
            .malformed, "the end chunk has a \(length)-byte payload, expected 0", chunk: type,
            offset: chunk.offset + 8)
        }
        guard position == size else {
          throw PlexusFormatError(
            .malformed, "\(size - position) bytes follow the end chunk, expected none", chunk: type,
            offset: position)
        }
        return chunks
      }
    }
  }

  /// Checks a chunk's CRC-32 (over its 16-byte header and its payload).
  static func verifyChunkCRC(_ chunk: ChunkInfo, reader: ByteReader) throws {
    let start = Int(chunk.offset)
    let covered = PlexusFormat.chunkHeaderSize + Int(chunk.length)
    let actual = CRC32.checksum(reader.slice(start, covered))
    let expected = reader.uint32(at: start + covered)
    guard actual == expected else {
      throw PlexusFormatError(
        .checksumMismatch, "chunk CRC-32 is \(hex32(actual)), the chunk records \(hex32(expected))",
        chunk: chunk.type, offset: UInt64(start + covered))
    }
  }

  /// Parses a JSON chunk with `StrictJSON` and reads it with `read` (a `HeaderJSON` function).
  private static func decodeJSON<T>(
    chunk: ChunkInfo, reader: ByteReader, minorVersion: UInt16 = PlexusFormat.minorVersion,
    _ read: (JSONValue) throws -> T
  ) throws -> T {
    guard chunk.length <= PlexusFormat.Limits.maximumJSONChunkLength else {
      throw PlexusFormatError(
        .limitExceeded,
        "JSON payload of \(chunk.length) bytes exceeds the limit of \(PlexusFormat.Limits.maximumJSONChunkLength)",
        chunk: chunk.type, offset: chunk.offset + 8)
    }
    let payload = [UInt8](reader.slice(Int(chunk.payloadOffset), Int(chunk.length)))
    do {
      return try read(try StrictJSON.parse(bytes: payload))
    } catch let error as UnknownFormatValue {
      throw PlexusFormatError(
        .unsupportedVersion,
        "\(error.field) '\(error.value)' is unknown to this reader (format \(PlexusFormat.majorVersion)."
          + "\(PlexusFormat.minorVersion)); the file is format version \(PlexusFormat.majorVersion).\(minorVersion) "
          + "and needs a reader for that version",
        chunk: chunk.type, offset: chunk.payloadOffset, tensor: error.tensor)
    } catch let error as StrictJSON.SyntaxError {
      throw PlexusFormatError(
        .malformed, "invalid JSON: \(error)", chunk: chunk.type,
        offset: chunk.payloadOffset + UInt64(error.offset))
    } catch {
      throw PlexusFormatError(
        .malformed, "invalid JSON: \(error)", chunk: chunk.type, offset: chunk.payloadOffset)
    }
  }

  // MARK: Tensor index

  private static func validate(
    _ entries: [TensorIndexEntry], data: ChunkInfo, indexChunk: ChunkInfo
  ) throws -> [String: Int] {
    guard entries.count <= PlexusFormat.Limits.maximumTensors else {
      throw PlexusFormatError(
        .limitExceeded,
        "\(entries.count) tensors exceed the limit of \(PlexusFormat.Limits.maximumTensors)",
        chunk: indexChunk.type, offset: indexChunk.payloadOffset)
    }
    let dataStart = data.payloadOffset
    let dataEnd = dataStart + data.length
    var positions: [String: Int] = [:]
    for (position, entry) in entries.enumerated() {
      func fail(_ kind: PlexusFormatError.Kind, _ message: String) -> PlexusFormatError {
        PlexusFormatError(
          kind, message, chunk: indexChunk.type, offset: indexChunk.payloadOffset,
          tensor: entry.name)
      }
      guard !entry.name.isEmpty, entry.name.utf8.count <= PlexusFormat.Limits.maximumNameLength
      else {
        throw fail(
          .malformed,
          "tensor \(position) has an empty name or one longer than \(PlexusFormat.Limits.maximumNameLength) bytes"
        )
      }
      guard positions.updateValue(position, forKey: entry.name) == nil else {
        throw fail(.malformed, "the name appears twice in the tensor index")
      }
      guard entry.shape.count <= PlexusFormat.Limits.maximumRank else {
        throw fail(
          .limitExceeded,
          "rank \(entry.shape.count) exceeds the limit of \(PlexusFormat.Limits.maximumRank)")
      }
      let elements: Int
      do { elements = try Tensor.elementCount(of: entry.shape) } catch {
        throw fail(
          .limitExceeded,
          "shape \(entry.shape) has a negative dimension or an element count that overflows")
      }
      let (raw, rawOverflow) = UInt64(elements).multipliedReportingOverflow(
        by: UInt64(entry.dtype.byteWidth))
      guard !rawOverflow, raw == entry.rawLength else {
        throw fail(
          .malformed,
          "raw length is \(entry.rawLength) bytes, expected \(elements) elements x \(entry.dtype.byteWidth) bytes"
        )
      }
      let (end, endOverflow) = entry.offset.addingReportingOverflow(entry.storedLength)
      guard entry.offset >= dataStart, !endOverflow, end <= dataEnd else {
        throw fail(
          .malformed,
          "stored bytes \(entry.offset) + \(entry.storedLength) lie outside the data chunk's payload \(dataStart)..<\(dataEnd)"
        )
      }
      if entry.dtype == .int8 {
        guard let scale = entry.scale, scale.isFinite, scale >= 0 else {
          throw fail(
            .malformed,
            "an i8 tensor needs a finite non-negative scale, found \(entry.scale.map { "\($0)" } ?? "none")"
          )
        }
      }
      switch entry.codec {
      case .raw:
        guard entry.storedLength == entry.rawLength else {
          throw fail(
            .malformed,
            "a raw tensor stores \(entry.storedLength) bytes, expected its raw length \(entry.rawLength)"
          )
        }
        guard entry.offset % UInt64(PlexusFormat.rawAlignment) == 0 else {
          throw fail(
            .malformed,
            "raw tensor offset \(entry.offset) is not a multiple of \(PlexusFormat.rawAlignment)")
        }
        guard entry.blocks == nil, entry.blockSize == nil else {
          throw fail(.malformed, "a raw tensor has no blocks, but the entry lists some")
        }
      case .deflate, .shuffleDeflate:
        guard let blockSize = entry.blockSize, let blocks = entry.blocks else {
          throw fail(.malformed, "a \(entry.codec.rawValue) tensor needs 'blockSize' and 'blocks'")
        }
        guard PlexusFormat.Limits.blockSizeRange.contains(Int(clamping: blockSize)),
          blockSize % UInt64(entry.dtype.byteWidth) == 0
        else {
          throw fail(
            .malformed,
            "block size \(blockSize) must lie in \(PlexusFormat.Limits.blockSizeRange) and be a multiple of \(entry.dtype.byteWidth)"
          )
        }
        let expectedBlocks =
          entry.rawLength / blockSize + (entry.rawLength % blockSize == 0 ? 0 : 1)
        guard UInt64(blocks.count) == expectedBlocks else {
          throw fail(
            .malformed,
            "\(blocks.count) blocks listed, expected \(expectedBlocks) for \(entry.rawLength) raw bytes"
          )
        }
        var total: UInt64 = 0
        for (block, stored) in blocks.enumerated() {
          let rawInBlock = Swift.min(blockSize, entry.rawLength - UInt64(block) * blockSize)
          let (bound, boundOverflow) = stored.multipliedReportingOverflow(
            by: PlexusFormat.Limits.maximumInflateRatio)
          guard stored > 0, stored <= UInt64(UInt32.max),
            boundOverflow || rawInBlock <= bound + PlexusFormat.Limits.inflateAllowance
          else {
            throw fail(
              .limitExceeded,
              "block \(block) declares \(rawInBlock) raw bytes from \(stored) stored bytes, more than deflate can produce"
            )
          }
          let (sum, sumOverflow) = total.addingReportingOverflow(stored)
          guard !sumOverflow else { throw fail(.malformed, "block lengths overflow") }
          total = sum
        }
        guard total == entry.storedLength else {
          throw fail(
            .malformed,
            "block lengths add up to \(total) bytes, the entry stores \(entry.storedLength)")
        }
      }
    }
    // Stored regions must not overlap.
    let sorted = entries.sorted { $0.offset < $1.offset }
    for (previous, next) in zip(sorted, sorted.dropFirst())
    where previous.offset + previous.storedLength > next.offset {
      throw PlexusFormatError(
        .malformed, "stored bytes overlap those of tensor '\(previous.name)'",
        chunk: indexChunk.type,
        offset: next.offset, tensor: next.name)
    }
    return positions
  }

  /// Checks the data chunk's CRC-32 without reading tensor bytes: the CRC of the chunk is
  /// combined from its header, the bytes between tensors (padding, read here) and each tensor's
  /// recorded CRC-32 (each checked against its bytes when the tensor is decoded).
  private static func verifyDataChunk(
    _ chunk: ChunkInfo, entries: [TensorIndexEntry], reader: ByteReader
  ) throws {
    var crc = CRC32.checksum(reader.slice(Int(chunk.offset), PlexusFormat.chunkHeaderSize))
    var position = chunk.payloadOffset
    for entry in entries.sorted(by: { $0.offset < $1.offset }) {
      let gap = reader.slice(Int(position), Int(entry.offset - position))
      crc = CRC32.combine(crc, CRC32.checksum(gap), secondLength: UInt64(gap.count))
      crc = CRC32.combine(crc, entry.crc32, secondLength: entry.storedLength)
      position = entry.offset + entry.storedLength
    }
    let end = chunk.payloadOffset + chunk.length
    let tail = reader.slice(Int(position), Int(end - position))
    crc = CRC32.combine(crc, CRC32.checksum(tail), secondLength: UInt64(tail.count))
    let recorded = reader.uint32(at: Int(end))
    guard crc == recorded else {
      throw PlexusFormatError(
        .checksumMismatch,
        "chunk CRC-32 combined from its header, padding and the index's tensor checksums is \(hex32(crc)), "
          + "the chunk records \(hex32(recorded))",
        chunk: chunk.type, offset: end)
    }
  }

  // MARK: Tensors

  /// The index entry of a tensor.
  public func entry(named name: String) -> TensorIndexEntry? {
    entryIndex[name].map { tensors[$0] }
  }

  /// Calls `body` with a tensor's stored bytes, in place (from the memory map when mapped).
  /// For a raw `f32` tensor these are the little-endian floats, 64-byte aligned.
  ///
  /// - Throws: `PlexusFormatError` when no tensor has that name; whatever `body` throws.
  public func withStoredBytes<R>(of name: String, _ body: (UnsafeRawBufferPointer) throws -> R)
    throws -> R
  {
    guard let entry = entry(named: name) else {
      throw PlexusFormatError(.malformed, "the file has no tensor named '\(name)'", tensor: name)
    }
    return try body(
      ByteReader(bytes: bytes.buffer).slice(Int(entry.offset), Int(entry.storedLength)))
  }

  /// Decodes one tensor, checking its checksum.
  ///
  /// - Throws: `PlexusFormatError` when there is no such tensor or its bytes are corrupt.
  public func tensor(named name: String, verifyChecksum: Bool = true) throws -> Tensor {
    guard let position = entryIndex[name] else {
      throw PlexusFormatError(.malformed, "the file has no tensor named '\(name)'", tensor: name)
    }
    return try decode(
      [position], verifyChecksums: verifyChecksum, threads: Parallel.maximumThreads.current)[0]
  }

  /// Decodes every tensor of a group (`model` or `optimizer`), on up to `threads` threads.
  ///
  /// - Parameters:
  ///   - group: the tensors' group, `TensorIndexEntry.modelGroup` or `.optimizerGroup`.
  ///   - verifyChecksums: compare each tensor's stored bytes with its CRC-32 (on by default;
  ///     the CRC is computed while the bytes are hot in cache).
  ///   - threads: the most decoding threads, in `Parallel.maximumThreads.validValues`
  ///     (default: `Parallel.maximumThreads.current`).
  /// - Throws: `PlexusError.invalidArgument` for a thread count out of range;
  ///   `PlexusFormatError` naming the first corrupt tensor.
  public func tensors(
    group: String = TensorIndexEntry.modelGroup, verifyChecksums: Bool = true,
    threads: Int = Parallel.maximumThreads.current
  ) throws -> [String: Tensor] {
    let limits = Parallel.maximumThreads.validValues
    guard limits.contains(threads) else {
      throw PlexusError.invalidArgument(
        "the decoding thread count must be in \(limits.lowerBound)...\(limits.upperBound), got \(threads)"
      )
    }
    let positions = tensors.indices.filter { tensors[$0].group == group }
    let decoded = try decode(positions, verifyChecksums: verifyChecksums, threads: threads)
    return Dictionary(uniqueKeysWithValues: zip(positions.map { tensors[$0].name }, decoded))
  }

  /// One unit of decoding work: a block of a tensor (raw tensors are cut into segments).
  private struct Job: Sendable {
    var tensor: Int
    var storedOffset: Int
    var storedLength: Int
    var firstElement: Int
    var elementCount: Int
  }

  private static let rawSegmentBytes = 4 << 20

  private func jobs(for position: Int, into list: inout [Job]) {
    let entry = tensors[position]
    let width = entry.dtype.byteWidth
    switch entry.codec {
    case .raw:
      let elements = entry.elementCount
      let perSegment = Swift.max(1, Self.rawSegmentBytes / width)
      var first = 0
      while first < elements {
        let count = Swift.min(perSegment, elements - first)
        list.append(
          Job(
            tensor: position, storedOffset: Int(entry.offset) + first * width,
            storedLength: count * width,
            firstElement: first, elementCount: count))
        first += count
      }
    case .deflate, .shuffleDeflate:
      let perBlock = Int(entry.blockSize ?? 0) / width
      var offset = Int(entry.offset)
      for (block, stored) in (entry.blocks ?? []).enumerated() {
        let first = block * perBlock
        list.append(
          Job(
            tensor: position, storedOffset: offset, storedLength: Int(stored), firstElement: first,
            elementCount: Swift.min(perBlock, entry.elementCount - first)))
        offset += Int(stored)
      }
    }
  }

  private func decode(_ positions: [Int], verifyChecksums: Bool, threads: Int) throws -> [Tensor] {
    var outputs: [Tensor] = []
    var jobList: [Job] = []
    for position in positions {
      // Shapes were validated when the file was opened; the jobs below write every element.
      outputs.append(Tensor(unsafeUninitializedShape: tensors[position].shape) { _ in })
      jobs(for: position, into: &jobList)
    }
    // Fault the pages in with one call each instead of one fault per page (which costs more
    // than the copy itself); both are hints, and older kernels ignore them.
    for (output, position) in zip(outputs, positions) {
      let entry = tensors[position]
      MemoryAdvice.populate(
        UnsafeRawBufferPointer(
          start: bytes.buffer.baseAddress.map { $0 + Int(entry.offset) },
          count: Int(entry.storedLength)),
        forWriting: false)
      MemoryAdvice.populate(
        UnsafeRawBufferPointer(start: output.storage.pointer, count: output.count * 4),
        forWriting: true)
    }
    let slot = Dictionary(uniqueKeysWithValues: positions.enumerated().map { ($1, $0) })
    let destinations = UncheckedSendable(outputs.map { $0.storage.pointer })
    let work = jobList
    let entries = tensors
    let file = bytes
    let crcs = try BlockJobs.run(count: work.count, threads: threads) { index, scratch -> UInt32 in
      let job = work[index]
      let entry = entries[job.tensor]
      guard let target = slot[job.tensor] else { return 0 }
      let destination = UnsafeMutableBufferPointer(
        start: destinations.value[target] + job.firstElement, count: job.elementCount)
      let stored = UnsafeRawBufferPointer(
        rebasing: file.buffer[job.storedOffset..<(job.storedOffset + job.storedLength)])
      do {
        return try Self.decodeJob(
          stored: stored, entry: entry, into: destination, checksum: verifyChecksums,
          scratch: scratch)
      } catch let error as PlexusFormatError {
        throw error.located(
          chunk: PlexusFormat.ChunkType.data, offset: UInt64(job.storedOffset), tensor: entry.name)
      }
    }
    if verifyChecksums {
      var combined: [Int: UInt32] = [:]
      for (job, crc) in zip(work, crcs) {
        combined[job.tensor] = CRC32.combine(
          combined[job.tensor] ?? 0, crc, secondLength: UInt64(job.storedLength))
      }
      for position in positions {
        let entry = tensors[position]
        let actual = combined[position] ?? 0
        guard actual == entry.crc32 else {
          throw PlexusFormatError(
            .checksumMismatch,
            "stored bytes have CRC-32 \(hex32(actual)), the index records \(hex32(entry.crc32))",
            chunk: PlexusFormat.ChunkType.data, offset: entry.offset, tensor: entry.name)
        }
      }
    }
    return outputs
  }

  /// Decodes one block or raw segment into `destination`, returning the CRC-32 of its stored
  /// bytes (0 when `checksum` is false).
  private static func decodeJob(
    stored: UnsafeRawBufferPointer, entry: TensorIndexEntry,
    into destination: UnsafeMutableBufferPointer<Float>,
    checksum: Bool, scratch: ScratchBuffer
  ) throws -> UInt32 {
    let width = entry.dtype.byteWidth
    let scale = entry.scale ?? 1
    let rawLength = destination.count * width
    switch entry.codec {
    case .raw:
      // Checksum and copy in cache-sized pieces so the bytes are read from memory once.
      var crc: UInt32 = 0
      let piece = Swift.max(1, (64 << 10) / width)
      var first = 0
      while first < destination.count {
        let count = Swift.min(piece, destination.count - first)
        let source = UnsafeRawBufferPointer(
          rebasing: stored[(first * width)..<((first + count) * width)])
        if checksum {
          crc = CRC32.combine(crc, CRC32.checksum(source), secondLength: UInt64(source.count))
        }
        convert(
          source, entry.dtype, scale,
          UnsafeMutableBufferPointer(rebasing: destination[first..<(first + count)]))
        first += count
      }
      return crc
    case .deflate, .shuffleDeflate:
      let crc = checksum ? CRC32.checksum(stored) : 0
      let shuffled = entry.codec == .shuffleDeflate && width > 1
      if !shuffled && entry.dtype == .f32 {
        try BlockCodec.inflate(stored, into: UnsafeMutableRawBufferPointer(destination))
        #if !_endian(little)
          convert(UnsafeRawBufferPointer(destination), .f32, 1, destination)
        #endif
        return crc
      }
      let workspace = scratch.bytes(rawLength * (shuffled && entry.dtype != .f32 ? 2 : 1))
      let inflated = UnsafeMutableRawBufferPointer(rebasing: workspace[0..<rawLength])
      try BlockCodec.inflate(stored, into: inflated)
      var elementBytes = UnsafeRawBufferPointer(inflated)
      if shuffled {
        if entry.dtype == .f32 {
          BlockCodec.unshuffle(
            elementBytes, width: width, into: UnsafeMutableRawBufferPointer(destination))
          return crc
        }
        let joined = UnsafeMutableRawBufferPointer(rebasing: workspace[rawLength..<(2 * rawLength)])
        BlockCodec.unshuffle(elementBytes, width: width, into: joined)
        elementBytes = UnsafeRawBufferPointer(joined)
      }
      convert(elementBytes, entry.dtype, scale, destination)
      return crc
    }
  }

  private static func convert(
    _ source: UnsafeRawBufferPointer, _ dtype: TensorDType, _ scale: Float,
    _ destination: UnsafeMutableBufferPointer<Float>
  ) {
    BlockCodec.convert(source, from: dtype, scale: scale, into: destination)
  }

  // MARK: Optimizer state

  /// Whether the file holds an optimizer state.
  public var hasOptimizerState: Bool { optimizerDocument != nil }

  /// The saved optimizer state, with its slot tensors decoded.
  ///
  /// - Throws: `PlexusFormatError` when a slot tensor is corrupt.
  public func optimizerState() throws -> OptimizerState? {
    guard let document = optimizerDocument else { return nil }
    let slotTensors = try tensors(group: TensorIndexEntry.optimizerGroup)
    var slots: [String: Tensor] = [:]
    for (key, name) in document.slots {
      slots[key] = slotTensors[name]
    }
    return OptimizerState(
      typeName: document.type, config: document.config, step: document.step, slots: slots)
  }

  // MARK: Verification

  /// Checks every chunk CRC (including the data chunk's) and every tensor's checksum.
  ///
  /// - Returns: the problems found, empty when the file is intact.
  public func verify() -> [PlexusFormatError] {
    var problems: [PlexusFormatError] = []
    do { try Self.verifyChunkCRC(dataChunk, reader: ByteReader(bytes: bytes.buffer)) } catch let
      error as PlexusFormatError
    {
      problems.append(error)
    } catch {}
    for position in tensors.indices {
      do {
        _ = try decode(
          [position], verifyChecksums: true, threads: Parallel.maximumThreads.current)
      } catch let error as PlexusFormatError {
        problems.append(error)
      } catch {
        problems.append(PlexusFormatError(.malformed, "\(error)", tensor: tensors[position].name))
      }
    }
    return problems
  }
}

/// `0x` and eight hex digits.
func hex32(_ value: UInt32) -> String {
  let digits = String(value, radix: 16, uppercase: false)
  return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
}
