import CZlibSystem
import Foundation

/// A grayscale, 8-bit PNG image and its encoder.
///
/// `PNGImage` writes the smallest useful PNG: one `IHDR` (color type 0, bit depth 8, no
/// interlace), one `IDAT` holding the zlib-compressed scanlines (filter type 0 on every row) and
/// an `IEND`, each chunk closed by its CRC-32. Pixels are row-major, `0` black and `255` white.
/// `grid(tiles:rows:columns:...)` lays out many small images (filters, digits, samples) as one
/// picture.
public struct PNGImage: Sendable, Equatable {
  /// The width in pixels (at least 1).
  public let width: Int
  /// The height in pixels (at least 1).
  public let height: Int
  /// The `width * height` gray levels, row by row.
  public var pixels: [UInt8]

  /// An image of the given size filled with `fill`.
  ///
  /// - Throws: `PlexusError.invalidArgument` when a side is not in 1...65_535 or `pixels` does
  ///   not hold `width * height` values.
  public init(width: Int, height: Int, pixels: [UInt8]? = nil, fill: UInt8 = 0) throws {
    guard (1...65_535).contains(width), (1...65_535).contains(height) else {
      throw PlexusError.invalidArgument(
        "a PNG image's sides must be in 1...65535 pixels, got \(width) x \(height)")
    }
    let count = width * height
    if let pixels {
      guard pixels.count == count else {
        throw PlexusError.invalidArgument(
          "a \(width) x \(height) PNG image needs \(count) pixels, got \(pixels.count)")
      }
      self.pixels = pixels
    } else {
      self.pixels = [UInt8](repeating: fill, count: count)
    }
    self.width = width
    self.height = height
  }

  /// Converts a value in [0, 1] to a gray level (clamped; NaN becomes 0).
  public static func grayLevel(_ value: Float) -> UInt8 {
    guard !value.isNaN else { return 0 }
    let clamped = min(max(value, 0), 1)
    return UInt8((clamped * 255).rounded())
  }

  /// A grid of equally sized tiles.
  ///
  /// - Parameters:
  ///   - values: `count * tileHeight * tileWidth` values, tile after tile, each tile row-major
  ///     (the layout of a `[count, h, w]` tensor).
  ///   - count: the number of tiles (at least 1).
  ///   - tileHeight: the rows of one tile.
  ///   - tileWidth: the columns of one tile.
  ///   - columns: tiles per grid row (default: the ceiling of the square root of `count`); the
  ///     rows follow. Tiles fill the grid row by row; cells past `count` stay `background`.
  ///   - scale: each value becomes a `scale x scale` block of pixels (1...64).
  ///   - padding: pixels of `background` between tiles and around the grid (0...64).
  ///   - normalizeEachTile: when true, each tile is stretched from its own minimum to its own
  ///     maximum onto [0, 1] (a constant tile becomes mid-gray), as for weight filters; when
  ///     false the values are read as [0, 1] and clamped.
  ///   - background: the gray level of the padding.
  /// - Throws: `PlexusError.invalidArgument` when a count or size is out of range or `values`
  ///   has the wrong length.
  public static func grid(
    values: [Float], count: Int, tileHeight: Int, tileWidth: Int, columns: Int? = nil,
    scale: Int = 1, padding: Int = 1, normalizeEachTile: Bool = false, background: UInt8 = 128
  ) throws -> PNGImage {
    guard count >= 1, tileHeight >= 1, tileWidth >= 1 else {
      throw PlexusError.invalidArgument(
        "a tile grid needs at least one tile of at least 1 x 1, got \(count) of \(tileHeight) x \(tileWidth)"
      )
    }
    guard (1...64).contains(scale), (0...64).contains(padding) else {
      throw PlexusError.invalidArgument(
        "a tile grid's scale must be in 1...64 and its padding in 0...64, got \(scale) and \(padding)"
      )
    }
    guard tileHeight <= 65_535, tileWidth <= 65_535 else {
      throw PlexusError.invalidArgument(
        "a tile of \(tileHeight) x \(tileWidth) exceeds the PNG limit of 65535 pixels a side")
    }
    let tileSize = tileHeight * tileWidth
    let (needed, overflow) = count.multipliedReportingOverflow(by: tileSize)
    guard !overflow, values.count == needed else {
      throw PlexusError.invalidArgument(
        "\(count) tiles of \(tileHeight) x \(tileWidth) pixels need \(tileSize) values each, got \(values.count) in all"
      )
    }
    var gridColumns = columns ?? 0
    if columns == nil {
      while gridColumns * gridColumns < count { gridColumns += 1 }
    }
    guard (1...65_535).contains(gridColumns) else {
      throw PlexusError.invalidArgument(
        "a tile grid's columns must be in 1...65535, got \(gridColumns)")
    }
    let gridRows = (count + gridColumns - 1) / gridColumns
    let cellWidth = tileWidth * scale + padding
    let cellHeight = tileHeight * scale + padding
    let width = gridColumns * cellWidth + padding
    let height = gridRows * cellHeight + padding
    guard width <= 65_535, height <= 65_535 else {
      throw PlexusError.invalidArgument(
        "a tile grid of \(width) x \(height) pixels exceeds the PNG limit of 65535")
    }
    var image = try PNGImage(width: width, height: height, fill: background)
    for tile in 0..<count {
      let base = tile * tileSize
      var low: Float = 0
      var span: Float = 1
      if normalizeEachTile {
        var lowest = Float.infinity
        var highest = -Float.infinity
        for value in values[base..<base + tileSize] where value.isFinite {
          lowest = min(lowest, value)
          highest = max(highest, value)
        }
        if lowest < highest {
          low = lowest
          span = highest - lowest
        } else {
          low = lowest.isFinite ? lowest - 0.5 : 0
          span = 1
        }
      }
      let left = padding + (tile % gridColumns) * cellWidth
      let top = padding + (tile / gridColumns) * cellHeight
      for row in 0..<tileHeight {
        for column in 0..<tileWidth {
          let level = grayLevel((values[base + row * tileWidth + column] - low) / span)
          for dy in 0..<scale {
            let start = (top + row * scale + dy) * width + left + column * scale
            for dx in 0..<scale { image.pixels[start + dx] = level }
          }
        }
      }
    }
    return image
  }

  /// The PNG file's bytes.
  ///
  /// - Throws: `PlexusError.invalidArgument` when zlib fails to compress the scanlines.
  public func encoded() throws -> [UInt8] {
    var raw = [UInt8]()
    raw.reserveCapacity(height * (width + 1))
    for row in 0..<height {
      raw.append(0)
      raw.append(contentsOf: pixels[row * width..<(row + 1) * width])
    }
    var capacity = compressBound(uLong(raw.count))
    var compressed = [UInt8](repeating: 0, count: Int(capacity))
    let status = compressed.withUnsafeMutableBufferPointer { out in
      raw.withUnsafeBufferPointer { source in
        compress2(out.baseAddress, &capacity, source.baseAddress, uLong(source.count), 9)
      }
    }
    guard status == Z_OK else {
      throw PlexusError.invalidArgument("zlib failed to compress a PNG image (status \(status))")
    }
    compressed.removeSubrange(Int(capacity)...)
    var bytes: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
    var header = [UInt8]()
    Self.appendBigEndian(UInt32(width), to: &header)
    Self.appendBigEndian(UInt32(height), to: &header)
    header += [8, 0, 0, 0, 0]
    Self.appendChunk("IHDR", header, to: &bytes)
    Self.appendChunk("IDAT", compressed, to: &bytes)
    Self.appendChunk("IEND", [], to: &bytes)
    return bytes
  }

  /// Writes the PNG file to `url`, atomically: an existing file is replaced only by a complete
  /// new one.
  ///
  /// - Throws: `PlexusError` when encoding or writing fails.
  public func write(to url: URL) throws {
    let bytes = try encoded()
    do {
      let sink = try AtomicFileSink(destination: url, sizeLimit: nil)
      try bytes.withUnsafeBytes { try sink.write($0) }
      try sink.commit()
    } catch let error as PlexusFormatError {
      throw PlexusError.io(error.message)
    }
  }

  /// The CRC-32 (ISO 3309, as PNG chunks use) of `bytes`.
  public static func crc32(_ bytes: [UInt8]) -> UInt32 {
    bytes.withUnsafeBufferPointer { buffer in
      UInt32(truncatingIfNeeded: CZlibSystem.crc32(0, buffer.baseAddress, uInt(buffer.count)))
    }
  }

  private static func appendBigEndian(_ value: UInt32, to bytes: inout [UInt8]) {
    bytes += [
      UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF),
      UInt8(value & 0xFF),
    ]
  }

  private static func appendChunk(_ type: String, _ data: [UInt8], to bytes: inout [UInt8]) {
    appendBigEndian(UInt32(data.count), to: &bytes)
    let typed = Array(type.utf8) + data
    bytes += typed
    appendBigEndian(crc32(typed), to: &bytes)
  }
}
