import Foundation

// The first-party elementwise activations. Each follows Keras 3's definition (and PyTorch's,
// where they agree), including default parameters; `ActivationFunction` documents them.

/// Numerically stable scalar helpers shared by the kernels.
enum ActivationMath {
  /// `1 / (1 + e^-x)` without overflow for large `|x|`: `1 / (1 + e^-x)` for `x >= 0`,
  /// `e^x / (1 + e^x)` otherwise, with a select rather than a branch (mixed signs would
  /// mispredict).
  @inline(__always) static func sigmoid(_ x: Float) -> Float {
    let e = Foundation.exp(-Swift.abs(x))
    return (x >= 0 ? 1 : e) / (1 + e)
  }

  /// `log(1 + e^x)` without overflow for large `x` and without losing small values:
  /// `max(x, 0) + log(1 + e^-|x|)`.
  @inline(__always) static func softplus(_ x: Float) -> Float {
    Swift.max(x, 0) + Foundation.log1p(Foundation.exp(-Swift.abs(x)))
  }
}

/// `x`.
struct LinearActivation: ActivationKernel {
  static let name = "linear"
  init() {}
  init(parameters: [String: Float]) {}
  var derivativeNeedsInput: Bool { false }
  var costPerElement: Int { 1 }
  func apply(_ buffer: UnsafeMutableBufferPointer<Float>, lastDimension: Int) {}
  func backward(
    gradient: UnsafeMutableBufferPointer<Float>, input: UnsafeBufferPointer<Float>,
    output: UnsafeBufferPointer<Float>, lastDimension: Int
  ) {}
}

/// `1 / (1 + e^-x)`; `dy/dx = y (1 - y)`.
struct SigmoidActivation: ElementwiseActivationKernel {
  static let name = "sigmoid"
  init() {}
  init(parameters: [String: Float]) {}
  var derivativeNeedsInput: Bool { false }
  func value(_ x: Float) -> Float { ActivationMath.sigmoid(x) }
  func derivative(at x: Float, output y: Float) -> Float { y * (1 - y) }
}

/// `tanh(x)`; `dy/dx = 1 - y²`.
struct TanhActivation: ElementwiseActivationKernel {
  static let name = "tanh"
  init() {}
  init(parameters: [String: Float]) {}
  var derivativeNeedsInput: Bool { false }
  func value(_ x: Float) -> Float { Foundation.tanh(x) }
  func derivative(at x: Float, output y: Float) -> Float { 1 - y * y }
}

/// `max(0, x)`; the derivative is 1 where the output is positive.
struct ReLUActivation: ActivationKernel {
  static let name = "relu"
  init() {}
  init(parameters: [String: Float]) {}
  var derivativeNeedsInput: Bool { false }
  var costPerElement: Int { 1 }

  func apply(_ buffer: UnsafeMutableBufferPointer<Float>, lastDimension: Int) {
    // A select rather than a branch, so the loop vectorizes (NaN becomes 0 as well).
    for index in buffer.indices {
      let value = buffer[index]
      buffer[index] = value > 0 ? value : 0
    }
  }

  func backward(
    gradient: UnsafeMutableBufferPointer<Float>, input: UnsafeBufferPointer<Float>,
    output: UnsafeBufferPointer<Float>, lastDimension: Int
  ) {
    guard let target = gradient.baseAddress, let source = output.baseAddress else { return }
    // Explicit vector selects: with two buffers the compiler keeps a branchy scalar loop.
    let count = gradient.count
    let targetBytes = UnsafeMutableRawPointer(target)
    let sourceBytes = UnsafeRawPointer(source)
    var index = 0
    while index + 8 <= count {
      let bytes = index * 4
      let value = targetBytes.loadUnaligned(fromByteOffset: bytes, as: SIMD8<Float>.self)
      let activated = sourceBytes.loadUnaligned(fromByteOffset: bytes, as: SIMD8<Float>.self)
      targetBytes.storeBytes(
        of: value.replacing(with: 0, where: .!(activated .> 0)), toByteOffset: bytes,
        as: SIMD8<Float>.self)
      index += 8
    }
    while index < count {
      gradient[index] = output[index] > 0 ? gradient[index] : 0
      index += 1
    }
  }
}

/// `x` for `x >= 0`, `alpha * x` otherwise (Keras' `LeakyReLU`, default slope 0.3).
struct LeakyReLUActivation: ElementwiseActivationKernel {
  static let name = "leaky_relu"
  static let defaultParameters: [String: Float] = ["alpha": ActivationFunction.defaultLeakyAlpha]
  let alpha: Float
  init(alpha: Float) { self.alpha = alpha }
  init(parameters: [String: Float]) throws { alpha = try Self.parameter("alpha", in: parameters) }
  var parameters: [String: Float] { ["alpha": alpha] }
  var costPerElement: Int { 1 }
  func value(_ x: Float) -> Float { x < 0 ? alpha * x : x }
  func derivative(at x: Float, output y: Float) -> Float { x < 0 ? alpha : 1 }
}

/// `x` for `x >= 0`, `alpha * (e^x - 1)` otherwise (default `alpha` 1).
struct ELUActivation: ElementwiseActivationKernel {
  static let name = "elu"
  static let defaultParameters: [String: Float] = ["alpha": ActivationFunction.defaultEluAlpha]
  let alpha: Float
  init(alpha: Float) { self.alpha = alpha }
  init(parameters: [String: Float]) throws { alpha = try Self.parameter("alpha", in: parameters) }
  var parameters: [String: Float] { ["alpha": alpha] }
  func value(_ x: Float) -> Float { x < 0 ? alpha * Foundation.expm1(x) : x }
  func derivative(at x: Float, output y: Float) -> Float { x < 0 ? y + alpha : 1 }
}

/// The exact Gaussian error linear unit `x Φ(x) = x (1 + erf(x / √2)) / 2` (Keras'
/// `approximate=False` and PyTorch's default).
struct GELUActivation: ElementwiseActivationKernel {
  static let name = "gelu"
  init() {}
  init(parameters: [String: Float]) {}
  static let inverseSqrt2: Float = Float(0.5).squareRoot()
  static let inverseSqrt2Pi: Float = 1 / (2 * Float.pi).squareRoot()
  func value(_ x: Float) -> Float { 0.5 * x * (1 + Foundation.erf(x * Self.inverseSqrt2)) }
  func derivative(at x: Float, output y: Float) -> Float {
    let cdf = 0.5 * (1 + Foundation.erf(x * Self.inverseSqrt2))
    let pdf = Self.inverseSqrt2Pi * Foundation.exp(-0.5 * x * x)
    return cdf + x * pdf
  }
}

/// `log(1 + e^x)`, computed stably; `dy/dx = sigmoid(x)`.
struct SoftplusActivation: ElementwiseActivationKernel {
  static let name = "softplus"
  init() {}
  init(parameters: [String: Float]) {}
  func value(_ x: Float) -> Float { ActivationMath.softplus(x) }
  func derivative(at x: Float, output y: Float) -> Float { ActivationMath.sigmoid(x) }
}

/// The Heaviside step `x >= 0 ? 1 : 0` (the classic perceptron); its gradient is zero.
struct StepActivation: ElementwiseActivationKernel {
  static let name = "step"
  init() {}
  init(parameters: [String: Float]) {}
  var derivativeNeedsInput: Bool { false }
  var costPerElement: Int { 1 }
  func value(_ x: Float) -> Float { x >= 0 ? 1 : 0 }
  func derivative(at x: Float, output y: Float) -> Float { 0 }
  func backward(
    gradient: UnsafeMutableBufferPointer<Float>, input: UnsafeBufferPointer<Float>,
    output: UnsafeBufferPointer<Float>, lastDimension: Int
  ) {
    // Zero even where the incoming gradient is not finite.
    gradient.update(repeating: 0)
  }
}

/// Keras 3's `relu6(x + 3) / 6` (PyTorch's `Hardsigmoid`); the derivative is 1/6 where the
/// output is strictly between 0 and 1. (Keras 2 used `0.2 x + 0.5`.)
struct HardSigmoidActivation: ElementwiseActivationKernel {
  static let name = "hard_sigmoid"
  init() {}
  init(parameters: [String: Float]) {}
  var derivativeNeedsInput: Bool { false }
  var costPerElement: Int { 1 }
  func value(_ x: Float) -> Float { Swift.min(Swift.max(x + 3, 0), 6) / 6 }
  func derivative(at x: Float, output y: Float) -> Float { y > 0 && y < 1 ? 1 / 6 : 0 }
}

/// `x sigmoid(x)` (Keras' `silu`, also named `swish`; PyTorch's `SiLU`);
/// `dy/dx = s (1 + x (1 - s))` with `s = sigmoid(x)`.
struct SiLUActivation: ElementwiseActivationKernel {
  static let name = "silu"
  init() {}
  init(parameters: [String: Float]) {}
  func value(_ x: Float) -> Float { x * ActivationMath.sigmoid(x) }
  func derivative(at x: Float, output y: Float) -> Float {
    let s = ActivationMath.sigmoid(x)
    return s * (1 + x * (1 - s))
  }
}

/// `x tanh(softplus(x))`; `dy/dx = t + x (1 - t²) sigmoid(x)` with `t = tanh(softplus(x))`.
struct MishActivation: ElementwiseActivationKernel {
  static let name = "mish"
  init() {}
  init(parameters: [String: Float]) {}
  func value(_ x: Float) -> Float { x * Foundation.tanh(ActivationMath.softplus(x)) }
  func derivative(at x: Float, output y: Float) -> Float {
    let t = Foundation.tanh(ActivationMath.softplus(x))
    return t + x * (1 - t * t) * ActivationMath.sigmoid(x)
  }
}

/// The scaled ELU `scale * (x > 0 ? x : alpha * (e^x - 1))` with the self-normalizing
/// constants of Klambauer et al. (Keras and PyTorch): `alpha ≈ 1.6733`, `scale ≈ 1.0507`.
struct SELUActivation: ElementwiseActivationKernel {
  static let name = "selu"
  static let alpha: Float = 1.673_263_242_354_377_284_817_042_991_671_7
  static let scale: Float = 1.050_700_987_355_480_493_419_334_985_294_6
  static let scaledAlpha: Float = alpha * scale
  init() {}
  init(parameters: [String: Float]) {}
  var derivativeNeedsInput: Bool { false }
  func value(_ x: Float) -> Float {
    x > 0 ? Self.scale * x : Self.scaledAlpha * Foundation.expm1(x)
  }
  /// From the output: `scale` where it is positive, `y + scale * alpha` elsewhere.
  func derivative(at x: Float, output y: Float) -> Float {
    y > 0 ? Self.scale : y + Self.scaledAlpha
  }
}

/// `x / (1 + |x|)`; `dy/dx = 1 / (1 + |x|)²`.
struct SoftsignActivation: ElementwiseActivationKernel {
  static let name = "softsign"
  init() {}
  init(parameters: [String: Float]) {}
  var costPerElement: Int { 4 }
  func value(_ x: Float) -> Float { x / (1 + Swift.abs(x)) }
  func derivative(at x: Float, output y: Float) -> Float {
    let denominator = 1 + Swift.abs(x)
    return 1 / (denominator * denominator)
  }
}

/// `e^x`; `dy/dx = y`.
struct ExponentialActivation: ElementwiseActivationKernel {
  static let name = "exponential"
  init() {}
  init(parameters: [String: Float]) {}
  var derivativeNeedsInput: Bool { false }
  func value(_ x: Float) -> Float { Foundation.exp(x) }
  func derivative(at x: Float, output y: Float) -> Float { y }
}

/// `min(max(x, 0), 6)`; the derivative is 1 where the output is strictly between 0 and 6.
struct ReLU6Activation: ElementwiseActivationKernel {
  static let name = "relu6"
  init() {}
  init(parameters: [String: Float]) {}
  var derivativeNeedsInput: Bool { false }
  var costPerElement: Int { 1 }
  func value(_ x: Float) -> Float { Swift.min(Swift.max(x, 0), 6) }
  func derivative(at x: Float, output y: Float) -> Float { y > 0 && y < 6 ? 1 : 0 }
}

/// `x > theta ? x : 0` (Keras 2's `ThresholdedReLU`, ONNX's `ThresholdedRelu`; default
/// `theta` 1).
struct ThresholdedReLUActivation: ElementwiseActivationKernel {
  static let name = "thresholded_relu"
  static let defaultParameters: [String: Float] = [
    "theta": ActivationFunction.defaultThresholdedReluTheta
  ]
  let theta: Float
  init(theta: Float) { self.theta = theta }
  init(parameters: [String: Float]) throws { theta = try Self.parameter("theta", in: parameters) }
  var parameters: [String: Float] { ["theta": theta] }
  var costPerElement: Int { 1 }
  func value(_ x: Float) -> Float { x > theta ? x : 0 }
  func derivative(at x: Float, output y: Float) -> Float { x > theta ? 1 : 0 }
}
