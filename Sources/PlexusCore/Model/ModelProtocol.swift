/// A trainable model: a layer that runs a `Graph` and that `fit`, `evaluate`, `predict`,
/// `save` and model loading work with. `Model` (a graph built with symbolic tensors) and
/// `Sequential` (a chain) conform; so can a model with its own training step, such as an
/// RBM trained by contrastive divergence.
///
/// Named `ModelProtocol` because `Model` is the functional-API class, as the standard library
/// names `IteratorProtocol` beside its iterators.
public protocol ModelProtocol: Layer {
  /// The model's graph.
  ///
  /// - Throws: `PlexusError.notBuilt` for a model that is not built yet (a `Sequential`
  ///   before its input shape is known).
  func builtGraph() throws -> Graph

  /// The graph for training on samples of these per-sample shapes (one per input), building
  /// the model with `seed` first when it is not built. The default returns `builtGraph()`.
  func graphForTraining(sampleShapes: [[Int]], seed: UInt64) throws -> Graph

  /// One training step on a batch, as Keras 3's `train_step`: the default runs the batch
  /// forward in training mode, adds the outputs' losses (weighted), the layers' contributed
  /// losses and the regularizers' penalties, runs backward and lets the optimizer update the
  /// trainable parameters (`context.supervisedStep(_:)`). A model trained otherwise (an RBM
  /// by contrastive divergence) implements its own; `fit` still provides batching,
  /// shuffling, callbacks, progress, history, early stopping and the NaN guard.
  func trainStep(_ batch: TrainingBatch, context: TrainingStepContext) throws
    -> TrainingStepResult

  /// One evaluation step on a batch in inference mode; the default computes the outputs and
  /// their losses (`context.supervisedTestStep(_:)`).
  func testStep(_ batch: TrainingBatch, context: TrainingStepContext) throws
    -> TrainingStepResult

  /// Whether the model's training step learns from the inputs alone, with no targets and no
  /// loss (an RBM); tools then call `fit(_:optimizer:options:callbacks:)` and
  /// `evaluate(inputs:targets:losses:batchSize:)` without targets. The default is `false`.
  var learnsWithoutTargets: Bool { get }

  /// Checks whole data sets before `fit` or `evaluate` batches them (after the shapes and the
  /// finiteness of every value are checked), so an error names the sample's index in the data
  /// rather than in a shuffled batch. The default accepts everything; an RBM refuses values
  /// outside `[0, 1]` for Bernoulli units.
  ///
  /// - Parameters:
  ///   - inputs: one tensor per model input, every sample of the data set.
  ///   - role: what the data is for (`"training"`, `"validation"`, `"evaluation"`).
  func validateData(inputs: [Tensor], role: String) throws
}

extension ModelProtocol {
  public func graphForTraining(sampleShapes: [[Int]], seed: UInt64) throws -> Graph {
    try builtGraph()
  }

  public func trainStep(_ batch: TrainingBatch, context: TrainingStepContext) throws
    -> TrainingStepResult
  {
    try context.supervisedStep(batch)
  }

  public func testStep(_ batch: TrainingBatch, context: TrainingStepContext) throws
    -> TrainingStepResult
  {
    try context.supervisedTestStep(batch)
  }

  public var learnsWithoutTargets: Bool { false }

  public func validateData(inputs: [Tensor], role: String) throws {}

  /// The model's input names and per-sample shapes.
  public var inputSpecs: [Graph.InputSpec] { (try? builtGraph())?.inputs ?? [] }

  /// The model's output names and per-sample shapes.
  public var outputSpecs: [Graph.OutputSpec] { (try? builtGraph())?.outputs ?? [] }

  // MARK: The model as a layer inside another model

  public func forward(_ inputs: [Tensor], record: CallRecord) throws -> [Tensor] {
    let graph = try builtGraph()
    let tape: GraphTape
    if let existing = record.scratch as? GraphTape,
      existing.graphIdentifier == ObjectIdentifier(graph)
    {
      tape = existing
    } else {
      tape = graph.makeTape()
      record.scratch = tape
    }
    let outputs = try graph.forward(
      inputs, tape: tape, training: record.isTraining, inputMasks: record.inputMasks)
    for loss in tape.contributedLosses { record.addLoss(loss.value, name: loss.name) }
    // Masks made inside (an embedding's, a masking layer's) leave with the outputs.
    record.outputMasks = graph.outputMasks(of: tape)
    return outputs
  }

  public func backward(
    _ outputGradients: [Tensor], record: CallRecord, computingInputGradients: Bool
  ) throws -> [Tensor?] {
    guard let tape = record.scratch as? GraphTape else {
      throw PlexusError.notBuilt("model '\(name)': backward called before forward")
    }
    return try builtGraph().backward(
      outputGradients.map { $0 }, tape: tape, computingInputGradients: computingInputGradients)
  }

  public var trainableParameters: [Parameter] {
    guard state.isTrainable, let graph = try? builtGraph() else { return [] }
    return graph.trainableParameters
  }

  // MARK: Inference

  /// Runs the model in inference mode over one batch per input, in chunks of `batchSize`
  /// samples. Several tasks may predict with one model at once.
  ///
  /// - Throws: `PlexusError` when the model is not built or the inputs do not fit.
  public func predict(_ inputs: [Tensor], batchSize: Int = 256) throws -> [Tensor] {
    guard batchSize > 0 else {
      throw PlexusError.invalidArgument("batch size must be positive, got \(batchSize)")
    }
    let graph = try builtGraph()
    guard inputs.count == graph.inputs.count, let first = inputs.first, first.rank > 0 else {
      throw PlexusError.invalidArgument(
        "the model takes \(graph.inputs.count) inputs, got \(inputs.count)")
    }
    let total = first.shape[0]
    if total <= batchSize { return try graph.infer(inputs) }
    var chunks: [[Tensor]] = Array(repeating: [], count: graph.outputs.count)
    var start = 0
    while start < total {
      let end = Swift.min(total, start + batchSize)
      let outputs = try graph.infer(
        try inputs.map { input in
          guard input.rank > 0, input.shape[0] == total else {
            throw PlexusError.invalidArgument(
              "every input needs \(total) samples; one has shape \(input.shape)")
          }
          return input.samples(start..<end)
        })
      for (index, output) in outputs.enumerated() { chunks[index].append(output) }
      start = end
    }
    return try chunks.map { try Tensor.concatenateSamples($0) }
  }

  /// Runs a model with one input and one output in inference mode over `input` in batches.
  ///
  /// - Throws: `PlexusError` when the model is not built, has several inputs or outputs, or
  ///   the input shape does not fit.
  public func predict(_ input: Tensor, batchSize: Int = 256) throws -> Tensor {
    let graph = try builtGraph()
    guard graph.inputs.count == 1, graph.outputs.count == 1 else {
      throw PlexusError.invalidArgument(
        "the model has \(graph.inputs.count) inputs and \(graph.outputs.count) outputs; "
          + "use predict(_:) with one tensor per input, or predict(named:)")
    }
    return try predict([input], batchSize: batchSize)[0]
  }

  /// Runs the model on inputs given by name and returns the outputs by name.
  ///
  /// - Throws: `PlexusError.invalidArgument` for a missing or unknown input name; as
  ///   `predict(_:batchSize:)`.
  public func predict(named inputs: [String: Tensor], batchSize: Int = 256) throws
    -> [String: Tensor]
  {
    let graph = try builtGraph()
    let ordered = try ModelData.ordered(
      inputs, names: graph.inputs.map(\.name), role: "input")
    let outputs = try predict(ordered, batchSize: batchSize)
    return Dictionary(uniqueKeysWithValues: zip(graph.outputs.map(\.name), outputs))
  }

  /// The layer with a given name among the model's layers (not looking into nested models).
  public func layer(named layerName: String) -> (any Layer)? {
    (try? builtGraph())?.layers.first { $0.name == layerName }
      ?? sublayers.first { $0.name == layerName }
  }
}

/// Helpers for data given to models by name.
public enum ModelData {
  /// Orders named tensors by `names`.
  ///
  /// - Throws: `PlexusError.invalidArgument` naming a missing or unknown key.
  public static func ordered(_ values: [String: Tensor], names: [String], role: String) throws
    -> [Tensor]
  {
    if let unknown = values.keys.sorted().first(where: { !names.contains($0) }) {
      throw PlexusError.invalidArgument(
        "the model has no \(role) named '\(unknown)'; its \(role)s are \(names.joined(separator: ", "))"
      )
    }
    return try names.map { name in
      guard let value = values[name] else {
        throw PlexusError.invalidArgument("no data given for \(role) '\(name)'")
      }
      return value
    }
  }
}

/// A model that holds one graph, made in its initializer, as its whole computation (an RBM,
/// a DBN): the graph answers the model's building, initialization and parameter requirements.
public protocol SingleGraphModel: ModelProtocol {
  /// The model's graph.
  var graph: Graph { get }
}

extension SingleGraphModel {
  public func builtGraph() throws -> Graph { graph }

  public func initialize(using generator: inout SeededGenerator) throws {
    try graph.initialize(using: &generator)
  }

  public var parameters: [Parameter] { graph.parameters }

  public var namedParameters: [(path: String, parameter: Parameter)] {
    graph.namedParameters(prefix: name.isEmpty ? "" : "\(name).")
  }

  public var sublayers: [any Layer] { graph.layers }
}
