import Foundation
import Plexus

/// A training run described in JSON: the model's layers, the loss, the optimizer, the data and
/// the training settings. `plexus train SPEC.json` reads one.
///
/// ```json
/// {
///   "name": "digits-mlp",
///   "inputShape": [64],
///   "layers": [
///     {"type": "plexus.dense", "name": "hidden_1", "config": {"units": 128, "activation": "relu"}},
///     {"type": "plexus.dense", "config": {"units": 10}}
///   ],
///   "loss": "softmax_cross_entropy",
///   "optimizer": {"type": "adam", "learningRate": 0.001},
///   "epochs": 20, "batchSize": 32, "seed": 42, "validationSplit": 0.1,
///   "data": {"source": "digits"}
/// }
/// ```
///
/// Each layer is exactly a `LayerDescription` (its registered type, an optional name and its
/// config); the loss and the optimizer are a name or a flat object `{"type": ..., ...}` with
/// their parameters, as `LossFunction` and `OptimizerConfig` encode: any loss registered in
/// `LossRegistry.shared` and any optimizer registered in `OptimizerRegistry.shared`, by its
/// namespaced name (`plexus.adam`) or a built-in short name (`adam`). Paths in `data` are
/// relative to the spec file.
///
/// `"target": "input"` trains the model to reproduce its input (an autoencoder's reconstruction
/// target; the data's labels are not used), for training as for the test figures; the default,
/// `"labels"`, fits the labels. A spec whose only layer is itself a model type (such as
/// `plexus.autoencoder`, `plexus.vae` or `plexus.rbm_model`) trains that model directly, with its
/// own training step (a VAE's KL term, an RBM's contrastive divergence), and saves it as that
/// model, so `loadModel` gives it back as an `Autoencoder`, a `VAE` or an `RBM`.
///
/// `loss` may be left out only for a model that learns without targets (an RBM). A
/// `plexus.dbn` model may have a `pretraining` section,
/// `{"optimizer": ..., "epochs": 20, "batchSize": 10}`: its RBMs are then pretrained one after
/// the other by contrastive divergence before the whole network is fine-tuned with `loss` and
/// `optimizer`.
public struct TrainingSpec: Sendable, Equatable {
  /// The model's name.
  public var name: String?
  /// The per-sample input shape; when absent it is taken from the data.
  public var inputShape: [Int]?
  /// The layers in order. A description with an empty name is named by the model
  /// (`dense_1`, ...).
  public var layers: [LayerDescription]
  /// For each layer, the names of the earlier layers (or `"input"`, the model input) it is
  /// applied to; `nil` means the layer before it (the input, for the first layer). A spec in
  /// which any layer names its inputs describes a graph model (`Model`), else a `Sequential`.
  /// The model's output is the last layer.
  public var layerInputs: [[String]?]
  /// The loss function (`nil` for a model that learns without targets).
  public var loss: ComponentSpec?
  /// The optimizer.
  public var optimizer: ComponentSpec
  /// The number of passes over the training data.
  public var epochs: Int
  /// The number of samples per batch.
  public var batchSize: Int
  /// The seed of weight initialization, shuffling and dropout.
  public var seed: UInt64
  /// The fraction of the training data held out for validation after each epoch, in `[0, 1)`.
  public var validationSplit: Double
  /// Whether the training data is shuffled every epoch.
  public var shuffle: Bool
  /// Where the data comes from.
  public var data: DataSpec
  /// What the model is trained to output.
  public var target: TrainingTarget
  /// Greedy layer-wise pretraining before training (a DBN's RBMs).
  public var pretraining: PretrainingSpec?
  /// The metrics logged besides the loss (`"metrics": ["accuracy", "f1", {"type":
  /// "top_k_accuracy", "k": 3}]`); `nil` logs accuracy for a classification loss.
  public var metrics: [Metric]?
  /// The weights of the classes in the training loss, indexed by class.
  public var classWeights: [Float]?
  /// Stops training when a monitored figure stops improving.
  public var earlyStopping: EarlyStopping.Config?
  /// How the learning rate changes during training.
  public var learningRateSchedule: LearningRateScheduleSpec?

  /// The keys a spec may have.
  public static let keys = [
    "name", "inputShape", "layers", "loss", "optimizer", "epochs", "batchSize", "seed",
    "validationSplit", "shuffle", "data", "target", "pretraining", "metrics", "classWeights",
    "earlyStopping", "learningRateSchedule",
  ]

  /// Creates a spec.
  public init(
    name: String? = nil, inputShape: [Int]? = nil, layers: [LayerDescription],
    loss: ComponentSpec?, optimizer: ComponentSpec, epochs: Int = 10, batchSize: Int = 32,
    seed: UInt64 = 0, validationSplit: Double = 0, shuffle: Bool = true, data: DataSpec,
    target: TrainingTarget = .labels, pretraining: PretrainingSpec? = nil
  ) {
    self.name = name
    self.inputShape = inputShape
    self.layers = layers
    self.layerInputs = Array(repeating: nil, count: layers.count)
    self.loss = loss
    self.optimizer = optimizer
    self.epochs = epochs
    self.batchSize = batchSize
    self.seed = seed
    self.validationSplit = validationSplit
    self.shuffle = shuffle
    self.data = data
    self.target = target
    self.pretraining = pretraining
  }

  /// Reads a spec from a file; relative data paths are resolved against the file's folder.
  ///
  /// - Throws: `SpecError` naming the file and the JSON path of the first problem;
  ///   `PlexusError.io` when the file cannot be read.
  public static func load(contentsOf url: URL) throws -> TrainingSpec {
    var isFolder: ObjCBool = false
    if FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder), isFolder.boolValue
    {
      throw PlexusError.io("'\(url.path)' is a folder, not a spec file")
    }
    let data: Data
    do {
      data = try Data(contentsOf: url)
    } catch {
      throw PlexusError.io("cannot read spec file '\(url.path)': \(error.localizedDescription)")
    }
    do {
      return try decode(data, baseDirectory: url.deletingLastPathComponent())
    } catch var error as SpecError {
      error.file = url.path
      throw error
    }
  }

  /// Decodes a spec from JSON text.
  ///
  /// - Parameters:
  ///   - json: the spec's text, UTF-8.
  ///   - baseDirectory: the folder relative data paths are resolved against.
  /// - Throws: `SpecError` naming the JSON path of the first problem and what was expected.
  public static func decode(_ json: Data, baseDirectory: URL) throws -> TrainingSpec {
    let root = try JSONCursor.parse(json)
    try root.requireKeys(in: keys)

    let name = try root.optional("name")?.string()
    let inputShape = try root.optional("inputShape").map { cursor -> [Int] in
      let dimensions = try cursor.array().map {
        try $0.int(in: 1...Int.max, expected: "a positive dimension")
      }
      guard !dimensions.isEmpty else {
        throw cursor.error("expected a non-empty array of positive dimensions")
      }
      return dimensions
    }

    let layersCursor = try root.required("layers", expected: "an array of layer descriptions")
    let layerCursors = try layersCursor.array()
    guard !layerCursors.isEmpty else { throw layersCursor.error("expected at least one layer") }
    var layers: [LayerDescription] = []
    var layerInputs: [[String]?] = []
    var names: [String: String] = [:]
    for cursor in layerCursors {
      try cursor.requireKeys(in: ["type", "name", "config", "inputs"])
      let type = try cursor.required(
        "type", expected: "a registered layer type name such as 'plexus.dense'"
      )
      .string()
      let layerName = try cursor.optional("name")?.string() ?? ""
      if !layerName.isEmpty {
        if let previous = names[layerName] {
          throw SpecError(
            path: cursor.path + ".name",
            message: "layer name '\(layerName)' is already used by \(previous)")
        }
        names[layerName] = cursor.path
      }
      let config = try cursor.optional("config")
      if let config { _ = try config.object() }
      if let inputsCursor = try cursor.optional("inputs") {
        let inputs = try inputsCursor.array().map { entry in
          let source = try entry.string()
          guard source == TrainingSpec.inputName || names[source] != nil else {
            throw entry.error(
              "expected the name of an earlier layer or \"\(TrainingSpec.inputName)\", found '\(source)'"
            )
          }
          return source
        }
        guard !inputs.isEmpty else {
          throw inputsCursor.error("expected at least one input name")
        }
        guard !layerName.isEmpty else {
          throw cursor.error("a layer that names its inputs needs a name of its own too")
        }
        layerInputs.append(inputs)
      } else {
        layerInputs.append(nil)
      }
      layers.append(
        LayerDescription(type: type, name: layerName, config: config?.value ?? .object([:])))
    }

    let loss = try root.optional("loss").map(ComponentSpec.init)
    let optimizer = try ComponentSpec(
      try root.required("optimizer", expected: "an optimizer name or {\"type\": ..., ...}"))
    let epochs =
      try root.optional("epochs")?.int(in: 1...1_000_000, expected: "a positive number of epochs")
      ?? 10
    let batchSize =
      try root.optional("batchSize")?.int(in: 1...1 << 24, expected: "a positive batch size") ?? 32
    let seed = try root.optional("seed")?.seed() ?? 0
    var validationSplit = 0.0
    if let cursor = try root.optional("validationSplit") {
      validationSplit = try cursor.double()
      guard validationSplit >= 0, validationSplit < 1 else {
        throw cursor.error("expected a fraction in [0, 1), found \(validationSplit)")
      }
    }
    let shuffle = try root.optional("shuffle")?.bool() ?? true
    var target = TrainingTarget.labels
    if let cursor = try root.optional("target") {
      let names = TrainingTarget.allCases.map(\.rawValue)
      guard let parsed = TrainingTarget(rawValue: try cursor.string()) else {
        throw cursor.error("expected one of \(names.map { "\"\($0)\"" }.joined(separator: ", "))")
      }
      target = parsed
    }
    let data = try DataSpec(
      try root.required("data", expected: "a data source such as {\"source\": \"digits\"}"),
      baseDirectory: baseDirectory)
    let pretraining = try root.optional("pretraining").map(PretrainingSpec.init)

    var spec = TrainingSpec(
      name: name, inputShape: inputShape, layers: layers, loss: loss, optimizer: optimizer,
      epochs: epochs,
      batchSize: batchSize, seed: seed, validationSplit: validationSplit, shuffle: shuffle,
      data: data, target: target, pretraining: pretraining)
    spec.layerInputs = layerInputs
    try decodeTrainingControls(root, into: &spec)
    return spec
  }

  /// The name by which a graph spec's layers refer to the model input.
  public static let inputName = "input"

  /// Whether the spec describes a graph model (a layer names its inputs).
  public var isGraph: Bool { layerInputs.contains { $0 != nil } }

  /// Creates the model's layers through `registry` (unbuilt).
  ///
  /// - Throws: `SpecError` at `$.layers[i].type` for a type no registered module provides (the
  ///   message names the module that does), at `$.layers[i].config` for a malformed config.
  public func makeLayers(registry: LayerRegistry) throws -> [any Layer] {
    registry.addBundledProviderHints()
    return try layers.enumerated().map { index, description in
      do {
        return try registry.makeLayer(from: description)
      } catch let error as PlexusError {
        switch error {
        case .unknownLayerType(let type, _):
          // A bare name (`dense`) most likely means the namespaced built-in one.
          let suggestion =
            registry.contains("plexus.\(type)")
            ? " (did you mean 'plexus.\(type)'?); registered types: "
              + registry.typeNames.sorted().joined(separator: ", ") : ""
          throw SpecError(
            path: "$.layers[\(index)].type", message: error.description + suggestion)
        default:
          throw SpecError(path: "$.layers[\(index)].config", message: error.description)
        }
      }
    }
  }

  /// Creates a sequential spec's model, unbuilt.
  ///
  /// - Throws: as `makeLayers(registry:)`; `SpecError` at `$.layers` for a graph spec.
  public func makeModel(registry: LayerRegistry) throws -> Sequential {
    guard !isGraph else {
      throw SpecError(
        path: "$.layers", message: "the spec describes a graph model; use buildModel")
    }
    let model = Sequential(name: name ?? "")
    for layer in try makeLayers(registry: registry) { model.add(layer) }
    return model
  }

  /// Creates the model and builds it for `inputShape` with the spec's seed: a `Sequential`,
  /// or a graph `Model` when layers name their inputs.
  ///
  /// - Throws: as `makeLayers(registry:)`, and `SpecError` at `$.layers[i]` naming the first
  ///   layer that cannot take its input shape.
  public func buildModel(registry: LayerRegistry, inputShape: [Int], seed: UInt64? = nil) throws
    -> any ModelProtocol
  {
    let layers = try makeLayers(registry: registry)
    // Layers that use another layer's parameter (`plexus.dense_tied`'s `tiedTo`) are linked
    // to it before building, as a model read from a file is; a name that matches no layer is
    // a mistake in the spec, not a layer with a parameter of its own.
    do {
      try ParameterSharing.link(layers)
    } catch let error as PlexusError {
      throw SpecError(path: "$.layers", message: error.description)
    }
    for (index, top) in layers.enumerated() {
      for (path, layer) in [("", top)] + Self.nestedLayers(of: top) {
        guard let sharing = layer as? any ParameterSharingLayer, !sharing.isLinked else { continue }
        throw SpecError(
          path: "$.layers[\(index)].config",
          message: (path.isEmpty ? "this layer" : "its layer '\(path)'")
            + " shares the parameter of '\(sharing.sharedLayerName)', which is no layer of this "
            + "model; named layers: "
            + (layers.map(\.name).filter { !$0.isEmpty }.joined(separator: ", "))
            + (layers.allSatisfy { $0.name.isEmpty } ? "none (give the layer a \"name\")" : ""))
      }
    }
    return try buildLinkedModel(layers, inputShape: inputShape, seed: seed)
  }

  /// The layers inside `layer` (a nested model's, a wrapper's) with their paths below it.
  private static func nestedLayers(of layer: any Layer) -> [(String, any Layer)] {
    layer.sublayers.flatMap { child in
      [(child.name, child)] + nestedLayers(of: child).map { ("\(child.name).\($0.0)", $0.1) }
    }
  }

  private func buildLinkedModel(_ layers: [any Layer], inputShape: [Int], seed: UInt64?) throws
    -> any ModelProtocol
  {
    do {
      if !isGraph, layers.count == 1, let model = layers[0] as? any ModelProtocol,
        !(model is Sequential)
      {
        // A model type as the only layer is trained as itself, with its own training step.
        _ = try model.build(inputShape: inputShape.map { $0 }, seed: seed ?? self.seed)
        return model
      }
      if !isGraph {
        let model = Sequential(name: name ?? "")
        for layer in layers { model.add(layer) }
        try model.build(inputShape: inputShape.map { $0 }, seed: seed ?? self.seed)
        return model
      }
      let input = try SymbolicTensor.input(
        shape: inputShape.map { $0 }, name: TrainingSpec.inputName)
      var tensors = [TrainingSpec.inputName: input]
      var previous = input
      for (index, layer) in layers.enumerated() {
        do {
          let arguments = try (layerInputs[index] ?? []).map { source in
            guard let tensor = tensors[source] else {
              throw SpecError(
                path: "$.layers[\(index)].inputs", message: "no earlier layer is named '\(source)'")
            }
            return tensor
          }
          previous = try layer(layerInputs[index] == nil ? [previous] : arguments)
        } catch let error as PlexusError {
          throw SpecError(path: "$.layers[\(index)]", message: error.description)
        }
        if !self.layers[index].name.isEmpty { tensors[self.layers[index].name] = previous }
      }
      return try Model(
        inputs: [input], outputs: [previous], name: name ?? "", seed: seed ?? self.seed)
    } catch let error as PlexusError {
      if case .shapeMismatch(let layer, _, _) = error,
        let index = layers.firstIndex(where: { $0.name == layer })
      {
        throw SpecError(path: "$.layers[\(index)]", message: error.description)
      }
      throw SpecError(
        path: self.inputShape == nil ? "$.layers" : "$.inputShape", message: error.description)
    }
  }
}

/// The `pretraining` section of a spec: how a DBN's RBMs are pretrained, one after the other,
/// before fine-tuning. Shuffling and the seed are the spec's.
public struct PretrainingSpec: Sendable, Equatable {
  /// The optimizer of each RBM (a fresh one per RBM).
  public var optimizer: ComponentSpec
  /// The epochs of each RBM.
  public var epochs: Int
  /// The samples per batch.
  public var batchSize: Int

  /// The keys the section may have.
  public static let keys = ["optimizer", "epochs", "batchSize"]

  /// Creates a section.
  public init(optimizer: ComponentSpec, epochs: Int = 10, batchSize: Int = 10) {
    self.optimizer = optimizer
    self.epochs = epochs
    self.batchSize = batchSize
  }

  init(_ cursor: JSONCursor) throws {
    try cursor.requireKeys(in: Self.keys)
    self.init(
      optimizer: try ComponentSpec(
        try cursor.required("optimizer", expected: "an optimizer name or {\"type\": ..., ...}")),
      epochs: try cursor.optional("epochs")?.int(
        in: 1...1_000_000, expected: "a positive number of epochs") ?? 10,
      batchSize: try cursor.optional("batchSize")?.int(
        in: 1...1 << 24, expected: "a positive batch size") ?? 10)
  }
}

/// A loss or an optimizer in a spec: its type name and its JSON as written.
///
/// Written either as a bare name (`"softmax_cross_entropy"`, `"adam"`) or as a flat object
/// whose `type` names it and whose other keys are its parameters
/// (`{"type": "adam", "learningRate": 0.001}`), as `LossFunction` and `OptimizerConfig`
/// encode. The type is a registered name (`plexus.adam`, `com.example.lion`) or a built-in
/// short name (`adam`, `softmax_cross_entropy`).
public struct ComponentSpec: Sendable, Equatable {
  /// The type name as written (`adam`, `plexus.adam`, `softmax_cross_entropy`).
  public var type: String
  /// The parameters besides `type` (an empty object for a bare name).
  public var parameters: [String: JSONValue]
  /// The JSON path of the component in its spec, for error messages.
  public var path: String

  /// Creates a component.
  public init(type: String, parameters: [String: JSONValue] = [:], path: String = "$") {
    self.type = type
    self.parameters = parameters
    self.path = path
  }

  /// The component as a flat JSON object: `{"type": ..., parameters...}`.
  public var object: JSONValue {
    var members = parameters
    members["type"] = .string(type)
    return .object(members)
  }

  init(_ cursor: JSONCursor) throws {
    if case .string(let name) = cursor.value {
      self.init(type: name, path: cursor.path)
      return
    }
    guard case .object(var members) = cursor.value else {
      throw cursor.error(
        "expected a name or an object such as {\"type\": ..., ...}, found \(cursor.typeDescription)"
      )
    }
    let type = try cursor.required("type", expected: "a type name").string()
    members["type"] = nil
    self.init(type: type, parameters: members, path: cursor.path)
  }
}

/// Where the training data comes from.
public enum DataSpec: Sendable, Equatable {
  /// The bundled 8x8 digits set with its standard train/test split.
  case digits
  /// NumPy `.npy` files: features `[N, ...]` and labels `[N]` (class indices) or `[N, K]`.
  case npy(NumpySource)
  /// A CSV file with one sample per row and a label column.
  case csv(CSVSource)
  /// The adding problem, generated from the spec's seed (`AddingProblem`).
  case adding(AddingSource)

  /// The generated adding problem of a data spec.
  public struct AddingSource: Sendable, Equatable {
    /// The steps of each sequence.
    public var steps: Int
    /// The training sequences.
    public var samples: Int
    /// The test sequences.
    public var testSamples: Int

    /// Creates a source.
    public init(steps: Int = 50, samples: Int = 10_000, testSamples: Int = 1_000) {
      self.steps = steps
      self.samples = samples
      self.testSamples = testSamples
    }
  }

  /// `.npy` files of a data spec.
  public struct NumpySource: Sendable, Equatable {
    /// The training features.
    public var features: URL
    /// The training labels.
    public var labels: URL
    /// Held-out test features, when given as a file (always with `testLabels`).
    public var testFeatures: URL?
    /// Held-out test labels, when given as a file (always with `testFeatures`).
    public var testLabels: URL?
    /// The fraction of the samples held out for testing when no test files are given.
    public var testFraction: Double

    /// Creates a source.
    public init(
      features: URL, labels: URL, testFeatures: URL? = nil, testLabels: URL? = nil,
      testFraction: Double = 0.2
    ) {
      self.features = features
      self.labels = labels
      self.testFeatures = testFeatures
      self.testLabels = testLabels
      self.testFraction = testFraction
    }
  }

  /// A CSV file of a data spec.
  public struct CSVSource: Sendable, Equatable {
    /// The CSV file.
    public var path: URL
    /// The column that holds the label (default: the last).
    public var labelColumn: CSV.LabelColumn
    /// Whether the first row names the columns; `nil` detects it.
    public var hasHeader: Bool?
    /// The field separator.
    public var delimiter: Character
    /// A held-out test file with the same columns.
    public var testPath: URL?
    /// The fraction of the rows held out for testing when no test file is given.
    public var testFraction: Double

    /// Creates a source.
    public init(
      path: URL, labelColumn: CSV.LabelColumn = .last, hasHeader: Bool? = nil,
      delimiter: Character = ",", testPath: URL? = nil, testFraction: Double = 0.2
    ) {
      self.path = path
      self.labelColumn = labelColumn
      self.hasHeader = hasHeader
      self.delimiter = delimiter
      self.testPath = testPath
      self.testFraction = testFraction
    }
  }

  /// The accepted `source` values.
  public static let sources = ["digits", "npy", "csv", "adding"]

  init(_ cursor: JSONCursor, baseDirectory: URL) throws {
    let sourceCursor = try cursor.required(
      "source", expected: "one of \(Self.sources.joined(separator: ", "))")
    let source = try sourceCursor.string()
    func path(_ key: String, required: Bool) throws -> URL? {
      let member =
        required ? try cursor.required(key, expected: "a file path") : try cursor.optional(key)
      guard let member else { return nil }
      let text = try member.string()
      guard !text.isEmpty else { throw member.error("expected a file path, found an empty string") }
      return URL(fileURLWithPath: text, relativeTo: baseDirectory).standardizedFileURL
    }
    func testFraction() throws -> Double {
      guard let member = try cursor.optional("testFraction") else { return 0.2 }
      let fraction = try member.double()
      guard fraction > 0, fraction < 1 else {
        throw member.error("expected a fraction in (0, 1), found \(fraction)")
      }
      return fraction
    }
    switch source {
    case "digits":
      try cursor.requireKeys(in: ["source"])
      self = .digits
    case "adding":
      try cursor.requireKeys(in: ["source", "steps", "samples", "testSamples"])
      let defaults = AddingSource()
      self = .adding(
        AddingSource(
          steps: try cursor.optional("steps")?.int(
            in: 2...AddingProblem.maximumSteps, expected: "a number of steps") ?? defaults.steps,
          samples: try cursor.optional("samples")?.int(
            in: 1...1_000_000, expected: "a positive number of samples") ?? defaults.samples,
          testSamples: try cursor.optional("testSamples")?.int(
            in: 1...1_000_000, expected: "a positive number of samples") ?? defaults.testSamples))
    case "npy":
      try cursor.requireKeys(in: [
        "source", "features", "labels", "testFeatures", "testLabels", "testFraction",
      ])
      let features = try path("features", required: true)
      let labels = try path("labels", required: true)
      let testFeatures = try path("testFeatures", required: false)
      let testLabels = try path("testLabels", required: false)
      guard (testFeatures == nil) == (testLabels == nil) else {
        throw cursor.error("give both 'testFeatures' and 'testLabels', or neither")
      }
      guard let features, let labels else {
        throw cursor.error("missing key 'features' or 'labels'")
      }
      self = .npy(
        NumpySource(
          features: features, labels: labels, testFeatures: testFeatures, testLabels: testLabels,
          testFraction: try testFraction()))
    case "csv":
      try cursor.requireKeys(in: [
        "source", "path", "labelColumn", "header", "delimiter", "testPath", "testFraction",
      ])
      guard let file = try path("path", required: true) else {
        throw cursor.error("missing key 'path'")
      }
      let expectedColumn = "a column name, a zero-based index or -1 (the last)"
      var column = CSV.LabelColumn.last
      if let columnCursor = try cursor.optional("labelColumn") {
        switch columnCursor.value {
        case .string(let name): column = .named(name)
        case .number:
          let index = try columnCursor.int(in: -1...Int.max, expected: expectedColumn)
          column = index == -1 ? .last : .index(index)
        default:
          throw columnCursor.error(
            "expected \(expectedColumn), found \(columnCursor.typeDescription)")
        }
      }
      let hasHeader = try cursor.optional("header")?.bool()
      var delimiter: Character = ","
      if let member = try cursor.optional("delimiter") {
        let text = try member.string()
        guard text.count == 1, let first = text.first else {
          throw member.error(
            "expected a single-character delimiter, found \(member.typeDescription)")
        }
        delimiter = first
      }
      self = .csv(
        CSVSource(
          path: file, labelColumn: column, hasHeader: hasHeader, delimiter: delimiter,
          testPath: try path("testPath", required: false), testFraction: try testFraction()))
    default:
      throw sourceCursor.error(
        "unknown data source '\(source)'; expected one of \(Self.sources.joined(separator: ", "))")
    }
  }
}

/// What a spec's model is trained to output.
public enum TrainingTarget: String, CaseIterable, Sendable {
  /// The data's labels (classification, regression).
  case labels
  /// The input itself (reconstruction: autoencoders, RBMs).
  case input
}
