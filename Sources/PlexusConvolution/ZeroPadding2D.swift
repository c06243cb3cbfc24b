import PlexusCore

/// Adds rows and columns of zeros around channels-last images: `[N, H, W, C]` becomes
/// `[N, top + H + bottom, left + W + right, C]`.
///
/// ```swift
/// let pad = try ZeroPadding2D(1)                       // one pixel on every side
/// let asymmetric = try ZeroPadding2D(top: 0, bottom: 1, left: 0, right: 1)
/// ```
public final class ZeroPadding2D: UnaryLayer {
  /// The hyperparameters of a zero padding layer. In JSON every amount is required; an
  /// unknown key is an error.
  public struct Config: DefaultedConfiguration {
    /// Rows added above.
    public var top: Int
    /// Rows added below.
    public var bottom: Int
    /// Columns added on the left.
    public var left: Int
    /// Columns added on the right.
    public var right: Int

    /// Creates a config.
    public init(top: Int, bottom: Int, left: Int, right: Int) {
      self.top = top
      self.bottom = bottom
      self.left = left
      self.right = right
    }

    public static var defaults: Config { Config(top: 0, bottom: 0, left: 0, right: 0) }
    public static var fields: [ConfigField<Config>] {
      [
        .required("top", \.top), .required("bottom", \.bottom), .required("left", \.left),
        .required("right", \.right),
      ]
    }
  }

  public static let typeName = "plexus.zero_padding2d"
  public let state = LayerState()
  public let config: Config
  /// The per-sample input shape `[H, W, C]` the layer was built for.
  private let inputShape = BuildValue<[Int]>()

  /// - Throws: `PlexusError.invalidConfiguration` for an amount out of
  ///   `0...16777216` (2^24).
  public init(config: Config) throws {
    guard
      [config.top, config.bottom, config.left, config.right].allSatisfy({
        $0 >= 0 && $0 <= Validate.maximumExtent
      })
    else {
      throw PlexusError.invalidConfiguration(
        "zero_padding2d amounts must be in 0...\(Validate.maximumExtent), got top \(config.top), "
          + "bottom \(config.bottom), left \(config.left), right \(config.right)")
    }
    self.config = config
  }

  /// Creates a padding layer with explicit amounts per side.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` for an amount out of range.
  public convenience init(top: Int, bottom: Int, left: Int, right: Int, name: String = "") throws {
    try self.init(config: Config(top: top, bottom: bottom, left: left, right: right))
    self.name = name
  }

  /// Creates a padding layer that adds `amount` on every side.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` for an amount out of range.
  public convenience init(_ amount: Int, name: String = "") throws {
    try self.init(top: amount, bottom: amount, left: amount, right: amount, name: name)
  }

  public func build(for inputShape: SymbolicShape) throws -> SymbolicShape {
    let shape = try Validate.input(
      inputShape, rank: 3, layer: name, expected: "[height, width, channels] (rank 3)")
    let output = [
      shape[0] + config.top + config.bottom, shape[1] + config.left + config.right, shape[2],
    ]
    try Validate.sampleSize(output, layer: name)
    self.inputShape.value = shape
    return output.map { $0 }
  }

  /// Copies each input row into (`pad == true`) or out of (`pad == false`) the padded layout.
  private func copyRows(
    batch: Int, inputShape: [Int], padded: UnsafeMutablePointer<Float>,
    plain: UnsafeMutablePointer<Float>, pad: Bool
  ) {
    let (height, width, channels) = (inputShape[0], inputShape[1], inputShape[2])
    let rowLength = width * channels
    let paddedRowLength = (width + config.left + config.right) * channels
    let paddedSample = (height + config.top + config.bottom) * paddedRowLength
    for sample in 0..<batch {
      for row in 0..<height {
        let source = plain + (sample * height + row) * rowLength
        let target =
          padded + sample * paddedSample + (row + config.top) * paddedRowLength + config.left
          * channels
        if pad {
          target.update(from: source, count: rowLength)
        } else {
          source.update(from: target, count: rowLength)
        }
      }
    }
  }

  public func forward(_ input: Tensor, record: CallRecord) throws -> Tensor {
    let inputShape = try self.inputShape.get(layer: name)
    let shape = [
      input.batchCount, inputShape[0] + config.top + config.bottom,
      inputShape[1] + config.left + config.right, inputShape[2],
    ]
    return Tensor(shape: shape) { out in
      input.withUnsafeBufferPointer { x in
        // Read-only here: `pad == true` only reads `plain`.
        copyRows(
          batch: input.batchCount, inputShape: inputShape, padded: out.baseAddress!,
          plain: UnsafeMutablePointer(mutating: x.baseAddress!), pad: true)
      }
    }
  }

  public func backward(_ outputGradient: Tensor, record: CallRecord, computingInputGradient: Bool)
    throws -> Tensor?
  {
    guard computingInputGradient else { return nil }
    let inputShape = try self.inputShape.get(layer: name)
    return Tensor(shape: record.inputs[0].shape) { dx in
      outputGradient.withUnsafeBufferPointer { dy in
        // Read-only here: `pad == false` only reads `padded`.
        copyRows(
          batch: outputGradient.batchCount, inputShape: inputShape,
          padded: UnsafeMutablePointer(mutating: dy.baseAddress!), plain: dx.baseAddress!,
          pad: false)
      }
    }
  }
}
