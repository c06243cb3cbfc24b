import PlexusConvolution
import PlexusCore
import PlexusPerceptron

/// A variational autoencoder (Kingma and Welling): an encoder body, two dense heads for the
/// mean (`z_mean`) and the log variance (`z_log_variance`) of the code, reparameterized
/// sampling (`GaussianSampling`, which adds the KL term) and a decoder model.
///
/// Training maximizes the evidence lower bound: each step minimizes the negative
/// log-likelihood of the batch's inputs under the decoder's output, summed over the features
/// and averaged over the batch, plus the KL divergence from the prior `N(0, I)`. The logs
/// hold `loss` (their sum), `reconstruction_loss`, `kl` and `elbo` (the bound, its negative).
///
/// The likelihood is Bernoulli (the decoder returns probabilities in `(0, 1)`, a sigmoid
/// output; binary cross-entropy) or Gaussian of unit variance (half the squared error, up to
/// a constant).
public final class VAE: ModelProtocol {
  /// The likelihood of an input given the decoder's output.
  public enum Likelihood: String, Codable, Sendable, Equatable {
    /// Each feature is a Bernoulli variable of the decoder's probability.
    case bernoulli
    /// Each feature is normal around the decoder's output with unit variance.
    case gaussian
  }

  /// The architecture of a variational autoencoder.
  public struct Config: DefaultedConfiguration {
    /// The encoder body: input to the features the two heads read.
    public var encoder: LayerDescription
    /// The decoder: code to the likelihood's parameters (of the input shape).
    public var decoder: LayerDescription
    /// The per-sample input shape.
    public var inputShape: SymbolicShape
    /// The dimension of the code.
    public var latentDimension: Int
    /// The likelihood of the inputs (default Bernoulli).
    public var likelihood: Likelihood
    /// The weight of the KL term (default 1).
    public var klWeight: Float
    /// The seed of the sampling noise (`nil`: from the build seed).
    public var seed: UInt64?

    /// Creates a config.
    public init(
      encoder: LayerDescription, decoder: LayerDescription, inputShape: SymbolicShape,
      latentDimension: Int, likelihood: Likelihood = .bernoulli, klWeight: Float = 1,
      seed: UInt64? = nil
    ) {
      self.encoder = encoder
      self.decoder = decoder
      self.inputShape = inputShape
      self.latentDimension = latentDimension
      self.likelihood = likelihood
      self.klWeight = klWeight
      self.seed = seed
    }

    public static var defaults: Config {
      let empty = LayerDescription(type: "", name: "", config: .object([:]))
      return Config(encoder: empty, decoder: empty, inputShape: [], latentDimension: 1)
    }
    public static var fields: [ConfigField<Config>] {
      [
        .required("encoder", \.encoder), .required("decoder", \.decoder),
        .required("inputShape", \.inputShape), .required("latentDimension", \.latentDimension),
        .init("likelihood", \.likelihood), .init("klWeight", \.klWeight), .init("seed", \.seed),
      ]
    }
  }

  public static let typeName = "plexus.vae"
  public let state: LayerState
  /// The encoder body.
  public let encoder: any ModelProtocol
  /// The decoder.
  public let decoder: any ModelProtocol
  /// The head computing the code's mean.
  public let meanHead: Dense
  /// The head computing the code's log variance.
  public let logVarianceHead: Dense
  /// The reparameterized sampling layer.
  public let sampling: GaussianSampling
  /// The whole model: input to reconstruction (output `reconstruction`).
  public let model: Model
  /// The encoder with its heads: input to `z_mean` and `z_log_variance`.
  public let encoderModel: Model
  /// The likelihood of the inputs.
  public let likelihood: Likelihood
  private let inputShape: SymbolicShape
  private let featureCount: Int

  /// Creates a variational autoencoder.
  ///
  /// - Parameters:
  ///   - encoder: a model from `inputShape` to a rank-1 feature vector.
  ///   - decoder: a model from `[latentDimension]` to `inputShape` (ending in a sigmoid for
  ///     the Bernoulli likelihood).
  ///   - inputShape: the per-sample input shape.
  ///   - latentDimension: the code's dimension, positive.
  ///   - likelihood: the likelihood of the inputs under the decoder's output.
  ///   - klWeight: the weight of the KL term in the loss (finite, at least 0).
  ///   - samplingSeed: the seed of the codes' sampling; `nil` derives it from `seed`.
  ///   - name: the model's name.
  ///   - seed: the seed of the initial values of parameters that have none.
  /// - Throws: `PlexusError.invalidConfiguration` for a non-positive latent dimension, a KL
  ///   weight that is negative or not finite, or halves that do not fit.
  public init(
    encoder: any ModelProtocol, decoder: any ModelProtocol, inputShape: SymbolicShape,
    latentDimension: Int, likelihood: Likelihood = .bernoulli, klWeight: Float = 1,
    samplingSeed: UInt64? = nil, name: String = "", seed: UInt64 = 0
  ) throws {
    guard latentDimension > 0, latentDimension <= ParameterAllocation.maximumSampleElements else {
      throw PlexusError.invalidConfiguration(
        "a VAE's latent dimension must be in 1...\(ParameterAllocation.maximumSampleElements), "
          + "got \(latentDimension)")
    }
    let fixed = try ShapeCheck.fixed(inputShape, layer: "vae", expected: "a VAE input shape")
    var features = 1
    for dimension in fixed {
      let (product, overflow) = features.multipliedReportingOverflow(by: dimension)
      guard !overflow else {
        throw PlexusError.invalidConfiguration("a VAE input shape \(fixed) is too large")
      }
      features = product
    }
    if encoder.name.isEmpty { encoder.name = "encoder" }
    if decoder.name.isEmpty { decoder.name = "decoder" }
    guard encoder.name != decoder.name else {
      throw PlexusError.invalidConfiguration(
        "the encoder and the decoder of a VAE need different names, both are '\(encoder.name)'")
    }
    let input = try Input(shape: inputShape, name: "input")
    let hidden = try encoder(input)
    meanHead = try Dense(units: latentDimension, name: "z_mean")
    logVarianceHead = try Dense(units: latentDimension, name: "z_log_variance")
    sampling = try GaussianSampling(klWeight: klWeight, seed: samplingSeed, name: "sampling")
    let mean = try meanHead(hidden)
    let logVariance = try logVarianceHead(hidden)
    let code = try sampling([mean, logVariance])
    let reconstruction = try decoder(code)
    guard reconstruction.shape == inputShape else {
      throw PlexusError.invalidConfiguration(
        "the decoder of a VAE must return the input shape \(ShapeCheck.describe(inputShape)), "
          + "it returns \(ShapeCheck.describe(reconstruction.shape))")
    }
    model = try Model(
      inputs: [input], outputs: [reconstruction], outputNames: ["reconstruction"], seed: seed)
    encoderModel = try Model(
      inputs: [input], outputs: [mean, logVariance],
      outputNames: ["z_mean", "z_log_variance"])
    self.encoder = encoder
    self.decoder = decoder
    self.likelihood = likelihood
    self.inputShape = inputShape
    self.featureCount = features
    state = LayerState(name: name)
    state.builtShapes = (inputs: [inputShape], outputs: [inputShape])
  }

  /// Recreates a VAE from its architecture with the layers of the core, the perceptron,
  /// convolution and autoencoder modules.
  ///
  /// - Throws: as `make(config:registry:)`.
  public convenience init(config: Config) throws {
    try self.init(config: config, registry: ReconstructionModel.standardRegistry())
  }

  /// Recreates a VAE from its architecture, creating both halves through `registry`.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` when a half is not a model or a value is
  ///   out of range; the registry's errors.
  public convenience init(config: Config, registry: LayerRegistry) throws {
    let (encoder, decoder) = try ReconstructionModel.makeHalves(
      encoder: config.encoder, decoder: config.decoder, registry: registry, owner: "a VAE")
    try self.init(
      encoder: encoder, decoder: decoder, inputShape: config.inputShape,
      latentDimension: config.latentDimension, likelihood: config.likelihood,
      klWeight: config.klWeight, samplingSeed: config.seed)
  }

  public static func make(config: Config, registry: LayerRegistry) throws -> Self {
    try Self(config: config, registry: registry)
  }

  public var config: Config {
    do {
      return Config(
        encoder: try LayerDescription(encoder), decoder: try LayerDescription(decoder),
        inputShape: inputShape, latentDimension: meanHead.config.units, likelihood: likelihood,
        klWeight: sampling.config.klWeight, seed: sampling.config.seed)
    } catch {
      // Layer initializers validate their configs, so encoding them cannot fail.
      preconditionFailure("a layer config failed to encode: \(error)")
    }
  }

  /// The code's dimension.
  public var latentDimension: Int { meanHead.config.units }

  // MARK: ModelProtocol (the graph, building and parameters are the whole model's)

  /// The negative log-likelihood of `targets` under `outputs`, summed over the features and
  /// averaged over the batch, with its gradient.
  public func reconstructionLoss(outputs: Tensor, targets: Tensor) throws -> (
    value: Float, gradient: Tensor
  ) {
    let features = Float(featureCount)
    switch likelihood {
    case .bernoulli:
      let (value, gradient) = try BinaryCrossEntropy(fromLogits: false).compute(
        predictions: outputs, targets: targets)
      return (value * features, gradient * features)
    case .gaussian:
      let (value, gradient) = try MeanSquaredError().compute(
        predictions: outputs, targets: targets)
      return (0.5 * value * features, gradient * (0.5 * features))
    }
  }

  /// One training step on the negative ELBO of the batch (inputs are the targets).
  ///
  /// - Throws: the loss' and layers' errors.
  public func trainStep(_ batch: TrainingBatch, context: TrainingStepContext) throws
    -> TrainingStepResult
  {
    try ReconstructionModel.trainStep(
      batch, context: context, loss: { try reconstructionLoss(outputs: $0, targets: $1) },
      finishLogs: { result in result.logs["elbo"] = -result.loss })
  }

  /// One evaluation step: the reconstruction loss of the codes' means, the KL term of the
  /// codes' distributions (weighted as in training) and `elbo`, the negative of their sum: a
  /// deterministic estimate of the bound (the decoder sees each code's mean, not a draw).
  /// `loss` stays the reconstruction loss alone.
  ///
  /// - Throws: the loss' errors.
  public func testStep(_ batch: TrainingBatch, context: TrainingStepContext) throws
    -> TrainingStepResult
  {
    var result = try ReconstructionModel.testStep(
      batch, context: context, loss: { try reconstructionLoss(outputs: $0, targets: $1) })
    let (mean, logVariance) = try encode(batch.inputs[0])
    let kl = config.klWeight * GaussianSampling.klDivergence(mean: mean, logVariance: logVariance)
    result.logs["kl"] = kl
    result.logs["elbo"] = -(result.loss + kl)
    return result
  }

  // MARK: Encoding, decoding, sampling

  /// The means and log variances of the codes of `x`.
  ///
  /// - Throws: `PlexusError` when `x` does not fit the encoder.
  public func encode(_ x: Tensor, batchSize: Int = 256) throws -> (
    mean: Tensor, logVariance: Tensor
  ) {
    let outputs = try encoderModel.predict([x], batchSize: batchSize)
    return (outputs[0], outputs[1])
  }

  /// The decoder's output for latent points `z` (`[N, latentDimension]`).
  ///
  /// - Throws: `PlexusError` when `z` does not fit the decoder.
  public func decode(_ z: Tensor, batchSize: Int = 256) throws -> Tensor {
    try decoder.predict(z, batchSize: batchSize)
  }

  /// The reconstructions of `x` from the codes' means.
  ///
  /// - Throws: `PlexusError` when `x` does not fit the model.
  public func reconstruct(_ x: Tensor, batchSize: Int = 256) throws -> Tensor {
    try model.predict(x, batchSize: batchSize)
  }

  /// Decodes `count` points drawn from the prior `N(0, I)` with `seed`.
  ///
  /// - Throws: `PlexusError.invalidArgument` unless `count` is positive and the code fits.
  public func sample(count: Int, seed: UInt64 = 0) throws -> Tensor {
    guard count > 0 else {
      throw PlexusError.invalidArgument("the sample count must be positive, got \(count)")
    }
    let (elements, overflow) = count.multipliedReportingOverflow(by: latentDimension)
    guard !overflow, elements <= ParameterAllocation.maximumSampleElements else {
      throw PlexusError.invalidArgument(
        "\(count) samples of \(latentDimension) latent values are too many")
    }
    var generator = SeededGenerator(seed: seed)
    return try decode(Tensor.normal([count, latentDimension], using: &generator))
  }

  /// The negative ELBO of `x` per sample averaged (with the codes' means: reconstruction
  /// from the mean, KL of the encoder's distributions), and its two parts.
  ///
  /// - Throws: `PlexusError` when `x` does not fit the model.
  public func negativeELBO(_ x: Tensor) throws -> (
    total: Float, reconstruction: Float, kl: Float
  ) {
    let (mean, logVariance) = try encode(x)
    let (reconstruction, _) = try reconstructionLoss(outputs: try reconstruct(x), targets: x)
    let kl = GaussianSampling.klDivergence(mean: mean, logVariance: logVariance)
    return (reconstruction + kl, reconstruction, kl)
  }
}

extension VAE: WrapsReconstructionModel {}
