import Foundation
import Plexus
import PlexusInterop

/// A model read from a `.plexus` file with the training settings recorded in it.
struct SavedModel {
  let model: any ModelProtocol
  let metadata: ModelMetadata?
  let url: URL
  let formatVersion: String
  let fileSize: UInt64
  let hasOptimizerState: Bool

  init(path: String, registry: LayerRegistry, architecturePath: String? = nil) throws {
    url = URL(fileURLWithPath: path)
    if WeightFileFormat(pathExtension: url.pathExtension) != nil {
      // A weight file with an architecture, converted in memory as `plexus convert` would.
      (model, _) = try WeightConversion.loadModel(
        weightsPath: path, architecturePath: architecturePath, layout: nil, mappingPath: nil)
      metadata = nil
      formatVersion = "-"
      fileSize = 0
      hasOptimizerState = false
      return
    }
    if architecturePath != nil {
      throw PlexusError.invalidArgument(
        "--architecture applies to a weight file (.safetensors, .npz, .pt), not to \(path)")
    }
    registry.addBundledProviderHints()
    if ONNXConversion.isONNXFile(path) {
      // An ONNX model, imported on the fly.
      model = try ONNXConversion.loadModel(path: path, registry: registry).model
      (metadata, formatVersion, hasOptimizerState) = (nil, "onnx", false)
      fileSize = UInt64(
        (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0)
      return
    }
    if KerasConversion.isKerasFile(path) {
      // A Keras model, converted on the fly.
      model = try KerasConversion.loadModel(path: path, registry: registry)
      (metadata, formatVersion, hasOptimizerState) = (nil, "keras", false)
      fileSize = UInt64(
        (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0)
      return
    }
    let file = try PlexusFile(contentsOf: url)
    model = try file.loadModel(registry: registry)
    metadata = file.metadata
    formatVersion = "\(file.majorVersion).\(file.minorVersion)"
    fileSize = file.fileSize
    hasOptimizerState = file.hasOptimizerState
  }

  /// `features` as a batch for the model: unchanged when its samples have the model's input
  /// shape, reshaped when they hold as many values in another shape (`[N, 8, 8]` for `[64]`).
  ///
  /// - Throws: `PlexusError.invalidShape` naming `source` when the samples do not fit.
  func batch(_ features: Tensor, source: String) throws -> Tensor {
    if let bad = features.firstNonFiniteValue() {
      throw PlexusError.invalidData(
        "\(source): sample \(bad.sample) holds \(bad.value) at position \(bad.position); "
          + "inputs must be finite")
    }
    guard model.inputSpecs.count == 1, let symbolic = model.inputSpecs.first?.shape else {
      throw PlexusError.invalidArgument(
        "\(url.path): the model takes \(model.inputSpecs.count) inputs; the tool feeds one")
    }
    // A dimension that varies takes the size the data has.
    guard features.rank == symbolic.count + 1 || !symbolic.contains(nil) else {
      throw PlexusError.invalidShape(
        "\(source) holds an array of shape \(features.shape), but the model takes a batch "
          + ShapeCheck.describeBatch(symbolic))
    }
    let inputShape = symbolic.enumerated().map { index, dimension in
      dimension ?? (index + 1 < features.rank ? features.shape[index + 1] : 1)
    }
    if features.rank == inputShape.count + 1, features.sampleShape == inputShape { return features }
    guard features.rank >= 1, features.sampleSize == inputShape.reduce(1, *) else {
      throw PlexusError.invalidShape(
        "\(source) holds an array of shape \(features.shape), but the model takes a batch "
          + "[N] + \(inputShape)")
    }
    return try features.reshaped([features.batchCount] + inputShape)
  }

  /// The loss recorded by `plexus train`, if any.
  func recordedLoss() throws -> LossFunction? {
    guard let text = metadata?.values[TrainingMetadata.lossKey] else { return nil }
    do {
      return try JSONDecoder().decode(LossFunction.self, from: Data(text.utf8))
    } catch {
      throw PlexusError.invalidData(
        "\(url.path): the recorded loss '\(text)' cannot be read: \(error)")
    }
  }
}

/// The settings of a `plexus predict` run.
public struct PredictSettings: Sendable, Equatable {
  /// The model file.
  public var modelPath: String
  /// The inputs: a `.npy` file `[N] + inputShape`, or a CSV file with one sample per row and
  /// every column a feature (a header row is detected).
  public var inputPath: String
  /// Where to write the predictions (`.npy`); `nil` prints them.
  public var outputPath: String?
  /// Whether to output each sample's predicted class instead of the raw outputs.
  public var classes: Bool
  /// Whether to output the codes of an autoencoder (its encoder's output) or of a VAE (the
  /// means of its codes) instead of the reconstructions.
  public var codes: Bool
  /// Whether to output probabilities: for a model trained on logits, softmax over several
  /// outputs or sigmoid of one; other models' outputs are already probabilities.
  public var probabilities: Bool
  /// Samples per forward pass.
  public var batchSize: Int
  /// For a weight file: the architecture (a `.plexus` file or a training spec).
  public var architecturePath: String?
  /// Whether image inputs come in PyTorch's `[N, C, H, W]` layout (transposed to Plexus's
  /// `[N, H, W, C]`).
  public var inputsAreChannelsFirst: Bool

  /// Creates settings.
  public init(
    modelPath: String, inputPath: String, outputPath: String? = nil, classes: Bool = false,
    codes: Bool = false, probabilities: Bool = false, batchSize: Int = 256,
    architecturePath: String? = nil, inputsAreChannelsFirst: Bool = false
  ) {
    self.architecturePath = architecturePath
    self.inputsAreChannelsFirst = inputsAreChannelsFirst
    self.probabilities = probabilities
    self.modelPath = modelPath
    self.inputPath = inputPath
    self.outputPath = outputPath
    self.classes = classes
    self.codes = codes
    self.batchSize = batchSize
  }
}

/// The work of `plexus predict`.
public enum Predict {
  /// Runs a saved model on the inputs and writes or prints the predictions.
  ///
  /// With `classes`, each sample's class is the index of its largest output (a single output
  /// is thresholded at 0.5), written as a `[N]` array of class indices.
  ///
  /// - Returns: the predictions (`[N] + outputShape`, or `[N]` classes).
  /// - Throws: `PlexusError` for unreadable files or inputs that do not fit the model.
  @discardableResult
  public static func run(
    _ settings: PredictSettings, console: any Console, registry: LayerRegistry = .standard()
  ) throws -> Tensor {
    if let outputPath = settings.outputPath {
      try OutputPath.check(
        outputPath, against: [settings.modelPath, settings.inputPath], flag: "--output")
    }
    let saved = try SavedModel(
      path: settings.modelPath, registry: registry, architecturePath: settings.architecturePath)
    let inputURL = URL(fileURLWithPath: settings.inputPath)
    // A CSV file holds one sample per row, every column a feature (the same checks as
    // training data: finite decimal numbers, errors naming line and column).
    var features =
      inputURL.pathExtension.lowercased() == "csv"
      ? try CSV.loadFeatures(contentsOf: inputURL)
      : try NumPy.read(contentsOf: inputURL).tensor()
    if settings.inputsAreChannelsFirst {
      guard features.rank == 4 else {
        throw PlexusError.invalidArgument(
          "--input-layout nchw needs images [N, C, H, W]; \(settings.inputPath) holds "
            + "\(features.shape)")
      }
      features = try features.transposed(permutation: [0, 2, 3, 1])
    }
    let inputs = try saved.batch(features, source: settings.inputPath)
    let outputs: Tensor
    if settings.codes {
      guard !settings.classes else {
        throw PlexusError.invalidArgument("--codes and --classes exclude each other")
      }
      if let autoencoder = saved.model as? Autoencoder {
        outputs = try autoencoder.encode(inputs, batchSize: settings.batchSize)
      } else if let vae = saved.model as? VAE {
        outputs = try vae.encode(inputs, batchSize: settings.batchSize).mean
      } else {
        throw PlexusError.invalidArgument(
          "\(settings.modelPath): --codes needs an autoencoder or a VAE; this model is a "
            + "\(type(of: saved.model))")
      }
    } else {
      outputs = try saved.model.predict(inputs, batchSize: settings.batchSize)
    }
    var result: Tensor
    var classes: [Int]?
    if settings.classes {
      if outputs.sampleSize == 1 {
        // A single output is a probability, or a logit when the model was trained from logits.
        let threshold: Float = try saved.recordedLoss()?.outputsLogits == true ? 0 : 0.5
        classes = outputs.withUnsafeBufferPointer { $0.map { $0 >= threshold ? 1 : 0 } }
      } else {
        classes = outputs.argmaxPerSample()
      }
      result = Tensor(classes!.map(Float.init))
    } else {
      result = outputs
    }
    if settings.probabilities {
      guard !settings.classes, !settings.codes else {
        throw PlexusError.invalidArgument("--probabilities excludes --classes and --codes")
      }
      guard let loss = try saved.recordedLoss(), loss.loss.isClassification else {
        throw PlexusError.invalidArgument(
          "\(settings.modelPath): --probabilities needs a classifier (the file records no "
            + "classification loss)")
      }
      if loss.outputsLogits {
        let activation: ActivationFunction = outputs.sampleSize == 1 ? .sigmoid : .softmax
        let width = outputs.shape.last ?? 1
        result.withUnsafeMutableBufferPointer { activation.applyInPlace($0, lastDimension: width) }
      }
    }
    if let outputPath = settings.outputPath {
      if let classes {
        // Class indices as int64, as NumPy and PyTorch labels are.
        try NumPy.writeIndices(classes, to: URL(fileURLWithPath: outputPath))
      } else {
        try NumPy.write(result, to: URL(fileURLWithPath: outputPath))
      }
      console.line(
        "wrote \(settings.classes ? "classes" : settings.codes ? "codes" : "outputs") of shape \(result.shape) to \(outputPath)"
      )
    } else {
      let width = Swift.max(result.sampleSize, 1)
      result.withUnsafeBufferPointer { values in
        var text = ""
        for row in 0..<result.batchCount {
          let slice = values[(row * width)..<((row + 1) * width)]
          text +=
            slice.map { settings.classes ? String(Int($0)) : String($0) }.joined(separator: " ")
            + "\n"
        }
        console.write(text)
      }
    }
    return result
  }
}

/// The settings of a `plexus evaluate` run.
public struct EvaluateSettings: Sendable, Equatable {
  /// The model file.
  public var modelPath: String
  /// A training spec (its test split is used) or two `.npy` files: features and labels.
  public var data: [String]
  /// The loss to report; `nil` takes the one recorded in the model file or the spec.
  public var loss: String?
  /// Samples per forward pass.
  public var batchSize: Int
  /// Whether to print the report as JSON.
  public var json: Bool
  /// The seed of a spec's test split; `nil` takes the one the model was trained with.
  public var seed: UInt64?

  /// Creates settings.
  public init(
    modelPath: String, data: [String], loss: String? = nil, batchSize: Int = 256,
    json: Bool = false, seed: UInt64? = nil
  ) {
    self.modelPath = modelPath
    self.data = data
    self.loss = loss
    self.batchSize = batchSize
    self.json = json
    self.seed = seed
  }
}

/// What `plexus evaluate` measured.
public struct EvaluationReport: Sendable {
  /// The model file.
  public var model: String
  /// The data it was measured on.
  public var source: String
  /// The number of samples.
  public var samples: Int
  /// The loss and metrics (`loss`, `accuracy`; an RBM's own figures).
  public var logs: [String: Float]
  /// For a classifier: the counts of true against predicted classes.
  public var confusion: ConfusionMatrix?
}

/// The work of `plexus evaluate`.
public enum Evaluate {
  /// Reports a saved model's loss (and accuracy for classification losses) on a spec's test
  /// split or on `.npy` features and labels; for a classifier also the confusion matrix and
  /// each class's precision, recall and F1. Prints text or, with `json`, one JSON object.
  ///
  /// - Returns: the logs (`loss`, `accuracy`).
  /// - Throws: `SpecError` for a malformed spec, `PlexusError` for unreadable files, data that
  ///   does not fit the model, or no known loss.
  @discardableResult
  public static func run(
    _ settings: EvaluateSettings, console: any Console, registry: LayerRegistry = .standard()
  ) throws -> [String: Float] {
    let report = try evaluate(settings, registry: registry)
    if settings.json {
      console.line(try json(report))
    } else {
      console.write(text(report))
    }
    return report.logs
  }

  /// Measures the model as `run` does, without printing.
  ///
  /// - Throws: as `run`.
  public static func evaluate(_ settings: EvaluateSettings, registry: LayerRegistry = .standard())
    throws -> EvaluationReport
  {
    let saved = try SavedModel(path: settings.modelPath, registry: registry)
    var lossFunction = try settings.loss.map { try LossFunction(name: $0) } ?? saved.recordedLoss()
    let dataset: Dataset
    let source: String
    var target = TrainingTarget.labels
    switch settings.data.count {
    case 1 where settings.data[0].lowercased().hasSuffix(".json"):
      let specURL = URL(fileURLWithPath: settings.data[0])
      let spec = try TrainingSpec.load(contentsOf: specURL)
      if lossFunction == nil {
        do {
          lossFunction = try spec.loss?.decodeLoss()
        } catch var error as SpecError {
          error.file = specURL.path
          throw error
        }
      }
      // The split the model was trained with (its recorded seed), not a fresh one, unless
      // --seed asks for another.
      let seed =
        settings.seed
        ?? saved.metadata?.values[TrainingMetadata.dataSeedKey].flatMap { UInt64($0) } ?? spec.seed
      dataset = try spec.data.load(seed: seed).test
      target = spec.target
      source =
        "the test split of \(settings.data[0])" + (spec.data.splitsBySeed ? " (seed \(seed))" : "")
    case 2:
      if settings.seed != nil {
        throw PlexusError.invalidArgument(
          "--seed chooses a spec's test split; .npy files are used whole")
      }
      dataset = try Dataset(
        features: try NumPy.read(contentsOf: URL(fileURLWithPath: settings.data[0])).tensor(),
        labels: try NumPy.read(contentsOf: URL(fileURLWithPath: settings.data[1])).tensor())
      source = "\(settings.data[0]), \(settings.data[1])"
    default:
      throw PlexusError.invalidArgument(
        "--data takes a training spec (.json) or two .npy files (features, labels); got \(settings.data)"
      )
    }
    let features = try saved.batch(dataset.features, source: source)
    var report = EvaluationReport(
      model: settings.modelPath, source: source, samples: dataset.count, logs: [:], confusion: nil)
    if saved.model.learnsWithoutTargets {
      // An RBM: its own figures (reconstruction error, free energy, pseudo-likelihood).
      report.logs = try saved.model.evaluate(
        inputs: [features], targets: [], losses: [], batchSize: settings.batchSize)
      return report
    }
    guard let lossFunction else {
      throw PlexusError.invalidArgument(
        "\(settings.modelPath) records no loss; name one with --loss (for example --loss softmax_cross_entropy)"
      )
    }
    let loss = try lossFunction.makeLoss()
    let classifies = lossFunction.isClassification && target == .labels
    let metrics: [Metric] = classifies ? [.accuracy] : []
    report.logs = try saved.model.evaluate(
      features, target == .input ? features : dataset.labels, loss: loss,
      batchSize: settings.batchSize, metrics: metrics)
    if classifies {
      let outputs = try saved.model.predict(features, batchSize: settings.batchSize)
      let width = outputs.rank >= 2 ? (outputs.shape.last ?? 1) : 1
      var matrix = ConfusionMatrix(classes: width == 1 || loss.binaryThreshold != nil ? 2 : width)
      try matrix.add(
        predictions: outputs, targets: dataset.labels, binaryThreshold: loss.binaryThreshold)
      report.confusion = matrix
    }
    return report
  }

  /// The text report: the figures, and for a classifier the confusion matrix (up to 30
  /// classes) and a table of each class's precision, recall, F1 and support.
  static func text(_ report: EvaluationReport) -> String {
    var text =
      "\(URL(fileURLWithPath: report.model).lastPathComponent) on \(report.source) "
      + "(\(report.samples) samples): \(ProgressFormat.figures(report.logs))\n"
    guard let matrix = report.confusion else { return text }
    let classes = matrix.classes
    if classes <= 30 {
      let cell = Swift.max(
        String(matrix.counts.flatMap { $0 }.max() ?? 0).count, String(classes - 1).count, 3)
      func pad(_ text: String, _ width: Int) -> String {
        String(repeating: " ", count: Swift.max(width - text.count, 0)) + text
      }
      text += "confusion matrix (rows: true class, columns: predicted class):\n"
      text += pad("", 6) + (0..<classes).map { pad(String($0), cell + 1) }.joined() + "\n"
      for row in 0..<classes {
        text +=
          pad(String(row), 6) + matrix.counts[row].map { pad(String($0), cell + 1) }.joined() + "\n"
      }
    } else {
      text += "confusion matrix: \(classes) classes (printed with --json)\n"
    }
    func number(_ value: Float) -> String { String(format: "%.4f", value) }
    func row(_ cells: [String]) -> String {
      zip(cells, [8, 11, 9, 9, 0]).map { cell, width in
        cell + String(repeating: " ", count: Swift.max(width - cell.count, 0))
      }.joined() + "\n"
    }
    text += row(["class", "precision", "recall", "f1", "support"])
    for c in 0..<classes {
      text += row([
        String(c), number(matrix.precision(of: c)), number(matrix.recall(of: c)),
        number(matrix.f1(of: c)), String(matrix.support(of: c)),
      ])
    }
    text += row([
      "macro", number(matrix.macroPrecision), number(matrix.macroRecall), number(matrix.macroF1),
      String(matrix.total),
    ])
    return text
  }

  /// The JSON report: `model`, `data`, `samples`, `logs` (NaN as `null`) and, for a
  /// classifier, `confusionMatrix` (rows: true class), `classes` (each class's precision,
  /// recall, F1 and support) and `macro`.
  static func json(_ report: EvaluationReport) throws -> String {
    // A float's shortest decimal form (0.96666664, not 0.9666666388511658).
    func number(_ value: Float) -> JSONValue {
      value.isFinite ? .number(Double("\(value)") ?? Double(value)) : .null
    }
    var object: [String: JSONValue] = [
      "model": .string(report.model), "data": .string(report.source),
      "samples": .number(Double(report.samples)),
      "logs": .object(report.logs.mapValues(number)),
    ]
    if let matrix = report.confusion {
      object["confusionMatrix"] = .array(
        matrix.counts.map { .array($0.map { .number(Double($0)) }) })
      object["classes"] = .array(
        (0..<matrix.classes).map { c in
          .object([
            "class": .number(Double(c)), "precision": number(matrix.precision(of: c)),
            "recall": number(matrix.recall(of: c)), "f1": number(matrix.f1(of: c)),
            "support": .number(Double(matrix.support(of: c))),
          ])
        })
      object["macro"] = .object([
        "precision": number(matrix.macroPrecision), "recall": number(matrix.macroRecall),
        "f1": number(matrix.macroF1),
      ])
    }
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    return String(decoding: try encoder.encode(JSONValue.object(object)), as: UTF8.self)
  }
}

/// Checks on the files a command writes, made before any work starts.
enum OutputPath {
  /// Refuses an output that is one of the inputs (it would destroy them) or whose folder is
  /// missing or not writable (the work would be lost at the end).
  ///
  /// - Throws: `PlexusError.invalidArgument` saying which.
  static func check(_ output: String, against inputs: [String], flag: String) throws {
    let url = URL(fileURLWithPath: output).standardizedFileURL.resolvingSymlinksInPath()
    for input in inputs
    where URL(fileURLWithPath: input).standardizedFileURL.resolvingSymlinksInPath() == url {
      throw PlexusError.invalidArgument(
        "\(flag) \(output) is also an input of the command; writing it would destroy it")
    }
    let folder = url.deletingLastPathComponent().path
    var isFolder: ObjCBool = false
    guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue
    else {
      throw PlexusError.invalidArgument("\(flag) \(output): the folder \(folder) does not exist")
    }
    guard FileManager.default.isWritableFile(atPath: folder) else {
      throw PlexusError.invalidArgument("\(flag) \(output): the folder \(folder) is not writable")
    }
  }
}
