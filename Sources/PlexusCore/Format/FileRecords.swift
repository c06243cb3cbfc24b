import Foundation

/// Descriptive metadata stored in a file's `META` chunk.
public struct ModelMetadata: Codable, Sendable, Equatable {
  /// The program that wrote the file (`Plexus`).
  public var producer: String
  /// The producer's version.
  public var producerVersion: String
  /// The creation time, ISO 8601 in UTC (`2026-11-29T16:00:00Z`).
  public var created: String
  /// A free-text description of the model.
  public var description: String
  /// Free string key/values (dataset, licence, author, ...).
  public var values: [String: String]
  /// The training history (for example per-epoch losses and metrics) as JSON.
  public var history: JSONValue?

  /// Creates metadata; `created` defaults to now.
  public init(
    producer: String = "Plexus", producerVersion: String = PlexusFormat.libraryVersion,
    created: String? = nil, description: String = "", values: [String: String] = [:],
    history: JSONValue? = nil
  ) {
    self.producer = producer
    self.producerVersion = producerVersion
    self.created = created ?? ModelMetadata.timestamp(Date())
    self.description = description
    self.values = values
    self.history = history
  }

  /// `date` as an ISO 8601 UTC timestamp with seconds.
  public static func timestamp(_ date: Date) -> String {
    let formatter = ISO8601DateFormatter()
    formatter.timeZone = TimeZone(identifier: "UTC")
    formatter.formatOptions = [.withInternetDateTime]
    return formatter.string(from: date)
  }

  private enum CodingKeys: String, CodingKey {
    case producer, producerVersion, created, description, values, history
  }

  public init(from decoder: Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    producer = try container.decodeIfPresent(String.self, forKey: .producer) ?? ""
    producerVersion = try container.decodeIfPresent(String.self, forKey: .producerVersion) ?? ""
    created = try container.decodeIfPresent(String.self, forKey: .created) ?? ""
    description = try container.decodeIfPresent(String.self, forKey: .description) ?? ""
    values = try container.decodeIfPresent([String: String].self, forKey: .values) ?? [:]
    history = try container.decodeIfPresent(JSONValue.self, forKey: .history)
  }
}

/// One tensor of the `TIDX` chunk: where its bytes are and how to decode them.
public struct TensorIndexEntry: Codable, Sendable, Equatable {
  /// The tensor's name: a parameter path (`dense_1.kernel`) or an optimizer slot.
  public var name: String
  /// `model` for the model's parameters, `optimizer` for optimizer slots.
  public var group: String
  /// The storage type.
  public var dtype: TensorDType
  /// The shape.
  public var shape: [Int]
  /// How the bytes are stored.
  public var codec: TensorCodec
  /// The absolute file offset of the first stored byte.
  public var offset: UInt64
  /// The number of stored bytes.
  public var storedLength: UInt64
  /// The number of raw (decoded, `dtype`) bytes: element count times the dtype's width.
  public var rawLength: UInt64
  /// The CRC-32 of the stored bytes.
  public var crc32: UInt32
  /// The int8 scale (`value = q * scale`); only for dtype `i8`.
  public var scale: Float?
  /// The raw bytes per block of the deflate codecs (the last block may be shorter).
  public var blockSize: UInt64?
  /// The stored length of each block of the deflate codecs, in order.
  public var blocks: [UInt64]?

  /// The group of model parameters.
  public static let modelGroup = "model"
  /// The group of optimizer slot tensors.
  public static let optimizerGroup = "optimizer"

  /// Creates an entry.
  public init(
    name: String, group: String, dtype: TensorDType, shape: [Int], codec: TensorCodec,
    offset: UInt64, storedLength: UInt64, rawLength: UInt64, crc32: UInt32, scale: Float? = nil,
    blockSize: UInt64? = nil, blocks: [UInt64]? = nil
  ) {
    self.name = name
    self.group = group
    self.dtype = dtype
    self.shape = shape
    self.codec = codec
    self.offset = offset
    self.storedLength = storedLength
    self.rawLength = rawLength
    self.crc32 = crc32
    self.scale = scale
    self.blockSize = blockSize
    self.blocks = blocks
  }

  private enum CodingKeys: String, CodingKey {
    case name, group, dtype, shape, codec, offset, storedLength, rawLength, crc32, scale, blockSize,
      blocks
  }

  public init(from decoder: Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    name = try container.decode(String.self, forKey: .name)
    group = try container.decode(String.self, forKey: .group)
    let dtypeName = try container.decode(String.self, forKey: .dtype)
    guard let dtype = TensorDType(rawValue: dtypeName) else {
      throw UnknownFormatValue(tensor: name, field: "dtype", value: dtypeName)
    }
    self.dtype = dtype
    shape = try container.decode([Int].self, forKey: .shape)
    let codecName = try container.decode(String.self, forKey: .codec)
    guard let codec = TensorCodec(rawValue: codecName) else {
      throw UnknownFormatValue(tensor: name, field: "codec", value: codecName)
    }
    self.codec = codec
    offset = try container.decode(UInt64.self, forKey: .offset)
    storedLength = try container.decode(UInt64.self, forKey: .storedLength)
    rawLength = try container.decode(UInt64.self, forKey: .rawLength)
    crc32 = try container.decode(UInt32.self, forKey: .crc32)
    scale = try container.decodeIfPresent(Float.self, forKey: .scale)
    blockSize = try container.decodeIfPresent(UInt64.self, forKey: .blockSize)
    blocks = try container.decodeIfPresent([UInt64].self, forKey: .blocks)
  }

  /// The number of elements.
  public var elementCount: Int { (try? Tensor.elementCount(of: shape)) ?? 0 }
}

/// A dtype or codec name that this reader does not know (a newer minor version adds them).
struct UnknownFormatValue: Error {
  var tensor: String
  var field: String
  var value: String
}

/// The `TIDX` chunk's JSON document.
struct TensorIndexDocument: Codable {
  var tensors: [TensorIndexEntry]
}

/// The `OPTM` chunk's JSON document: an optimizer's type, hyperparameters and step, with its
/// slot tensors stored in the tensor index under the `optimizer` group.
struct OptimizerDocument: Codable {
  var type: String
  var config: JSONValue
  var step: Int
  /// Slot key (`"3.m"`) to tensor name in the index.
  var slots: [String: String]
}

/// A chunk as found in a file.
public struct ChunkInfo: Sendable, Equatable {
  /// The four-character type.
  public var type: String
  /// The absolute offset of the chunk header.
  public var offset: UInt64
  /// The payload length.
  public var length: UInt64
  /// Whether the chunk is marked critical.
  public var isCritical: Bool
  /// Whether this reader knows the type (unknown skippable chunks are skipped).
  public var isKnown: Bool

  /// The absolute offset of the payload.
  public var payloadOffset: UInt64 { offset + UInt64(PlexusFormat.chunkHeaderSize) }
}
