import Foundation

/// A parametric ReLU, as Keras `PReLU` and PyTorch `nn.PReLU`: `y = x` for `x > 0` and
/// `y = alpha * x` otherwise, with a learned `alpha`.
///
/// `alpha` has the per-sample input shape, except along `sharedAxes`, where one value is
/// shared (its dimension is 1). Axes count the batch as axis 0, as in Keras: for images
/// `[N, H, W, C]`, `sharedAxes: [1, 2]` gives one alpha per channel (`alpha` of shape
/// `[1, 1, C]`), and sharing every axis gives a single alpha (PyTorch's default
/// `num_parameters=1`; its `num_parameters=C` on channels-first input is, for channels-last
/// input, every axis but the last shared). A dimension that varies from call to call (a
/// sequence length) must be shared.
///
/// `alpha` starts at 0.25 as in PyTorch (Keras starts it at zeros: pass
/// `.initializer(.zeros)`). At `x == 0` the output is 0 and the gradient with respect to `x`
/// is `alpha`, as in PyTorch.
///
/// ```swift
/// let perChannel = try PReLU(sharedAxes: [1, 2])
/// ```
public final class PReLU: UnaryLayer {
  /// How `alpha` is initialized: a constant, or a weight initializer.
  ///
  /// In JSON a constant is a number (`0.25`) and an initializer its name (`"zeros"`).
  public enum AlphaInitializer: Codable, Sendable, Equatable {
    /// Every alpha starts at this finite value (PyTorch: 0.25).
    case constant(Float)
    /// Alphas come from a weight initializer (Keras: `zeros`); fans are computed from the
    /// shape of `alpha` as Keras does.
    case initializer(Initializer)

    /// Decodes a number (a constant) or an initializer name.
    ///
    /// - Throws: `DecodingError` for anything else, naming the accepted initializer names.
    public init(from decoder: Decoder) throws {
      let container = try decoder.singleValueContainer()
      if let value = try? container.decode(Float.self) {
        self = .constant(value)
      } else if let name = try? container.decode(String.self),
        let named = Initializer(rawValue: name)
      {
        self = .initializer(named)
      } else {
        let names = Initializer.allCases.map(\.rawValue).joined(separator: ", ")
        throw DecodingError.dataCorruptedError(
          in: container,
          debugDescription: "expected a number (a constant alpha) or one of \(names)")
      }
    }

    public func encode(to encoder: Encoder) throws {
      var container = encoder.singleValueContainer()
      switch self {
      case .constant(let value): try container.encode(value)
      case .initializer(let initializer): try container.encode(initializer.rawValue)
      }
    }
  }

  /// The hyperparameters of a PReLU layer.
  public struct Config: DefaultedConfiguration {
    /// How `alpha` is initialized (default: the constant 0.25).
    public var alphaInitializer: AlphaInitializer
    /// An optional penalty on `alpha` (PyTorch advises against weight decay on it).
    public var alphaRegularizer: Regularizer?
    /// The axes along which one alpha is shared, counting the batch as axis 0: each in
    /// `1...16`, without repeats (default: none, one alpha per input element).
    public var sharedAxes: [Int]

    /// Creates a config.
    public init(
      alphaInitializer: AlphaInitializer = .constant(0.25), alphaRegularizer: Regularizer? = nil,
      sharedAxes: [Int] = []
    ) {
      self.alphaInitializer = alphaInitializer
      self.alphaRegularizer = alphaRegularizer
      self.sharedAxes = sharedAxes
    }

    public static var defaults: Config { Config() }
    public static var fields: [ConfigField<Config>] {
      [
        .init("alphaInitializer", \.alphaInitializer),
        .init("alphaRegularizer", \.alphaRegularizer),
        .init("sharedAxes", \.sharedAxes),
      ]
    }
  }

  public static let typeName = "plexus.prelu"
  public let state = LayerState()
  public let config: Config
  /// The learned slopes for non-positive inputs: the per-sample input shape with 1 along
  /// the shared axes (declared when the layer is built).
  public let alpha: Parameter

  /// The highest axis `sharedAxes` may name: the largest rank a model file stores.
  public static let maximumAxis = PlexusFormat.Limits.maximumRank

  /// - Throws: `PlexusError.invalidConfiguration` for a non-finite constant alpha, or a shared
  ///   axis outside `1...maximumAxis` or given twice.
  public init(config: Config) throws {
    if case .constant(let value) = config.alphaInitializer, !value.isFinite {
      throw PlexusError.invalidConfiguration("prelu alpha must be finite, got \(value)")
    }
    for axis in config.sharedAxes where !(1...Self.maximumAxis).contains(axis) {
      throw PlexusError.invalidConfiguration(
        "prelu shared axis \(axis) must be in 1...\(Self.maximumAxis) (axis 0 is the batch, "
          + "along which alpha is always shared)")
    }
    guard Set(config.sharedAxes).count == config.sharedAxes.count else {
      throw PlexusError.invalidConfiguration(
        "prelu shared axes \(config.sharedAxes) name an axis twice")
    }
    self.config = config
    alpha = Parameter(name: "alpha", regularizer: config.alphaRegularizer)
  }

  /// Creates a PReLU layer.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` as `init(config:)`.
  public convenience init(
    alphaInitializer: AlphaInitializer = .constant(0.25), sharedAxes: [Int] = [],
    alphaRegularizer: Regularizer? = nil, name: String = ""
  ) throws {
    try self.init(
      config: Config(
        alphaInitializer: alphaInitializer, alphaRegularizer: alphaRegularizer,
        sharedAxes: sharedAxes))
    self.name = name
  }

  public var parameters: [Parameter] { [alpha] }

  /// Accepts any non-empty shape with at least as many axes as the highest shared axis, whose
  /// unshared dimensions are known.
  public func build(for inputShape: SymbolicShape) throws -> SymbolicShape {
    let shared = Set(config.sharedAxes)
    let highest = config.sharedAxes.max() ?? 1
    guard !inputShape.isEmpty, inputShape.count >= highest else {
      throw PlexusError.shapeMismatch(
        layer: name,
        expected: "a shape of rank at least \(highest) (shared axes \(config.sharedAxes) count "
          + "the batch as axis 0)", found: ShapeCheck.flatten(inputShape))
    }
    var alphaShape: [Int] = []
    for (index, dimension) in inputShape.enumerated() {
      if shared.contains(index + 1) {
        alphaShape.append(1)
      } else if let dimension {
        alphaShape.append(dimension)
      } else {
        throw PlexusError.shapeMismatch(
          layer: name,
          expected: "a known dimension at axis \(index + 1), or that axis in the shared axes",
          found: ShapeCheck.flatten(inputShape))
      }
    }
    _ = try ParameterAllocation.check(alphaShape)
    switch config.alphaInitializer {
    case .constant(let value):
      try alpha.declare(shape: alphaShape, filledWith: value)
    case .initializer(let initializer):
      let (fanIn, fanOut) = Self.fans(of: alphaShape)
      try alpha.declare(
        shape: alphaShape, initializer: initializer, fanIn: fanIn, fanOut: fanOut)
    }
    return inputShape
  }

  /// Keras's fans of a weight shape: both the size for rank 1; the receptive field (the
  /// product of all but the last two dimensions) times the last two otherwise.
  static func fans(of shape: [Int]) -> (fanIn: Int, fanOut: Int) {
    switch shape.count {
    case 0: return (1, 1)
    case 1: return (shape[0], shape[0])
    default:
      let receptive = shape.dropLast(2).reduce(1, *)
      return (shape[shape.count - 2] * receptive, shape[shape.count - 1] * receptive)
    }
  }

  /// How the elements of `input` map to alpha; throws when alpha holds no values yet.
  private func layout(for input: Tensor) throws -> AlphaLayout {
    guard alpha.isMaterialized, alpha.value.rank == input.rank - 1 else {
      throw PlexusError.notBuilt(
        "layer '\(name)': alpha has no values; build and initialize the layer first")
    }
    return AlphaLayout(inputShape: input.shape, alphaShape: alpha.value.shape)
  }

  public func forward(_ input: Tensor, record: CallRecord) throws -> Tensor {
    let layout = try layout(for: input)
    let alphaValue = alpha.value
    return Tensor(unsafeUninitializedShape: input.shape) { output in
      input.withUnsafeBufferPointer { x in
        alphaValue.withUnsafeBufferPointer { a in
          let buffers = UncheckedSendable((x, a, output))
          layout.forEachRowChunk { rows in
            let (x, a, y) = buffers.value
            for row in rows {
              let start = row * layout.rowLength
              let alphaStart = layout.alphaOffset(row: row)
              for column in 0..<layout.rowLength {
                let value = x[start + column]
                y[start + column] =
                  value > 0 ? value : a[alphaStart + column * layout.alphaStep] * value
              }
            }
          }
        }
      }
    }
  }

  /// Accumulates the alpha gradient (the sum of `gradient * x` over the inputs at or below
  /// zero that share each alpha) and returns `gradient * (x > 0 ? 1 : alpha)`.
  public func backward(_ outputGradient: Tensor, record: CallRecord, computingInputGradient: Bool)
    throws -> Tensor?
  {
    let input = record.inputs[0]
    let layout = try layout(for: input)
    var sums = [Double](repeating: 0, count: alpha.value.count)
    input.withUnsafeBufferPointer { x in
      outputGradient.withUnsafeBufferPointer { g in
        for row in 0..<layout.rows {
          let start = row * layout.rowLength
          let alphaStart = layout.alphaOffset(row: row)
          for column in 0..<layout.rowLength where x[start + column] <= 0 {
            sums[alphaStart + column * layout.alphaStep] +=
              Double(g[start + column]) * Double(x[start + column])
          }
        }
      }
    }
    alpha.gradient.withUnsafeMutableBufferPointer { gradient in
      for index in gradient.indices { gradient[index] += Float(sums[index]) }
    }
    guard computingInputGradient else { return nil }
    let alphaValue = alpha.value
    return Tensor(unsafeUninitializedShape: input.shape) { result in
      input.withUnsafeBufferPointer { x in
        outputGradient.withUnsafeBufferPointer { g in
          alphaValue.withUnsafeBufferPointer { a in
            let buffers = UncheckedSendable((x, g, a, result))
            layout.forEachRowChunk { rows in
              let (x, g, a, dx) = buffers.value
              for row in rows {
                let start = row * layout.rowLength
                let alphaStart = layout.alphaOffset(row: row)
                for column in 0..<layout.rowLength {
                  let index = start + column
                  dx[index] =
                    x[index] > 0 ? g[index] : a[alphaStart + column * layout.alphaStep] * g[index]
                }
              }
            }
          }
        }
      }
    }
  }
}

/// Where each input element of a PReLU call finds its alpha: the batch `[N] + sample` cut
/// into rows of the last run of axes that are all shared or all unshared, each row starting
/// at an alpha offset worked out from its index, its elements stepping through alpha by
/// `alphaStep` (1 along unshared axes, 0 along shared ones).
private struct AlphaLayout: Sendable {
  /// The extents and alpha strides of the axes before the row, outermost first.
  let outer: [(extent: Int, stride: Int)]
  let rows: Int
  let rowLength: Int
  let alphaStep: Int

  init(inputShape: [Int], alphaShape: [Int]) {
    // The batch axis is always shared; a sample axis is shared where alpha has extent 1.
    var axes: [(extent: Int, stride: Int)] = []
    var stride = 1
    var alphaStrides = [Int](repeating: 0, count: alphaShape.count)
    for axis in alphaShape.indices.reversed() {
      alphaStrides[axis] = alphaShape[axis] == 1 ? 0 : stride
      stride *= alphaShape[axis]
    }
    axes.append((inputShape[0], 0))
    for (axis, extent) in inputShape.dropFirst().enumerated() {
      axes.append((extent, alphaStrides[axis]))
    }
    // Merge neighbours that walk through alpha as one axis (both shared, or contiguous).
    var merged: [(extent: Int, stride: Int)] = []
    for axis in axes {
      if let last = merged.last, last.stride == axis.stride * axis.extent {
        merged[merged.count - 1] = (last.extent * axis.extent, axis.stride)
      } else {
        merged.append(axis)
      }
    }
    let row = merged.removeLast()
    outer = merged
    rowLength = row.extent
    alphaStep = row.stride
    rows = merged.reduce(1) { $0 * $1.extent }
  }

  /// The alpha offset of the first element of `row`.
  func alphaOffset(row: Int) -> Int {
    var remaining = row
    var offset = 0
    for axis in outer.reversed() {
      offset += (remaining % axis.extent) * axis.stride
      remaining /= axis.extent
    }
    return offset
  }

  /// Runs `body` over chunks of rows, split across threads for large inputs
  /// (`Parallel.forEachChunk`).
  func forEachRowChunk(_ body: @Sendable (Range<Int>) -> Void) {
    let cost = rowLength.multipliedReportingOverflow(by: 2)
    Parallel.forEachChunk(
      count: rows, costPerElement: cost.overflow ? Int.max : cost.partialValue, body)
  }
}
