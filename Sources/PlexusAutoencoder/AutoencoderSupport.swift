import PlexusConvolution
import PlexusCore
import PlexusPerceptron

/// The shape check of the module's elementwise layers (noise and regularization), whose
/// output has the shape of their input.
enum ElementwiseShape {
  /// `inputShape` unchanged.
  ///
  /// - Throws: `PlexusError.shapeMismatch` naming `layer` when `inputShape` is empty.
  static func identity(_ inputShape: SymbolicShape, layer: String) throws -> SymbolicShape {
    guard !inputShape.isEmpty else {
      throw PlexusError.shapeMismatch(
        layer: layer, expected: "a non-empty shape of positive dimensions", found: [])
    }
    return inputShape
  }
}

extension LayerState {
  /// Replaces every element of `tensor`, in order, by `transform` of its value and the
  /// layer's random stream.
  func transformElements(
    of tensor: inout Tensor, _ transform: (Float, inout SeededGenerator) -> Float
  ) {
    withRandomStream { generator in
      tensor.withUnsafeMutableBufferPointer { buffer in
        for index in buffer.indices { buffer[index] = transform(buffer[index], &generator) }
      }
    }
  }
}

/// What the autoencoder and the VAE share: recreating their halves from an architecture and
/// the training and evaluation steps on a reconstruction objective (the inputs are the
/// targets).
enum ReconstructionModel {
  /// A registry with the layers of the core, the perceptron, convolution and autoencoder
  /// modules.
  static func standardRegistry() -> LayerRegistry {
    let registry = LayerRegistry()
    PerceptronLayers.register(in: registry)
    ConvolutionLayers.register(in: registry)
    AutoencoderLayers.register(in: registry)
    return registry
  }

  /// The encoder and decoder created from their descriptions through `registry`, with tied
  /// weights across the halves linked (a decoder's DenseTied naming an encoder's Dense).
  ///
  /// - Throws: `PlexusError.invalidConfiguration` naming `owner` (e.g. "an autoencoder") when
  ///   a half is not a model; the registry's and the linking's errors.
  static func makeHalves(
    encoder: LayerDescription, decoder: LayerDescription, registry: LayerRegistry,
    owner: String
  ) throws -> (encoder: any ModelProtocol, decoder: any ModelProtocol) {
    func half(_ description: LayerDescription, _ role: String) throws -> any ModelProtocol {
      guard let model = try registry.makeLayer(from: description) as? any ModelProtocol else {
        throw PlexusError.invalidConfiguration(
          "the \(role) of \(owner) must be a model (plexus.sequential or plexus.model), "
            + "got type '\(description.type)'")
      }
      return model
    }
    let halves = (encoder: try half(encoder, "encoder"), decoder: try half(decoder, "decoder"))
    try ParameterSharing.link([halves.encoder, halves.decoder])
    return halves
  }

  /// One training step: the reconstruction `loss` of the first output against the first
  /// input plus the layers' contributed losses (each also logged under its name), then
  /// `finishLogs` (before the regularizers' penalty is added), the penalty, backward and the
  /// optimizer's update. A non-finite loss skips the update.
  ///
  /// - Throws: the loss' and layers' errors.
  static func trainStep(
    _ batch: TrainingBatch, context: TrainingStepContext,
    loss: (_ outputs: Tensor, _ targets: Tensor) throws -> (value: Float, gradient: Tensor),
    finishLogs: (inout TrainingStepResult) -> Void = { _ in }
  ) throws -> TrainingStepResult {
    context.zeroGradients()
    let outputs = try context.graph.forward(batch.inputs, tape: context.tape, training: true)
    let (value, gradient) = try loss(outputs[0], batch.inputs[0])
    var result = TrainingStepResult(
      loss: value, outputs: outputs, outputLosses: [value], logs: ["reconstruction_loss": value])
    for term in context.tape.contributedLosses {
      result.loss += term.value
      result.logs[term.name, default: 0] += term.value
    }
    finishLogs(&result)
    result.loss += context.regularizationPenalty
    guard result.loss.isFinite else { return result }
    _ = try context.graph.backward([gradient], tape: context.tape, computingInputGradients: false)
    try context.applyGradients()
    return result
  }

  /// One evaluation step: the reconstruction `loss` of the batch in inference mode.
  ///
  /// - Throws: the loss' errors.
  static func testStep(
    _ batch: TrainingBatch, context: TrainingStepContext,
    loss: (_ outputs: Tensor, _ targets: Tensor) throws -> (value: Float, gradient: Tensor)
  ) throws -> TrainingStepResult {
    let outputs = try context.graph.forward(batch.inputs, tape: context.tape, training: false)
    let (value, _) = try loss(outputs[0], batch.inputs[0])
    return TrainingStepResult(
      loss: value, outputs: outputs, outputLosses: [value], logs: ["reconstruction_loss": value])
  }
}

/// A model (the autoencoder, the VAE) that holds its whole graph, input to reconstruction, in
/// `model` and answers the graph, building and parameter requirements of `ModelProtocol`
/// with it.
protocol WrapsReconstructionModel: ModelProtocol {
  /// The whole model: input to reconstruction.
  var model: Model { get }
}

extension WrapsReconstructionModel {
  public func builtGraph() throws -> Graph { model.graph }

  public func build(for inputShapes: [SymbolicShape]) throws -> [SymbolicShape] {
    try model.build(for: inputShapes)
  }

  public func initialize(using generator: inout SeededGenerator) throws {
    try model.initialize(using: &generator)
  }

  public var parameters: [Parameter] { model.graph.parameters }

  public var namedParameters: [(path: String, parameter: Parameter)] {
    model.graph.namedParameters(prefix: name.isEmpty ? "" : "\(name).")
  }

  public var sublayers: [any Layer] { model.graph.layers }
}
