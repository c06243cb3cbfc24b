import PlexusCore

/// The hyperparameters of a windowed pooling layer (`MaxPool2D.Config`,
/// `AveragePool2D.Config`).
public struct PoolingConfig: LayerConfiguration {
  /// The window `[height, width]`.
  public var poolSize: [Int]
  /// The strides `[height, width]`; `nil` uses the pool size.
  public var strides: [Int]?
  /// How borders are padded (default `valid`).
  public var padding: Padding

  /// Creates a config.
  public init(poolSize: [Int] = [2, 2], strides: [Int]? = nil, padding: Padding = .valid) {
    self.poolSize = poolSize
    self.strides = strides
    self.padding = padding
  }

  private enum CodingKeys: String, CodingKey { case poolSize, strides, padding }

  public init(from decoder: Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    poolSize = try container.decodeIfPresent([Int].self, forKey: .poolSize) ?? [2, 2]
    strides = try container.decodeIfPresent([Int].self, forKey: .strides)
    padding = try container.decodeIfPresent(Padding.self, forKey: .padding) ?? .valid
  }
}

/// The hyperparameters of a global pooling layer (`GlobalMaxPool2D.Config`,
/// `GlobalAveragePool2D.Config`).
public struct GlobalPoolingConfig: LayerConfiguration {
  /// Whether the output keeps the spatial dimensions as `1 x 1`.
  public var keepDims: Bool
  /// Creates a config.
  public init(keepDims: Bool = false) { self.keepDims = keepDims }

  private enum CodingKeys: String, CodingKey { case keepDims }

  public init(from decoder: Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    keepDims = try container.decodeIfPresent(Bool.self, forKey: .keepDims) ?? false
  }
}

/// How a pooling layer reduces a window.
enum PoolingKind {
  case maximum, average
}

/// Windowed pooling over channels-last images, the implementation of `MaxPool2D` and
/// `AveragePool2D`.
struct WindowPooling {
  let kind: PoolingKind
  let config: PoolingConfig
  private var inputShape: [Int]?
  private var outputShape: [Int]?
  private var geometry: ConvolutionGeometry?
  /// Max pooling: the winning input offsets of the last training forward pass.
  private var argmax: [Int32]?
  private var cachedInput: Tensor?
  private var cachedOutputShape: [Int]?

  /// - Throws: `PlexusError.invalidConfiguration` for non-positive pool sizes or strides, or
  ///   negative padding; `layer` names the layer kind in the message.
  init(kind: PoolingKind, config: PoolingConfig, layer: String) throws {
    try Validate.positivePair(config.poolSize, what: "poolSize", layer: layer)
    if let strides = config.strides {
      try Validate.positivePair(strides, what: "strides", layer: layer)
    }
    try config.padding.validate(in: layer)
    self.kind = kind
    self.config = config
  }

  mutating func build(inputShape: [Int], layer: String) throws -> [Int] {
    let geometry = try PoolingKernels.geometry(
      layer: layer, inputShape: inputShape, poolSize: config.poolSize,
      strides: config.strides ?? config.poolSize,
      padding: config.padding)
    self.geometry = geometry
    self.inputShape = inputShape
    let output = [geometry.outputHeight, geometry.outputWidth, geometry.channels]
    outputShape = output
    return output
  }

  mutating func forward(_ input: Tensor, training: Bool, layer: String) throws -> Tensor {
    try ShapeCheck.requireBatch(input, sampleShape: inputShape, layer: layer)
    guard let geometry, let outputShape else {
      throw PlexusError.notBuilt("layer '\(layer)' is not built")
    }
    let batch = input.batchCount
    let shape = [batch] + outputShape
    cachedInput = input
    cachedOutputShape = shape
    switch kind {
    case .average:
      return Tensor(unsafeUninitializedShape: shape) { out in
        input.withUnsafeBufferPointer { x in
          PoolingKernels.averagePool(
            x.baseAddress!, samples: batch, geometry: geometry, into: out.baseAddress!,
            backward: false)
        }
      }
    case .maximum where !training:
      // Inference needs no routing; backward recomputes it if it is asked for.
      argmax = nil
      return Tensor(unsafeUninitializedShape: shape) { out in
        input.withUnsafeBufferPointer { x in
          PoolingKernels.maxPoolForward(
            x.baseAddress!, samples: batch, geometry: geometry, output: out.baseAddress!,
            argmax: nil)
        }
      }
    case .maximum:
      let (output, winners) = Self.maxPool(input, geometry: geometry, shape: shape)
      argmax = winners
      return output
    }
  }

  /// Max pools `input` and records the winning offsets.
  private static func maxPool(_ input: Tensor, geometry: ConvolutionGeometry, shape: [Int]) -> (
    Tensor, [Int32]
  ) {
    let batch = input.batchCount
    var winners = [Int32](repeating: 0, count: shape.reduce(1, *))
    let output = Tensor(unsafeUninitializedShape: shape) { out in
      input.withUnsafeBufferPointer { x in
        winners.withUnsafeMutableBufferPointer { argmax in
          PoolingKernels.maxPoolForward(
            x.baseAddress!, samples: batch, geometry: geometry, output: out.baseAddress!,
            argmax: argmax.baseAddress!)
        }
      }
    }
    return (output, winners)
  }

  mutating func backward(_ outputGradient: Tensor, layer: String) throws -> Tensor {
    try ShapeCheck.requireGradient(outputGradient, matches: cachedOutputShape, layer: layer)
    guard let geometry, let cachedInput else {
      throw PlexusError.notBuilt("layer '\(layer)' is not built")
    }
    let samples = cachedInput.batchCount
    switch kind {
    case .average:
      return Tensor(shape: cachedInput.shape) { dx in
        outputGradient.withUnsafeBufferPointer { dy in
          PoolingKernels.averagePool(
            dy.baseAddress!, samples: samples, geometry: geometry, into: dx.baseAddress!,
            backward: true)
        }
      }
    case .maximum:
      let winners =
        argmax ?? Self.maxPool(cachedInput, geometry: geometry, shape: outputGradient.shape).1
      argmax = winners
      return Tensor(shape: cachedInput.shape) { dx in
        outputGradient.withUnsafeBufferPointer { dy in
          winners.withUnsafeBufferPointer { winners in
            PoolingKernels.maxPoolBackward(
              dy.baseAddress!, argmax: winners.baseAddress!, samples: samples,
              geometry: geometry, inputGradient: dx.baseAddress!)
          }
        }
      }
    }
  }
}

/// Pooling of each channel over all positions, the implementation of `GlobalMaxPool2D` and
/// `GlobalAveragePool2D`.
struct GlobalPooling {
  let kind: PoolingKind
  let config: GlobalPoolingConfig
  private var inputShape: [Int]?
  private var outputShape: [Int]?
  private var cachedOutputShape: [Int]?
  /// Max pooling: the winning offset (within the sample) of each output.
  private var argmax: [Int32] = []

  init(kind: PoolingKind, config: GlobalPoolingConfig) {
    self.kind = kind
    self.config = config
  }

  mutating func build(inputShape: [Int], layer: String) throws -> [Int] {
    try ShapeCheck.require(
      inputShape, rank: 3, layer: layer, expected: "[height, width, channels] (rank 3)")
    self.inputShape = inputShape
    let output = config.keepDims ? [1, 1, inputShape[2]] : [inputShape[2]]
    outputShape = output
    return output
  }

  mutating func forward(_ input: Tensor, layer: String) throws -> Tensor {
    try ShapeCheck.requireBatch(input, sampleShape: inputShape, layer: layer)
    guard let inputShape, let outputShape else {
      throw PlexusError.notBuilt("layer '\(layer)' is not built")
    }
    let batch = input.batchCount
    let positions = inputShape[0] * inputShape[1]
    let channels = inputShape[2]
    let shape = [batch] + outputShape
    cachedOutputShape = shape
    switch kind {
    case .average:
      let scale = 1 / Float(positions)
      return Tensor(shape: shape) { out in
        input.withUnsafeBufferPointer { x in
          for sample in 0..<batch {
            let sums = out.baseAddress! + sample * channels
            var row = x.baseAddress! + sample * positions * channels
            for _ in 0..<positions {
              for channel in 0..<channels { sums[channel] += row[channel] }
              row += channels
            }
            for channel in 0..<channels { sums[channel] *= scale }
          }
        }
      }
    case .maximum:
      var winners = [Int32](repeating: 0, count: batch * channels)
      let output = Tensor(unsafeUninitializedShape: shape) { out in
        input.withUnsafeBufferPointer { x in
          winners.withUnsafeMutableBufferPointer { argmax in
            for sample in 0..<batch {
              let best = out.baseAddress! + sample * channels
              let index = argmax.baseAddress! + sample * channels
              let start = x.baseAddress! + sample * positions * channels
              best.update(from: start, count: channels)
              var row = start + channels
              for position in 1..<Swift.max(positions, 1) {
                let offset = Int32(truncatingIfNeeded: position * channels)
                for channel in 0..<channels where row[channel] > best[channel] {
                  best[channel] = row[channel]
                  index[channel] = offset
                }
                row += channels
              }
            }
          }
        }
      }
      argmax = winners
      return output
    }
  }

  func backward(_ outputGradient: Tensor, layer: String) throws -> Tensor {
    try ShapeCheck.requireGradient(outputGradient, matches: cachedOutputShape, layer: layer)
    guard let inputShape else { throw PlexusError.notBuilt("layer '\(layer)' is not built") }
    let batch = outputGradient.batchCount
    let positions = inputShape[0] * inputShape[1]
    let channels = inputShape[2]
    let kind = self.kind
    return Tensor(shape: [batch] + inputShape) { dx in
      outputGradient.withUnsafeBufferPointer { dy in
        argmax.withUnsafeBufferPointer { winners in
          for sample in 0..<batch {
            let target = dx.baseAddress! + sample * positions * channels
            switch kind {
            case .average:
              let scale = 1 / Float(positions)
              let gradient = dy.baseAddress! + sample * channels
              var row = target
              for _ in 0..<positions {
                for channel in 0..<channels { row[channel] = gradient[channel] * scale }
                row += channels
              }
            case .maximum:
              for channel in 0..<channels {
                let index = sample * channels + channel
                target[Int(winners[index]) + channel] += dy[index]
              }
            }
          }
        }
      }
    }
  }
}
