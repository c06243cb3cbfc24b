import Foundation

/// An elementwise (or, for softmax and log-softmax, per-row) activation function with its
/// derivative: a name, its parameters and the ``ActivationKernel`` that computes it.
///
/// The first-party functions, under their Keras names (Keras 3 and PyTorch definitions and
/// defaults):
///
/// | Name | Swift | Definition |
/// |---|---|---|
/// | `linear` (`identity`, `none`) | ``linear`` | `x` |
/// | `sigmoid` | ``sigmoid`` | `1 / (1 + e^-x)` |
/// | `tanh` | ``tanh`` | `tanh(x)` |
/// | `relu` | ``relu`` | `max(0, x)` |
/// | `leaky_relu` (`leakyrelu`) | ``leakyRelu(alpha:)`` | `x < 0 ? alpha x : x`, `alpha` 0.3 |
/// | `elu` | ``elu(alpha:)`` | `x < 0 ? alpha (e^x - 1) : x`, `alpha` 1 |
/// | `gelu` | ``gelu`` | exact `x Φ(x) = x (1 + erf(x / √2)) / 2` |
/// | `softplus` | ``softplus`` | `log(1 + e^x)` |
/// | `softmax` | ``softmax`` | `e^x_i / Σ_j e^x_j` over the last dimension |
/// | `step` (`heaviside`) | ``step`` | `x >= 0 ? 1 : 0`, zero gradient |
/// | `hard_sigmoid` | ``hardSigmoid`` | `relu6(x + 3) / 6` (Keras 3; Keras 2 used `0.2x + 0.5`) |
/// | `silu` (`swish`) | ``silu`` | `x sigmoid(x)` |
/// | `mish` | ``mish`` | `x tanh(softplus(x))` |
/// | `selu` | ``selu`` | `scale (x > 0 ? x : alpha (e^x - 1))`, alpha 1.67326, scale 1.05070 |
/// | `softsign` | ``softsign`` | `x / (1 + abs(x))` |
/// | `exponential` | ``exponential`` | `e^x` |
/// | `log_softmax` | ``logSoftmax`` | `x_i - log Σ_j e^x_j` over the last dimension |
/// | `relu6` | ``relu6`` | `min(max(x, 0), 6)` |
/// | `thresholded_relu` | ``thresholdedRelu(theta:)`` | `x > theta ? x : 0`, `theta` 1 |
///
/// Every function is computed stably: for finite inputs the outputs and gradients are finite
/// wherever the mathematical values are representable. At a kink the derivative takes one
/// side's value (relu: 0 at 0; relu6 and hard_sigmoid: 0 at the ends of the linear part).
///
/// Encodes to JSON as its name (`"relu"`); a function whose parameters differ from their
/// defaults encodes as an object with the name and every parameter
/// (`{"name": "leaky_relu", "alpha": 0.2}`). Decoding accepts both forms and the aliases
/// above; an object key other than `name` must be one of the function's parameters.
///
/// Third-party functions implement ``ActivationKernel`` and register in
/// ``ActivationRegistry/shared`` under a namespaced name (`com.example.square`); decoding looks
/// names up there (or in the registry passed under ``ActivationRegistry/userInfoKey``).
public struct ActivationFunction: Sendable, Hashable, CustomStringConvertible {
  /// The kernel that computes the function.
  public let kernel: any ActivationKernel
  /// The name used in JSON configs.
  public let name: String
  /// The parameter values, keyed by name (empty for a function without parameters).
  public let parameters: [String: Float]
  /// The kernel's type, for equality.
  private let kernelType: ObjectIdentifier

  /// Wraps a kernel; its type's `name` and its `parameters` identify the function.
  ///
  /// The kernel need not be registered to be applied; to decode the function from a config
  /// or a model file, register its type in ``ActivationRegistry/shared``.
  public init<Kernel: ActivationKernel>(_ kernel: Kernel) {
    self.kernel = kernel
    self.name = Kernel.name
    self.parameters = kernel.parameters
    self.kernelType = ObjectIdentifier(Kernel.self)
  }

  /// Looks up a function by name in ``ActivationRegistry/shared``, with an optional `alpha`
  /// (for `leaky_relu` and `elu`; the default when omitted).
  ///
  /// - Throws: `PlexusError.invalidConfiguration` naming the registered names, or for an
  ///   `alpha` given to a function without that parameter.
  public init(name: String, alpha: Float? = nil) throws {
    self = try ActivationRegistry.shared.makeFunction(
      name: name, parameters: alpha.map { ["alpha": $0] } ?? [:])
  }

  /// Looks up a function by name with its parameters; omitted parameters take their
  /// defaults.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` for an unknown name (listing the registered
  ///   names), an unknown parameter or a value out of range.
  public init(
    name: String, parameters: [String: Float], registry: ActivationRegistry = .shared
  ) throws {
    self = try registry.makeFunction(name: name, parameters: parameters)
  }

  /// All names registered in ``ActivationRegistry/shared``, sorted (aliases not included).
  public static var allNames: [String] { ActivationRegistry.shared.names }

  /// The name, with the parameters when there are any: `leaky_relu(alpha: 0.2)`.
  public var description: String {
    guard !parameters.isEmpty else { return name }
    let list = parameters.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }
    return "\(name)(\(list.joined(separator: ", ")))"
  }

  /// Whether the function is the identity (callers skip it).
  private var isLinear: Bool { kernelType == ObjectIdentifier(LinearActivation.self) }

  public static func == (lhs: ActivationFunction, rhs: ActivationFunction) -> Bool {
    lhs.kernelType == rhs.kernelType && lhs.name == rhs.name && lhs.parameters == rhs.parameters
  }

  public func hash(into hasher: inout Hasher) {
    hasher.combine(kernelType)
    hasher.combine(name)
    hasher.combine(parameters)
  }

  // MARK: First-party functions

  /// Keras' default slope for leaky ReLU.
  public static let defaultLeakyAlpha: Float = 0.3
  /// Keras' default scale for ELU.
  public static let defaultEluAlpha: Float = 1.0
  /// The default threshold of thresholded ReLU (Keras 2 and ONNX).
  public static let defaultThresholdedReluTheta: Float = 1.0

  /// The identity.
  public static let linear = ActivationFunction(LinearActivation())
  /// `1 / (1 + e^-x)`.
  public static let sigmoid = ActivationFunction(SigmoidActivation())
  /// Hyperbolic tangent.
  public static let tanh = ActivationFunction(TanhActivation())
  /// `max(0, x)`.
  public static let relu = ActivationFunction(ReLUActivation())
  /// `x` for non-negative inputs, `alpha * x` otherwise.
  public static func leakyRelu(alpha: Float = defaultLeakyAlpha) -> ActivationFunction {
    ActivationFunction(LeakyReLUActivation(alpha: alpha))
  }
  /// `x` for non-negative inputs, `alpha * (e^x - 1)` otherwise.
  public static func elu(alpha: Float = defaultEluAlpha) -> ActivationFunction {
    ActivationFunction(ELUActivation(alpha: alpha))
  }
  /// The exact Gaussian error linear unit `x * Φ(x)` (as PyTorch's default).
  public static let gelu = ActivationFunction(GELUActivation())
  /// `log(1 + e^x)`.
  public static let softplus = ActivationFunction(SoftplusActivation())
  /// The softmax over the last dimension.
  public static let softmax = ActivationFunction(SoftmaxActivation())
  /// The Heaviside step `x >= 0 ? 1 : 0` (the classic perceptron); its gradient is zero.
  public static let step = ActivationFunction(StepActivation())
  /// Keras 3's hard sigmoid `relu6(x + 3) / 6` (PyTorch's `Hardsigmoid`).
  public static let hardSigmoid = ActivationFunction(HardSigmoidActivation())
  /// The sigmoid linear unit `x * sigmoid(x)`, also named swish.
  public static let silu = ActivationFunction(SiLUActivation())
  /// The same function as ``silu``.
  public static let swish = silu
  /// `x * tanh(softplus(x))`.
  public static let mish = ActivationFunction(MishActivation())
  /// The self-normalizing scaled ELU with its standard constants
  /// (`alpha = 1.6732632423543772`, `scale = 1.0507009873554805`).
  public static let selu = ActivationFunction(SELUActivation())
  /// `x / (1 + |x|)`.
  public static let softsign = ActivationFunction(SoftsignActivation())
  /// `e^x`.
  public static let exponential = ActivationFunction(ExponentialActivation())
  /// The log of the softmax over the last dimension, computed stably.
  public static let logSoftmax = ActivationFunction(LogSoftmaxActivation())
  /// `min(max(x, 0), 6)`.
  public static let relu6 = ActivationFunction(ReLU6Activation())
  /// `x` where `x > theta`, 0 elsewhere.
  public static func thresholdedRelu(theta: Float = defaultThresholdedReluTheta)
    -> ActivationFunction
  {
    ActivationFunction(ThresholdedReLUActivation(theta: theta))
  }

  // MARK: Applying

  /// Applies the function to a batch (softmax and log-softmax over the last dimension).
  public func apply(_ input: Tensor) -> Tensor {
    if isLinear { return input }
    var output = input
    output.withUnsafeMutableBufferPointer { buffer in
      applyInPlace(buffer, lastDimension: input.shape.last ?? 1)
    }
    return output
  }

  /// Applies the function in place; `lastDimension` is the row length softmax normalizes over.
  ///
  /// Large buffers are split by whole rows across cores (`Parallel.forEachChunk`); the kernel
  /// runs once per chunk.
  public func applyInPlace(_ buffer: UnsafeMutableBufferPointer<Float>, lastDimension: Int) {
    if isLinear { return }
    let kernel = self.kernel
    let shared = UncheckedSendable(buffer)
    forEachRowChunk(count: buffer.count, lastDimension: lastDimension) { range in
      kernel.apply(
        UnsafeMutableBufferPointer(rebasing: shared.value[range]), lastDimension: lastDimension)
    }
  }

  /// Runs `body` over chunks of `0..<count` that hold whole rows of `lastDimension` elements.
  private func forEachRowChunk(
    count: Int, lastDimension: Int, _ body: @Sendable (Range<Int>) -> Void
  ) {
    let width = Swift.max(lastDimension, 1)
    guard count % width == 0 else {
      if count > 0 { body(0..<count) }
      return
    }
    let rowCost = kernel.costPerElement.multipliedReportingOverflow(by: width)
    Parallel.forEachChunk(
      count: count / width, costPerElement: rowCost.overflow ? Int.max : rowCost.partialValue
    ) { rows in
      body(rows.lowerBound * width..<rows.upperBound * width)
    }
  }

  /// The gradient with respect to the input, given the input, the output computed from it and
  /// the gradient with respect to the output.
  public func backward(input: Tensor, output: Tensor, outputGradient: Tensor) -> Tensor {
    if isLinear { return outputGradient }
    var result = outputGradient
    let width = output.shape.last ?? 1
    result.withUnsafeMutableBufferPointer { gradient in
      input.withUnsafeBufferPointer { x in
        output.withUnsafeBufferPointer { y in
          backwardInPlace(gradient: gradient, input: x, output: y, lastDimension: width)
        }
      }
    }
    return result
  }

  /// Multiplies `gradient` in place by the derivative (for softmax: the Jacobian-vector
  /// product per row). `input` is only read by functions whose derivative needs it; others
  /// accept the output or an empty buffer in its place.
  ///
  /// Large buffers are split by whole rows across cores (`Parallel.forEachChunk`); the kernel
  /// runs once per chunk.
  public func backwardInPlace(
    gradient: UnsafeMutableBufferPointer<Float>, input: UnsafeBufferPointer<Float>,
    output: UnsafeBufferPointer<Float>, lastDimension: Int
  ) {
    if isLinear { return }
    precondition(output.count == gradient.count, "activation output and gradient differ in size")
    let readsInput = kernel.derivativeNeedsInput
    precondition(
      !readsInput || input.count == gradient.count,
      "activation '\(name)' needs its input in backward")
    let kernel = self.kernel
    let shared = UncheckedSendable((gradient, input, output))
    forEachRowChunk(count: gradient.count, lastDimension: lastDimension) { range in
      let (gradient, input, output) = shared.value
      kernel.backward(
        gradient: UnsafeMutableBufferPointer(rebasing: gradient[range]),
        input: input.count == gradient.count ? UnsafeBufferPointer(rebasing: input[range]) : input,
        output: UnsafeBufferPointer(rebasing: output[range]), lastDimension: lastDimension)
    }
  }

  /// Whether `backward` reads the input (otherwise the output suffices).
  public var derivativeNeedsInput: Bool { kernel.derivativeNeedsInput }

  /// Replaces a row by its softmax, stably (subtracting the row maximum).
  public static func softmaxRow(_ row: UnsafeMutableBufferPointer<Float>) {
    guard let largest = row.max() else { return }
    var total: Float = 0
    for index in row.indices {
      let e = Foundation.exp(row[index] - largest)
      row[index] = e
      total += e
    }
    let inverse = 1 / total
    for index in row.indices { row[index] *= inverse }
  }
}

extension ActivationFunction: Codable {
  /// The keys of the object form: `name` and the parameters' names.
  private struct Key: CodingKey {
    let stringValue: String
    init(_ stringValue: String) { self.stringValue = stringValue }
    init?(stringValue: String) { self.stringValue = stringValue }
    var intValue: Int? { nil }
    init?(intValue: Int) { nil }
    static let name = Key("name")
  }

  /// Decodes `"relu"` or `{"name": "leaky_relu", "alpha": 0.2}`, resolving the name in the
  /// registry under ``ActivationRegistry/userInfoKey`` or else ``ActivationRegistry/shared``.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` for an unknown name (listing the registered
  ///   names), an unknown key or an out-of-range parameter; a `DecodingError` for JSON of the
  ///   wrong shape.
  public init(from decoder: Decoder) throws {
    let registry =
      decoder.userInfo[ActivationRegistry.userInfoKey] as? ActivationRegistry ?? .shared
    let name: String
    var parameters: [String: Float] = [:]
    if let single = try? decoder.singleValueContainer(), let bare = try? single.decode(String.self)
    {
      name = bare
    } else {
      guard let container = try? decoder.container(keyedBy: Key.self) else {
        throw DecodingError.typeMismatch(
          ActivationFunction.self,
          DecodingError.Context(
            codingPath: decoder.codingPath,
            debugDescription:
              "an activation is a name such as \"relu\" or an object such as "
              + "{\"name\": \"leaky_relu\", \"alpha\": 0.2}"))
      }
      name = try container.decode(String.self, forKey: .name)
      for key in container.allKeys where key.stringValue != Key.name.stringValue {
        parameters[key.stringValue] = try container.decode(Float.self, forKey: key)
      }
    }
    do {
      self = try registry.makeFunction(name: name, parameters: parameters)
    } catch PlexusError.invalidConfiguration(let message) where !decoder.codingPath.isEmpty {
      let path = decoder.codingPath.map { key in
        key.intValue.map { "[\($0)]" } ?? ".\(key.stringValue)"
      }
      throw PlexusError.invalidConfiguration("\(message) (at \(path.joined()))")
    }
  }

  /// Encodes the bare name when every parameter has its default, otherwise an object with the
  /// name and every parameter.
  public func encode(to encoder: Encoder) throws {
    if parameters == type(of: kernel).defaultParameters {
      var container = encoder.singleValueContainer()
      try container.encode(name)
      return
    }
    var container = encoder.container(keyedBy: Key.self)
    try container.encode(name, forKey: .name)
    for (key, value) in parameters.sorted(by: { $0.key < $1.key }) {
      try container.encode(value, forKey: Key(key))
    }
  }
}
