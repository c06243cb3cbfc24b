import Foundation
import PlexusCore

/// The reparameterized sampling of a variational autoencoder: from a mean `μ` and a log
/// variance `log σ²` (two inputs of one shape), `z = μ + exp(½ log σ²) · ε` with `ε ~ N(0, I)`
/// drawn from the layer's random stream while training; `z = μ` in inference.
///
/// In training the layer adds the KL divergence of `N(μ, σ²)` from the prior `N(0, I)`,
/// `weight · mean over the batch of −½ Σ (1 + log σ² − μ² − σ²)`, to the objective under the
/// name `kl`, and its gradient in `backward`. The noise is seeded by `seed` (or the model's
/// build seed), so training runs are reproducible.
public final class GaussianSampling: Layer {
  /// The hyperparameters of a Gaussian sampling layer.
  public struct Config: DefaultedConfiguration {
    /// The weight of the KL term (1 for the ELBO; a β-VAE uses more), finite and
    /// non-negative.
    public var klWeight: Float
    /// The seed of the noise generator; `nil` derives it from the model's build seed.
    public var seed: UInt64?
    /// Creates a config.
    public init(klWeight: Float = 1, seed: UInt64? = nil) {
      self.klWeight = klWeight
      self.seed = seed
    }

    public static var defaults: Config { Config() }
    public static var fields: [ConfigField<Config>] {
      [.init("klWeight", \.klWeight), .init("seed", \.seed)]
    }
  }

  public static let typeName = "plexus.gaussian_sampling"
  public static let defaultNamePrefix = "sampling"
  public let state = LayerState()
  public let config: Config

  /// - Throws: `PlexusError.invalidConfiguration` unless the KL weight is finite and
  ///   non-negative.
  public init(config: Config) throws {
    guard config.klWeight.isFinite, config.klWeight >= 0 else {
      throw PlexusError.invalidConfiguration(
        "gaussian sampling klWeight must be finite and non-negative, got \(config.klWeight)")
    }
    self.config = config
  }

  /// Creates a Gaussian sampling layer.
  ///
  /// - Throws: as `init(config:)`.
  public convenience init(klWeight: Float = 1, seed: UInt64? = nil, name: String = "") throws {
    try self.init(config: Config(klWeight: klWeight, seed: seed))
    self.name = name
  }

  public func build(for inputShapes: [SymbolicShape]) throws -> [SymbolicShape] {
    guard inputShapes.count == 2, inputShapes[0] == inputShapes[1], !inputShapes[0].isEmpty
    else {
      throw PlexusError.shapeMismatch(
        layer: name, expected: "two inputs of one shape (mean, log variance)",
        found: inputShapes.first.map(ShapeCheck.flatten) ?? [])
    }
    return [inputShapes[0]]
  }

  public func initialize(using generator: inout SeededGenerator) throws {
    state.seedRandomStream(seed: config.seed, from: &generator)
  }

  /// The KL divergence from the prior, averaged over the batch (unweighted).
  public static func klDivergence(mean: Tensor, logVariance: Tensor) -> Float {
    var total: Double = 0
    mean.withUnsafeBufferPointer { mu in
      logVariance.withUnsafeBufferPointer { logVar in
        for index in mu.indices {
          let m = Double(mu[index])
          let l = Double(logVar[index])
          total += -0.5 * (1 + l - m * m - exp(l))
        }
      }
    }
    return Float(total / Double(max(mean.batchCount, 1)))
  }

  public func forward(_ inputs: [Tensor], record: CallRecord) throws -> [Tensor] {
    let (mean, logVariance) = (inputs[0], inputs[1])
    guard record.isTraining else { return [mean] }
    record.addLoss(
      config.klWeight * Self.klDivergence(mean: mean, logVariance: logVariance), name: "kl")
    var noise = Tensor(unsafeUninitializedShape: mean.shape) { _ in }
    state.withRandomStream { generator in
      noise.withUnsafeMutableBufferPointer { buffer in
        for index in buffer.indices { buffer[index] = generator.nextNormal() }
      }
    }
    var output = mean
    output.withUnsafeMutableBufferPointer { z in
      noise.withUnsafeBufferPointer { epsilon in
        logVariance.withUnsafeBufferPointer { logVar in
          for index in z.indices {
            z[index] += Foundation.exp(0.5 * logVar[index]) * epsilon[index]
          }
        }
      }
    }
    record.saved = [noise]
    return [output]
  }

  public func backward(
    _ outputGradients: [Tensor], record: CallRecord, computingInputGradients: Bool
  ) throws -> [Tensor?] {
    let gradient = outputGradients[0]
    guard record.isTraining, let noise = record.saved.first else {
      return [gradient, Tensor(shape: gradient.shape)]
    }
    let (mean, logVariance) = (record.inputs[0], record.inputs[1])
    let scale = config.klWeight / Float(max(mean.batchCount, 1))
    var meanGradient = gradient
    var logVarianceGradient = gradient
    meanGradient.withUnsafeMutableBufferPointer { dMean in
      logVarianceGradient.withUnsafeMutableBufferPointer { dLogVar in
        mean.withUnsafeBufferPointer { mu in
          logVariance.withUnsafeBufferPointer { logVar in
            noise.withUnsafeBufferPointer { epsilon in
              for index in dMean.indices {
                let sigma = Foundation.exp(0.5 * logVar[index])
                dMean[index] += scale * mu[index]
                dLogVar[index] =
                  dLogVar[index] * 0.5 * sigma * epsilon[index]
                  + scale * 0.5 * (sigma * sigma - 1)
              }
            }
          }
        }
      }
    }
    return [meanGradient, logVarianceGradient]
  }
}
