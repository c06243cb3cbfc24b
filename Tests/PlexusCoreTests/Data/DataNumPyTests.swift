import Foundation
import PlexusCore
import Testing

/// Reads the fixtures written by numpy (scripts/generate-npy-fixtures.py).
func npyFixture(_ name: String) throws -> URL {
  try #require(
    Bundle.module.url(forResource: name, withExtension: "npy", subdirectory: "Fixtures/npy"))
}

/// A fresh temporary folder for one test.
func temporaryFolder() throws -> URL {
  let url = FileManager.default.temporaryDirectory.appendingPathComponent(
    "plexus-data-tests-\(UUID().uuidString)")
  try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
  return url
}

/// The message of the `PlexusError` thrown by `body`, or `nil` when nothing or something else
/// is thrown.
func plexusErrorMessage(_ body: () throws -> Void) -> String? {
  do {
    try body()
    return nil
  } catch let error as PlexusError {
    return error.description
  } catch {
    return nil
  }
}

@Suite struct NumPyTests {
  /// A valid file built by hand: version 1.0, the given header text (padded), then `payload`.
  func npy(header: String, payload: [UInt8] = [], version: UInt8 = 1) -> Data {
    var headerBytes = Array(header.utf8)
    let preamble = version == 1 ? 10 : 12
    while (preamble + headerBytes.count + 1) % 64 != 0 { headerBytes.append(0x20) }
    headerBytes.append(0x0A)
    var data = Data(NumPy.magic + [version, 0])
    let length = headerBytes.count
    if version == 1 {
      data.append(contentsOf: [UInt8(length & 0xFF), UInt8(length >> 8)])
    } else {
      data.append(contentsOf: [UInt8(length & 0xFF), UInt8((length >> 8) & 0xFF), 0, 0])
    }
    data.append(contentsOf: headerBytes)
    data.append(contentsOf: payload)
    return data
  }

  @Test func roundTripThroughAFile() throws {
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    var generator = SeededGenerator(seed: 11)
    for shape in [[2, 3, 4], [5], [], [0, 3], [1, 1, 1, 1]] {
      let tensor = Tensor.normal(shape, using: &generator)
      let url = folder.appendingPathComponent("t.npy")
      try NumPy.write(tensor, to: url)
      let array = try NumPy.read(contentsOf: url)
      #expect(array.shape == shape)
      #expect(array.dtype == .float32)
      #expect(array.formatVersion == 1)
      #expect(array.tensor() == tensor)
      let size = try #require(
        try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int)
      #expect((size - tensor.count * 4) % 64 == 0)  // header padded to 64 bytes as numpy does
    }
    // No temporary files are left beside the destination.
    #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["t.npy"])
  }

  @Test func writeReplacesAnExistingFileAndReportsBadFolders() throws {
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let url = folder.appendingPathComponent("x.npy")
    try NumPy.write(Tensor([1, 2, 3]), to: url)
    try NumPy.write(Tensor([4]), to: url)
    #expect(try NumPy.read(contentsOf: url).tensor().scalars == [4])
    let missing = folder.appendingPathComponent("no/such/folder/x.npy")
    let message = plexusErrorMessage { try NumPy.write(Tensor([1]), to: missing) }
    #expect(message?.contains("I/O error") == true)
    #expect(
      plexusErrorMessage { _ = try NumPy.read(contentsOf: missing) }?.contains(missing.path) == true
    )
  }

  @Test func encodedHeaderMatchesNumPy() throws {
    // np.save of np.zeros((2, 3), np.float32) has exactly this header.
    let data = NumPy.encode(Tensor.zeros([2, 3]))
    #expect(data.count == 128 + 24)
    let header = String(decoding: data[10..<128], as: UTF8.self)
    #expect(header.hasPrefix("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"))
    #expect(header.hasSuffix(" \n"))
    #expect(Array(data[0..<10]) == NumPy.magic + [1, 0, 118, 0])
    #expect(
      String(decoding: NumPy.encode(Tensor([1])).prefix(80).dropFirst(10), as: UTF8.self).contains(
        "'shape': (1,)"))
    #expect(
      String(decoding: NumPy.encode(Tensor.zeros([])).prefix(80).dropFirst(10), as: UTF8.self)
        .contains("'shape': ()"))
  }

  @Test(arguments: ["float32", "scalar", "empty"])
  func encodingIsByteIdenticalToNumPySave(name: String) throws {
    let url = try npyFixture(name)
    let written = NumPy.encode(try NumPy.read(contentsOf: url).tensor())
    #expect(written == (try Data(contentsOf: url)))
  }

  @Test func readsEveryDtypeWrittenByNumPy() throws {
    let float32 = try NumPy.read(contentsOf: npyFixture("float32"))
    #expect(float32.dtype == .float32 && float32.shape == [2, 3])
    #expect(float32.tensor().scalars == [1.5, -2.25, 0.003, 0, 1e30, -7])

    let float64 = try NumPy.read(contentsOf: npyFixture("float64"))
    #expect(float64.dtype == .float64 && float64.shape == [4])
    // Rounded to the nearest Float; 1e300 is beyond Float's range.
    #expect(
      float64.tensor().scalars == [Float(0.1), Float(-1e-10), Float(123456789.125), .infinity])

    let int32 = try NumPy.read(contentsOf: npyFixture("int32"))
    #expect(int32.dtype == .int32 && int32.shape == [2, 2])
    // 16777217 = 2^24 + 1 is the first integer a Float cannot hold: it rounds to 2^24.
    #expect(int32.tensor().scalars == [-2_147_483_648, 0, 7, 16_777_216])

    let int64 = try NumPy.read(contentsOf: npyFixture("int64"))
    #expect(int64.dtype == .int64 && int64.shape == [4])
    #expect(int64.tensor().scalars == [1_099_511_627_776, -5, 0, 3])

    let uint8 = try NumPy.read(contentsOf: npyFixture("uint8"))
    #expect(uint8.dtype == .uint8 && uint8.tensor().scalars == [0, 255, 7])

    let bool = try NumPy.read(contentsOf: npyFixture("bool"))
    #expect(bool.dtype == .bool && bool.shape == [1, 3] && bool.tensor().scalars == [1, 0, 1])

    let scalar = try NumPy.read(contentsOf: npyFixture("scalar"))
    #expect(scalar.shape == [] && scalar.tensor().scalar == 2.5)

    let empty = try NumPy.read(contentsOf: npyFixture("empty"))
    #expect(empty.shape == [0, 3] && empty.count == 0 && empty.tensor().shape == [0, 3])
  }

  @Test func readsFromADataSlice() throws {
    let file = try Data(contentsOf: npyFixture("float32"))
    let slice = (Data([9, 9, 9]) + file).dropFirst(3)
    #expect(slice.startIndex == 3)
    #expect(try NumPy.read(data: slice).tensor() == (try NumPy.read(data: file).tensor()))
  }

  @Test func readsFormatVersions2And3() throws {
    let version2 = try NumPy.read(contentsOf: npyFixture("version2"))
    #expect(version2.formatVersion == 2)
    #expect(version2.tensor() == (try Tensor(shape: [2, 3], scalars: [0, 1, 2, 3, 4, 5])))
    let version3 = try NumPy.read(contentsOf: npyFixture("version3"))
    #expect(version3.formatVersion == 3 && version3.dtype == .int64)
    #expect(version3.tensor().scalars == [0, 1, 2, 3])
    // A hand-built version 2.0 header is read the same way.
    let data = npy(
      header: "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }",
      payload: [0, 0, 0x80, 0x3F], version: 2)
    #expect(try NumPy.read(data: data).tensor().scalars == [1])
  }

  /// Files numpy wrote big-endian, in Fortran order and as float16 read to the same values
  /// as the little-endian C-order arrays they hold.
  @Test func readsBigEndianFortranOrderAndFloat16FilesFromNumPy() throws {
    let big = try NumPy.read(contentsOf: npyFixture("bigendian"))
    #expect(big.dtype == .float32 && big.storedDescriptor == ">f4")
    #expect(big.tensor().scalars == [1, 2])
    let fortran = try NumPy.read(contentsOf: npyFixture("fortran"))
    #expect(fortran.storedInFortranOrder && fortran.shape == [2, 3])
    #expect(fortran.tensor() == (try Tensor(shape: [2, 3], scalars: [0, 1, 2, 3, 4, 5])))
    let half = try NumPy.read(contentsOf: npyFixture("float16"))
    #expect(half.dtype == .float16 && half.tensor().scalars == [1, 2])
  }

  /// Hand-built files: every element type in both byte orders, and a rank-3 Fortran-order
  /// array, give the values of their little-endian C-order form.
  @Test func convertsEveryByteOrderAndFortranOrderByHand() throws {
    let values: [Float] = [1, -2, 3, 100]
    for dtype in NumPy.DType.allCases where dtype != .bool && dtype != .uint8 {
      let littleArray = try NumPyArray(
        shape: [4], dtype: dtype, elementBytes: littleEndianBytes(values, dtype))
      let little = NumPy.encode(littleArray)
      #expect(try NumPy.read(data: little).tensor().scalars == values, "\(dtype)")
      var bigBytes = [UInt8]()
      let size = dtype.byteSize
      let raw = [UInt8](littleArray.elementBytes)
      for start in stride(from: 0, to: raw.count, by: size) {
        bigBytes += raw[start..<(start + size)].reversed()
      }
      let descriptor = (size == 1 ? "|" : ">") + dtype.descriptor.dropFirst()
      let big = npy(
        header: "{'descr': '\(descriptor)', 'fortran_order': False, 'shape': (4,), }",
        payload: bigBytes)
      #expect(try NumPy.read(data: big).tensor().scalars == values, "\(descriptor)")
    }
    // Shape (2, 3, 2) in column-major order: element [i, j, k] at i + 2 j + 6 k.
    let shape = [2, 3, 2]
    var columnMajor = [Float](repeating: 0, count: 12)
    for i in 0..<2 {
      for j in 0..<3 {
        for k in 0..<2 { columnMajor[i + 2 * j + 6 * k] = Float(100 * i + 10 * j + k) }
      }
    }
    let fortran = npy(
      header: "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3, 2), }",
      payload: [UInt8](try littleEndianBytes(columnMajor, .float32)))
    let read = try NumPy.read(data: fortran)
    #expect(read.shape == shape && read.storedInFortranOrder)
    var expected: [Float] = []
    for i in 0..<2 {
      for j in 0..<3 { for k in 0..<2 { expected.append(Float(100 * i + 10 * j + k)) } }
    }
    #expect(read.tensor().scalars == expected)
  }

  private func littleEndianBytes(_ values: [Float], _ dtype: NumPy.DType) throws -> Data {
    var data = Data()
    for value in values {
      switch dtype {
      case .float16: data.appendLittle(Float16(value).bitPattern)
      case .float32: data.appendLittle(value.bitPattern)
      case .float64: data.appendLittle(Double(value).bitPattern)
      case .int8: data.appendLittle(Int8(value))
      case .int16: data.appendLittle(Int16(value))
      case .int32: data.appendLittle(Int32(value))
      case .int64: data.appendLittle(Int64(value))
      case .uint8: data.appendLittle(UInt8(value))
      case .bool: data.appendLittle(UInt8(value == 0 ? 0 : 1))
      }
    }
    return data
  }

  @Test(arguments: [
    ("object", "object arrays"),
    ("structured", "structured dtypes"),
  ])
  func rejectsUnsupportedFilesFromNumPy(name: String, expected: String) throws {
    let url = try npyFixture(name)
    let message = plexusErrorMessage { _ = try NumPy.read(contentsOf: url) }
    #expect(message?.contains(expected) == true, "\(message ?? "no error")")
    #expect(message?.contains("byte offset") == true)
    #expect(message?.contains(url.lastPathComponent) == true)
  }

  @Test(arguments: [
    ("<c8", "unsupported dtype '<c8'"), ("|f4", "gives no byte order"), ("<U3", "unsupported"),
  ])
  func rejectsOtherDTypes(descriptor: String, expected: String) {
    let data = npy(
      header: "{'descr': '\(descriptor)', 'fortran_order': False, 'shape': (1,), }",
      payload: [0, 0, 0, 0, 0, 0, 0, 0])
    let message = plexusErrorMessage { _ = try NumPy.read(data: data) }
    #expect(message?.contains(expected) == true, "\(message ?? "no error")")
  }

  @Test func rejectsTruncatedFilesAndBadMagic() throws {
    let good = try Data(contentsOf: npyFixture("float32"))
    // Truncated anywhere: in the magic, the version, the header length, the header, the data.
    for length in [0, 3, 7, 9, 50, 127, 128, good.count - 1] {
      let message = plexusErrorMessage { _ = try NumPy.read(data: good.prefix(length)) }
      #expect(message?.contains("truncated") == true, "length \(length): \(message ?? "no error")")
      #expect(message?.contains("byte offset") == true)
    }
    let tail = plexusErrorMessage { _ = try NumPy.read(data: good.prefix(good.count - 1)) }
    #expect(tail?.contains("needs 24 data bytes from byte 128, but only 23 follow") == true)

    var badMagic = good
    badMagic[1] = UInt8(ascii: "X")
    let magicMessage = plexusErrorMessage { _ = try NumPy.read(data: badMagic) }
    #expect(magicMessage?.contains("bad magic") == true)
    #expect(magicMessage?.contains("at byte offset 0") == true)
    #expect(
      plexusErrorMessage { _ = try NumPy.read(data: Data("PK\u{3}\u{4}".utf8)) }?.contains(
        "bad magic") == true)

    var badVersion = good
    badVersion[6] = 4
    let versionMessage = plexusErrorMessage { _ = try NumPy.read(data: badVersion) }
    #expect(versionMessage?.contains("format version 4.0") == true)
    #expect(versionMessage?.hasSuffix("(at byte offset 6)") == true)

    let extra = plexusErrorMessage { _ = try NumPy.read(data: good + [1, 2]) }
    #expect(extra?.contains("2 unexpected bytes") == true)
    #expect(extra?.contains("at byte offset \(good.count)") == true)
  }

  @Test(arguments: [
    ("'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", "expected '{'"),
    ("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), ", "expected a quoted key"),
    ("{'descr': '<f4' 'fortran_order': False, 'shape': (2,)}", "expected ',' or '}'"),
    ("{'descr' '<f4', 'fortran_order': False, 'shape': (2,)}", "expected ':'"),
    ("{'descr': '<f4, 'fortran_order': False, 'shape': (2,)}", "expected ',' or '}'"),
    ("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,)}", "expected a string, True"),
    ("{'descr': '<f4', 'fortran_order': False, 'shape': (2, x)}", "expected an integer or ')'"),
    ("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} junk", "after the closing '}'"),
    ("{'descr': '<f4', 'fortran_order': False}", "lacks the key 'shape'"),
    ("{'fortran_order': False, 'shape': (2,)}", "lacks the key 'descr'"),
    ("{'descr': '<f4', 'shape': (2,)}", "lacks the key 'fortran_order'"),
    (
      "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}",
      "duplicate key 'descr'"
    ),
    (
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1}",
      "unexpected header key 'extra'"
    ),
    (
      "{'descr': '<f4', 'fortran_order': 0, 'shape': (2,)}", "'fortran_order' must be True or False"
    ),
    ("{'descr': '<f4', 'fortran_order': False, 'shape': (2)}", "'shape' must be a tuple"),
    ("{'descr': '<f4', 'fortran_order': False, 'shape': [2]}", "'shape' must be a tuple"),
    ("{'descr': 4, 'fortran_order': False, 'shape': (2,)}", "'descr' must be a type string"),
    ("{'descr': '<f4', 'fortran_order': False, 'shape': (2, -1)}", "negative dimension"),
    (
      "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}",
      "does not fit in 64 bits"
    ),
    (
      "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296)}",
      "element count of shape"
    ),
    (
      "{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904,)}",
      "byte count of shape"
    ),
    ("{'descr': '<f4', 'fortran_order': False, 'shape': (3,)}", "needs 12 data bytes"),
    ("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)}", "4 unexpected bytes"),
    ("{'descr': '<c8', 'fortran_order': False, 'shape': (1,)}", "unsupported dtype '<c8'"),
    ("{'descr': '|u2', 'fortran_order': False, 'shape': (4,)}", "unsupported dtype '|u2'"),
  ])
  func rejectsMalformedHeaders(header: String, expected: String) throws {
    let data = npy(header: header, payload: [UInt8](repeating: 0, count: 8))
    let message = plexusErrorMessage { _ = try NumPy.read(data: data) }
    #expect(message?.contains(expected) == true, "\(message ?? "no error")")
    #expect(message?.contains("byte offset") == true)
  }

  @Test func headerOffsetsPointIntoTheFile() throws {
    // The '1' value starts at byte 10 + 34 = 44 of the file.
    let header = "{'descr': '<f4', 'fortran_order': 1, 'shape': (2,), }"
    let message = plexusErrorMessage {
      _ = try NumPy.read(data: npy(header: header, payload: [UInt8](repeating: 0, count: 8)))
    }
    #expect(message?.contains("at byte offset 44") == true, "\(message ?? "no error")")
  }

  @Test func acceptsPythonTwoLongIntegersAndDoubleQuotes() throws {
    let header = "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (1L, 2L), }"
    let array = try NumPy.read(data: npy(header: header, payload: [UInt8](repeating: 0, count: 8)))
    #expect(array.shape == [1, 2])
  }
}

extension Data {
  fileprivate mutating func appendLittle<T: FixedWidthInteger>(_ value: T) {
    var little = value.littleEndian
    Swift.withUnsafeBytes(of: &little) { append(contentsOf: $0) }
  }
}
