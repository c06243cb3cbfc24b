import Foundation

/// A fast, seedable random number generator (xoshiro256**), seeded through SplitMix64.
///
/// Every random thing in Plexus (initialization, shuffling, dropout, sampling) takes a seed
/// and draws from this generator, so the same seed gives the same model on every platform.
public struct SeededGenerator: RandomNumberGenerator, Sendable, Equatable {
  @usableFromInline var state: (UInt64, UInt64, UInt64, UInt64)

  /// Creates a generator whose sequence is fully determined by `seed`.
  public init(seed: UInt64) {
    var splitMix = seed
    func next() -> UInt64 {
      splitMix &+= 0x9E37_79B9_7F4A_7C15
      var z = splitMix
      z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
      z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
      return z ^ (z >> 31)
    }
    state = (next(), next(), next(), next())
  }

  public static func == (lhs: SeededGenerator, rhs: SeededGenerator) -> Bool {
    lhs.state == rhs.state
  }

  /// The next 64 random bits.
  @inlinable public mutating func next() -> UInt64 {
    let result = rotateLeft(state.1 &* 5, 7) &* 9
    let t = state.1 << 17
    state.2 ^= state.0
    state.3 ^= state.1
    state.1 ^= state.2
    state.0 ^= state.3
    state.2 ^= t
    state.3 = rotateLeft(state.3, 45)
    return result
  }

  @inlinable func rotateLeft(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

  /// A uniform `Float` in `[0, 1)`.
  @inlinable public mutating func nextUnitFloat() -> Float {
    Float(next() >> 40) * (1.0 / Float(1 << 24))
  }

  /// A uniform `Float` in `[low, high)`.
  public mutating func nextFloat(in range: Range<Float>) -> Float {
    range.lowerBound + (range.upperBound - range.lowerBound) * nextUnitFloat()
  }

  /// A standard normal sample (Box-Muller).
  public mutating func nextNormal() -> Float {
    var u1 = Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
    if u1 < Double.leastNormalMagnitude { u1 = Double.leastNormalMagnitude }
    let u2 = Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
    return Float((-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2))
  }

  /// A derived generator for an independent stream (for example one per layer).
  public mutating func split() -> SeededGenerator { SeededGenerator(seed: next()) }

  /// The generator's whole state, four 64-bit words: saved with a model so that training
  /// resumes with the same draws (`init(stateWords:)` restores it).
  public var stateWords: [UInt64] { [state.0, state.1, state.2, state.3] }

  /// A generator continuing from a saved state.
  ///
  /// - Throws: `PlexusError.invalidArgument` unless there are four words, not all zero (the
  ///   one state xoshiro256** cannot leave).
  public init(stateWords words: [UInt64]) throws {
    guard words.count == 4, words.contains(where: { $0 != 0 }) else {
      throw PlexusError.invalidArgument(
        "a generator state is four 64-bit words, not all zero; got \(words.count) word(s)"
          + (words.count == 4 ? " that are all zero" : ""))
    }
    state = (words[0], words[1], words[2], words[3])
  }
}

extension Tensor {
  /// A tensor of uniform samples in `[low, high)`.
  public static func uniform(
    _ shape: [Int], low: Float, high: Float, using generator: inout SeededGenerator
  ) -> Tensor {
    var tensor = Tensor.zeros(shape)
    tensor.withUnsafeMutableBufferPointer { buffer in
      for index in buffer.indices { buffer[index] = generator.nextFloat(in: low..<high) }
    }
    return tensor
  }

  /// A tensor of normal samples with the given mean and standard deviation.
  public static func normal(
    _ shape: [Int], mean: Float = 0, standardDeviation: Float = 1,
    using generator: inout SeededGenerator
  ) -> Tensor {
    var tensor = Tensor.zeros(shape)
    tensor.withUnsafeMutableBufferPointer { buffer in
      for index in buffer.indices {
        buffer[index] = mean + standardDeviation * generator.nextNormal()
      }
    }
    return tensor
  }
}

/// How a weight tensor is initialized, as in Keras (`glorot_uniform`, `he_normal`, ...).
public enum Initializer: String, Codable, Sendable, CaseIterable {
  case zeros
  case ones
  case glorotUniform = "glorot_uniform"
  case glorotNormal = "glorot_normal"
  case heUniform = "he_uniform"
  case heNormal = "he_normal"
  case lecunUniform = "lecun_uniform"
  case lecunNormal = "lecun_normal"

  /// A tensor of `shape` initialized for a layer with the given fan-in and fan-out.
  ///
  /// In a `ParameterAllocation` context that does not draw initial values (model loading) the
  /// tensor is zero.
  ///
  /// - Throws: `PlexusError.invalidShape` when the shape overflows or exceeds the current
  ///   `ParameterAllocation` limit.
  public func make(
    shape: [Int], fanIn: Int, fanOut: Int, using generator: inout SeededGenerator
  ) throws -> Tensor {
    _ = try ParameterAllocation.check(shape)
    guard ParameterAllocation.current.drawsInitialValues else { return .zeros(shape) }
    let fanIn = Float(Swift.max(fanIn, 1))
    let fanOut = Float(Swift.max(fanOut, 1))
    switch self {
    case .zeros: return .zeros(shape)
    case .ones: return Tensor(shape: shape, repeating: 1)
    case .glorotUniform:
      let limit = (6 / (fanIn + fanOut)).squareRoot()
      return .uniform(shape, low: -limit, high: limit, using: &generator)
    case .glorotNormal:
      return .normal(
        shape, standardDeviation: (2 / (fanIn + fanOut)).squareRoot(), using: &generator)
    case .heUniform:
      let limit = (6 / fanIn).squareRoot()
      return .uniform(shape, low: -limit, high: limit, using: &generator)
    case .heNormal:
      return .normal(shape, standardDeviation: (2 / fanIn).squareRoot(), using: &generator)
    case .lecunUniform:
      let limit = (3 / fanIn).squareRoot()
      return .uniform(shape, low: -limit, high: limit, using: &generator)
    case .lecunNormal:
      return .normal(shape, standardDeviation: (1 / fanIn).squareRoot(), using: &generator)
    }
  }
}
