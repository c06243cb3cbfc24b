/// The implementation behind an ``ActivationFunction``: loops over raw buffers.
///
/// An ``ActivationFunction`` calls its kernel once per buffer, or once per chunk of whole rows
/// when it splits a large buffer across cores, so the loop inside a kernel is a tight loop over
/// an unsafe buffer with no dynamic dispatch per element. Chunks of one buffer may run
/// concurrently on disjoint rows: a kernel must not mutate shared state.
///
/// Conform to ``ElementwiseActivationKernel`` for a function of one element: it supplies the
/// loops from `value(_:)` and `derivative(at:output:)`. Conform to this protocol directly for a
/// function of whole rows (such as softmax) or to write the loops by hand.
///
/// A kernel is a value holding its parameters. Register its type to make it available by name
/// in configs and model files:
///
/// ```swift
/// struct Square: ElementwiseActivationKernel {
///   static let name = "com.example.square"
///   init(parameters: [String: Float]) {}
///   func value(_ x: Float) -> Float { x * x }
///   func derivative(at x: Float, output y: Float) -> Float { 2 * x }
/// }
/// try ActivationRegistry.shared.register(Square.self, module: "MyActivations")
/// let function = try ActivationFunction(name: "com.example.square")
/// ```
public protocol ActivationKernel: Sendable {
  /// The name in configs and model files. Third-party names are namespaced
  /// (`com.example.square`); the bare names (`relu`) belong to Plexus.
  static var name: String { get }

  /// The parameters the function takes, each with its default value (default: none).
  ///
  /// A config that omits a parameter gets its default; a function whose parameters all have
  /// their defaults encodes as its bare name.
  static var defaultParameters: [String: Float] { get }

  /// Creates the kernel from a complete parameter set: every key of `defaultParameters`, each
  /// value finite (the registry fills in defaults and rejects unknown keys and non-finite
  /// values before calling this).
  ///
  /// - Throws: `PlexusError.invalidConfiguration` for a value out of the function's range.
  init(parameters: [String: Float]) throws

  /// The kernel's parameter values, keyed as `defaultParameters` (default: none).
  var parameters: [String: Float] { get }

  /// Whether `backward` reads the pre-activation input; otherwise the output suffices, and
  /// callers may pass the output (or an empty buffer) as the input (default: `true`).
  var derivativeNeedsInput: Bool { get }

  /// A rough relative cost of one element (1 for a compare or a multiply, about 16 for an
  /// exponential), for deciding when to split a buffer across cores (default: 16).
  var costPerElement: Int { get }

  /// Replaces each element by the function's value.
  ///
  /// - Parameters:
  ///   - buffer: whole rows of `lastDimension` elements (when its count is not a multiple of
  ///     `lastDimension`, the trailing elements form one shorter row).
  ///   - lastDimension: the row length that row-wise functions (softmax) normalize over.
  func apply(_ buffer: UnsafeMutableBufferPointer<Float>, lastDimension: Int)

  /// Replaces the gradient with respect to the output by the gradient with respect to the
  /// input: for an elementwise function, multiplies each element by the derivative.
  ///
  /// - Parameters:
  ///   - gradient: on entry the gradient with respect to `output`; on return the gradient
  ///     with respect to the input. Rows as for `apply`.
  ///   - input: the pre-activation, as many elements as `gradient`, when
  ///     `derivativeNeedsInput`; otherwise not to be read.
  ///   - output: the function's output for that input, as many elements as `gradient`.
  ///   - lastDimension: the row length.
  func backward(
    gradient: UnsafeMutableBufferPointer<Float>, input: UnsafeBufferPointer<Float>,
    output: UnsafeBufferPointer<Float>, lastDimension: Int)
}

extension ActivationKernel {
  /// No parameters.
  public static var defaultParameters: [String: Float] { [:] }

  /// No parameters.
  public var parameters: [String: Float] { [:] }

  /// The input is kept for `backward`.
  public var derivativeNeedsInput: Bool { true }

  /// About the cost of an exponential.
  public var costPerElement: Int { 16 }

  /// Reads a parameter for `init(parameters:)`.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` when `key` is missing or its value is not
  ///   finite.
  public static func parameter(_ key: String, in parameters: [String: Float]) throws -> Float {
    guard let value = parameters[key] else {
      throw PlexusError.invalidConfiguration("activation '\(name)' needs parameter '\(key)'")
    }
    guard value.isFinite else {
      throw PlexusError.invalidConfiguration(
        "activation '\(name)' parameter '\(key)' must be finite, found \(value)")
    }
    return value
  }
}

/// An activation function of one element, `y = value(x)`, with its derivative `dy/dx`; the
/// buffer loops come from the protocol.
///
/// The loops are `@inlinable` and specialized for the conforming type, so `value` and
/// `derivative` are called directly (and usually inlined) inside a tight loop.
public protocol ElementwiseActivationKernel: ActivationKernel {
  /// The function's value at `x`.
  func value(_ x: Float) -> Float

  /// The derivative `dy/dx` at `x`, where `y = value(x)`.
  ///
  /// When `derivativeNeedsInput` is false, `x` is not available and `y` is passed in its
  /// place: such a function computes its derivative from `y` alone.
  func derivative(at x: Float, output y: Float) -> Float
}

extension ElementwiseActivationKernel {
  /// Replaces each element `x` by `value(x)`.
  @inlinable
  public func apply(_ buffer: UnsafeMutableBufferPointer<Float>, lastDimension: Int) {
    for index in buffer.indices { buffer[index] = value(buffer[index]) }
  }

  /// Multiplies each gradient element by `derivative(at: x, output: y)`.
  @inlinable
  public func backward(
    gradient: UnsafeMutableBufferPointer<Float>, input: UnsafeBufferPointer<Float>,
    output: UnsafeBufferPointer<Float>, lastDimension: Int
  ) {
    if derivativeNeedsInput {
      for index in gradient.indices {
        gradient[index] *= derivative(at: input[index], output: output[index])
      }
    } else {
      for index in gradient.indices {
        let y = output[index]
        gradient[index] *= derivative(at: y, output: y)
      }
    }
  }
}
