/// How layers allocate their parameters while they are built.
///
/// Layers create parameter values through `Initializer.make` (or `ParameterAllocation.filled`),
/// which consult the current allocation context. By default one parameter holds at most
/// `defaultMaximumElements` values and initial values are drawn from the initializer. Model loading runs `build` in a context where every
/// parameter must hold at most as many values as the largest tensor the file declares — so a
/// damaged or hostile architecture (a dense layer of a billion units) is a thrown error, not a
/// huge allocation — and where initial values are not drawn, because the file's tensors replace
/// them.
public struct ParameterAllocation: Sendable, Equatable {
  /// The largest number of values one parameter may hold.
  public var maximumElements: Int
  /// Whether initializers draw initial values (otherwise parameters start at zero).
  public var drawsInitialValues: Bool

  /// The largest number of values one parameter may hold unless a context says otherwise
  /// (2^30, 4 GiB of `Float`): a spec or a caller asking for more (a dense layer of a billion
  /// units) gets a thrown error instead of an allocation that fails or exhausts the machine.
  public static let defaultMaximumElements = 1 << 30

  /// Creates an allocation context.
  public init(maximumElements: Int = defaultMaximumElements, drawsInitialValues: Bool = true) {
    self.maximumElements = maximumElements
    self.drawsInitialValues = drawsInitialValues
  }

  /// The context of the current task (`defaultMaximumElements`, initial values drawn, unless set by
  /// `$current.withValue(_:operation:)`).
  @TaskLocal public static var current = ParameterAllocation()

  /// The largest number of values one sample of a model's input may hold (2^32).
  public static let maximumSampleElements = 1 << 32

  /// Checks that a parameter of `shape` may be allocated in the current context.
  ///
  /// - Throws: `PlexusError.invalidShape` when the element count overflows or exceeds
  ///   `maximumElements`.
  public static func check(_ shape: [Int]) throws -> Int {
    let count = try Tensor.elementCount(of: shape)
    let limit = current.maximumElements
    guard count <= limit else {
      throw PlexusError.invalidShape(
        "a parameter of shape \(shape) would hold \(count) values, more than the \(limit) "
          + (limit == defaultMaximumElements
            ? "one parameter may hold"
            : "allowed here (the largest tensor the model file declares)"))
    }
    return count
  }

  /// A parameter value of `shape` filled with `value`, checked against the current context.
  ///
  /// - Throws: `PlexusError.invalidShape` as `check(_:)`.
  public static func filled(_ shape: [Int], with value: Float) throws -> Tensor {
    _ = try check(shape)
    return Tensor(shape: shape, repeating: value)
  }
}
