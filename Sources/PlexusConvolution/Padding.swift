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

  /// Throws unless explicit amounts are in `0...Validate.maximumExtent`.
  func validate(in layer: String) throws {
    if case .explicit(let top, let bottom, let left, let right) = self,
      [top, bottom, left, right].contains(where: { $0 < 0 || $0 > Validate.maximumExtent })
    {
      throw PlexusError.invalidConfiguration(
        "\(layer) padding amounts must be in 0...\(Validate.maximumExtent), got top \(top), "
          + "bottom \(bottom), left \(left), right \(right)")
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
  /// The object form of explicit padding: an omitted side is 0, another key is an error.
  private struct ExplicitAmounts: DefaultedConfiguration {
    var top = 0
    var bottom = 0
    var left = 0
    var right = 0

    static var defaults: ExplicitAmounts { ExplicitAmounts() }
    static var fields: [ConfigField<ExplicitAmounts>] {
      [
        .init("top", \.top), .init("bottom", \.bottom), .init("left", \.left),
        .init("right", \.right),
      ]
    }
  }

  /// Decodes `"valid"`, `"same"` or an object of explicit amounts (omitted sides are 0).
  ///
  /// - Throws: `PlexusError.invalidConfiguration` for another string or an object with another
  ///   key; `DecodingError` for a malformed amount.
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
    let amounts = try ExplicitAmounts(from: decoder)
    self = .explicit(
      top: amounts.top, bottom: amounts.bottom, left: amounts.left, right: amounts.right)
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
      try ExplicitAmounts(top: top, bottom: bottom, left: left, right: right).encode(to: encoder)
    }
  }
}

/// Validation helpers shared by the layers of this module.
enum Validate {
  /// The largest kernel size, stride, dilation, pool size, padding amount or upsampling
  /// factor (2^24): no real input is larger, and the bound keeps every shape computation far
  /// from overflowing.
  static let maximumExtent = 1 << 24

  /// Throws unless `values` has `count` entries in `1...maximumExtent`.
  static func extents(_ values: [Int], count: Int = 2, what: String, layer: String) throws {
    guard values.count == count, values.allSatisfy({ $0 > 0 && $0 <= maximumExtent }) else {
      throw PlexusError.invalidConfiguration(
        "\(layer) \(what) must be \(count) integers in 1...\(maximumExtent), got \(values)")
    }
  }

  /// Throws unless `value` is in `1...maximumExtent`.
  static func extent(_ value: Int, what: String, layer: String) throws {
    guard value > 0, value <= maximumExtent else {
      throw PlexusError.invalidConfiguration(
        "\(layer) \(what) must be in 1...\(maximumExtent), got \(value)")
    }
  }

  /// The fixed per-sample input shape of `rank` dimensions, every one known and positive and
  /// the sample at most `ParameterAllocation.maximumSampleElements` values.
  ///
  /// - Throws: `PlexusError.shapeMismatch` naming `layer` with `expected`, or
  ///   `PlexusError.invalidShape` for a sample too large.
  static func input(_ shape: SymbolicShape, rank: Int, layer: String, expected: String) throws
    -> [Int]
  {
    let dimensions = try ShapeCheck.require(shape, rank: rank, layer: layer, expected: expected)
    try sampleSize(dimensions, layer: layer)
    return dimensions
  }

  /// Throws `PlexusError.invalidShape` naming `layer` unless a per-sample shape holds at most
  /// `ParameterAllocation.maximumSampleElements` values (its count is overflow-checked).
  static func sampleSize(_ shape: [Int], layer: String) throws {
    let count = try Tensor.elementCount(of: shape)
    guard count <= ParameterAllocation.maximumSampleElements else {
      throw PlexusError.invalidShape(
        "layer '\(layer)': samples of shape \(shape) would hold \(count) values, more than "
          + "\(ParameterAllocation.maximumSampleElements)")
    }
  }

  /// Throws `PlexusError.invalidShape` naming `layer` unless every offset within a sample of
  /// `shape` fits the 32-bit routing of max pooling.
  static func routable(_ shape: [Int], layer: String) throws {
    let count = try Tensor.elementCount(of: shape)
    guard count <= Int(Int32.max) else {
      throw PlexusError.invalidShape(
        "layer '\(layer)': max pooling takes samples of at most \(Int32.max) values, "
          + "got shape \(shape) (\(count) values)")
    }
  }
}
