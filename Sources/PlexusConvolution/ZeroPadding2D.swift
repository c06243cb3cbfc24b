import PlexusCore

/// Adds rows and columns of zeros around channels-last images: `[N, H, W, C]` becomes
/// `[N, top + H + bottom, left + W + right, C]`.
///
/// ```swift
/// let pad = try ZeroPadding2D(1)                       // one pixel on every side
/// let asymmetric = try ZeroPadding2D(top: 0, bottom: 1, left: 0, right: 1)
/// ```
public final class ZeroPadding2D: Layer {
  /// The hyperparameters of a zero padding layer.
  public struct Config: LayerConfiguration {
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
  }

  public static let typeName = "plexus.zero_padding2d"
  public var name = ""
  public let config: Config
  private var inputShape: [Int]?
  private var outputShape: [Int]?
  private var cachedOutputShape: [Int]?

  /// - Throws: `PlexusError.invalidConfiguration` for a negative amount.
  public init(config: Config) throws {
    guard [config.top, config.bottom, config.left, config.right].allSatisfy({ $0 >= 0 }) else {
      throw PlexusError.invalidConfiguration(
        "zero_padding2d amounts must be non-negative, got top \(config.top), bottom \(config.bottom), "
          + "left \(config.left), right \(config.right)")
    }
    self.config = config
  }

  /// Creates a padding layer with explicit amounts per side.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` for a negative amount.
  public convenience init(top: Int, bottom: Int, left: Int, right: Int, name: String = "") throws {
    try self.init(config: Config(top: top, bottom: bottom, left: left, right: right))
    self.name = name
  }

  /// Creates a padding layer that adds `amount` on every side.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` for a negative amount.
  public convenience init(_ amount: Int, name: String = "") throws {
    try self.init(top: amount, bottom: amount, left: amount, right: amount, name: name)
  }

  public func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    try ShapeCheck.require(
      inputShape, rank: 3, layer: name, expected: "[height, width, channels] (rank 3)")
    self.inputShape = inputShape
    let output = [
      inputShape[0] + config.top + config.bottom, inputShape[1] + config.left + config.right,
      inputShape[2],
    ]
    outputShape = output
    return output
  }

  /// Copies each input row into (`pad == true`) or out of (`pad == false`) the padded layout.
  private func copyRows(
    batch: Int, padded: UnsafeMutablePointer<Float>, plain: UnsafeMutablePointer<Float>, pad: Bool
  ) {
    guard let inputShape, let outputShape else { return }
    let (height, width, channels) = (inputShape[0], inputShape[1], inputShape[2])
    let rowLength = width * channels
    let paddedRowLength = outputShape[1] * channels
    let paddedSample = outputShape[0] * paddedRowLength
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

  public func forward(_ input: Tensor, training: Bool) throws -> Tensor {
    try ShapeCheck.requireBatch(input, sampleShape: inputShape, layer: name)
    guard let outputShape else { throw PlexusError.notBuilt("layer '\(name)' is not built") }
    let shape = [input.batchCount] + outputShape
    cachedOutputShape = shape
    return Tensor(shape: shape) { out in
      input.withUnsafeBufferPointer { x in
        // Read-only here: `pad == true` only reads `plain`.
        copyRows(
          batch: input.batchCount, padded: out.baseAddress!,
          plain: UnsafeMutablePointer(mutating: x.baseAddress!),
          pad: true)
      }
    }
  }

  public func backward(_ outputGradient: Tensor) throws -> Tensor {
    try ShapeCheck.requireGradient(outputGradient, matches: cachedOutputShape, layer: name)
    guard let inputShape else { throw PlexusError.notBuilt("layer '\(name)' is not built") }
    return Tensor(shape: [outputGradient.batchCount] + inputShape) { dx in
      outputGradient.withUnsafeBufferPointer { dy in
        // Read-only here: `pad == false` only reads `padded`.
        copyRows(
          batch: outputGradient.batchCount, padded: UnsafeMutablePointer(mutating: dy.baseAddress!),
          plain: dx.baseAddress!, pad: false)
      }
    }
  }
}
