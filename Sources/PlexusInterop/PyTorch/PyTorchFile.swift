import Foundation
import PlexusCore

/// One tensor of a PyTorch file: a view (shape, strides, offset) of a storage.
public struct PyTorchTensorEntry: Sendable, Equatable {
  /// The tensor's name: its key in the state dict; nested dicts and lists are joined with dots
  /// (`model.fc1.weight`).
  public let name: String
  /// The element type of its storage.
  public let dtype: WeightDType
  /// Its shape (empty for a scalar).
  public let shape: [Int]
  /// Its strides, in elements.
  public let strides: [Int]
  /// Its first element's index in the storage.
  public let storageOffset: Int
  /// The storage's key (the archive member `data/<key>`); tensors may share a storage.
  public let storageKey: String
  /// The number of elements in the storage.
  public let storageElementCount: Int
}

/// A PyTorch file written by `torch.save` (`.pt`, `.pth`): a zip archive with `data.pkl` (the
/// pickled object), one member `data/<key>` per storage, `byteorder` and `version`, under one
/// top folder.
///
/// The pickle is read by a restricted unpickler that runs no code and builds only tensors,
/// ordered dicts and plain values (the `torch.load(weights_only=True)` rule); any other global
/// is refused by name. The object must be a dict (a state dict, or a checkpoint whose nested
/// dicts hold the state dicts): its tensors are listed under their dotted keys, its other plain
/// values (an epoch number, a string) in `values`. Every storage must be a member of exactly
/// its declared size, and every view must stay inside its storage (non-contiguous views and
/// shared storages are read as such). Elements are little- or big-endian as `byteorder` says.
///
/// The legacy format (before PyTorch 1.6, or `_use_new_zipfile_serialization=False`) and
/// TorchScript archives (`torch.jit.save`) are refused with a message that says how to re-save.
public struct PyTorchFile: Sendable {
  /// The largest `data.pkl` read (a state dict's pickle is a few bytes per tensor).
  public static let maximumPickleSize = 256 << 20

  /// The tensors in the pickle's order (for `state_dict()`, the modules' order).
  public let entries: [PyTorchTensorEntry]
  /// The plain values that are not tensors (`epoch` = `"5"`), as Python would print them.
  public let values: [(name: String, value: String)]
  /// Whether the storages are big-endian.
  public let isBigEndian: Bool
  /// The archive's serialization version (the `version` member).
  public let version: Int?
  private let archive: ZipArchive
  private let folder: String
  private let source: String

  /// Maps and reads the PyTorch file at `url`.
  ///
  /// - Throws: `InteropError` naming the file and the problem; `PlexusError.io` when it cannot
  ///   be read.
  public init(contentsOf url: URL, limits: ZipLimits = .standard) throws {
    try self.init(data: try Data.mapping(url), source: url.path, limits: limits)
  }

  /// Reads a PyTorch file held in memory; `source` names it in errors.
  ///
  /// - Throws: `InteropError`.
  public init(data: Data, source: String = "PyTorch data", limits: ZipLimits = .standard) throws {
    func fail(_ message: String) -> InteropError { InteropError("\(source): \(message)") }
    if data.first == 0x80 {
      throw fail(
        "this is PyTorch's legacy format (before 1.6, or _use_new_zipfile_serialization=False), "
          + "which Plexus does not read; load it in PyTorch and save it again with torch.save")
    }
    guard data.starts(with: [0x50, 0x4B]) else {
      throw fail("not a PyTorch file: torch.save writes a zip archive, which starts with 'PK'")
    }
    let archive = try ZipArchive(data: data, source: source, limits: limits)
    let pickles = archive.entries.filter {
      $0.name.hasSuffix("/data.pkl") && $0.name.split(separator: "/").count == 2
    }
    if archive.entries.contains(where: {
      $0.name.split(separator: "/").dropFirst().first == "code"
        || $0.name.hasSuffix("/constants.pkl")
    }) {
      throw fail(
        "this is a TorchScript archive (torch.jit.save), which holds code; save the weights "
          + "with torch.save(model.state_dict(), path) instead")
    }
    guard pickles.count == 1, let pickle = pickles.first else {
      throw fail(
        pickles.isEmpty
          ? "no FOLDER/data.pkl member: not a file written by torch.save"
          : "\(pickles.count) data.pkl members; torch.save writes one")
    }
    let folder = String(pickle.name.dropLast("data.pkl".count))
    var isBigEndian = false
    if let entry = archive.entry(named: folder + "byteorder") {
      let text = String(decoding: try archive.contents(of: entry), as: UTF8.self)
      switch text.trimmingCharacters(in: .whitespacesAndNewlines) {
      case "little": isBigEndian = false
      case "big": isBigEndian = true
      default: throw fail("byteorder '\(text.prefix(20))' is neither 'little' nor 'big'")
      }
    }
    var version: Int?
    if let entry = archive.entry(named: folder + "version"), entry.uncompressedSize <= 64 {
      let text = String(decoding: try archive.contents(of: entry), as: UTF8.self)
        .trimmingCharacters(in: .whitespacesAndNewlines)
      guard let number = Int(text), (1...10).contains(number) else {
        throw fail("the archive version '\(text.prefix(20))' is not one Plexus reads (1-10)")
      }
      version = number
    }
    guard pickle.uncompressedSize <= Self.maximumPickleSize else {
      throw fail(
        "data.pkl has \(pickle.uncompressedSize) bytes, more than the limit of "
          + "\(Self.maximumPickleSize)")
    }
    let storageSizes = Dictionary(
      archive.entries.filter { $0.name.hasPrefix(folder + "data/") }.map {
        (String($0.name.dropFirst(folder.count + 5)), $0.uncompressedSize)
      }, uniquingKeysWith: { first, _ in first })
    var unpickler = RestrictedUnpickler(
      try archive.contents(of: pickle), source: "\(source): \(pickle.name)",
      persistentLoad: { id in try Self.storage(id, sizes: storageSizes) })
    // Pickles can make reference cycles; the containers are emptied once the walk is done.
    defer { unpickler.releaseContainers() }
    let root = try unpickler.load()
    var walk = StateDictWalk(source: source)
    guard case .dict(let dict) = root else {
      throw fail(
        "the saved object is \(root.kind), not a dict: save a state dict with "
          + "torch.save(model.state_dict(), path)")
    }
    try walk.visit(.dict(dict), name: "", depth: 0)
    self.entries = walk.entries
    self.values = walk.values
    self.isBigEndian = isBigEndian
    self.version = version
    self.archive = archive
    self.folder = folder
    self.source = source
  }

  /// The storage a persistent id `('storage', torch.FloatStorage, key, location, count)` names.
  private static func storage(_ id: PickleValue, sizes: [String: Int]) throws -> PickleValue {
    guard case .tuple(let fields) = id, fields.count == 5, case .string("storage") = fields[0]
    else {
      throw InteropError("a persistent id is not ('storage', type, key, location, size)")
    }
    guard case .global(.storageType(let dtype)) = fields[1] else {
      throw InteropError("a persistent id names \(fields[1].kind), not a storage type")
    }
    guard case .string(let key) = fields[2], case .string = fields[3],
      case .int(let count) = fields[4], count >= 0
    else {
      throw InteropError("a persistent id has a malformed key, location or size")
    }
    guard let size = sizes[key] else {
      throw InteropError("storage '\(key)' has no member data/\(key)")
    }
    let (bytes, overflow) = count.multipliedReportingOverflow(by: dtype.size)
    guard !overflow, bytes == size else {
      throw InteropError(
        "storage '\(key)' declares \(count) \(dtype.rawValue) elements but its member has "
          + "\(size) bytes")
    }
    return .storage(TorchStorage(key: key, dtype: dtype, elementCount: count))
  }

  /// The tensor named `name`, decoded to `Float` (a scalar becomes shape `[1]`).
  ///
  /// - Throws: `InteropError` for an unknown name or a corrupt storage.
  public func tensor(named name: String) throws -> Tensor {
    guard let entry = entries.first(where: { $0.name == name }) else {
      throw InteropError("\(source): no tensor named '\(name)'")
    }
    return try tensor(entry)
  }

  /// The entry's values, gathered from its storage.
  ///
  /// - Throws: `InteropError` for a corrupt storage member.
  public func tensor(_ entry: PyTorchTensorEntry) throws -> Tensor {
    let bytes = try archive.contents(named: folder + "data/" + entry.storageKey)
    do {
      return try bytes.withUnsafeBytes { raw in
        try ElementDecoding.tensor(
          raw, dtype: entry.dtype, shape: entry.shape, strides: entry.strides,
          offset: entry.storageOffset, bigEndian: isBigEndian,
          storageCount: entry.storageElementCount)
      }
    } catch let error as InteropError {
      throw InteropError("\(source): tensor '\(entry.name)': \(error)")
    }
  }
}

/// Collects the tensors and plain values of an unpickled object under dotted names.
private struct StateDictWalk {
  /// The most values visited (a pickle can reference one tuple many times).
  static let maximumVisits = 1 << 20
  let source: String
  var entries: [PyTorchTensorEntry] = []
  var values: [(name: String, value: String)] = []
  var names = Set<String>()
  var visits = 0

  init(source: String) { self.source = source }

  mutating func visit(_ value: PickleValue, name: String, depth: Int) throws {
    visits += 1
    guard visits <= Self.maximumVisits, depth <= 32 else {
      throw InteropError(
        "\(source): the saved object nests deeper than 32 levels or holds more than "
          + "\(Self.maximumVisits) values")
    }
    func child(_ key: String) -> String { name.isEmpty ? key : name + "." + key }
    switch value {
    case .dict(let dict):
      for (key, item) in dict.entries {
        let text: String
        switch key {
        case .string(let string): text = string
        case .int(let number): text = String(number)
        default:
          throw InteropError("\(source): a dict key is \(key.kind), not a string or an int")
        }
        try visit(item, name: child(text), depth: depth + 1)
      }
    case .list(let list):
      for (index, item) in list.items.enumerated() {
        try visit(item, name: child(String(index)), depth: depth + 1)
      }
    case .tuple(let items):
      for (index, item) in items.enumerated() {
        try visit(item, name: child(String(index)), depth: depth + 1)
      }
    case .tensor(let reference):
      guard names.insert(name).inserted else {
        throw InteropError("\(source): two tensors are named '\(name)'")
      }
      let last: Int?
      do {
        let count = try Tensor.elementCount(of: reference.shape)
        let limit = max(reference.storage.elementCount, ParameterAllocation.defaultMaximumElements)
        guard count <= limit else {
          throw InteropError(
            "size \(reference.shape) holds \(count) elements, more than the \(limit) a tensor "
              + "may have")
        }
        last = try ElementDecoding.lastIndex(
          shape: reference.shape, strides: reference.strides, offset: reference.offset)
      } catch {
        throw InteropError("\(source): tensor '\(name)': \(error)")
      }
      if let last, last >= reference.storage.elementCount {
        throw InteropError(
          "\(source): tensor '\(name)' of size \(reference.shape), stride \(reference.strides) "
            + "and offset \(reference.offset) reads past its storage '\(reference.storage.key)' "
            + "of \(reference.storage.elementCount) elements")
      }
      entries.append(
        PyTorchTensorEntry(
          name: name, dtype: reference.storage.dtype, shape: reference.shape,
          strides: reference.strides, storageOffset: reference.offset,
          storageKey: reference.storage.key, storageElementCount: reference.storage.elementCount))
    case .none: values.append((name, "None"))
    case .bool(let flag): values.append((name, flag ? "True" : "False"))
    case .int(let number): values.append((name, String(number)))
    case .float(let number): values.append((name, String(number)))
    case .string(let text): values.append((name, "'\(text.prefix(200))'"))
    case .bytes(let bytes): values.append((name, "\(bytes.count) bytes"))
    case .global, .storage:
      throw InteropError("\(source): '\(name)' holds \(value.kind), not a tensor or a plain value")
    }
  }
}
