import Foundation
import PlexusCore

/// The weight-file formats Plexus reads.
public enum WeightFileFormat: String, Sendable, CaseIterable {
  /// Hugging Face safetensors (`.safetensors`).
  case safetensors
  /// NumPy's zip of arrays (`.npz`).
  case npz
  /// PyTorch's `torch.save` (`.pt`, `.pth`).
  case pytorch

  /// The format a file extension names, or `nil`.
  public init?(pathExtension: String) {
    switch pathExtension.lowercased() {
    case "safetensors": self = .safetensors
    case "npz": self = .npz
    case "pt", "pth": self = .pytorch
    default: return nil
    }
  }
}

/// One tensor of a weight file, as listed (nothing decoded).
public struct WeightTensorInfo: Sendable, Equatable {
  /// The tensor's name in the file.
  public let name: String
  /// Its stored element type.
  public let dtype: WeightDType
  /// Its shape (empty for a scalar).
  public let shape: [Int]
  /// How it is stored, for listings (`stored`, `deflated`, `view of storage 3, stride [1, 4]`),
  /// or `nil`.
  public let storage: String?
}

/// A file of named tensors in any format Plexus reads — safetensors, NumPy `.npz`, PyTorch
/// state dicts — seen through one interface: the tensors in file order, their types and
/// shapes, metadata, and each tensor decoded to `Float` on demand.
///
/// ```swift
/// let file = try WeightFile(contentsOf: URL(fileURLWithPath: "model.pt"))
/// for tensor in file.tensors { print(tensor.name, tensor.shape) }
/// ```
public struct WeightFile: Sendable {
  /// The file's format.
  public let format: WeightFileFormat
  /// The tensors in file order.
  public let tensors: [WeightTensorInfo]
  /// String metadata: a safetensors file's `__metadata__`, a PyTorch file's plain values.
  public let metadata: [String: String]
  /// Where the tensors come from, for messages.
  public let source: String
  private let decode: @Sendable (String) throws -> Tensor

  /// Opens the file at `url` in `format`, or the format its extension names.
  ///
  /// - Throws: `PlexusError.invalidArgument` for an extension that names no weight format;
  ///   the format's errors for a malformed file.
  public init(contentsOf url: URL, format: WeightFileFormat? = nil) throws {
    guard let format = format ?? WeightFileFormat(pathExtension: url.pathExtension) else {
      throw PlexusError.invalidArgument(
        "\(url.path): not a weight file (.safetensors, .npz, .pt or .pth)")
    }
    switch format {
    case .safetensors: self.init(try SafeTensorsFile(contentsOf: url), source: url.path)
    case .npz: self.init(try NumPyArchive(contentsOf: url), source: url.path)
    case .pytorch: self.init(try PyTorchFile(contentsOf: url), source: url.path)
    }
  }

  /// A view of a safetensors file.
  public init(_ file: SafeTensorsFile, source: String) {
    format = .safetensors
    tensors = file.entries.map {
      WeightTensorInfo(name: $0.name, dtype: $0.dtype, shape: $0.shape, storage: nil)
    }
    metadata = file.metadata
    self.source = source
    decode = { try file.tensor(named: $0) }
  }

  /// A view of a NumPy archive.
  public init(_ file: NumPyArchive, source: String) {
    format = .npz
    tensors = file.members.map {
      WeightTensorInfo(
        name: $0.name, dtype: WeightDType(numpy: $0.array.dtype), shape: $0.array.shape,
        storage: ($0.method == .deflated ? "deflated" : "stored")
          + ($0.array.storedDescriptor == $0.array.dtype.descriptor
            ? "" : ", stored as '\($0.array.storedDescriptor)'")
          + ($0.array.storedInFortranOrder ? ", Fortran order" : ""))
    }
    metadata = [:]
    self.source = source
    decode = { try file.tensor(named: $0) }
  }

  /// A view of a PyTorch file.
  public init(_ file: PyTorchFile, source: String) {
    format = .pytorch
    tensors = file.entries.map { entry in
      let contiguous = ElementDecoding.contiguousStrides(entry.shape) == entry.strides
      return WeightTensorInfo(
        name: entry.name, dtype: entry.dtype, shape: entry.shape,
        storage: "storage \(entry.storageKey)"
          + (entry.storageOffset == 0 ? "" : ", offset \(entry.storageOffset)")
          + (contiguous ? "" : ", stride \(entry.strides)"))
    }
    metadata = Dictionary(file.values.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })
    self.source = source
    decode = { try file.tensor(named: $0) }
  }

  /// The tensor named `name`, decoded to `Float` (a scalar becomes shape `[1]`).
  ///
  /// - Throws: the format's error for an unknown name or a corrupt tensor.
  public func tensor(named name: String) throws -> Tensor { try decode(name) }
}

extension WeightDType {
  /// The element type of a NumPy array.
  init(numpy dtype: NumPy.DType) {
    switch dtype {
    case .float16: self = .f16
    case .float32: self = .f32
    case .float64: self = .f64
    case .int8: self = .i8
    case .int16: self = .i16
    case .int32: self = .i32
    case .int64: self = .i64
    case .uint8: self = .u8
    case .bool: self = .bool
    }
  }

  /// The NumPy element type, when NumPy has one Plexus writes (`nil` for BF16).
  var numpy: NumPy.DType? {
    switch self {
    case .f16: .float16
    case .f32: .float32
    case .f64: .float64
    case .i8: .int8
    case .i16: .int16
    case .i32: .int32
    case .i64: .int64
    case .u8: .uint8
    case .bool: .bool
    case .bf16: nil
    }
  }
}
