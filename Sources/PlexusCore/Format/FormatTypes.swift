/// Constants of the `.plexus` file format (see Formats/plexus-format.md).
public enum PlexusFormat {
  /// The 8 magic bytes every file starts with: `\x89 P L X \r \n \x1A \n`.
  ///
  /// As in PNG, the high-bit first byte catches 7-bit transfers, the CR LF pair and the lone LF
  /// catch line-ending conversions and `\x1A` stops `type` on old systems.
  public static let magic: [UInt8] = [0x89, 0x50, 0x4C, 0x58, 0x0D, 0x0A, 0x1A, 0x0A]
  /// The major version this library writes and reads; files with another major are refused.
  public static let majorVersion: UInt16 = 1
  /// The minor version this library writes; files with a newer minor are read as far as their
  /// chunks are known.
  public static let minorVersion: UInt16 = 1
  /// The size of the file header: magic, major, minor and the header CRC-32.
  public static let headerSize = 16
  /// The size of a chunk header: type, flags and payload length.
  public static let chunkHeaderSize = 16
  /// The size of a chunk trailer: the CRC-32.
  public static let chunkTrailerSize = 4
  /// The alignment of raw tensors' first byte within the file.
  public static let rawAlignment = 64
  /// The chunk flag bit that marks a chunk critical: a reader that does not know its type must
  /// refuse the file.
  public static let criticalFlag: UInt32 = 1
  /// The default number of raw bytes per independently deflated block.
  public static let defaultBlockSize = 1 << 20
  /// The version of this library, recorded as the producer version of the files it writes.
  public static let libraryVersion = "0.1.0"

  /// The chunk types of format 1.0.
  public enum ChunkType {
    /// The architecture (JSON), critical.
    public static let architecture = "ARCH"
    /// The metadata (JSON), skippable.
    public static let metadata = "META"
    /// The tensor bytes, critical.
    public static let data = "DATA"
    /// The tensor index (JSON), critical.
    public static let tensorIndex = "TIDX"
    /// The optimizer state (JSON), skippable.
    public static let optimizer = "OPTM"
    /// The end marker (empty), critical; nothing may follow it.
    public static let end = "TEND"
    /// Every type a 1.0 reader knows.
    public static let known: Set<String> = [
      architecture, metadata, data, tensorIndex, optimizer, end,
    ]
  }

  /// Hard limits a reader enforces before it allocates anything.
  public enum Limits {
    /// The most chunks in a file.
    public static let maximumChunks = 1024
    /// The largest JSON chunk payload (ARCH, META, TIDX, OPTM), in bytes.
    public static let maximumJSONChunkLength: UInt64 = 64 << 20
    /// The most tensors in a file.
    public static let maximumTensors = 1 << 20
    /// The largest tensor rank.
    public static let maximumRank = 16
    /// The longest tensor name, in UTF-8 bytes.
    public static let maximumNameLength = 1024
    /// The smallest and largest block size of the deflate codecs, in raw bytes.
    public static let blockSizeRange = 4096...(64 << 20)
    /// The largest ratio of raw to stored bytes a deflate stream can reach (RFC 1951 encodes at
    /// most 258 bytes in 2 bits, 1032:1), plus a constant for tiny streams.
    public static let maximumInflateRatio: UInt64 = 1032
    /// Added to `storedLength * maximumInflateRatio` when bounding a block's raw length.
    public static let inflateAllowance: UInt64 = 1024
  }
}

/// The storage type of a tensor in a file. Compute is always `Float`; other types are converted
/// when saving and widened when loading.
public enum TensorDType: String, Codable, Sendable, CaseIterable {
  /// IEEE 754 binary32, little-endian.
  case f32
  /// IEEE 754 binary16, little-endian, rounded to nearest even.
  case f16
  /// bfloat16 (the high half of binary32), little-endian, rounded to nearest even.
  case bf16
  /// Signed 8-bit integers with a per-tensor scale: `value = Float(q) * scale`.
  case int8 = "i8"

  /// The bytes per element.
  public var byteWidth: Int {
    switch self {
    case .f32: return 4
    case .f16, .bf16: return 2
    case .int8: return 1
    }
  }
}

/// How a tensor's bytes are stored.
public enum TensorCodec: String, Codable, Sendable, CaseIterable {
  /// The little-endian element bytes as they are, 64-byte aligned; can be used in place from a
  /// memory map.
  case raw
  /// Blocks of element bytes, each an independent raw deflate stream (RFC 1951).
  case deflate
  /// Blocks whose element bytes are first split into byte planes (all first bytes, then all
  /// second bytes, ...), as HDF5's shuffle filter does, then deflated. The default.
  case shuffleDeflate = "shuffle-deflate"
}
