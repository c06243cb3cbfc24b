import CZlib
import Foundation
import PlexusKernels

/// Element conversion, byte shuffling and deflate for one block of a tensor.
///
/// A block is a run of whole elements. Encoding turns `Float` elements into the stored bytes of
/// a codec and dtype; decoding checks and reverses it into `Float` elements.
enum BlockCodec {
  // MARK: Element conversion

  /// Writes `source` as little-endian `dtype` elements into `destination`
  /// (`source.count * dtype.byteWidth` bytes).
  static func convert(
    _ source: UnsafeBufferPointer<Float>, to dtype: TensorDType, scale: Float,
    into destination: UnsafeMutableRawBufferPointer
  ) {
    precondition(destination.count == source.count * dtype.byteWidth)
    guard let base = destination.baseAddress else { return }
    switch dtype {
    case .f32:
      for index in source.indices {
        base.storeBytes(
          of: source[index].bitPattern.littleEndian, toByteOffset: index * 4, as: UInt32.self)
      }
    case .f16:
      #if _endian(little)
        // One conversion instruction per vector where the CPU has them (PlexusKernels).
        plexus_f32_to_f16(
          source.baseAddress!, base.assumingMemoryBound(to: UInt16.self), Int64(source.count))
      #else
        for index in source.indices {
          base.storeBytes(
            of: Float16(source[index]).bitPattern.littleEndian, toByteOffset: index * 2,
            as: UInt16.self)
        }
      #endif
    case .bf16:
      #if _endian(little)
        plexus_f32_to_bf16(
          source.baseAddress!, base.assumingMemoryBound(to: UInt16.self), Int64(source.count))
      #else
        for index in source.indices {
          base.storeBytes(
            of: bfloat16Bits(source[index]).littleEndian, toByteOffset: index * 2,
            as: UInt16.self)
        }
      #endif
    case .int8:
      for index in source.indices {
        let quantized = scale > 0 ? (source[index] / scale).rounded(.toNearestOrEven) : 0
        let clamped = Swift.max(-127, Swift.min(127, quantized.isNaN ? 0 : quantized))
        base.storeBytes(of: Int8(clamped), toByteOffset: index, as: Int8.self)
      }
    }
  }

  /// Reads little-endian `dtype` elements from `source` into `destination`.
  static func convert(
    _ source: UnsafeRawBufferPointer, from dtype: TensorDType, scale: Float,
    into destination: UnsafeMutableBufferPointer<Float>
  ) {
    precondition(source.count == destination.count * dtype.byteWidth)
    guard let base = source.baseAddress else { return }
    switch dtype {
    case .f32:
      #if _endian(little)
        UnsafeMutableRawBufferPointer(destination).copyMemory(from: source)
      #else
        for index in destination.indices {
          destination[index] = Float(
            bitPattern: UInt32(
              littleEndian: base.loadUnaligned(fromByteOffset: index * 4, as: UInt32.self)))
        }
      #endif
    case .f16:
      #if _endian(little)
        plexus_f16_to_f32(
          base.assumingMemoryBound(to: UInt16.self), destination.baseAddress!,
          Int64(destination.count))
      #else
        for index in destination.indices {
          let bits = UInt16(
            littleEndian: base.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self))
          destination[index] = Float(Float16(bitPattern: bits))
        }
      #endif
    case .bf16:
      #if _endian(little)
        // A widening shift per vector (PlexusKernels).
        plexus_bf16_to_f32(
          base.assumingMemoryBound(to: UInt16.self), destination.baseAddress!,
          Int64(destination.count))
      #else
        for index in destination.indices {
          let bits = UInt16(
            littleEndian: base.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self))
          destination[index] = Float(bitPattern: UInt32(bits) << 16)
        }
      #endif
    case .int8:
      for index in destination.indices {
        destination[index] = Float(base.load(fromByteOffset: index, as: Int8.self)) * scale
      }
    }
  }

  /// The bfloat16 bits of `value` (see `Float.bfloat16Bits`).
  static func bfloat16Bits(_ value: Float) -> UInt16 { value.bfloat16Bits }

  /// The symmetric int8 scale of a tensor: `max |x| / 127` (0 for an all-zero tensor).
  static func int8Scale(_ values: UnsafeBufferPointer<Float>) -> Float {
    var largest: Float = 0
    for value in values where value.isFinite { largest = Swift.max(largest, Swift.abs(value)) }
    return largest / 127
  }

  // MARK: Byte planes

  /// Splits elements of `width` bytes into byte planes: plane `b` holds byte `b` of every
  /// element.
  static func shuffle(
    _ source: UnsafeRawBufferPointer, width: Int, into destination: UnsafeMutableRawBufferPointer
  ) {
    let count = source.count / width
    guard width > 1, let input = source.baseAddress, let output = destination.baseAddress else {
      destination.copyMemory(from: source)
      return
    }
    var start = 0
    #if _endian(little)
      if width == 4 {
        // Sixteen elements at a time: split each 32-bit word into its four bytes.
        while start + 16 <= count {
          let words = input.loadUnaligned(fromByteOffset: start * 4, as: SIMD16<UInt32>.self)
          for plane in 0..<4 {
            let bytes = SIMD16<UInt8>(truncatingIfNeeded: words &>> UInt32(8 * plane))
            output.storeBytes(
              of: bytes, toByteOffset: plane * count + start, as: SIMD16<UInt8>.self)
          }
          start += 16
        }
      }
    #endif
    let from = input.assumingMemoryBound(to: UInt8.self)
    let to = output.assumingMemoryBound(to: UInt8.self)
    for plane in 0..<width {
      let row = to + plane * count
      for index in start..<count { row[index] = from[index * width + plane] }
    }
  }

  /// Joins byte planes back into elements of `width` bytes.
  static func unshuffle(
    _ source: UnsafeRawBufferPointer, width: Int, into destination: UnsafeMutableRawBufferPointer
  ) {
    let count = source.count / width
    guard width > 1, let input = source.baseAddress, let output = destination.baseAddress else {
      destination.copyMemory(from: source)
      return
    }
    var start = 0
    #if _endian(little)
      if width == 4 {
        // Sixteen elements at a time: widen each plane's bytes and merge them into words.
        while start + 16 <= count {
          var words = SIMD16<UInt32>(repeating: 0)
          for plane in 0..<4 {
            let bytes = input.loadUnaligned(
              fromByteOffset: plane * count + start, as: SIMD16<UInt8>.self)
            words |= SIMD16<UInt32>(truncatingIfNeeded: bytes) &<< UInt32(8 * plane)
          }
          output.storeBytes(of: words, toByteOffset: start * 4, as: SIMD16<UInt32>.self)
          start += 16
        }
      }
    #endif
    let from = input.assumingMemoryBound(to: UInt8.self)
    let to = output.assumingMemoryBound(to: UInt8.self)
    for plane in 0..<width {
      let row = from + plane * count
      for index in start..<count { to[index * width + plane] = row[index] }
    }
  }

  // MARK: Deflate

  /// The estimated Shannon entropy of `bytes` in bits per byte, from a sample of at most
  /// 65536 bytes.
  static func entropy(_ bytes: UnsafeRawBufferPointer) -> Double {
    guard !bytes.isEmpty else { return 0 }
    var histogram = [Int](repeating: 0, count: 256)
    let step = Swift.max(1, bytes.count / 65536)
    var samples = 0
    histogram.withUnsafeMutableBufferPointer { counts in
      var index = 0
      while index < bytes.count {
        counts[Int(bytes[index])] += 1
        samples += 1
        index += step
      }
    }
    var bits = 0.0
    for count in histogram where count > 0 {
      let p = Double(count) / Double(samples)
      bits -= p * log2(p)
    }
    return bits
  }

  /// Deflates `source` as one raw deflate stream (RFC 1951, no zlib or gzip wrapper).
  ///
  /// `segments` splits the input into parts compressed with their own settings: with
  /// `level == nil` each part is stored when its entropy is near 8 bits, Huffman-coded when it is
  /// moderate and LZ77-matched when it is low; with a level every part uses that level.
  static func deflate(_ source: UnsafeRawBufferPointer, segments: Int, level: Int32?) throws
    -> [UInt8]
  {
    var stream = z_stream()
    let initialLevel = level ?? 1
    guard
      deflateInit2_(
        &stream, initialLevel, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY, zlibVersion(),
        Int32(MemoryLayout<z_stream>.size)) == Z_OK
    else { throw PlexusFormatError(.io, "zlib deflateInit2 failed") }
    defer { deflateEnd(&stream) }
    let capacity =
      Int(deflateBound(&stream, UInt(source.count))) + source.count / 64 + 1024 * segments + 4096
    let segmentLength = segments > 1 ? source.count / segments : source.count
    return try [UInt8](unsafeUninitializedCapacity: capacity) { out, initializedCount in
      guard let outBase = out.baseAddress else { return }
      stream.next_out = outBase
      stream.avail_out = UInt32(out.count)
      for segment in 0..<segments {
        let start = segment * segmentLength
        let end = segment == segments - 1 ? source.count : start + segmentLength
        let part = UnsafeRawBufferPointer(rebasing: source[start..<end])
        if level == nil {
          let bits = entropy(part)
          let (partLevel, strategy): (Int32, Int32) =
            bits > 7.2
            ? (0, Z_DEFAULT_STRATEGY) : bits > 2 ? (1, Z_HUFFMAN_ONLY) : (1, Z_DEFAULT_STRATEGY)
          guard deflateParams(&stream, partLevel, strategy) == Z_OK else {
            throw PlexusFormatError(.io, "zlib deflateParams failed")
          }
        }
        stream.next_in = UnsafeMutablePointer(
          mutating: part.baseAddress?.assumingMemoryBound(to: UInt8.self))
        stream.avail_in = UInt32(part.count)
        let flush = segment == segments - 1 ? Z_FINISH : Z_NO_FLUSH
        let status = CZlib.deflate(&stream, flush)
        guard status == (flush == Z_FINISH ? Z_STREAM_END : Z_OK), stream.avail_in == 0 else {
          throw PlexusFormatError(.io, "zlib deflate failed with status \(status)")
        }
      }
      initializedCount = out.count - Int(stream.avail_out)
    }
  }

  /// Inflates one raw deflate stream into exactly `destination.count` bytes.
  ///
  /// - Throws: `PlexusFormatError` when the stream is corrupt, would produce more bytes than
  ///   `destination` holds (inflation stops there), produces fewer, or leaves input unused.
  static func inflate(
    _ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer
  ) throws {
    var stream = z_stream()
    guard inflateInit2_(&stream, -15, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK
    else {
      throw PlexusFormatError(.io, "zlib inflateInit2 failed")
    }
    defer { inflateEnd(&stream) }
    guard let input = source.baseAddress, let output = destination.baseAddress, source.count > 0,
      destination.count > 0
    else {
      throw PlexusFormatError(
        .malformed,
        "a deflate block of \(source.count) stored bytes cannot hold \(destination.count) raw bytes"
      )
    }
    stream.next_in = UnsafeMutablePointer(mutating: input.assumingMemoryBound(to: UInt8.self))
    stream.avail_in = UInt32(source.count)
    stream.next_out = output.assumingMemoryBound(to: UInt8.self)
    stream.avail_out = UInt32(destination.count)
    let status = CZlib.inflate(&stream, Z_FINISH)
    let produced = destination.count - Int(stream.avail_out)
    switch status {
    case Z_STREAM_END:
      guard produced == destination.count else {
        throw PlexusFormatError(
          .malformed, "deflate stream ends after \(produced) bytes, expected \(destination.count)")
      }
      guard stream.avail_in == 0 else {
        throw PlexusFormatError(
          .malformed, "\(stream.avail_in) stored bytes follow the end of the deflate stream")
      }
    case Z_BUF_ERROR where stream.avail_out == 0:
      throw PlexusFormatError(
        .malformed, "deflate stream inflates past its declared size of \(destination.count) bytes")
    case Z_BUF_ERROR:
      throw PlexusFormatError(
        .truncated, "deflate stream ends early: \(produced) of \(destination.count) bytes inflated")
    default:
      let reason = stream.msg.map { String(cString: $0) } ?? "status \(status)"
      throw PlexusFormatError(
        .malformed, "corrupt deflate stream (\(reason)) after \(produced) bytes")
    }
  }
}

extension Float {
  /// The bfloat16 bits of the value (the high half of binary32), rounded to nearest even; NaN
  /// stays a quiet NaN. The `.plexus` file and other formats store bf16 this way.
  public var bfloat16Bits: UInt16 {
    let bits = bitPattern
    if isNaN { return UInt16(truncatingIfNeeded: bits >> 16) | 0x0040 }
    let rounded = bits &+ 0x7FFF &+ ((bits >> 16) & 1)
    return UInt16(truncatingIfNeeded: rounded >> 16)
  }
}
