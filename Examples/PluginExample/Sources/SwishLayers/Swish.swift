import Foundation
import PlexusCore

/// A Swish activation with a learned slope: `y = x * sigmoid(beta * x)`, one `beta` for the
/// whole layer (`beta = 1` is SiLU).
///
/// Registered as `com.example.swish`; its config is `{"initialBeta": 1}`.
public final class Swish: UnaryLayer {
  /// The hyperparameters of a Swish layer.
  public struct Config: DefaultedConfiguration {
    /// The starting value of `beta`: finite, at most `Swish.maximumBeta` in magnitude
    /// (default 1).
    public var initialBeta: Float

    /// Creates a config.
    public init(initialBeta: Float = 1) {
      self.initialBeta = initialBeta
    }

    public static var defaults: Config { Config() }
    public static var fields: [ConfigField<Config>] { [.init("initialBeta", \.initialBeta)] }
  }

  public static let typeName = "com.example.swish"
  /// The largest magnitude `initialBeta` may have.
  public static let maximumBeta: Float = 100

  public let state = LayerState()
  public let config: Config
  /// The learned slope inside the sigmoid, of shape `[1]`.
  public let beta: Parameter

  /// - Throws: `PlexusError.invalidConfiguration` for a non-finite `initialBeta` or one beyond
  ///   `maximumBeta` in magnitude.
  public init(config: Config) throws {
    guard config.initialBeta.isFinite, abs(config.initialBeta) <= Self.maximumBeta else {
      throw PlexusError.invalidConfiguration(
        "swish initialBeta must be finite and within ±\(Self.maximumBeta), got "
          + "\(config.initialBeta)")
    }
    self.config = config
    beta = Parameter(name: "beta")
  }

  public var parameters: [Parameter] { [beta] }

  /// Accepts any shape; the output has the input's shape.
  public func build(for inputShape: SymbolicShape) throws -> SymbolicShape {
    try beta.declare(shape: [1], filledWith: config.initialBeta)
    return inputShape
  }

  private func betaValue() throws -> Float {
    guard beta.isMaterialized, beta.value.count == 1 else {
      throw PlexusError.notBuilt("layer '\(name)': beta has no value; build the layer first")
    }
    return beta.value.scalars[0]
  }

  /// The logistic function, computed without overflow for inputs of either sign.
  private static func sigmoid(_ value: Float) -> Float {
    if value >= 0 { return 1 / (1 + Foundation.exp(-value)) }
    let e = Foundation.exp(value)
    return e / (1 + e)
  }

  public func forward(_ input: Tensor, record: CallRecord) throws -> Tensor {
    let slope = try betaValue()
    return Tensor(unsafeUninitializedShape: input.shape) { output in
      input.withUnsafeBufferPointer { x in
        for index in x.indices { output[index] = x[index] * Self.sigmoid(slope * x[index]) }
      }
    }
  }

  /// With `s = sigmoid(beta * x)`: `dy/dx = s + beta * x * s * (1 - s)` and
  /// `dy/dbeta = x² * s * (1 - s)`.
  public func backward(_ outputGradient: Tensor, record: CallRecord, computingInputGradient: Bool)
    throws -> Tensor?
  {
    let input = record.inputs[0]
    let slope = try betaValue()
    var betaGradient: Double = 0
    let inputGradient = Tensor(unsafeUninitializedShape: input.shape) { result in
      input.withUnsafeBufferPointer { x in
        outputGradient.withUnsafeBufferPointer { g in
          for index in x.indices {
            let s = Self.sigmoid(slope * x[index])
            let ds = s * (1 - s)
            betaGradient += Double(g[index] * x[index] * x[index] * ds)
            result[index] = g[index] * (s + slope * x[index] * ds)
          }
        }
      }
    }
    beta.gradient.withUnsafeMutableBufferPointer { $0[0] += Float(betaGradient) }
    return computingInputGradient ? inputGradient : nil
  }
}
