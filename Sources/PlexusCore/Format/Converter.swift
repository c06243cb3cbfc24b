import Foundation

/// Rewrites `.plexus` files with other codecs or storage dtypes (`plexus convert`).
public enum PlexusConverter {
  /// Reads `input` and writes its architecture, metadata, tensors, optimizer state and
  /// training state to
  /// `output` (atomically; `output` may equal `input`).
  ///
  /// - Parameters:
  ///   - input: the file to read.
  ///   - output: the file to write.
  ///   - codec: the new codec of every tensor, or `nil` to keep each tensor's.
  ///   - dtype: the new storage dtype of model tensors, or `nil` to keep each tensor's
  ///     (optimizer slots stay as stored). Narrowing (`f16`, `bf16`, `i8`) rounds.
  ///   - compressionLevel: the zlib level, or `nil` for the adaptive default.
  ///   - blockSize: the raw bytes per deflated block.
  /// - Throws: `PlexusFormatError` when the input is corrupt or writing fails.
  public static func convert(
    from input: URL, to output: URL, codec: TensorCodec? = nil, dtype: TensorDType? = nil,
    compressionLevel: Int? = nil, blockSize: Int = PlexusFormat.defaultBlockSize
  ) throws {
    let file = try PlexusFile(contentsOf: input)
    var items: [PlexusWriter.Item] = []
    let decoded = try file.tensors(group: TensorIndexEntry.modelGroup)
      .merging(try file.tensors(group: TensorIndexEntry.optimizerGroup)) { first, _ in first }
      .merging(try file.tensors(group: TrainingStateMetadata.group)) { first, _ in first }
    for entry in file.tensors {
      guard let tensor = decoded[entry.name] else {
        throw PlexusFormatError(
          .malformed, "tensor group '\(entry.group)' is unknown to this converter",
          tensor: entry.name)
      }
      let isModel = entry.group == TensorIndexEntry.modelGroup
      items.append(
        PlexusWriter.Item(
          name: entry.name, group: entry.group, tensor: tensor,
          dtype: isModel ? (dtype ?? entry.dtype) : entry.dtype,
          codec: codec ?? entry.codec))
    }
    let options = SaveOptions(compressionLevel: compressionLevel, blockSize: blockSize)
    try PlexusWriter.write(
      architecture: file.architecture, items: items, metadata: file.metadata,
      optimizer: file.optimizerDocument,
      to: output, options: options)
  }
}
