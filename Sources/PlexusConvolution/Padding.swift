import PlexusCore

/// How a convolution or pooling window treats the borders of its input, as in Keras.
///
/// Encodes to JSON as `"valid"`, `"same"` or an object of explicit per-side amounts
/// (`{"top": 1, "bottom": 1, "left": 2, "right": 0}`).
public enum Padding: Sendable, Equatable, Hashable {
  /// No padding: windows lie entirely inside the input.
  case valid
  /// Pads so that the output extent is `ceil(input / stride)`; when the total padding of an
  /// axis is odd, the extra row or column goes to the bottom or right (as Keras and
  /// TensorFlow do).
  case same
  /// Explicit zero rows and columns on each side.
  case explicit(top: Int, bottom: Int, left: Int, right: Int)

  /// The output extent and padding before and after along one axis.
  ///
  /// - Returns: `nil` when the dilated kernel is larger than the padded input.
  public func resolve(
    input: Int, kernel: Int, stride: Int, dilation: Int, axis: PaddingAxis
  ) -> (output: Int, before: Int, after: Int)? {
    let effective = dilation * (kernel - 1) + 1
    let before: Int
    let after: Int
    switch self {
    case .valid:
      before = 0
      after = 0
    case .same:
      let output = (input + stride - 1) / stride
      let total = Swift.max((output - 1) * stride + effective - input, 0)
      return (output, total / 2, total - total / 2)
    case .explicit(let top, let bottom, let left, let right):
      before = axis == .height ? top : left
      after = axis == .height ? bottom : right
    }
    let padded = input + before + after
    guard padded >= effective else { return nil }
    return ((padded - effective) / stride + 1, before, after)
  }

  /// Throws unless explicit amounts are non-negative.
  func validate(in layer: String) throws {
    if case .explicit(let top, let bottom, let left, let right) = self,
      [top, bottom, left, right].contains(where: { $0 < 0 })
    {
      throw PlexusError.invalidConfiguration(
        "\(layer) padding amounts must be non-negative, got top \(top), bottom \(bottom), left \(left), right \(right)"
      )
    }
  }
}

/// The axis a padding amount applies to.
public enum PaddingAxis: Sendable {
  /// Rows (top and bottom).
  case height
  /// Columns (left and right).
  case width
}

extension Padding: Codable {
  private enum CodingKeys: String, CodingKey { case top, bottom, left, right }

  public init(from decoder: Decoder) throws {
    if let single = try? decoder.singleValueContainer(), let name = try? single.decode(String.self)
    {
      switch name {
      case "valid": self = .valid
      case "same": self = .same
      default:
        throw PlexusError.invalidConfiguration(
          "unknown padding '\(name)'; expected \"valid\", \"same\" or {\"top\", \"bottom\", \"left\", \"right\"}"
        )
      }
      return
    }
    let container = try decoder.container(keyedBy: CodingKeys.self)
    self = .explicit(
      top: try container.decodeIfPresent(Int.self, forKey: .top) ?? 0,
      bottom: try container.decodeIfPresent(Int.self, forKey: .bottom) ?? 0,
      left: try container.decodeIfPresent(Int.self, forKey: .left) ?? 0,
      right: try container.decodeIfPresent(Int.self, forKey: .right) ?? 0)
  }

  public func encode(to encoder: Encoder) throws {
    switch self {
    case .valid:
      var container = encoder.singleValueContainer()
      try container.encode("valid")
    case .same:
      var container = encoder.singleValueContainer()
      try container.encode("same")
    case .explicit(let top, let bottom, let left, let right):
      var container = encoder.container(keyedBy: CodingKeys.self)
      try container.encode(top, forKey: .top)
      try container.encode(bottom, forKey: .bottom)
      try container.encode(left, forKey: .left)
      try container.encode(right, forKey: .right)
    }
  }
}

/// Validation helpers shared by the layers of this module.
enum Validate {
  /// Throws unless `values` has `count` positive entries.
  static func positivePair(_ values: [Int], count: Int = 2, what: String, layer: String) throws {
    guard values.count == count, values.allSatisfy({ $0 > 0 }) else {
      throw PlexusError.invalidConfiguration(
        "\(layer) \(what) must be \(count) positive integers, got \(values)")
    }
  }
}
