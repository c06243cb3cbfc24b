import PlexusCore

/// The hyperparameters of a windowed pooling layer (`MaxPool2D.Config`,
/// `AveragePool2D.Config`). Omitted JSON fields take the defaults of `init`; an unknown key is
/// an error.
public struct PoolingConfig: DefaultedConfiguration {
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

  public static var defaults: PoolingConfig { PoolingConfig() }
  public static var fields: [ConfigField<PoolingConfig>] {
    [.init("poolSize", \.poolSize), .init("strides", \.strides), .init("padding", \.padding)]
  }
}

/// The hyperparameters of a global pooling layer (`GlobalMaxPool2D.Config`,
/// `GlobalAveragePool2D.Config`). An omitted `keepDims` is `false`; an unknown key is an error.
public struct GlobalPoolingConfig: DefaultedConfiguration {
  /// Whether the output keeps the spatial dimensions as `1 x 1`.
  public var keepDims: Bool
  /// Creates a config.
  public init(keepDims: Bool = false) { self.keepDims = keepDims }

  public static var defaults: GlobalPoolingConfig { GlobalPoolingConfig() }
  public static var fields: [ConfigField<GlobalPoolingConfig>] { [.init("keepDims", \.keepDims)] }
}

/// How a pooling layer reduces a window.
enum PoolingKind: Sendable {
  case maximum, average
}

/// Where max pooling routes the gradient: per output element, the offset within its sample of
/// the input element that won. A call's record keeps it in `scratch`, reused from one call to
/// the next.
final class PoolingRouting {
  /// The winning offsets of the last call that recorded them.
  var winners: [Int32] = []
  /// Whether `winners` belongs to the record's current call (inference skips the routing).
  var isCurrent = false

  /// The routing kept in `record`, created there on the call's first use.
  static func of(_ record: CallRecord) -> PoolingRouting {
    if let routing = record.scratch as? PoolingRouting { return routing }
    let routing = PoolingRouting()
    record.scratch = routing
    return routing
  }

  /// Resizes `winners` to `count` entries, keeping the storage when the size is unchanged.
  func reserve(_ count: Int) {
    if winners.count != count { winners = [Int32](repeating: 0, count: count) }
  }
}

/// Windowed pooling over channels-last images, the implementation of `MaxPool2D` and
/// `AveragePool2D`. The geometry is worked out in `build`; the routing of a call is kept in
/// its record.
struct WindowPooling: Sendable {
  let kind: PoolingKind
  let config: PoolingConfig
  private let geometry = BuildValue<ConvolutionGeometry>()

  /// - Throws: `PlexusError.invalidConfiguration` for pool sizes, strides or padding amounts
  ///   out of range; `layer` names the layer kind in the message.
  init(kind: PoolingKind, config: PoolingConfig, layer: String) throws {
    try Validate.extents(config.poolSize, what: "poolSize", layer: layer)
    if let strides = config.strides {
      try Validate.extents(strides, what: "strides", layer: layer)
    }
    try config.padding.validate(in: layer)
    self.kind = kind
    self.config = config
  }

  func build(inputShape: SymbolicShape, layer: String) throws -> SymbolicShape {
    let shape = try Validate.input(
      inputShape, rank: 3, layer: layer, expected: "[height, width, channels] (rank 3)")
    if kind == .maximum { try Validate.routable(shape, layer: layer) }
    let geometry = try PoolingKernels.geometry(
      layer: layer, inputShape: shape, poolSize: config.poolSize,
      strides: config.strides ?? config.poolSize, padding: config.padding)
    self.geometry.value = geometry
    return [geometry.outputHeight, geometry.outputWidth, geometry.channels]
  }

  func forward(_ input: Tensor, record: CallRecord, layer: String) throws -> Tensor {
    let geometry = try geometry.get(layer: layer)
    let batch = input.batchCount
    let shape = [batch, geometry.outputHeight, geometry.outputWidth, geometry.channels]
    switch kind {
    case .average:
      return Tensor(unsafeUninitializedShape: shape) { out in
        input.withUnsafeBufferPointer { x in
          PoolingKernels.averagePool(
            x.baseAddress!, samples: batch, geometry: geometry, into: out.baseAddress!,
            backward: false)
        }
      }
    case .maximum where !record.isTraining:
      // Inference needs no routing; backward works it out if it is asked for.
      (record.scratch as? PoolingRouting)?.isCurrent = false
      return Tensor(unsafeUninitializedShape: shape) { out in
        input.withUnsafeBufferPointer { x in
          PoolingKernels.maxPoolForward(
            x.baseAddress!, samples: batch, geometry: geometry, output: out.baseAddress!,
            argmax: nil)
        }
      }
    case .maximum:
      return Self.maxPool(
        input, geometry: geometry, shape: shape, routing: PoolingRouting.of(record))
    }
  }

  /// Max pools `input` and records the winning offsets in `routing`.
  @discardableResult
  private static func maxPool(
    _ input: Tensor, geometry: ConvolutionGeometry, shape: [Int], routing: PoolingRouting
  ) -> Tensor {
    let batch = input.batchCount
    routing.reserve(shape.reduce(1, *))
    routing.isCurrent = true
    return Tensor(unsafeUninitializedShape: shape) { out in
      input.withUnsafeBufferPointer { x in
        routing.winners.withUnsafeMutableBufferPointer { argmax in
          PoolingKernels.maxPoolForward(
            x.baseAddress!, samples: batch, geometry: geometry, output: out.baseAddress!,
            argmax: argmax.baseAddress!)
        }
      }
    }
  }

  func backward(_ outputGradient: Tensor, record: CallRecord, layer: String) throws -> Tensor {
    let geometry = try geometry.get(layer: layer)
    let input = record.inputs[0]
    let samples = input.batchCount
    switch kind {
    case .average:
      return Tensor(shape: input.shape) { dx in
        outputGradient.withUnsafeBufferPointer { dy in
          PoolingKernels.averagePool(
            dy.baseAddress!, samples: samples, geometry: geometry, into: dx.baseAddress!,
            backward: true)
        }
      }
    case .maximum:
      let routing = PoolingRouting.of(record)
      if !routing.isCurrent {
        Self.maxPool(input, geometry: geometry, shape: outputGradient.shape, routing: routing)
      }
      return Tensor(shape: input.shape) { dx in
        outputGradient.withUnsafeBufferPointer { dy in
          routing.winners.withUnsafeBufferPointer { winners in
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
/// `GlobalAveragePool2D`. The routing of a max pooling call is kept in its record.
struct GlobalPooling: Sendable {
  let kind: PoolingKind
  let config: GlobalPoolingConfig

  init(kind: PoolingKind, config: GlobalPoolingConfig) {
    self.kind = kind
    self.config = config
  }

  func build(inputShape: SymbolicShape, layer: String) throws -> SymbolicShape {
    let shape = try Validate.input(
      inputShape, rank: 3, layer: layer, expected: "[height, width, channels] (rank 3)")
    if kind == .maximum { try Validate.routable(shape, layer: layer) }
    return config.keepDims ? [1, 1, shape[2]] : [shape[2]]
  }

  func forward(_ input: Tensor, record: CallRecord) -> Tensor {
    let batch = input.batchCount
    let positions = input.shape[1] * input.shape[2]
    let channels = input.shape[3]
    let shape = [batch] + (config.keepDims ? [1, 1, channels] : [channels])
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
      let routing = PoolingRouting.of(record)
      routing.reserve(batch * channels)
      routing.isCurrent = true
      return Tensor(unsafeUninitializedShape: shape) { out in
        input.withUnsafeBufferPointer { x in
          routing.winners.withUnsafeMutableBufferPointer { argmax in
            for sample in 0..<batch {
              let best = out.baseAddress! + sample * channels
              let index = argmax.baseAddress! + sample * channels
              let start = x.baseAddress! + sample * positions * channels
              best.update(from: start, count: channels)
              index.update(repeating: 0, count: channels)
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
    }
  }

  func backward(_ outputGradient: Tensor, record: CallRecord) -> Tensor {
    let input = record.inputs[0]
    let batch = input.batchCount
    let positions = input.shape[1] * input.shape[2]
    let channels = input.shape[3]
    let kind = self.kind
    let winners = (record.scratch as? PoolingRouting)?.winners ?? []
    return Tensor(shape: input.shape) { dx in
      outputGradient.withUnsafeBufferPointer { dy in
        winners.withUnsafeBufferPointer { winners in
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
