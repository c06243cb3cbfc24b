import Foundation

extension ModelProtocol {
  /// Saves the model — architecture, weights, metadata and, optionally, an optimizer state — as a
  /// `.plexus` file.
  ///
  /// The save is atomic: a temporary file in the same folder is written, flushed to disk and
  /// renamed over `url`, so a crash or a full disk mid-save leaves the previous file intact.
  ///
  /// ```swift
  /// try model.save(to: URL(fileURLWithPath: "digits.plexus"))
  /// try model.save(to: url, options: SaveOptions(codec: .raw, dtype: .f16))
  /// ```
  ///
  /// - Throws: `PlexusError.notBuilt` for an unbuilt model; `PlexusFormatError` when writing
  ///   fails.
  public func save(to url: URL, options: SaveOptions = SaveOptions()) throws {
    guard (try? builtGraph()) != nil, parameters.allSatisfy(\.isMaterialized) else {
      throw PlexusError.notBuilt("model '\(name)' must be built before it is saved")
    }
    try PlexusWriter.write(
      architecture: try LayerDescription(self),
      tensors: namedParameters.map { (name: $0.path, tensor: $0.parameter.value) }, to: url,
      options: options)
  }
}

extension Sequential {
  /// Loads a sequential model saved with `save(to:options:)`, creating its layers through
  /// `registry` (`LayerRegistry.standard()` from the `Plexus` module knows every bundled layer).
  ///
  /// - Throws: `PlexusFormatError` for a corrupt or inconsistent file or one whose model is not
  ///   sequential; `PlexusError.unknownLayerType` naming the type and the module to import when
  ///   a layer type is not registered.
  public static func load(from url: URL, registry: LayerRegistry) throws -> Sequential {
    try load(from: PlexusFile(contentsOf: url), registry: registry)
  }

  /// Creates and fills a sequential model from an opened file.
  ///
  /// - Throws: as `load(from:registry:)`.
  public static func load(from file: PlexusFile, registry: LayerRegistry) throws -> Sequential {
    let model = try file.loadModel(registry: registry)
    guard let sequential = model as? Sequential else {
      throw PlexusFormatError(
        .modelMismatch,
        "the root layer has type '\(file.architecture.type)', expected '\(Sequential.typeName)' "
          + "(load it with loadModel(from:registry:))",
        chunk: PlexusFormat.ChunkType.architecture)
    }
    return sequential
  }
}

extension Model {
  /// Loads a graph model saved with `save(to:options:)`.
  ///
  /// - Throws: as `Sequential.load(from:registry:)`.
  public static func load(from url: URL, registry: LayerRegistry) throws -> Model {
    let file = try PlexusFile(contentsOf: url)
    guard let model = try file.loadModel(registry: registry) as? Model else {
      throw PlexusFormatError(
        .modelMismatch,
        "the root layer has type '\(file.architecture.type)', expected '\(Model.typeName)'",
        chunk: PlexusFormat.ChunkType.architecture)
    }
    return model
  }
}

/// Loads any model saved with `save(to:options:)` — a `Sequential`, a graph `Model` or a model
/// type of another module — creating its layers through `registry`.
///
/// - Throws: as `Sequential.load(from:registry:)`.
public func loadModel(from url: URL, registry: LayerRegistry) throws -> any ModelProtocol {
  try PlexusFile(contentsOf: url).loadModel(registry: registry)
}

extension PlexusFile {
  /// Creates the model the file describes and fills its parameters from the file's tensors;
  /// the layers' random streams and training state (``TrainingStateHolder``) continue from
  /// those saved, if any.
  ///
  /// Every parameter must fit the largest tensor the file declares, and initial values are not
  /// drawn: the file's tensors replace them.
  ///
  /// - Throws: `PlexusFormatError` for an architecture that is not a model or does not match
  ///   the tensors; the registry's errors.
  public func loadModel(registry: LayerRegistry) throws -> any ModelProtocol {
    let largestTensor = tensors.map(\.elementCount).max() ?? 0
    let model: any ModelProtocol = try ParameterAllocation.$current.withValue(
      ParameterAllocation(maximumElements: largestTensor, drawsInitialValues: false)
    ) {
      let layer = try registry.makeLayer(from: architecture)
      guard let model = layer as? any ModelProtocol else {
        throw PlexusFormatError(
          .modelMismatch,
          "the root layer has type '\(architecture.type)', which is not a model",
          chunk: PlexusFormat.ChunkType.architecture)
      }
      if let sequential = model as? Sequential {
        guard sequential.inputShape != nil else {
          throw PlexusFormatError(
            .malformed, "the architecture records no input shape",
            chunk: PlexusFormat.ChunkType.architecture)
        }
        try sequential.build(seed: 0)
      }
      return model
    }
    try assignTensors(to: model.namedParameters)
    if let streams = try randomStreams() {
      do {
        try model.restoreRandomStreams(streams)
      } catch let error as PlexusError {
        throw PlexusFormatError(
          .modelMismatch, error.description, chunk: PlexusFormat.ChunkType.metadata)
      }
    }
    try restoreTrainingState(of: model)
    return model
  }
}

extension PlexusFile {
  /// Decodes the model tensors and assigns them to `parameters`, which must match them one to
  /// one by path and shape.
  ///
  /// - Throws: `PlexusFormatError` (`.modelMismatch`) naming the parameter or tensor that has no
  ///   counterpart or the wrong shape; any decoding error.
  public func assignTensors(to parameters: [(path: String, parameter: Parameter)]) throws {
    let stored = Dictionary(
      tensors.filter { $0.group == TensorIndexEntry.modelGroup }.map { ($0.name, $0) },
      uniquingKeysWith: { a, _ in a })
    var expected = Set<String>()
    for (path, parameter) in parameters {
      expected.insert(path)
      guard let entry = stored[path] else {
        throw PlexusFormatError(
          .modelMismatch, "parameter '\(path)' of the model has no tensor in the file",
          chunk: PlexusFormat.ChunkType.tensorIndex,
          tensor: path)
      }
      guard entry.shape == parameter.value.shape else {
        throw PlexusFormatError(
          .modelMismatch,
          "the model expects shape \(parameter.value.shape), the file stores \(entry.shape)",
          chunk: PlexusFormat.ChunkType.tensorIndex, offset: entry.offset, tensor: path)
      }
    }
    if let extra = stored.keys.sorted().first(where: { !expected.contains($0) }) {
      throw PlexusFormatError(
        .modelMismatch, "the file's tensor matches no parameter of the model",
        chunk: PlexusFormat.ChunkType.tensorIndex,
        tensor: extra)
    }
    let values = try tensors(group: TensorIndexEntry.modelGroup)
    for (path, parameter) in parameters {
      if let value = values[path] { try parameter.assign(value) }
    }
  }
}

extension ModelProtocol {
  /// Saves the model with its training history, its optimizer's state, its layers' random
  /// streams (dropout's masks) and training state (an RBM's sampler), so that `fit` can resume where it stopped and draw what an
  /// uninterrupted run would (load with `Sequential.load`, then `PlexusFile.restoreOptimizer`).
  ///
  /// ```swift
  /// let history = try model.fit(x, y, loss: loss, optimizer: adam, options: options)
  /// try model.save(to: url, history: history, optimizer: adam)
  /// ```
  ///
  /// - Throws: as `save(to:options:)`, and the optimizer's export errors.
  public func save(
    to url: URL, history: History?, optimizer: (any Optimizer)?,
    options: SaveOptions = SaveOptions()
  ) throws {
    var options = options
    if let history { options.metadata.history = try JSONValue(encoding: history) }
    try options.metadata.recordRandomStreams(of: self)
    let training = try TrainingStateMetadata.encode(self)
    options.metadata.values[TrainingStateMetadata.key] = training.value
    options.trainingTensors += training.tensors
    if let optimizer {
      options.optimizerState = try optimizer.exportState(for: trainableParameters)
    }
    try save(to: url, options: options)
  }
}

extension PlexusFile {
  /// The training history stored in the metadata, when it is a `History`.
  ///
  /// - Throws: `PlexusFormatError` (`.malformed`) when the stored history is not a `History`.
  public func trainingHistory() throws -> History? {
    guard let history = metadata?.history else { return nil }
    do {
      return try history.decode(History.self, context: "training history")
    } catch {
      throw PlexusFormatError(.malformed, "\(error)", chunk: PlexusFormat.ChunkType.metadata)
    }
  }

  /// Recreates the saved optimizer with its state for `model`'s trainable parameters (the list
  /// `fit` trains), so that training resumes where it stopped; `nil` when no state was saved.
  ///
  /// - Throws: `PlexusFormatError` for corrupt slot tensors; `PlexusError` when the state does
  ///   not fit the model's parameters.
  public func restoreOptimizer(for model: any ModelProtocol) throws -> (any Optimizer)? {
    guard let state = try optimizerState() else { return nil }
    return try OptimizerConfig.restore(state, for: model.trainableParameters)
  }
}
