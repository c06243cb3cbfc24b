import CZlibSystem
import Foundation
import PlexusCore
import Testing

/// Reads back what `PNGImage` writes: the signature, each chunk's CRC, the header fields and the
/// inflated scanlines.
private struct DecodedPNG {
  var width = 0
  var height = 0
  var bitDepth = 0
  var colorType = 0
  var chunkTypes: [String] = []
  var pixels: [UInt8] = []

  init(_ bytes: [UInt8]) throws {
    #expect(Array(bytes.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
    func bigEndian(_ offset: Int) -> Int {
      bytes[offset..<offset + 4].reduce(0) { $0 << 8 | Int($1) }
    }
    var offset = 8
    var compressed: [UInt8] = []
    while offset < bytes.count {
      let length = bigEndian(offset)
      let typed = Array(bytes[offset + 4..<offset + 8 + length])
      let type = String(decoding: typed.prefix(4), as: UTF8.self)
      chunkTypes.append(type)
      let stored = UInt32(bigEndian(offset + 8 + length))
      let computed = typed.withUnsafeBufferPointer {
        UInt32(truncatingIfNeeded: crc32(0, $0.baseAddress, uInt($0.count)))
      }
      #expect(stored == computed, "CRC of chunk \(type)")
      let data = Array(typed.dropFirst(4))
      switch type {
      case "IHDR":
        width = data[0..<4].reduce(0) { $0 << 8 | Int($1) }
        height = data[4..<8].reduce(0) { $0 << 8 | Int($1) }
        bitDepth = Int(data[8])
        colorType = Int(data[9])
      case "IDAT": compressed += data
      default: break
      }
      offset += 12 + length
    }
    var rawLength = uLong(height * (width + 1))
    var raw = [UInt8](repeating: 0, count: Int(rawLength))
    let status = raw.withUnsafeMutableBufferPointer { out in
      compressed.withUnsafeBufferPointer {
        uncompress(out.baseAddress, &rawLength, $0.baseAddress, uLong($0.count))
      }
    }
    #expect(status == Z_OK)
    #expect(Int(rawLength) == height * (width + 1))
    for row in 0..<height {
      #expect(raw[row * (width + 1)] == 0, "filter type of row \(row)")
      pixels += raw[row * (width + 1) + 1..<(row + 1) * (width + 1)]
    }
  }
}

@Suite struct PNGImageTests {
  @Test func encodesGrayscalePixelsThatDecodeBack() throws {
    let pixels = (0..<(7 * 3)).map { UInt8($0 * 12) }
    let image = try PNGImage(width: 7, height: 3, pixels: pixels)
    let decoded = try DecodedPNG(image.encoded())
    #expect(decoded.chunkTypes == ["IHDR", "IDAT", "IEND"])
    #expect(decoded.width == 7 && decoded.height == 3)
    #expect(decoded.bitDepth == 8 && decoded.colorType == 0)
    #expect(decoded.pixels == pixels)
  }

  @Test func gridPlacesScaledTilesWithPadding() throws {
    // Three 2x2 tiles, two per row, each value a 2x2 block, one pixel of padding.
    let values: [Float] = [0, 1, 1, 0, 0.5, 0.5, 0.5, 0.5, 1, 1, 1, 1]
    let image = try PNGImage.grid(
      values: values, count: 3, tileHeight: 2, tileWidth: 2, columns: 2, scale: 2, padding: 1,
      background: 7)
    #expect(image.width == 2 * 5 + 1 && image.height == 2 * 5 + 1)
    func pixel(_ x: Int, _ y: Int) -> UInt8 { image.pixels[y * image.width + x] }
    #expect(pixel(0, 0) == 7)  // padding
    #expect(pixel(1, 1) == 0 && pixel(2, 2) == 0)  // tile 0, value (0, 0)
    #expect(pixel(3, 1) == 255 && pixel(4, 2) == 255)  // tile 0, value (0, 1)
    #expect(pixel(1, 3) == 255)  // tile 0, value (1, 0)
    #expect(pixel(5, 1) == 7)  // padding between tiles
    #expect(pixel(6, 1) == 128)  // tile 1 is 0.5 everywhere
    #expect(pixel(1, 6) == 255)  // tile 2 in the second row
    #expect(pixel(6, 6) == 7)  // the empty fourth cell stays background
    let decoded = try DecodedPNG(image.encoded())
    #expect(decoded.pixels == image.pixels)
  }

  @Test func normalizingEachTileStretchesItsOwnRange() throws {
    let values: [Float] = [-2, 2, 0, 3, 3, 3]  // a filter, then a constant tile
    let image = try PNGImage.grid(
      values: values, count: 2, tileHeight: 1, tileWidth: 3, columns: 1, padding: 0,
      normalizeEachTile: true)
    #expect(image.pixels == [0, 255, 128, 128, 128, 128])
  }

  @Test func valuesOutsideTheUnitRangeAreClamped() {
    #expect(PNGImage.grayLevel(-1) == 0)
    #expect(PNGImage.grayLevel(2) == 255)
    #expect(PNGImage.grayLevel(.nan) == 0)
    #expect(PNGImage.grayLevel(.infinity) == 255)
    #expect(PNGImage.grayLevel(0.5) == 128)
  }

  @Test func badSizesAreRefusedWithoutAllocating() {
    #expect(throws: PlexusError.self) { try PNGImage(width: 0, height: 3) }
    #expect(throws: PlexusError.self) { try PNGImage(width: 70_000, height: 1) }
    #expect(throws: PlexusError.self) { try PNGImage(width: 2, height: 2, pixels: [1, 2, 3]) }
    #expect(throws: PlexusError.self) {
      try PNGImage.grid(values: [0, 1], count: 3, tileHeight: 1, tileWidth: 1)
    }
    #expect(throws: PlexusError.self) {
      try PNGImage.grid(values: [0], count: Int.max / 2, tileHeight: 4, tileWidth: 4)
    }
    #expect(throws: PlexusError.self) {
      try PNGImage.grid(values: [0], count: 1, tileHeight: 1, tileWidth: 1, scale: 0)
    }
    #expect(throws: PlexusError.self) {
      try PNGImage.grid(values: [0, 0], count: 2, tileHeight: 1, tileWidth: 1, columns: 0)
    }
    #expect(throws: PlexusError.self) {
      try PNGImage.grid(
        values: [Float](repeating: 0, count: 4000), count: 4000, tileHeight: 1, tileWidth: 1,
        columns: 4000, scale: 20)
    }
  }

  @Test func writesTheFileAtomically() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
      "plexus-png-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let url = folder.appendingPathComponent("tile.png")
    let image = try PNGImage(width: 2, height: 1, pixels: [0, 255])
    try image.write(to: url)
    #expect(try [UInt8](Data(contentsOf: url)) == image.encoded())
    let missing = folder.appendingPathComponent("absent/tile.png")
    #expect(throws: PlexusError.self) { try image.write(to: missing) }
  }
}
