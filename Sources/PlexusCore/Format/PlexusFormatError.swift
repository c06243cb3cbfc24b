/// An error reading or writing a `.plexus` model file.
///
/// Each error says what is wrong (`kind` and `message`) and where: the chunk, the absolute byte
/// offset in the file and the tensor, when they are known.
///
/// ```
/// plexus format error (checksum mismatch) in chunk 'DATA' at byte offset 4160, tensor
/// 'dense_1.kernel': stored bytes have CRC-32 0x1a2b3c4d, the index expects 0x5e6f7081
/// ```
public struct PlexusFormatError: Error, CustomStringConvertible, Equatable, Sendable {
  /// The class of problem.
  public enum Kind: String, Sendable, Equatable, CaseIterable {
    /// The file does not start with the `.plexus` magic bytes (or they were altered in transfer).
    case badMagic = "bad magic"
    /// The file's major version is newer than this reader, or a critical chunk is unknown.
    case unsupportedVersion = "unsupported version"
    /// The file ends before a structure it declares.
    case truncated
    /// A CRC-32 does not match the bytes it covers.
    case checksumMismatch = "checksum mismatch"
    /// A structure is malformed: a bad field, an inconsistent length, a missing chunk.
    case malformed
    /// A count, length or size exceeds a hard limit of the format or of this reader.
    case limitExceeded = "limit exceeded"
    /// The file describes a model that does not fit the layers created from its architecture.
    case modelMismatch = "model mismatch"
    /// Reading or writing the file failed at the operating-system level.
    case io = "I/O error"
  }

  /// The class of problem.
  public var kind: Kind
  /// What is wrong, with expected and found values.
  public var message: String
  /// The four-letter type of the chunk concerned.
  public var chunk: String?
  /// The absolute byte offset in the file concerned.
  public var offset: UInt64?
  /// The name of the tensor concerned.
  public var tensor: String?

  /// Creates an error.
  public init(
    _ kind: Kind, _ message: String, chunk: String? = nil, offset: UInt64? = nil,
    tensor: String? = nil
  ) {
    self.kind = kind
    self.message = message
    self.chunk = chunk
    self.offset = offset
    self.tensor = tensor
  }

  public var description: String {
    var places: [String] = []
    if let chunk { places.append("in chunk '\(chunk)'") }
    if let offset { places.append("at byte offset \(offset)") }
    if let tensor { places.append("tensor '\(tensor)'") }
    let place = places.isEmpty ? "" : " " + places.joined(separator: ", ")
    return "plexus format error (\(kind.rawValue))\(place): \(message)"
  }

  /// The same error with a chunk, offset or tensor filled in where it was not yet known.
  func located(chunk: String? = nil, offset: UInt64? = nil, tensor: String? = nil) -> Self {
    var copy = self
    copy.chunk = copy.chunk ?? chunk
    copy.offset = copy.offset ?? offset
    copy.tensor = copy.tensor ?? tensor
    return copy
  }
}
