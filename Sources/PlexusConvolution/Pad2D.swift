import PlexusCore

/// How `Pad2D` fills the rows and columns it adds.
public enum PaddingMode: String, Codable, Sendable, CaseIterable {
  /// A constant value (`Pad2D.Config.value`, default 0).
  case constant
  /// The mirror image of the input without repeating its border (`[a b c]` padded by 2 on the
  /// left is `[c b a b c]`, NumPy's and ONNX's `reflect`, PyTorch's `ReflectionPad2d`).
  case reflect
  /// Copies of the border row or column (`[a a a b c]`, ONNX's `edge`, PyTorch's
  /// `ReplicationPad2d`).
  case edge
}

/// Adds rows and columns around channels-last images, filled with a constant, the mirrored
/// input or copies of its border: `[N, H, W, C]` becomes
/// `[N, top + H + bottom, left + W + right, C]`. The backward pass adds the gradient of every
/// added position to the input position it copies (none for a constant).
///
/// ```swift
/// let reflect = try Pad2D(top: 1, bottom: 1, left: 2, right: 2, mode: .reflect)
/// ```
public final class Pad2D: UnaryLayer {
  /// The hyperparameters of a padding layer. In JSON `padding` is required (`[[top, bottom],
  /// [left, right]]`); `mode` defaults to `constant` and `value` to 0; an unknown key is an
  /// error.
  public struct Config: DefaultedConfiguration {
    /// `[[top, bottom], [left, right]]`, each amount in `0...16777216` (2^24).
    public var padding: [[Int]]
    /// How the added positions are filled.
    public var mode: PaddingMode
    /// The fill value of `constant` mode (must stay 0 in the other modes).
    public var value: Float

    /// Creates a config.
    public init(padding: [[Int]], mode: PaddingMode = .constant, value: Float = 0) {
      self.padding = padding
      self.mode = mode
      self.value = value
    }

    public static var defaults: Config { Config(padding: [[0, 0], [0, 0]]) }
    public static var fields: [ConfigField<Config>] {
      [.required("padding", \.padding), .init("mode", \.mode), .init("value", \.value)]
    }
  }

  public static let typeName = "plexus.pad2d"
  public let state = LayerState()
  public let config: Config
  private let top: Int
  private let bottom: Int
  private let left: Int
  private let right: Int
  /// The per-sample input shape `[H, W, C]` the layer was built for.
  private let inputShape = BuildValue<[Int]>()

  /// - Throws: `PlexusError.invalidConfiguration` unless `padding` is two pairs of amounts in
  ///   `0...16777216`, and for a non-finite value or a value in another mode than `constant`.
  public init(config: Config) throws {
    let padding = config.padding
    guard padding.count == 2, padding.allSatisfy({ $0.count == 2 }) else {
      throw PlexusError.invalidConfiguration(
        "pad2d padding must be [[top, bottom], [left, right]], got \(padding)")
    }
    guard padding.joined().allSatisfy({ $0 >= 0 && $0 <= Validate.maximumExtent }) else {
      throw PlexusError.invalidConfiguration(
        "pad2d padding amounts must be in 0...\(Validate.maximumExtent), got \(padding)")
    }
    guard config.value.isFinite else {
      throw PlexusError.invalidConfiguration("pad2d value must be finite, got \(config.value)")
    }
    guard config.mode == .constant || config.value == 0 else {
      throw PlexusError.invalidConfiguration(
        "pad2d value applies to constant mode only, got value \(config.value) in mode "
          + config.mode.rawValue)
    }
    self.config = config
    (top, bottom, left, right) = (padding[0][0], padding[0][1], padding[1][0], padding[1][1])
  }

  /// Creates a padding layer with explicit amounts per side.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` for an amount or a value out of range.
  public convenience init(
    top: Int, bottom: Int, left: Int, right: Int, mode: PaddingMode = .constant,
    value: Float = 0, name: String = ""
  ) throws {
    try self.init(
      config: Config(padding: [[top, bottom], [left, right]], mode: mode, value: value))
    self.name = name
  }

  public var parameters: [Parameter] { [] }

  public func build(for inputShape: SymbolicShape) throws -> SymbolicShape {
    let expected = "[height, width, channels] (rank 3)"
    let shape = try Validate.input(inputShape, rank: 3, layer: name, expected: expected)
    if config.mode == .reflect,
      top >= shape[0] || bottom >= shape[0] || left >= shape[1] || right >= shape[1]
    {
      throw PlexusError.shapeMismatch(
        layer: name,
        expected: "an input taller than top \(top) and bottom \(bottom) and wider than left "
          + "\(left) and right \(right) (reflect padding mirrors the input without its border)",
        found: shape)
    }
    let output = [shape[0] + top + bottom, shape[1] + left + right, shape[2]]
    try Validate.sampleSize(output, layer: name)
    self.inputShape.value = shape
    return output.map { $0 }
  }

  /// For each padded index along an axis of `size` positions with `before` added in front,
  /// the input index it copies, or `-1` for a constant.
  private func sourceIndices(size: Int, before: Int, after: Int) -> [Int] {
    (0..<(before + size + after)).map { padded in
      let index = padded - before
      if index >= 0 && index < size { return index }
      switch config.mode {
      case .constant: return -1
      case .edge: return Swift.min(Swift.max(index, 0), size - 1)
      case .reflect: return index < 0 ? -index : 2 * (size - 1) - index
      }
    }
  }

  public func forward(_ input: Tensor, record: CallRecord) throws -> Tensor {
    let shape = try inputShape.get(layer: name)
    let (height, width, channels) = (shape[0], shape[1], shape[2])
    let rows = sourceIndices(size: height, before: top, after: bottom)
    let columns = sourceIndices(size: width, before: left, after: right)
    let batch = input.batchCount
    let fill = config.value
    return Tensor(unsafeUninitializedShape: [batch, rows.count, columns.count, channels]) { out in
      input.withUnsafeBufferPointer { x in
        guard let source = x.baseAddress, var target = out.baseAddress else { return }
        for sample in 0..<batch {
          let image = source + sample * height * width * channels
          for row in rows {
            for column in columns {
              if row < 0 || column < 0 {
                target.update(repeating: fill, count: channels)
              } else {
                target.update(from: image + (row * width + column) * channels, count: channels)
              }
              target += channels
            }
          }
        }
      }
    }
  }

  /// Adds the gradient of every output position to the input position it copies.
  public func backward(_ outputGradient: Tensor, record: CallRecord, computingInputGradient: Bool)
    throws -> Tensor?
  {
    guard computingInputGradient else { return nil }
    let shape = try inputShape.get(layer: name)
    let (height, width, channels) = (shape[0], shape[1], shape[2])
    let rows = sourceIndices(size: height, before: top, after: bottom)
    let columns = sourceIndices(size: width, before: left, after: right)
    let batch = outputGradient.batchCount
    return Tensor(shape: [batch, height, width, channels]) { dx in
      outputGradient.withUnsafeBufferPointer { dy in
        guard let target = dx.baseAddress, var source = dy.baseAddress else { return }
        for sample in 0..<batch {
          let image = target + sample * height * width * channels
          for row in rows {
            for column in columns {
              if row >= 0 && column >= 0 {
                let position = image + (row * width + column) * channels
                for channel in 0..<channels { position[channel] += source[channel] }
              }
              source += channels
            }
          }
        }
      }
    }
  }
}
