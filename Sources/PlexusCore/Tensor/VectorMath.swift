import Foundation

/// Exponential, logarithm and the functions built on them, eight lanes at a time.
///
/// The scalar `exp` and `log1p` of the C library cost a function call each and dominate
/// elementwise passes such as sigmoids and free energies. These use the Cephes single-precision
/// polynomials (range reduction by powers of two, then a minimax polynomial), written with
/// plain SIMD arithmetic, so they vectorize on any x86-64 or ARM64 target. Relative error is
/// within a few units in the last place of `Float` over the whole range; arguments beyond
/// `exp`'s range saturate (to about `1.2e-38` below and `2.4e38` above) rather than giving
/// zero or infinity, which keeps sigmoids and softpluses finite and exact to `Float` precision.
///
/// Unoptimized SIMD code is tens of times slower than the scalar library calls it replaces, so
/// in debug builds the buffer helpers (`applySigmoid`, `applyTanh`, `softplusSum`) call the C
/// library per value instead.
public enum VectorMath {
  /// Eight floats.
  public typealias Vector = SIMD8<Float>

  // 1.5 * 2^23: adding it rounds a float of magnitude below 2^22 to an integer, which then
  // sits in the low bits of the sum's representation.
  @usableFromInline static let roundingMagic: Float = 12_582_912
  @usableFromInline static let roundingMagicBits: Int32 = 0x4B40_0000

  /// `e^x` lane by lane, for `x` clamped to `[-87.33, 88.37]`.
  @inlinable @inline(__always) public static func exp(_ x: Vector) -> Vector {
    // Clamp with selects (the generic `clamped` is not inlined).
    var x = x.replacing(with: -87.336_544, where: x .< -87.336_544)
    x = x.replacing(with: 88.376_26, where: x .> 88.376_26)
    // n = round(x / ln 2); r = x - n ln 2 in two parts for accuracy.
    let shifted = x * 1.442_695_04 + roundingMagic
    let n = shifted - roundingMagic
    let nBits = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- roundingMagicBits
    x = x - n * 0.693_359_375 + n * 2.121_944_4e-4
    let z = x * x
    var y: Vector = Vector(repeating: 1.987_569_15e-4)
    y = y * x + 1.398_199_950_7e-3
    y = y * x + 8.333_451_907_3e-3
    y = y * x + 4.166_579_589_4e-2
    y = y * x + 1.666_666_545_9e-1
    y = y * x + 5.000_000_120_1e-1
    y = y * z + x + 1
    let scale = unsafeBitCast((nBits &+ 127) &<< 23, to: Vector.self)
    return y * scale
  }

  /// The natural logarithm lane by lane, for positive, finite, normal `x`.
  @inlinable @inline(__always) public static func log(_ x: Vector) -> Vector {
    let bits = unsafeBitCast(x, to: SIMD8<Int32>.self)
    // x = m 2^e with m in [0.5, 1).
    var exponent = Vector((bits &>> 23) &- 126)
    var m = unsafeBitCast((bits & 0x007F_FFFF) | 0x3F00_0000, to: Vector.self)
    // Move m into [sqrt(0.5), sqrt(2)) so that m - 1 is small.
    let small = m .< 0.707_106_781
    exponent = exponent.replacing(with: exponent - 1, where: small)
    m = m.replacing(with: m + m, where: small) - 1
    let z = m * m
    var y: Vector = Vector(repeating: 7.037_683_629_2e-2)
    y = y * m - 1.151_461_031_0e-1
    y = y * m + 1.167_699_874_0e-1
    y = y * m - 1.242_014_084_6e-1
    y = y * m + 1.424_932_278_7e-1
    y = y * m - 1.666_805_766_5e-1
    y = y * m + 2.000_071_476_5e-1
    y = y * m - 2.499_999_399_3e-1
    y = y * m + 3.333_333_117_4e-1
    y = y * m * z
    y = y - exponent * 2.121_944_4e-4 - 0.5 * z
    return m + y + exponent * 0.693_359_375
  }

  /// `1 / (1 + e^-x)` lane by lane.
  @inlinable @inline(__always) public static func sigmoid(_ x: Vector) -> Vector {
    1 / (1 + exp(-x))
  }

  /// `log(1 + e^x)` lane by lane: `max(x, 0) + log1p(e^-|x|)`.
  @inlinable @inline(__always) public static func softplus(_ x: Vector) -> Vector {
    let magnitude = x.replacing(with: -x, where: x .< 0)
    return x.replacing(with: 0, where: x .< 0) + log1p(exp(-magnitude))
  }

  /// `log(1 + x)` lane by lane for `x > -1`, accurate for tiny `x` too: with `u = 1 + x`
  /// rounded, `log(u) · x / (u - 1)` cancels the rounding of `u` (and is `x` where `u == 1`).
  @inlinable @inline(__always) public static func log1p(_ x: Vector) -> Vector {
    let u = 1 + x
    let d = u - 1
    let exact = d .== 0
    let ratio = x / d.replacing(with: 1, where: exact)
    return (log(u) * ratio).replacing(with: x, where: exact)
  }

  /// `tanh(x)` lane by lane: Cephes' odd polynomial for `|x| < 0.625`, else
  /// `1 - 2 / (e^{2x} + 1)` (exact to `Float` precision there, saturating to ±1).
  @inlinable @inline(__always) public static func tanh(_ x: Vector) -> Vector {
    let magnitude = x.replacing(with: -x, where: x .< 0)
    let z = x * x
    var y: Vector = Vector(repeating: -5.704_988_727_45e-3)
    y = y * z + 2.063_908_879_54e-2
    y = y * z - 5.373_971_555_31e-2
    y = y * z + 1.333_144_220_36e-1
    y = y * z - 3.333_328_194_22e-1
    let small = y * z * x + x
    let large = 1 - 2 / (exp(x + x) + 1)
    return large.replacing(with: small, where: magnitude .< 0.625)
  }

  /// Replaces every value of `buffer` by its sigmoid.
  ///
  /// Debug builds call the C library per value instead: unoptimized SIMD code is tens of times
  /// slower than that, and the results agree to a few units in the last place.
  public static func applySigmoid(_ buffer: UnsafeMutableBufferPointer<Float>) {
    #if DEBUG
      for index in buffer.indices {
        let x = buffer[index]
        let e = Foundation.exp(-Swift.abs(x))
        buffer[index] = (x >= 0 ? 1 : e) / (1 + e)
      }
    #else
      apply(buffer) { sigmoid($0) }
    #endif
  }

  /// Replaces every value of `buffer` by its tanh (the C library's in debug builds).
  public static func applyTanh(_ buffer: UnsafeMutableBufferPointer<Float>) {
    #if DEBUG
      for index in buffer.indices { buffer[index] = Foundation.tanh(buffer[index]) }
    #else
      apply(buffer) { tanh($0) }
    #endif
  }

  /// `Σ softplus(x)` over `values` (through the C library in debug builds).
  public static func softplusSum(_ values: UnsafeBufferPointer<Float>) -> Float {
    #if DEBUG
      return values.reduce(0) {
        $0 + Swift.max($1, 0) + Foundation.log1p(Foundation.exp(-Swift.abs($1)))
      }
    #else
      return sum(values) { softplus($0) }
    #endif
  }

  /// The eight floats at `pointer + offset` (no alignment needed).
  @inlinable @inline(__always) public static func load(
    _ pointer: UnsafePointer<Float>, _ offset: Int
  )
    -> Vector
  {
    UnsafeRawPointer(pointer + offset).loadUnaligned(as: Vector.self)
  }

  /// Stores eight floats at `pointer + offset` (no alignment needed).
  @inlinable @inline(__always) public static func store(
    _ value: Vector, _ pointer: UnsafeMutablePointer<Float>, _ offset: Int
  ) {
    UnsafeMutableRawPointer(pointer + offset).storeBytes(of: value, as: Vector.self)
  }

  /// Applies `body` to `buffer` in place, eight lanes at a time; the tail of fewer than eight
  /// values goes through one padded vector.
  @inlinable @inline(__always) public static func apply(
    _ buffer: UnsafeMutableBufferPointer<Float>, _ body: (Vector) -> Vector
  ) {
    guard let base = buffer.baseAddress else { return }
    let raw = UnsafeMutableRawPointer(base)
    let count = buffer.count
    var index = 0
    while index + 8 <= count {
      let offset = index * 4
      raw.storeBytes(
        of: body(raw.loadUnaligned(fromByteOffset: offset, as: Vector.self)),
        toByteOffset: offset, as: Vector.self)
      index += 8
    }
    guard index < count else { return }
    var tail = Vector()
    for lane in 0..<(count - index) { tail[lane] = buffer[index + lane] }
    let result = body(tail)
    for lane in 0..<(count - index) { buffer[index + lane] = result[lane] }
  }

  /// The sum of `body` over `values`, accumulated in eight lanes (the tail's padding lanes
  /// are not counted).
  @inlinable @inline(__always) public static func sum(
    _ values: UnsafeBufferPointer<Float>, _ body: (Vector) -> Vector
  ) -> Float {
    guard let base = values.baseAddress else { return 0 }
    let raw = UnsafeRawPointer(base)
    let count = values.count
    var total = Vector()
    var index = 0
    while index + 8 <= count {
      total += body(raw.loadUnaligned(fromByteOffset: index * 4, as: Vector.self))
      index += 8
    }
    var result = total.sum()
    guard index < count else { return result }
    var tail = Vector()
    for lane in 0..<(count - index) { tail[lane] = values[index + lane] }
    let tailResult = body(tail)
    for lane in 0..<(count - index) { result += tailResult[lane] }
    return result
  }
}
