import CHDF5
import Foundation
import PlexusCore

/// An error in an HDF5 file or from libhdf5: what is wrong and where (the file, the object).
public struct HDF5Error: Error, CustomStringConvertible, Equatable {
  /// The message.
  public var description: String

  init(_ description: String) { self.description = description }
}

/// What an HDF5 object is.
public enum HDF5ObjectKind: Sendable, Equatable {
  /// A group (a folder of links).
  case group
  /// A dataset (an array).
  case dataset
  /// Anything else (a named datatype).
  case other
}

/// The element type of a dataset, as far as Plexus reads it.
public enum HDF5ElementType: Sendable, Equatable, CustomStringConvertible {
  /// An IEEE floating-point type of this many bytes (2, 4 or 8).
  case float(bytes: Int)
  /// A two's-complement integer of this many bytes.
  case signedInteger(bytes: Int)
  /// An unsigned integer of this many bytes.
  case unsignedInteger(bytes: Int)
  /// Any other class (strings, compounds, enums, references...), by name.
  case unsupported(String)

  public var description: String {
    switch self {
    case .float(let bytes): "float\(bytes * 8)"
    case .signedInteger(let bytes): "int\(bytes * 8)"
    case .unsignedInteger(let bytes): "uint\(bytes * 8)"
    case .unsupported(let name): name
    }
  }
}

/// A dataset's shape and element type, read from its header without reading its data.
public struct HDF5DatasetInfo: Sendable, Equatable {
  /// The dataset's path in the file.
  public var path: String
  /// Its dimensions (empty for a scalar).
  public var shape: [Int]
  /// Its element type.
  public var elementType: HDF5ElementType
}

/// libhdf5 is not thread safe in every build: every call into it happens under this lock.
/// The lock is recursive because closing a handle (in a `deinit`) can happen inside a locked
/// section.
enum HDF5Library {
  private static let lock = NSRecursiveLock()

  /// Runs `body` under the lock, with libhdf5's printing of errors turned off for the thread.
  static func call<T>(_ body: () throws -> T) rethrows -> T {
    lock.lock()
    defer { lock.unlock() }
    plexus_h5e_silence()
    return try body()
  }

  /// The current error stack's innermost messages (and clears it).
  static func stackDescription() -> String {
    var buffer = [CChar](repeating: 0, count: 1024)
    buffer.withUnsafeMutableBufferPointer { plexus_h5e_describe($0.baseAddress!, $0.count) }
    let message = String(
      decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return message.isEmpty ? "libhdf5 reported no detail" : message
  }
}

/// Closes an HDF5 identifier when it goes out of scope.
private struct HDF5Handle: ~Copyable {
  let id: hid_t
  let close: (hid_t) -> herr_t

  init(_ id: hid_t, close: @escaping (hid_t) -> herr_t) {
    self.id = id
    self.close = close
  }

  deinit { _ = close(id) }
}

/// An HDF5 file held in memory (libhdf5's core driver), read-only or being written.
///
/// The reader treats the file as untrusted: objects are reached only through hard links (a
/// soft or external link is refused, so nothing outside the file is opened), a dataset stored
/// in external files or as a virtual dataset is refused, every shape's element count is
/// overflow-checked and bounded before anything is allocated, only float and integer
/// datasets are read (converted to `Float` by libhdf5), and a dataset's declared size must be
/// backed by its stored bytes (at most 1032:1 with deflate, the codec's limit). libhdf5's own
/// error printing is turned off; its error stack becomes the message of an `HDF5Error`.
public final class HDF5File {
  /// The name used in error messages (the file's path, or a zip member).
  public let source: String
  private let file: hid_t
  /// A dataset holds at most this many elements (2^30, Plexus's largest parameter).
  public static let maximumElements = ParameterAllocation.defaultMaximumElements
  /// An attribute holds at most this many bytes of strings (64 MiB).
  public static let maximumAttributeBytes = 64 << 20
  /// The most dimensions a dataset may have.
  public static let maximumRank = 32

  private init(file: hid_t, source: String) {
    self.file = file
    self.source = source
  }

  deinit {
    let file = file
    HDF5Library.call { _ = H5Fclose(file) }
  }

  /// Opens the HDF5 file whose bytes are `image`, read-only; `source` names it in errors.
  ///
  /// - Throws: `HDF5Error` when the bytes are not an HDF5 file libhdf5 can open.
  public convenience init(image: Data, source: String) throws {
    let file = try HDF5Library.call { () throws -> hid_t in
      guard image.count >= 8 else {
        throw HDF5Error("\(source): \(image.count) bytes is too short for an HDF5 file")
      }
      try HDF5GlobalHeapCheck.check(image, source: source)
      let fapl = HDF5Handle(H5Pcreate(plexus_h5p_file_access()), close: H5Pclose)
      guard fapl.id >= 0, H5Pset_fapl_core(fapl.id, 1 << 16, false) >= 0 else {
        throw HDF5Error("\(source): cannot set up libhdf5: \(HDF5Library.stackDescription())")
      }
      let status = image.withUnsafeBytes { raw in
        H5Pset_file_image(fapl.id, UnsafeMutableRawPointer(mutating: raw.baseAddress), raw.count)
      }
      guard status >= 0 else {
        throw HDF5Error(
          "\(source): cannot hand the file to libhdf5: "
            + HDF5Library.stackDescription())
      }
      let file = H5Fopen("plexus-\(UUID().uuidString).h5", plexus_h5f_acc_rdonly(), fapl.id)
      guard file >= 0 else {
        throw HDF5Error("\(source): not a readable HDF5 file (\(HDF5Library.stackDescription()))")
      }
      return file
    }
    self.init(file: file, source: source)
  }

  /// Reads and opens the HDF5 file at `url`, read-only.
  ///
  /// - Throws: `PlexusError.io` when the file cannot be read; `HDF5Error` as `init(image:)`.
  public convenience init(contentsOf url: URL) throws {
    let data: Data
    do {
      data = try Data(contentsOf: url, options: .alwaysMapped)
    } catch {
      throw PlexusError.io("cannot read '\(url.path)': \(error.localizedDescription)")
    }
    try self.init(image: data, source: url.path)
  }

  /// Creates an empty HDF5 file in memory, to be filled and then taken with `image()`.
  ///
  /// - Throws: `HDF5Error` when libhdf5 cannot create it.
  public static func create(source: String = "new HDF5 file") throws -> HDF5File {
    let file = try HDF5Library.call { () throws -> hid_t in
      let fapl = HDF5Handle(H5Pcreate(plexus_h5p_file_access()), close: H5Pclose)
      guard fapl.id >= 0, H5Pset_fapl_core(fapl.id, 1 << 16, false) >= 0 else {
        throw HDF5Error("\(source): cannot set up libhdf5: \(HDF5Library.stackDescription())")
      }
      let file = H5Fcreate(
        "plexus-\(UUID().uuidString).h5", plexus_h5f_acc_excl(), plexus_h5p_default(), fapl.id)
      guard file >= 0 else {
        throw HDF5Error("\(source): cannot create: \(HDF5Library.stackDescription())")
      }
      return file
    }
    return HDF5File(file: file, source: source)
  }

  // MARK: - Paths

  /// The components of `path` ("a/b/c", a leading "/" allowed; "" or "/" is the root).
  private func components(_ path: String) throws -> [String] {
    let parts = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
    let trimmed = parts.first == "" ? Array(parts.dropFirst()) : parts
    if trimmed == [""] || trimmed.isEmpty { return [] }
    guard trimmed.allSatisfy({ !$0.isEmpty && $0 != "." && !$0.contains("\0") }) else {
      throw HDF5Error("\(source): malformed path '\(path)'")
    }
    return trimmed
  }

  /// Checks, under the lock, that every link along `path` exists and is a hard link; returns
  /// `false` when one is missing.
  private func hardLinksExist(_ parts: [String], path: String) throws -> Bool {
    var prefix = ""
    for part in parts {
      prefix += "/" + part
      let exists = H5Lexists(file, prefix, plexus_h5p_default())
      guard exists >= 0 else {
        throw HDF5Error("\(source): cannot look up '\(prefix)': \(HDF5Library.stackDescription())")
      }
      if exists == 0 { return false }
      let type = plexus_h5_link_type(file, prefix)
      guard type == Int32(H5L_TYPE_HARD.rawValue) else {
        throw HDF5Error(
          "\(source): '\(prefix)' is a soft or external link; Plexus follows hard links only")
      }
    }
    return true
  }

  /// Opens the object at `path` (its links checked) and runs `body` with its identifier.
  private func withObject<T>(_ path: String, _ body: (hid_t) throws -> T) throws -> T? {
    let parts = try components(path)
    guard try hardLinksExist(parts, path: path) else { return nil }
    let object = HDF5Handle(
      H5Oopen(file, "/" + parts.joined(separator: "/"), plexus_h5p_default()), close: H5Oclose)
    guard object.id >= 0 else {
      throw HDF5Error("\(source): cannot open '\(path)': \(HDF5Library.stackDescription())")
    }
    return try body(object.id)
  }

  private static func kind(of object: hid_t) -> HDF5ObjectKind {
    switch H5Iget_type(object) {
    case H5I_GROUP: .group
    case H5I_DATASET: .dataset
    default: .other
    }
  }

  /// What the object at `path` is, or `nil` when there is none.
  ///
  /// - Throws: `HDF5Error` for a link Plexus does not follow or a damaged file.
  public func kind(of path: String) throws -> HDF5ObjectKind? {
    try HDF5Library.call { try withObject(path) { Self.kind(of: $0) } }
  }

  /// The names of the links in the group at `path`, in name order, with what each is.
  ///
  /// - Throws: `HDF5Error` when there is no group at `path`, a link is not a hard link, or
  ///   the file is damaged.
  public func members(of path: String) throws -> [(name: String, kind: HDF5ObjectKind)] {
    try HDF5Library.call {
      let names = try withObject(path) { group -> [String] in
        guard Self.kind(of: group) == .group else {
          throw HDF5Error("\(source): '\(path)' is not a group")
        }
        var info = H5G_info_t()
        guard H5Gget_info(group, &info) >= 0 else {
          throw HDF5Error(
            "\(source): cannot list '\(path)': \(HDF5Library.stackDescription())")
        }
        guard info.nlinks <= 1_000_000 else {
          throw HDF5Error("\(source): group '\(path)' has \(info.nlinks) links, too many")
        }
        // Listed in libhdf5's own order (which does not build the sorted link table that
        // libhdf5 1.10 mishandles in a damaged file), then sorted by name here.
        var listed: [String]?
        for size in [1 << 20, 1 << 26] where listed == nil {
          var buffer = [CChar](repeating: 0, count: size)
          // One name more than declared is let through, so that it shows as a mismatch.
          let count = plexus_h5_link_names(group, &buffer, size, UInt32(info.nlinks) + 1)
          if count == -2 { continue }
          guard count >= 0 else {
            throw HDF5Error(
              "\(source): cannot list '\(path)': \(HDF5Library.stackDescription())")
          }
          listed = buffer.withUnsafeBufferPointer { raw in
            var names: [String] = []
            var start = 0
            for _ in 0..<Int(count) {
              let length = strlen(raw.baseAddress! + start)
              names.append(
                String(
                  decoding: UnsafeRawBufferPointer(
                    rebasing: UnsafeRawBufferPointer(raw)[
                      start..<(start + length)]), as: UTF8.self))
              start += length + 1
            }
            return names
          }
        }
        guard let listed, listed.count == Int(info.nlinks) else {
          throw HDF5Error(
            "\(source): group '\(path)' declares \(info.nlinks) links but lists "
              + (listed.map { String($0.count) } ?? "more names than fit 64 MiB"))
        }
        return listed.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
      }
      guard let names else { throw HDF5Error("\(source): no group '\(path)'") }
      let prefix = try components(path).map { "/" + $0 }.joined()
      return try names.map { name in
        guard let kind = try withObject(prefix + "/" + name, { Self.kind(of: $0) }) else {
          throw HDF5Error("\(source): link '\(prefix)/\(name)' vanished")
        }
        return (name, kind)
      }
    }
  }

  // MARK: - Datasets

  private static func elementType(of type: hid_t) -> HDF5ElementType {
    let size = H5Tget_size(type)
    switch H5Tget_class(type) {
    case H5T_FLOAT where [2, 4, 8].contains(size): return .float(bytes: size)
    case H5T_INTEGER where [1, 2, 4, 8].contains(size):
      return H5Tget_sign(type) == H5T_SGN_NONE
        ? .unsignedInteger(bytes: size) : .signedInteger(bytes: size)
    case H5T_FLOAT: return .unsupported("float of \(size) bytes")
    case H5T_INTEGER: return .unsupported("integer of \(size) bytes")
    case H5T_STRING: return .unsupported("string")
    case H5T_COMPOUND: return .unsupported("compound")
    case H5T_ENUM: return .unsupported("enum")
    case H5T_ARRAY: return .unsupported("array")
    case H5T_VLEN: return .unsupported("variable-length")
    case H5T_REFERENCE: return .unsupported("reference")
    case H5T_OPAQUE: return .unsupported("opaque")
    case H5T_BITFIELD: return .unsupported("bitfield")
    case H5T_TIME: return .unsupported("time")
    default: return .unsupported("unknown class")
    }
  }

  /// The dimensions of a dataspace, overflow-checked.
  private func shape(ofSpace space: hid_t, what: String) throws -> [Int] {
    switch H5Sget_simple_extent_type(space) {
    case H5S_SCALAR: return []
    case H5S_SIMPLE: break
    case H5S_NULL: throw HDF5Error("\(source): \(what) has an empty (null) dataspace")
    default: throw HDF5Error("\(source): \(what) has an unreadable dataspace")
    }
    let rank = H5Sget_simple_extent_ndims(space)
    guard rank >= 0, rank <= Self.maximumRank else {
      throw HDF5Error("\(source): \(what) has rank \(rank); at most \(Self.maximumRank) is read")
    }
    var dimensions = [hsize_t](repeating: 0, count: Int(rank))
    guard H5Sget_simple_extent_dims(space, &dimensions, nil) == rank else {
      throw HDF5Error(
        "\(source): cannot read the shape of \(what): \(HDF5Library.stackDescription())")
    }
    var count = 1
    let shape = try dimensions.map { dimension -> Int in
      guard let value = Int(exactly: dimension) else {
        throw HDF5Error("\(source): \(what) has dimension \(dimension), too large")
      }
      let (product, overflow) = count.multipliedReportingOverflow(by: value)
      guard !overflow else {
        throw HDF5Error("\(source): the shape of \(what) overflows")
      }
      count = product
      return value
    }
    return shape
  }

  /// The shape and element type of the dataset at `path`, or `nil` when there is none.
  ///
  /// - Throws: `HDF5Error` when `path` is not a dataset or its header is malformed.
  public func datasetInfo(_ path: String) throws -> HDF5DatasetInfo? {
    try HDF5Library.call {
      try withObject(path) { object in
        guard Self.kind(of: object) == .dataset else {
          throw HDF5Error("\(source): '\(path)' is not a dataset")
        }
        return try datasetInfo(object, path: path)
      }
    }
  }

  private func datasetInfo(_ dataset: hid_t, path: String) throws -> HDF5DatasetInfo {
    let space = HDF5Handle(H5Dget_space(dataset), close: H5Sclose)
    let type = HDF5Handle(H5Dget_type(dataset), close: H5Tclose)
    guard space.id >= 0, type.id >= 0 else {
      throw HDF5Error(
        "\(source): cannot read dataset '\(path)': \(HDF5Library.stackDescription())")
    }
    return HDF5DatasetInfo(
      path: path, shape: try shape(ofSpace: space.id, what: "dataset '\(path)'"),
      elementType: Self.elementType(of: type.id))
  }

  /// Checks that a dataset's bytes lie in this file and back its declared size.
  private func checkStorage(_ dataset: hid_t, info: HDF5DatasetInfo, elements: Int) throws {
    let path = info.path
    let plist = HDF5Handle(H5Dget_create_plist(dataset), close: H5Pclose)
    guard plist.id >= 0 else {
      throw HDF5Error(
        "\(source): cannot read how '\(path)' is stored: \(HDF5Library.stackDescription())")
    }
    let layout = H5Pget_layout(plist.id)
    guard layout != H5D_VIRTUAL else {
      throw HDF5Error("\(source): dataset '\(path)' is virtual (data in other files); refused")
    }
    guard H5Pget_external_count(plist.id) == 0 else {
      throw HDF5Error("\(source): dataset '\(path)' keeps its data in external files; refused")
    }
    let filters = H5Pget_nfilters(plist.id)
    guard filters >= 0 else {
      throw HDF5Error(
        "\(source): cannot read the filters of '\(path)': \(HDF5Library.stackDescription())")
    }
    var compresses = false
    for index in 0..<UInt32(filters) {
      var flags: UInt32 = 0
      var count = 0
      var configuration: UInt32 = 0
      let filter = H5Pget_filter2(plist.id, index, &flags, &count, nil, 0, nil, &configuration)
      switch filter {
      case H5Z_FILTER_DEFLATE: compresses = true
      case H5Z_FILTER_SHUFFLE, H5Z_FILTER_FLETCHER32: break
      default:
        throw HDF5Error(
          "\(source): dataset '\(path)' uses HDF5 filter \(filter); Plexus reads deflate, "
            + "shuffle and fletcher32 only")
      }
    }
    let width: Int
    switch info.elementType {
    case .float(let bytes), .signedInteger(let bytes), .unsignedInteger(let bytes): width = bytes
    case .unsupported(let name):
      throw HDF5Error(
        "\(source): dataset '\(path)' holds \(name) values; Plexus reads float and integer "
          + "datasets")
    }
    try checkStoredBytes(
      dataset, path: path, declared: elements, width: width, compresses: compresses)
  }

  private func checkStoredBytes(
    _ dataset: hid_t, path: String, declared elements: Int, width: Int, compresses: Bool
  ) throws {
    guard elements > 0 else { return }
    let (declared, overflow) = elements.multipliedReportingOverflow(by: width)
    guard !overflow else { throw HDF5Error("\(source): the size of '\(path)' overflows") }
    let stored = Int(clamping: H5Dget_storage_size(dataset))
    guard stored > 0 else {
      throw HDF5Error("\(source): dataset '\(path)' declares \(elements) values but stores none")
    }
    let (expanded, expansionOverflow) = stored.multipliedReportingOverflow(by: 1032)
    let limit = compresses ? (expansionOverflow ? Int.max : expanded + 4096) : stored
    guard declared <= limit else {
      throw HDF5Error(
        "\(source): dataset '\(path)' declares \(declared) bytes but stores \(stored)"
          + (compresses ? " compressed, more than deflate can expand" : ""))
    }
  }

  /// The dataset at `path` as a `Float` tensor (a scalar becomes shape `[1]`), converted by
  /// libhdf5 from its stored float or integer type.
  ///
  /// - Throws: `HDF5Error` when there is no dataset at `path`, it holds another type, more
  ///   than `maximumElements` values, or more values than its storage backs.
  public func readTensor(_ path: String, maximumElements: Int = HDF5File.maximumElements)
    throws -> Tensor
  {
    try HDF5Library.call {
      let tensor = try withObject(path) { dataset -> Tensor in
        guard Self.kind(of: dataset) == .dataset else {
          throw HDF5Error("\(source): '\(path)' is not a dataset")
        }
        let info = try datasetInfo(dataset, path: path)
        let elements = info.shape.reduce(1, *)
        guard elements <= maximumElements else {
          throw HDF5Error(
            "\(source): dataset '\(path)' holds \(elements) values, more than the limit of "
              + "\(maximumElements)")
        }
        try checkStorage(dataset, info: info, elements: elements)
        var values = [Float](repeating: 0, count: elements)
        if elements > 0 {
          let status = values.withUnsafeMutableBytes { raw in
            H5Dread(
              dataset, plexus_h5t_native_float(), plexus_h5s_all(), plexus_h5s_all(),
              plexus_h5p_default(), raw.baseAddress)
          }
          guard status >= 0 else {
            throw HDF5Error(
              "\(source): cannot read dataset '\(path)': \(HDF5Library.stackDescription())")
          }
        }
        return try Tensor(shape: info.shape.isEmpty ? [1] : info.shape, scalars: values)
      }
      guard let tensor else { throw HDF5Error("\(source): no dataset '\(path)'") }
      return tensor
    }
  }

  // MARK: - Attributes

  /// The string attribute `name` of the object at `path` (a scalar string, or the entries of
  /// a 1-D array of strings), or `nil` when the object has no such attribute. An empty array
  /// of any type reads as `[]` (h5py stores an empty list as an empty float array).
  ///
  /// - Throws: `HDF5Error` when there is no object at `path`, the attribute holds something
  ///   other than strings, or more than `maximumAttributeBytes`.
  public func stringsAttribute(_ name: String, of path: String) throws -> [String]? {
    try HDF5Library.call {
      let result = try withObject(path) { object -> [String]? in
        let exists = H5Aexists(object, name)
        guard exists >= 0 else {
          throw HDF5Error(
            "\(source): cannot look up attribute '\(name)' of '\(path)': "
              + HDF5Library.stackDescription())
        }
        if exists == 0 { return nil }
        return try readStrings(object, attribute: name, path: path)
      }
      guard let result else { throw HDF5Error("\(source): no object '\(path)'") }
      return result
    }
  }

  /// The attribute `name` of `path` as one string: a scalar string or a one-entry array.
  ///
  /// - Throws: as `stringsAttribute`, and when the attribute holds several strings.
  public func stringAttribute(_ name: String, of path: String) throws -> String? {
    guard let strings = try stringsAttribute(name, of: path) else { return nil }
    guard strings.count == 1 else {
      throw HDF5Error(
        "\(source): attribute '\(name)' of '\(path)' holds \(strings.count) strings, not one")
    }
    return strings[0]
  }

  private func readStrings(_ object: hid_t, attribute name: String, path: String) throws
    -> [String]
  {
    let what = "attribute '\(name)' of '\(path)'"
    let attribute = HDF5Handle(H5Aopen(object, name, plexus_h5p_default()), close: H5Aclose)
    guard attribute.id >= 0 else {
      throw HDF5Error("\(source): cannot open \(what): \(HDF5Library.stackDescription())")
    }
    let space = HDF5Handle(H5Aget_space(attribute.id), close: H5Sclose)
    let type = HDF5Handle(H5Aget_type(attribute.id), close: H5Tclose)
    guard space.id >= 0, type.id >= 0 else {
      throw HDF5Error("\(source): cannot read \(what): \(HDF5Library.stackDescription())")
    }
    let shape = try self.shape(ofSpace: space.id, what: what)
    guard shape.count <= 1 else {
      throw HDF5Error("\(source): \(what) has shape \(shape); a string or a list is expected")
    }
    let count = shape.first ?? 1
    if count == 0 { return [] }
    guard H5Tget_class(type.id) == H5T_STRING else {
      throw HDF5Error("\(source): \(what) does not hold strings")
    }
    guard count <= Self.maximumAttributeBytes else {
      throw HDF5Error("\(source): \(what) holds \(count) strings, too many")
    }
    let variable = H5Tis_variable_str(type.id)
    guard variable >= 0 else {
      throw HDF5Error("\(source): cannot read \(what): \(HDF5Library.stackDescription())")
    }
    let memoryType = HDF5Handle(H5Tcopy(plexus_h5t_c_s1()), close: H5Tclose)
    guard memoryType.id >= 0, H5Tset_cset(memoryType.id, H5Tget_cset(type.id)) >= 0 else {
      throw HDF5Error("\(source): cannot read \(what): \(HDF5Library.stackDescription())")
    }
    if variable > 0 {
      guard H5Tset_size(memoryType.id, plexus_h5t_variable()) >= 0 else {
        throw HDF5Error("\(source): cannot read \(what): \(HDF5Library.stackDescription())")
      }
      var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
      let status = pointers.withUnsafeMutableBytes {
        H5Aread(attribute.id, memoryType.id, $0.baseAddress)
      }
      defer { for pointer in pointers where pointer != nil { H5free_memory(pointer) } }
      guard status >= 0 else {
        throw HDF5Error("\(source): cannot read \(what): \(HDF5Library.stackDescription())")
      }
      var total = 0
      return try pointers.map { pointer in
        guard let pointer else { return "" }
        let length = strnlen(pointer, Self.maximumAttributeBytes + 1)
        total += length
        guard total <= Self.maximumAttributeBytes else {
          throw HDF5Error(
            "\(source): \(what) holds more than \(Self.maximumAttributeBytes) bytes")
        }
        return String(
          decoding: UnsafeRawBufferPointer(start: pointer, count: length), as: UTF8.self)
      }
    }
    let width = H5Tget_size(type.id)
    let (bytes, overflow) = width.multipliedReportingOverflow(by: count)
    guard width > 0, !overflow, bytes <= Self.maximumAttributeBytes else {
      throw HDF5Error(
        "\(source): \(what) holds \(count) strings of \(width) bytes, more than the limit")
    }
    guard H5Tset_size(memoryType.id, width) >= 0,
      H5Tset_strpad(memoryType.id, H5T_STR_NULLPAD) >= 0
    else {
      throw HDF5Error("\(source): cannot read \(what): \(HDF5Library.stackDescription())")
    }
    var buffer = [UInt8](repeating: 0, count: bytes)
    let status = buffer.withUnsafeMutableBytes {
      H5Aread(attribute.id, memoryType.id, $0.baseAddress)
    }
    guard status >= 0 else {
      throw HDF5Error("\(source): cannot read \(what): \(HDF5Library.stackDescription())")
    }
    return (0..<count).map { index in
      let entry = buffer[(index * width)..<((index + 1) * width)]
      let text = entry.prefix { $0 != 0 }
      return String(decoding: text, as: UTF8.self).trimmingCharacters(in: .whitespaces)
    }
  }

  // MARK: - Writing

  /// Creates the group at `path` and any missing group above it.
  ///
  /// - Throws: `HDF5Error` when the file is read-only or an object on the way is not a group.
  public func createGroup(_ path: String) throws {
    try HDF5Library.call {
      var prefix = ""
      for part in try components(path) {
        prefix += "/" + part
        if let kind = try withObject(prefix, { Self.kind(of: $0) }) {
          guard kind == .group else {
            throw HDF5Error("\(source): '\(prefix)' exists and is not a group")
          }
          continue
        }
        let group = HDF5Handle(
          H5Gcreate2(
            file, prefix, plexus_h5p_default(), plexus_h5p_default(), plexus_h5p_default()),
          close: H5Gclose)
        guard group.id >= 0 else {
          throw HDF5Error(
            "\(source): cannot create group '\(prefix)': \(HDF5Library.stackDescription())")
        }
      }
    }
  }

  /// Writes `tensor` as a little-endian float32 dataset at `path` (its groups created as
  /// needed), with the tensor's shape (`scalarShape: true` stores a one-element tensor as a
  /// scalar).
  ///
  /// - Throws: `HDF5Error` when `path` exists or libhdf5 fails.
  public func writeDataset(_ path: String, tensor: Tensor, scalarShape: Bool = false) throws {
    let parts = try components(path)
    guard let last = parts.last else { throw HDF5Error("\(source): a dataset needs a name") }
    let parent = parts.dropLast().map { "/" + $0 }.joined()
    if !parent.isEmpty { try createGroup(parent) }
    try HDF5Library.call {
      let dimensions = scalarShape ? [] : tensor.shape.map { hsize_t($0) }
      let space = HDF5Handle(
        dimensions.isEmpty
          ? H5Screate(H5S_SCALAR) : H5Screate_simple(Int32(dimensions.count), dimensions, nil),
        close: H5Sclose)
      guard space.id >= 0 else {
        throw HDF5Error("\(source): cannot describe '\(path)': \(HDF5Library.stackDescription())")
      }
      let dataset = HDF5Handle(
        H5Dcreate2(
          file, parent + "/" + last, plexus_h5t_ieee_f32le(), space.id, plexus_h5p_default(),
          plexus_h5p_default(), plexus_h5p_default()), close: H5Dclose)
      guard dataset.id >= 0 else {
        throw HDF5Error(
          "\(source): cannot create dataset '\(path)': \(HDF5Library.stackDescription())")
      }
      let status = tensor.withUnsafeBufferPointer { values in
        H5Dwrite(
          dataset.id, plexus_h5t_native_float(), plexus_h5s_all(), plexus_h5s_all(),
          plexus_h5p_default(), values.baseAddress)
      }
      guard status >= 0 else {
        throw HDF5Error("\(source): cannot write '\(path)': \(HDF5Library.stackDescription())")
      }
    }
  }

  /// Sets the attribute `name` of the object at `path` to `value`: a variable-length UTF-8
  /// string (as h5py writes a Python `str`), or with `list` a 1-D array of them.
  ///
  /// - Throws: `HDF5Error` when there is no object at `path` or the attribute exists.
  public func setStringAttribute(_ name: String, _ values: [String], list: Bool, of path: String)
    throws
  {
    try HDF5Library.call {
      let done = try withObject(path) { object -> Bool in
        let type = HDF5Handle(H5Tcopy(plexus_h5t_c_s1()), close: H5Tclose)
        guard type.id >= 0, H5Tset_size(type.id, plexus_h5t_variable()) >= 0,
          H5Tset_cset(type.id, H5T_CSET_UTF8) >= 0
        else {
          throw HDF5Error(
            "\(source): cannot describe a string: \(HDF5Library.stackDescription())")
        }
        var dimensions = [hsize_t(values.count)]
        let space = HDF5Handle(
          list ? H5Screate_simple(1, &dimensions, nil) : H5Screate(H5S_SCALAR), close: H5Sclose)
        guard list || values.count == 1 else {
          throw HDF5Error("\(source): a scalar attribute holds one string")
        }
        let attribute = HDF5Handle(
          H5Acreate2(object, name, type.id, space.id, plexus_h5p_default(), plexus_h5p_default()),
          close: H5Aclose)
        guard space.id >= 0, attribute.id >= 0 else {
          throw HDF5Error(
            "\(source): cannot create attribute '\(name)' of '\(path)': "
              + HDF5Library.stackDescription())
        }
        let copies = values.map { strdup($0) }
        defer { for copy in copies { free(copy) } }
        var pointers: [UnsafePointer<CChar>?] = copies.map { UnsafePointer($0) }
        let status = pointers.withUnsafeMutableBytes {
          H5Awrite(attribute.id, type.id, $0.baseAddress)
        }
        guard status >= 0 else {
          throw HDF5Error(
            "\(source): cannot write attribute '\(name)' of '\(path)': "
              + HDF5Library.stackDescription())
        }
        return true
      }
      guard done != nil else { throw HDF5Error("\(source): no object '\(path)'") }
    }
  }

  /// The bytes of the file as written so far.
  ///
  /// - Throws: `HDF5Error` when libhdf5 cannot produce them.
  public func image() throws -> Data {
    try HDF5Library.call {
      guard H5Fflush(file, H5F_SCOPE_GLOBAL) >= 0 else {
        throw HDF5Error("\(source): cannot flush: \(HDF5Library.stackDescription())")
      }
      let size = H5Fget_file_image(file, nil, 0)
      guard size > 0 else {
        throw HDF5Error("\(source): cannot take the file image: \(HDF5Library.stackDescription())")
      }
      var data = Data(count: size)
      let written = data.withUnsafeMutableBytes { H5Fget_file_image(file, $0.baseAddress, size) }
      guard written == size else {
        throw HDF5Error("\(source): cannot take the file image: \(HDF5Library.stackDescription())")
      }
      return data
    }
  }
}

/// Checks the global heap collections of an HDF5 file (where variable-length strings, such as
/// Keras' `model_config`, are kept) before libhdf5 sees them: libhdf5 1.10 loops forever on a
/// collection whose free-space object is empty and copies past a collection whose object sizes
/// exceed it. Each collection (`GCOL`, version 1) is walked as libhdf5 walks it: 16-byte object
/// headers (index, reference count, reserved, size), objects padded to 8 bytes, the free space
/// (index 0) taking its stated size; every step must advance and stay inside the collection,
/// and the collection inside the file. Files whose lengths are not 8 bytes wide are left to
/// libhdf5.
enum HDF5GlobalHeapCheck {
  static func check(_ image: Data, source: String) throws {
    try image.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
      let bytes = raw.bindMemory(to: UInt8.self)
      guard lengthSize(bytes) == 8 else { return }
      func little(_ offset: Int, _ count: Int) -> UInt64 {
        (0..<count).reduce(UInt64(0)) { $0 | UInt64(bytes[offset + $1]) << (8 * UInt64($1)) }
      }
      let signature: [UInt8] = Array("GCOL".utf8)
      var position = 0
      while position + 16 <= bytes.count {
        // The next "GCOL".
        guard
          let start = bytes[position..<(bytes.count - 3)].indices.first(where: {
            bytes[$0] == signature[0] && bytes[$0 + 1] == signature[1]
              && bytes[$0 + 2] == signature[2] && bytes[$0 + 3] == signature[3]
          })
        else { return }
        position = start + 4
        // Version 1 and three reserved zero bytes; anything else is not a collection.
        guard start + 16 <= bytes.count, bytes[start + 4] == 1, bytes[start + 5] == 0,
          bytes[start + 6] == 0, bytes[start + 7] == 0
        else { continue }
        func fail(_ message: String) -> HDF5Error {
          HDF5Error(
            "\(source): the global heap collection at byte \(start) is damaged (\(message)); "
              + "Plexus does not hand it to libhdf5")
        }
        let size = little(start + 8, 8)
        guard size >= 16, size <= UInt64(bytes.count - start) else {
          throw fail("its size \(size) does not fit the file")
        }
        let end = start + Int(size)
        var object = start + 16
        while object < end {
          // The last bytes too small for an object header are free space.
          guard object + 16 <= end else { break }
          let index = little(object, 2)
          let objectSize = little(object + 8, 8)
          let (padded, overflow) = objectSize.addingReportingOverflow(7)
          guard !overflow else { throw fail("object \(index) claims \(objectSize) bytes") }
          let need = index == 0 ? objectSize : 16 + (padded & ~7)
          guard need > 0, need <= UInt64(end - object) else {
            throw fail("object \(index) of \(objectSize) bytes does not fit the collection")
          }
          object += Int(need)
        }
      }
    }
  }

  /// The size of lengths in the superblock (at byte 0, 512, 1024, ...), or nil.
  private static func lengthSize(_ bytes: UnsafeBufferPointer<UInt8>) -> Int? {
    let signature: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]
    var offset = 0
    while offset + 16 <= bytes.count {
      if Array(bytes[offset..<(offset + 8)]) == signature {
        let version = bytes[offset + 8]
        switch version {
        case 0, 1: return Int(bytes[offset + 14])
        case 2, 3: return Int(bytes[offset + 10])
        default: return nil
        }
      }
      offset = offset == 0 ? 512 : offset * 2
    }
    return nil
  }
}
