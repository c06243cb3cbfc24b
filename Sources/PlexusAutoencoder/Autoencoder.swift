import PlexusConvolution
import PlexusCore
import PlexusPerceptron

/// An autoencoder: an encoder model followed by a decoder model, trained to reproduce its
/// input. Both halves are any models (`Sequential` or graph `Model`), dense or convolutional;
/// the autoencoder runs them as one graph `Model` (input, `encoder`, `decoder`, output
/// `reconstruction`).
///
/// `fit(_:optimizer:options:callbacks:)` needs no targets: each training step takes the
/// reconstruction target from the batch's inputs, so a corruption layer at the front of the
/// encoder (`GaussianNoise`, `MaskingNoise`) makes a denoising autoencoder. The logs hold
/// `loss` (the total objective), `reconstruction_loss` and any loss a layer contributes
/// (`activity`, `sparsity`).
///
/// The encoder is an ordinary model: save it alone, load it and call it inside another model,
/// frozen (`isTrainable = false`) or fine-tuned.
///
/// For anomaly detection, `fitThreshold(_:quantile:)` sets a threshold on the per-sample
/// reconstruction errors of (normal) data; `scores(_:)` and `isAnomalous(_:)` judge new
/// samples. The threshold is saved with the model.
public final class Autoencoder: ModelProtocol {
  /// The architecture of an autoencoder.
  public struct Config: DefaultedConfiguration {
    /// The encoder model.
    public var encoder: LayerDescription
    /// The decoder model.
    public var decoder: LayerDescription
    /// The per-sample input shape.
    public var inputShape: SymbolicShape
    /// The reconstruction loss (default: mean squared error).
    public var loss: LossFunction
    /// The anomaly threshold on the per-sample reconstruction error, once fitted.
    public var threshold: Float?

    /// Creates a config.
    public init(
      encoder: LayerDescription, decoder: LayerDescription, inputShape: SymbolicShape,
      loss: LossFunction = .meanSquaredError, threshold: Float? = nil
    ) {
      self.encoder = encoder
      self.decoder = decoder
      self.inputShape = inputShape
      self.loss = loss
      self.threshold = threshold
    }

    public static var defaults: Config {
      let empty = LayerDescription(type: "", name: "", config: .object([:]))
      return Config(encoder: empty, decoder: empty, inputShape: [])
    }
    public static var fields: [ConfigField<Config>] {
      [
        .required("encoder", \.encoder), .required("decoder", \.decoder),
        .required("inputShape", \.inputShape), .init("loss", \.loss),
        .init("threshold", \.threshold),
      ]
    }
  }

  public static let typeName = "plexus.autoencoder"
  public let state: LayerState
  /// The encoder: input to code.
  public let encoder: any ModelProtocol
  /// The decoder: code to reconstruction.
  public let decoder: any ModelProtocol
  /// The whole autoencoder as one graph model (output `reconstruction`).
  public let model: Model
  /// The reconstruction loss that training minimizes.
  public let reconstructionLoss: LossFunction
  private let fittedThreshold: BuildValue<Float>

  /// Creates an autoencoder from an encoder and a decoder. Halves without a name are named
  /// `encoder` and `decoder` (their parameters are saved as `encoder.<layer>.<parameter>`);
  /// parameters without values are initialized from `seed`.
  ///
  /// - Parameters:
  ///   - encoder: a model taking samples of `inputShape`.
  ///   - decoder: a model taking the encoder's output and returning `inputShape`.
  ///   - inputShape: the per-sample input shape.
  ///   - loss: the reconstruction loss (binary cross-entropy suits a sigmoid output on
  ///     `[0, 1]` data).
  ///   - name: the model's name.
  ///   - seed: the seed of the initial values of parameters that have none.
  /// - Throws: `PlexusError.invalidConfiguration` when the decoder's output shape differs
  ///   from the input shape, or the halves do not fit each other.
  public init(
    encoder: any ModelProtocol, decoder: any ModelProtocol, inputShape: SymbolicShape,
    loss: LossFunction = .meanSquaredError, name: String = "", seed: UInt64 = 0
  ) throws {
    if encoder.name.isEmpty { encoder.name = "encoder" }
    if decoder.name.isEmpty { decoder.name = "decoder" }
    guard encoder.name != decoder.name else {
      throw PlexusError.invalidConfiguration(
        "the encoder and the decoder of an autoencoder need different names, both are "
          + "'\(encoder.name)'")
    }
    let input = try Input(shape: inputShape, name: "input")
    let code = try encoder(input)
    let reconstruction = try decoder(code)
    guard reconstruction.shape == inputShape else {
      throw PlexusError.invalidConfiguration(
        "the decoder of an autoencoder must return the input shape "
          + "\(ShapeCheck.describe(inputShape)), it returns "
          + "\(ShapeCheck.describe(reconstruction.shape))")
    }
    self.model = try Model(
      inputs: [input], outputs: [reconstruction], outputNames: ["reconstruction"], seed: seed)
    self.encoder = encoder
    self.decoder = decoder
    self.reconstructionLoss = loss
    self.fittedThreshold = BuildValue()
    self.state = LayerState(name: name)
    state.builtShapes = (inputs: [inputShape], outputs: [inputShape])
  }

  /// Recreates an autoencoder from its architecture with the layers of the core, the
  /// perceptron, convolution and autoencoder modules.
  ///
  /// - Throws: as `make(config:registry:)`.
  public convenience init(config: Config) throws {
    try self.init(config: config, registry: ReconstructionModel.standardRegistry())
  }

  /// Recreates an autoencoder from its architecture, creating both halves through `registry`.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` when a half is not a model, the threshold
  ///   is not finite and non-negative, or the halves do not fit; the registry's errors.
  public convenience init(config: Config, registry: LayerRegistry) throws {
    let (encoder, decoder) = try ReconstructionModel.makeHalves(
      encoder: config.encoder, decoder: config.decoder, registry: registry,
      owner: "an autoencoder")
    try self.init(
      encoder: encoder, decoder: decoder, inputShape: config.inputShape, loss: config.loss)
    if let threshold = config.threshold { try setThreshold(threshold) }
  }

  public static func make(config: Config, registry: LayerRegistry) throws -> Self {
    try Self(config: config, registry: registry)
  }

  public var config: Config {
    do {
      return Config(
        encoder: try LayerDescription(encoder), decoder: try LayerDescription(decoder),
        inputShape: model.graph.inputs[0].shape, loss: reconstructionLoss,
        threshold: fittedThreshold.value)
    } catch {
      // Layer initializers validate their configs, so encoding them cannot fail.
      preconditionFailure("a layer config failed to encode: \(error)")
    }
  }

  // MARK: ModelProtocol (the graph, building and parameters are the whole model's)

  /// One training step with the batch's inputs as the reconstruction targets: the
  /// reconstruction loss plus the layers' contributed losses and the regularizers' penalties,
  /// backward and the optimizer's update.
  ///
  /// - Throws: the loss' and layers' errors.
  public func trainStep(_ batch: TrainingBatch, context: TrainingStepContext) throws
    -> TrainingStepResult
  {
    try ReconstructionModel.trainStep(
      batch, context: context,
      loss: { try reconstructionLoss.loss.compute(predictions: $0, targets: $1) })
  }

  /// One evaluation step: the reconstruction loss of the batch in inference mode.
  ///
  /// - Throws: the loss' errors.
  public func testStep(_ batch: TrainingBatch, context: TrainingStepContext) throws
    -> TrainingStepResult
  {
    try ReconstructionModel.testStep(
      batch, context: context,
      loss: { try reconstructionLoss.loss.compute(predictions: $0, targets: $1) })
  }

  // MARK: Encoding and decoding

  /// The codes of `x` (inference mode).
  ///
  /// - Throws: `PlexusError` when `x` does not fit the encoder.
  public func encode(_ x: Tensor, batchSize: Int = 256) throws -> Tensor {
    try encoder.predict(x, batchSize: batchSize)
  }

  /// The reconstructions of codes `z` (inference mode).
  ///
  /// - Throws: `PlexusError` when `z` does not fit the decoder.
  public func decode(_ z: Tensor, batchSize: Int = 256) throws -> Tensor {
    try decoder.predict(z, batchSize: batchSize)
  }

  /// The reconstructions of `x`: decode after encode, in inference mode (no corruption).
  ///
  /// - Throws: `PlexusError` when `x` does not fit the model.
  public func reconstruct(_ x: Tensor, batchSize: Int = 256) throws -> Tensor {
    try model.predict(x, batchSize: batchSize)
  }

  /// The mean squared error between each sample of `x` and its reconstruction, one value per
  /// sample.
  ///
  /// - Throws: `PlexusError` when `x` does not fit the model.
  public func reconstructionErrors(_ x: Tensor, batchSize: Int = 256) throws -> [Float] {
    let reconstruction = try reconstruct(x, batchSize: batchSize)
    return try Self.meanSquaredErrors(between: x, and: reconstruction)
  }

  /// The mean squared error per sample between two batches of the same shape.
  ///
  /// - Throws: `PlexusError.invalidShape` when the shapes differ or have no batch dimension.
  public static func meanSquaredErrors(between a: Tensor, and b: Tensor) throws -> [Float] {
    guard a.shape == b.shape, a.rank > 0 else {
      throw PlexusError.invalidShape(
        "per-sample errors need two batches of one shape, got \(a.shape) and \(b.shape)")
    }
    let samples = a.shape[0]
    guard samples > 0 else { return [] }
    let width = a.count / samples
    var errors = [Float](repeating: 0, count: samples)
    a.withUnsafeBufferPointer { x in
      b.withUnsafeBufferPointer { y in
        for sample in 0..<samples {
          var sum: Double = 0
          for index in sample * width..<(sample + 1) * width {
            let difference = Double(x[index]) - Double(y[index])
            sum += difference * difference
          }
          errors[sample] = Float(sum / Double(max(width, 1)))
        }
      }
    }
    return errors
  }

  // MARK: Anomaly detection

  /// The anomaly threshold on the per-sample reconstruction error (`nil` until fitted or set).
  public var threshold: Float? { fittedThreshold.value }

  /// Sets the anomaly threshold.
  ///
  /// - Throws: `PlexusError.invalidArgument` unless `threshold` is finite and non-negative.
  public func setThreshold(_ threshold: Float) throws {
    guard threshold.isFinite, threshold >= 0 else {
      throw PlexusError.invalidArgument(
        "an anomaly threshold must be finite and non-negative, got \(threshold)")
    }
    fittedThreshold.value = threshold
  }

  /// Sets the anomaly threshold to the `quantile` of the reconstruction errors of `x`
  /// (normal data, usually the training set), interpolating linearly between order
  /// statistics, and returns it.
  ///
  /// - Throws: `PlexusError.invalidArgument` for an empty `x` or a quantile outside `[0, 1]`.
  @discardableResult
  public func fitThreshold(_ x: Tensor, quantile: Float = 0.99, batchSize: Int = 256) throws
    -> Float
  {
    guard quantile.isFinite, quantile >= 0, quantile <= 1 else {
      throw PlexusError.invalidArgument("the quantile must be in [0, 1], got \(quantile)")
    }
    guard x.rank > 0, x.shape[0] > 0 else {
      throw PlexusError.invalidArgument("fitting a threshold needs at least one sample")
    }
    let errors = try reconstructionErrors(x, batchSize: batchSize).sorted()
    let position = Double(quantile) * Double(errors.count - 1)
    let lower = Int(position.rounded(.down))
    let upper = min(lower + 1, errors.count - 1)
    let fraction = Float(position - Double(lower))
    let value = errors[lower] + (errors[upper] - errors[lower]) * fraction
    try setThreshold(value)
    return value
  }

  /// The anomaly scores of `x`: the per-sample reconstruction errors.
  ///
  /// - Throws: `PlexusError` when `x` does not fit the model.
  public func scores(_ x: Tensor, batchSize: Int = 256) throws -> [Float] {
    try reconstructionErrors(x, batchSize: batchSize)
  }

  /// Whether each sample of `x` scores above the threshold.
  ///
  /// - Throws: `PlexusError.notBuilt` before a threshold is fitted or set; as `scores(_:)`.
  public func isAnomalous(_ x: Tensor, batchSize: Int = 256) throws -> [Bool] {
    guard let threshold = fittedThreshold.value else {
      throw PlexusError.notBuilt(
        "autoencoder '\(name)' has no anomaly threshold: call fitThreshold(_:quantile:) first")
    }
    return try scores(x, batchSize: batchSize).map { $0 > threshold }
  }
}

extension Autoencoder: WrapsReconstructionModel {}
