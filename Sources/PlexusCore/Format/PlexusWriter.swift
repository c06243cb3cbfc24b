import Foundation

/// How a model file is written.
public struct SaveOptions: Sendable {
  /// The codec of every model tensor (default: byte-shuffled deflate).
  public var codec: TensorCodec
  /// The storage dtype of model tensors (default: `f32`, exact). Optimizer slots stay `f32`.
  public var dtype: TensorDType
  /// The zlib level (0-9) for the deflate codecs; `nil` (the default) picks per byte plane:
  /// stored when its entropy is near 8 bits, Huffman-only when moderate, level 1 when low.
  public var compressionLevel: Int?
  /// The raw bytes per independently deflated block.
  public var blockSize: Int
  /// The metadata written to the `META` chunk.
  public var metadata: ModelMetadata
  /// An optimizer state to save, so that training can resume.
  public var optimizerState: OptimizerState?
  /// Training-state tensors (an RBM's persistent chains, early stopping's best weights), stored
  /// `f32` under the tensor-index group `training` with these names (see
  /// `TrainingStateMetadata`, `EarlyStoppingMetadata`).
  public var trainingTensors: [(name: String, tensor: Tensor)] = []
  /// The most threads used for compression, in `Parallel.maximumThreads.validValues`
  /// (default: `Parallel.maximumThreads.current` when the options are created).
  public var threads: Int
  /// The largest file allowed, in bytes; a save that would exceed it fails and keeps the
  /// previous file.
  public var sizeLimit: UInt64?

  /// Creates options.
  public init(
    codec: TensorCodec = .shuffleDeflate, dtype: TensorDType = .f32, compressionLevel: Int? = nil,
    blockSize: Int = PlexusFormat.defaultBlockSize, metadata: ModelMetadata = ModelMetadata(),
    optimizerState: OptimizerState? = nil, threads: Int = Parallel.maximumThreads.current,
    sizeLimit: UInt64? = nil
  ) {
    self.codec = codec
    self.dtype = dtype
    self.compressionLevel = compressionLevel
    self.blockSize = blockSize
    self.metadata = metadata
    self.optimizerState = optimizerState
    self.threads = threads
    self.sizeLimit = sizeLimit
  }
}

/// Writes `.plexus` files.
public enum PlexusWriter {
  /// A tensor to write with its storage settings.
  public struct Item: Sendable {
    /// The tensor's name in the index.
    public var name: String
    /// `model` or `optimizer`.
    public var group: String
    /// The values.
    public var tensor: Tensor
    /// The storage dtype.
    public var dtype: TensorDType
    /// The codec.
    public var codec: TensorCodec

    /// Creates an item.
    public init(name: String, group: String, tensor: Tensor, dtype: TensorDType, codec: TensorCodec)
    {
      self.name = name
      self.group = group
      self.tensor = tensor
      self.dtype = dtype
      self.codec = codec
    }
  }

  /// The name under which an optimizer slot is stored in the tensor index.
  public static func optimizerTensorName(slot: String) -> String { "optimizer/\(slot)" }

  /// Writes a model file atomically: to a temporary file in the same folder, flushed to disk
  /// and renamed over `url`. Tensors are encoded block by block (in parallel) and streamed to
  /// the file; no second copy of all weights is made.
  ///
  /// - Parameters:
  ///   - architecture: the root layer's description.
  ///   - tensors: the model's tensors; `options.dtype` and `options.codec` apply to them.
  ///   - url: the file to write.
  ///   - options: codec, dtype, metadata, optimizer state, limits.
  /// - Throws: `PlexusFormatError` (`.io`) when writing fails; `PlexusError` for invalid
  ///   options. The previous file at `url` is then untouched.
  public static func write(
    architecture: LayerDescription, tensors: [(name: String, tensor: Tensor)], to url: URL,
    options: SaveOptions = SaveOptions()
  ) throws {
    var items = tensors.map {
      Item(
        name: $0.name, group: TensorIndexEntry.modelGroup, tensor: $0.tensor, dtype: options.dtype,
        codec: options.codec)
    }
    var optimizer: OptimizerDocument?
    if let state = options.optimizerState {
      var slots: [String: String] = [:]
      for (key, tensor) in state.slots.sorted(by: { $0.key < $1.key }) {
        let name = optimizerTensorName(slot: key)
        slots[key] = name
        items.append(
          Item(
            name: name, group: TensorIndexEntry.optimizerGroup, tensor: tensor, dtype: .f32,
            codec: options.codec))
      }
      optimizer = OptimizerDocument(
        type: state.typeName, config: state.config, step: state.step, slots: slots)
    }
    for (name, tensor) in options.trainingTensors {
      items.append(
        Item(
          name: name, group: TrainingStateMetadata.group, tensor: tensor, dtype: .f32,
          codec: options.codec))
    }
    try write(
      architecture: architecture, items: items, metadata: options.metadata, optimizer: optimizer,
      to: url, options: options)
  }

  static func write(
    architecture: LayerDescription, items: [Item], metadata: ModelMetadata?,
    optimizer: OptimizerDocument?,
    to url: URL, options: SaveOptions
  ) throws {
    guard PlexusFormat.Limits.blockSizeRange.contains(options.blockSize), options.blockSize % 4 == 0
    else {
      throw PlexusError.invalidArgument(
        "block size \(options.blockSize) must be a multiple of 4 in \(PlexusFormat.Limits.blockSizeRange)"
      )
    }
    if let level = options.compressionLevel, !(0...9).contains(level) {
      throw PlexusError.invalidArgument("compression level \(level) must be in 0...9")
    }
    let threadLimits = Parallel.maximumThreads.validValues
    guard threadLimits.contains(options.threads) else {
      throw PlexusError.invalidArgument(
        "the compression thread count \(options.threads) must be in "
          + "\(threadLimits.lowerBound)...\(threadLimits.upperBound)")
    }
    var names = Set<String>()
    for item in items {
      guard !item.name.isEmpty, item.name.utf8.count <= PlexusFormat.Limits.maximumNameLength else {
        throw PlexusError.invalidArgument("tensor name '\(item.name)' is empty or too long")
      }
      guard names.insert(item.name).inserted else {
        throw PlexusError.invalidArgument("two tensors are named '\(item.name)'")
      }
      guard item.tensor.rank <= PlexusFormat.Limits.maximumRank else {
        throw PlexusError.invalidArgument(
          "tensor '\(item.name)' has rank \(item.tensor.rank), above \(PlexusFormat.Limits.maximumRank)"
        )
      }
    }
    let sink = try AtomicFileSink(destination: url, sizeLimit: options.sizeLimit)
    var chunks = ChunkWriter(sink: sink)

    var header: [UInt8] = PlexusFormat.magic
    header.appendLittleEndian(PlexusFormat.majorVersion)
    header.appendLittleEndian(PlexusFormat.minorVersion)
    header.appendLittleEndian(CRC32.checksum(header))
    try sink.write(header)

    try chunks.writeJSONChunk(PlexusFormat.ChunkType.architecture, architecture, critical: true)
    if let metadata {
      try chunks.writeJSONChunk(PlexusFormat.ChunkType.metadata, metadata, critical: false)
    }
    let entries = try writeData(items, chunks: &chunks, options: options)
    try chunks.writeJSONChunk(
      PlexusFormat.ChunkType.tensorIndex, TensorIndexDocument(tensors: entries), critical: true)
    if let optimizer {
      try chunks.writeJSONChunk(PlexusFormat.ChunkType.optimizer, optimizer, critical: false)
    }
    try chunks.begin(PlexusFormat.ChunkType.end, critical: true)
    try chunks.end()
    try sink.commit()
  }

  /// One unit of encoding work: a block (deflate codecs) or segment (raw) of a tensor.
  private struct Job: Sendable {
    var item: Int
    var elements: Range<Int>
  }

  private struct Encoded: Sendable {
    /// The stored bytes, or `nil` to write the tensor's own little-endian f32 bytes.
    var bytes: [UInt8]?
    var crc: UInt32
  }

  private static func writeData(_ items: [Item], chunks: inout ChunkWriter, options: SaveOptions)
    throws -> [TensorIndexEntry]
  {
    let scales = items.map { item in
      item.dtype == .int8 ? item.tensor.withUnsafeBufferPointer(BlockCodec.int8Scale) : nil
    }
    var jobs: [Job] = []
    for (index, item) in items.enumerated() {
      let perBlock = options.blockSize / item.dtype.byteWidth
      var start = 0
      while start < item.tensor.count {
        let end = Swift.min(item.tensor.count, start + perBlock)
        jobs.append(Job(item: index, elements: start..<end))
        start = end
      }
    }
    try chunks.begin(PlexusFormat.ChunkType.data, critical: true)
    var entries: [TensorIndexEntry] = items.enumerated().map { index, item in
      TensorIndexEntry(
        name: item.name, group: item.group, dtype: item.dtype, shape: item.tensor.shape,
        codec: item.codec,
        offset: 0, storedLength: 0, rawLength: UInt64(item.tensor.count * item.dtype.byteWidth),
        crc32: 0,
        scale: scales[index], blockSize: item.codec == .raw ? nil : UInt64(options.blockSize),
        blocks: item.codec == .raw ? nil : [])
    }
    var started = Set<Int>()
    func startTensor(_ index: Int) throws {
      guard started.insert(index).inserted else { return }
      if items[index].codec == .raw {
        let misalignment = Int(chunks.sink.position % UInt64(PlexusFormat.rawAlignment))
        if misalignment != 0 {
          try chunks.payload([UInt8](repeating: 0, count: PlexusFormat.rawAlignment - misalignment))
        }
      }
      entries[index].offset = chunks.sink.position
    }
    let level = options.compressionLevel.map(Int32.init)
    let window = Swift.max(2, options.threads * 4)
    var next = 0
    while next < jobs.count {
      let batch = Array(jobs[next..<Swift.min(jobs.count, next + window)])
      let encoded = try BlockJobs.run(count: batch.count, threads: options.threads) {
        index, scratch -> Encoded in
        let job = batch[index]
        let item = items[job.item]
        return try item.tensor.withUnsafeBufferPointer { values in
          try encode(
            UnsafeBufferPointer(rebasing: values[job.elements]), dtype: item.dtype,
            codec: item.codec,
            scale: scales[job.item] ?? 1, level: level, scratch: scratch)
        }
      }
      for (job, result) in zip(batch, encoded) {
        try startTensor(job.item)
        let length: Int
        if let bytes = result.bytes {
          try chunks.payload(bytes, crc: result.crc)
          length = bytes.count
        } else {
          length = try items[job.item].tensor.withUnsafeBufferPointer { values in
            let raw = UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: values[job.elements]))
            try chunks.payload(raw, crc: result.crc)
            return raw.count
          }
        }
        entries[job.item].storedLength += UInt64(length)
        entries[job.item].crc32 = CRC32.combine(
          entries[job.item].crc32, result.crc, secondLength: UInt64(length))
        if items[job.item].codec != .raw { entries[job.item].blocks?.append(UInt64(length)) }
      }
      next += batch.count
    }
    // Empty tensors still get an offset inside the data chunk.
    for index in items.indices where !started.contains(index) { try startTensor(index) }
    try chunks.end()
    return entries
  }

  private static func encode(
    _ values: UnsafeBufferPointer<Float>, dtype: TensorDType, codec: TensorCodec, scale: Float,
    level: Int32?,
    scratch: ScratchBuffer
  ) throws -> Encoded {
    #if _endian(little)
      if codec == .raw && dtype == .f32 {
        return Encoded(bytes: nil, crc: CRC32.checksum(UnsafeRawBufferPointer(values)))
      }
    #endif
    let rawLength = values.count * dtype.byteWidth
    let workspace = scratch.bytes(2 * rawLength)
    let elementBytes = UnsafeMutableRawBufferPointer(rebasing: workspace[0..<rawLength])
    BlockCodec.convert(values, to: dtype, scale: scale, into: elementBytes)
    let stored: [UInt8]
    switch codec {
    case .raw:
      stored = [UInt8](elementBytes)
    case .deflate:
      stored = try BlockCodec.deflate(
        UnsafeRawBufferPointer(elementBytes), segments: 1, level: level)
    case .shuffleDeflate:
      let planes = UnsafeMutableRawBufferPointer(rebasing: workspace[rawLength..<(2 * rawLength)])
      BlockCodec.shuffle(UnsafeRawBufferPointer(elementBytes), width: dtype.byteWidth, into: planes)
      stored = try BlockCodec.deflate(
        UnsafeRawBufferPointer(planes), segments: dtype.byteWidth, level: level)
    }
    return Encoded(bytes: stored, crc: CRC32.checksum(stored))
  }
}

/// Writes chunks with a streaming CRC-32 over header and payload; the length is patched in
/// when the chunk ends, so payloads can be streamed.
struct ChunkWriter {
  let sink: AtomicFileSink
  private var headerOffset: UInt64 = 0
  private var header: [UInt8] = []
  private var payloadCRC: UInt32 = 0
  private var payloadLength: UInt64 = 0

  init(sink: AtomicFileSink) { self.sink = sink }

  mutating func begin(_ type: String, critical: Bool) throws {
    headerOffset = sink.position
    header = Array(type.utf8)
    precondition(header.count == 4, "chunk types have four ASCII characters")
    header.appendLittleEndian(critical ? PlexusFormat.criticalFlag : 0)
    header.appendLittleEndian(UInt64(0))
    payloadCRC = 0
    payloadLength = 0
    try sink.write(header)
  }

  mutating func payload(_ bytes: UnsafeRawBufferPointer, crc: UInt32? = nil) throws {
    try sink.write(bytes)
    payloadCRC = CRC32.combine(
      payloadCRC, crc ?? CRC32.checksum(bytes), secondLength: UInt64(bytes.count))
    payloadLength += UInt64(bytes.count)
  }

  mutating func payload(_ bytes: [UInt8], crc: UInt32? = nil) throws {
    try bytes.withUnsafeBytes { try payload($0, crc: crc) }
  }

  mutating func end() throws {
    var lengthBytes: [UInt8] = []
    lengthBytes.appendLittleEndian(payloadLength)
    header.replaceSubrange(8..<16, with: lengthBytes)
    if payloadLength > 0 { try sink.patch(at: headerOffset + 8, lengthBytes) }
    let crc = CRC32.combine(CRC32.checksum(header), payloadCRC, secondLength: payloadLength)
    var trailer: [UInt8] = []
    trailer.appendLittleEndian(crc)
    try sink.write(trailer)
  }

  mutating func writeJSONChunk(_ type: String, _ value: some Encodable, critical: Bool) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    let data = try encoder.encode(value)
    try begin(type, critical: critical)
    try payload([UInt8](data))
    try end()
  }
}
