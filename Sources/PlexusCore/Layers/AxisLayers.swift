/// Axis arithmetic shared by `Concatenate`, `Split` and `SliceLayer`: axes count the batch
/// dimension as 0, as in Keras (`-1`, the default, is the last axis); the batch axis itself
/// cannot be cut.
enum AxisLayout {
  /// The axis of a per-sample shape (0-based, without the batch) for a Keras axis.
  static func sampleAxis(_ axis: Int, rank: Int, layer: String) throws -> Int {
    let full = axis < 0 ? axis + rank + 1 : axis
    guard full >= 1, full <= rank else {
      throw PlexusError.invalidConfiguration(
        "layer '\(layer)': axis \(axis) is not a non-batch axis of inputs with \(rank) sample dimensions"
      )
    }
    return full - 1
  }

  /// Copies, for every outer index, `count` contiguous values from `source` (rows of
  /// `sourceRow` values, starting at `sourceOffset`) to `destination` (rows of
  /// `destinationRow`, starting at `destinationOffset`).
  static func copyRows(
    from source: Tensor, sourceRow: Int, sourceOffset: Int, into destination: inout Tensor,
    destinationRow: Int, destinationOffset: Int, count: Int, rows: Int
  ) {
    guard count > 0, rows > 0 else { return }
    destination.withUnsafeMutableBufferPointer { target in
      source.withUnsafeBufferPointer { values in
        guard let to = target.baseAddress, let from = values.baseAddress else { return }
        for row in 0..<rows {
          (to + row * destinationRow + destinationOffset).update(
            from: from + row * sourceRow + sourceOffset, count: count)
        }
      }
    }
  }

  /// The number of rows (product of the dimensions before `axis` of a batch shape, batch
  /// included) and the run length (product from `axis` on) of `shape`, for a sample axis.
  static func rowsAndRun(_ shape: [Int], sampleAxis: Int) -> (rows: Int, run: Int) {
    let axis = sampleAxis + 1
    return (shape[..<axis].reduce(1, *), shape[axis...].reduce(1, *))
  }
}

/// Joins its inputs along an axis, as Keras `layers.Concatenate` (default: the last axis);
/// every other dimension must agree.
public final class Concatenate: Layer {
  /// The hyperparameters of a concatenation.
  public struct Config: DefaultedConfiguration {
    /// The axis, counting the batch as 0; negative counts from the end (default `-1`).
    public var axis: Int
    /// Creates a config.
    public init(axis: Int = -1) { self.axis = axis }

    public static var defaults: Config { Config() }
    public static var fields: [ConfigField<Config>] { [.init("axis", \.axis)] }
  }

  public static let typeName = "plexus.concatenate"
  public let state = LayerState()
  public let config: Config
  private let axis = BuildValue<Int>()

  public init(config: Config) { self.config = config }

  /// Creates a concatenation along `axis`.
  public convenience init(axis: Int = -1, name: String = "") {
    self.init(config: Config(axis: axis))
    self.name = name
  }

  public func build(for inputShapes: [SymbolicShape]) throws -> [SymbolicShape] {
    guard inputShapes.count >= 2 else {
      throw PlexusError.invalidArgument(
        "layer '\(name)' concatenates at least 2 inputs, got \(inputShapes.count)")
    }
    let rank = inputShapes[0].count
    let axis = try AxisLayout.sampleAxis(config.axis, rank: rank, layer: name)
    var output = inputShapes[0]
    for (index, shape) in inputShapes.enumerated() {
      guard shape.count == rank,
        shape.indices.allSatisfy({ $0 == axis || shape[$0] == inputShapes[0][$0] })
      else {
        throw PlexusError.shapeMismatch(
          layer: name,
          expected:
            "input \(index) to match \(ShapeCheck.describe(inputShapes[0])) except on axis \(config.axis)",
          found: ShapeCheck.flatten(shape))
      }
      if index > 0 {
        if let length = shape[axis], let total = output[axis] {
          output[axis] = total + length
        } else {
          output[axis] = nil
        }
      }
    }
    self.axis.value = axis
    return [output]
  }

  public func forward(_ inputs: [Tensor], record: CallRecord) throws -> [Tensor] {
    let axis = try self.axis.get(layer: name)
    var shape = inputs[0].shape
    shape[axis + 1] = inputs.reduce(0) { $0 + $1.shape[axis + 1] }
    for (index, input) in inputs.enumerated()
    where input.rank != shape.count
      || input.shape.indices.contains(where: { $0 != axis + 1 && input.shape[$0] != shape[$0] })
    {
      throw PlexusError.shapeMismatch(
        layer: name,
        expected: "input \(index) to match \(inputs[0].shape) except on axis \(config.axis)",
        found: input.shape)
    }
    var output = Tensor(unsafeUninitializedShape: shape) { _ in }
    let (rows, outputRun) = AxisLayout.rowsAndRun(shape, sampleAxis: axis)
    var offset = 0
    for input in inputs {
      let run = AxisLayout.rowsAndRun(input.shape, sampleAxis: axis).run
      AxisLayout.copyRows(
        from: input, sourceRow: run, sourceOffset: 0, into: &output, destinationRow: outputRun,
        destinationOffset: offset, count: run, rows: rows)
      offset += run
    }
    return [output]
  }

  public func backward(
    _ outputGradients: [Tensor], record: CallRecord, computingInputGradients: Bool
  ) throws -> [Tensor?] {
    let axis = try self.axis.get(layer: name)
    let gradient = outputGradients[0]
    let (rows, outputRun) = AxisLayout.rowsAndRun(gradient.shape, sampleAxis: axis)
    var offset = 0
    return record.inputs.map { input in
      let run = AxisLayout.rowsAndRun(input.shape, sampleAxis: axis).run
      var part = Tensor(unsafeUninitializedShape: input.shape) { _ in }
      AxisLayout.copyRows(
        from: gradient, sourceRow: outputRun, sourceOffset: offset, into: &part,
        destinationRow: run, destinationOffset: 0, count: run, rows: rows)
      offset += run
      return part
    }
  }
}

/// Cuts its input along an axis into consecutive parts of the given sizes, one output each,
/// so parts of one tensor can feed different heads (`tf.split`, `torch.split`).
public final class Split: Layer {
  /// The hyperparameters of a split.
  public struct Config: DefaultedConfiguration {
    /// The axis, counting the batch as 0; negative counts from the end (default `-1`).
    public var axis: Int
    /// The size of each part along the axis; they must add up to the axis' length.
    public var sizes: [Int]
    /// Creates a config.
    public init(axis: Int = -1, sizes: [Int]) {
      self.axis = axis
      self.sizes = sizes
    }

    public static var defaults: Config { Config(sizes: []) }
    public static var fields: [ConfigField<Config>] {
      [.init("axis", \.axis), .required("sizes", \.sizes)]
    }
  }

  public static let typeName = "plexus.split"
  public let state = LayerState()
  public let config: Config
  private let axis = BuildValue<Int>()

  /// - Throws: `PlexusError.invalidConfiguration` for fewer than one part or a non-positive
  ///   size.
  public init(config: Config) throws {
    guard !config.sizes.isEmpty, config.sizes.allSatisfy({ $0 > 0 }) else {
      throw PlexusError.invalidConfiguration(
        "split sizes must be positive and at least one, got \(config.sizes)")
    }
    _ = try Tensor.elementCount(of: config.sizes)
    self.config = config
  }

  /// Creates a split into parts of `sizes` along `axis`.
  ///
  /// - Throws: as `init(config:)`.
  public convenience init(axis: Int = -1, sizes: [Int], name: String = "") throws {
    try self.init(config: Config(axis: axis, sizes: sizes))
    self.name = name
  }

  public func build(for inputShapes: [SymbolicShape]) throws -> [SymbolicShape] {
    guard inputShapes.count == 1, let shape = inputShapes.first else {
      throw PlexusError.invalidArgument("layer '\(name)' takes one input, got \(inputShapes.count)")
    }
    let axis = try AxisLayout.sampleAxis(config.axis, rank: shape.count, layer: name)
    let total = config.sizes.reduce(0, +)
    guard shape[axis] == total else {
      throw PlexusError.shapeMismatch(
        layer: name,
        expected: "axis \(config.axis) of length \(total) (the sum of the sizes \(config.sizes))",
        found: ShapeCheck.flatten(shape))
    }
    self.axis.value = axis
    return config.sizes.map { size in
      var part = shape
      part[axis] = size
      return part
    }
  }

  public func forward(_ inputs: [Tensor], record: CallRecord) throws -> [Tensor] {
    let axis = try self.axis.get(layer: name)
    let input = inputs[0]
    let (rows, inputRun) = AxisLayout.rowsAndRun(input.shape, sampleAxis: axis)
    let inner = inputRun / Swift.max(input.shape[axis + 1], 1)
    var offset = 0
    return config.sizes.map { size in
      var shape = input.shape
      shape[axis + 1] = size
      var part = Tensor(unsafeUninitializedShape: shape) { _ in }
      AxisLayout.copyRows(
        from: input, sourceRow: inputRun, sourceOffset: offset, into: &part,
        destinationRow: size * inner, destinationOffset: 0, count: size * inner, rows: rows)
      offset += size * inner
      return part
    }
  }

  public func backward(
    _ outputGradients: [Tensor], record: CallRecord, computingInputGradients: Bool
  ) throws -> [Tensor?] {
    let axis = try self.axis.get(layer: name)
    let input = record.inputs[0]
    var gradient = Tensor(unsafeUninitializedShape: input.shape) { _ in }
    let (rows, inputRun) = AxisLayout.rowsAndRun(input.shape, sampleAxis: axis)
    var offset = 0
    for part in outputGradients {
      let run = AxisLayout.rowsAndRun(part.shape, sampleAxis: axis).run
      AxisLayout.copyRows(
        from: part, sourceRow: run, sourceOffset: 0, into: &gradient, destinationRow: inputRun,
        destinationOffset: offset, count: run, rows: rows)
      offset += run
    }
    return [gradient]
  }
}

/// Keeps `length` consecutive entries of an axis starting at `start`, as `x[:, start:start+length]`
/// along that axis.
public final class SliceLayer: UnaryLayer {
  /// The hyperparameters of a slice.
  public struct Config: DefaultedConfiguration {
    /// The axis, counting the batch as 0; negative counts from the end (default `-1`).
    public var axis: Int
    /// The first index kept.
    public var start: Int
    /// How many entries are kept.
    public var length: Int
    /// Creates a config.
    public init(axis: Int = -1, start: Int, length: Int) {
      self.axis = axis
      self.start = start
      self.length = length
    }

    public static var defaults: Config { Config(start: 0, length: 1) }
    public static var fields: [ConfigField<Config>] {
      [.init("axis", \.axis), .required("start", \.start), .required("length", \.length)]
    }
  }

  public static let typeName = "plexus.slice"
  public let state = LayerState()
  public let config: Config
  private let axis = BuildValue<Int>()

  /// - Throws: `PlexusError.invalidConfiguration` for a negative start or a non-positive
  ///   length.
  public init(config: Config) throws {
    guard config.start >= 0, config.length > 0, config.start <= Int.max - config.length else {
      throw PlexusError.invalidConfiguration(
        "slice start must be non-negative and length positive, got start \(config.start), length \(config.length)"
      )
    }
    self.config = config
  }

  /// Creates a slice of `length` entries from `start` along `axis`.
  ///
  /// - Throws: as `init(config:)`.
  public convenience init(axis: Int = -1, start: Int, length: Int, name: String = "") throws {
    try self.init(config: Config(axis: axis, start: start, length: length))
    self.name = name
  }

  public func build(for inputShape: SymbolicShape) throws -> SymbolicShape {
    let axis = try AxisLayout.sampleAxis(config.axis, rank: inputShape.count, layer: name)
    guard let extent = inputShape[axis], config.start + config.length <= extent else {
      throw PlexusError.shapeMismatch(
        layer: name,
        expected: "axis \(config.axis) of known length at least \(config.start + config.length)",
        found: ShapeCheck.flatten(inputShape))
    }
    self.axis.value = axis
    var output = inputShape
    output[axis] = config.length
    return output
  }

  public func forward(_ input: Tensor, record: CallRecord) throws -> Tensor {
    let axis = try self.axis.get(layer: name)
    let (rows, run) = AxisLayout.rowsAndRun(input.shape, sampleAxis: axis)
    let inner = run / input.shape[axis + 1]
    var shape = input.shape
    shape[axis + 1] = config.length
    var output = Tensor(unsafeUninitializedShape: shape) { _ in }
    AxisLayout.copyRows(
      from: input, sourceRow: run, sourceOffset: config.start * inner, into: &output,
      destinationRow: config.length * inner, destinationOffset: 0, count: config.length * inner,
      rows: rows)
    return output
  }

  public func backward(_ outputGradient: Tensor, record: CallRecord, computingInputGradient: Bool)
    throws -> Tensor?
  {
    let axis = try self.axis.get(layer: name)
    let input = record.inputs[0]
    let (rows, run) = AxisLayout.rowsAndRun(input.shape, sampleAxis: axis)
    let inner = run / input.shape[axis + 1]
    var gradient = Tensor.zeros(input.shape)
    AxisLayout.copyRows(
      from: outputGradient, sourceRow: config.length * inner, sourceOffset: 0, into: &gradient,
      destinationRow: run, destinationOffset: config.start * inner, count: config.length * inner,
      rows: rows)
    return gradient
  }
}
