import ArgumentParser
import Foundation
import Plexus

/// `plexus predict MODEL --input x.npy`: runs a saved model.
public struct PredictCommand: ParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "predict",
    abstract: "Run a saved model on a batch of inputs read from a .npy or CSV file."
  )

  /// The model file.
  @Argument(
    help: ArgumentHelp(
      "The model file (.plexus, .keras or .h5), or a weight file (.safetensors, .npz, .pt) "
        + "with --architecture.",
      valueName: "MODEL"))
  public var model: String

  /// The architecture of a weight file.
  @Option(
    help: ArgumentHelp(
      "For a weight file: the architecture, as a .plexus file or a training spec (.json).",
      valueName: "FILE"))
  public var architecture: String?

  /// The inputs' layout.
  @Option(
    help: ArgumentHelp(
      "The inputs' layout: nhwc (Plexus's) or nchw (PyTorch's images, transposed).",
      valueName: "layout"))
  public var inputLayout = "nhwc"

  /// The inputs.
  @Option(
    name: .shortAndLong,
    help: ArgumentHelp(
      "The inputs: an array [N, ...] (.npy), or a CSV file with one sample per row, every column a feature (a header row is detected).",
      valueName: "x.npy | x.csv"))
  public var input: String

  /// Where to write the predictions.
  @Option(
    name: .shortAndLong,
    help: ArgumentHelp(
      "Write the predictions here (.npy) instead of printing them.", valueName: "y.npy"))
  public var output: String?

  /// Outputs classes instead of raw outputs.
  @Flag(
    help:
      "Output each sample's predicted class (the index of its largest output) instead of the outputs."
  )
  public var classes = false

  /// Outputs an autoencoder's codes instead of its reconstructions.
  @Flag(
    help:
      "Output the codes of an autoencoder (its encoder's output) or of a VAE (the codes' means) instead of the reconstructions."
  )
  public var codes = false

  /// Outputs probabilities for a model that outputs logits.
  @Flag(
    help:
      "Output probabilities: softmax (several outputs) or sigmoid (one) applied when the model was trained on logits."
  )
  public var probabilities = false

  /// Samples per forward pass.
  @Option(help: "Samples per forward pass.")
  public var batchSize = 256

  public init() {}

  public func validate() throws {
    if batchSize <= 0 { throw ValidationError("--batch-size must be positive, got \(batchSize)") }
    if [codes, classes, probabilities].filter({ $0 }).count > 1 {
      throw ValidationError("--codes, --classes and --probabilities exclude each other")
    }
    if !["nhwc", "nchw"].contains(inputLayout) {
      throw ValidationError("--input-layout must be nhwc or nchw, got '\(inputLayout)'")
    }
  }

  /// The settings these arguments give.
  public var settings: PredictSettings {
    PredictSettings(
      modelPath: model, inputPath: input, outputPath: output, classes: classes, codes: codes,
      probabilities: probabilities, batchSize: batchSize, architecturePath: architecture,
      inputsAreChannelsFirst: inputLayout == "nchw")
  }

  public func run() throws {
    try Predict.run(settings, console: StandardOutput())
  }
}

/// `plexus evaluate MODEL --data ...`: measures a saved model.
public struct EvaluateCommand: ParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "evaluate",
    abstract:
      "Report a saved model's loss and accuracy on a spec's test split or on .npy data; for classifiers also the confusion matrix and each class's precision, recall and F1."
  )

  /// The model file.
  @Argument(help: ArgumentHelp("The model file (.plexus).", valueName: "MODEL"))
  public var model: String

  /// The data.
  @Option(
    parsing: .upToNextOption,
    help: ArgumentHelp(
      "A training spec (its test split is used) or two .npy files: features and labels.",
      valueName: "SPEC.json | x.npy y.npy"))
  public var data: [String]

  /// The loss to report.
  @Option(
    help: "The loss to report (default: the one recorded in the model file, else the spec's).")
  public var loss: String?

  /// Samples per forward pass.
  @Option(help: "Samples per forward pass.")
  public var batchSize = 256

  /// Prints JSON.
  @Flag(help: "Print the report as JSON (figures, confusion matrix, per-class measures).")
  public var json = false

  /// The seed of a spec's test split.
  @Option(
    help: ArgumentHelp(
      "Split a spec's data with seed S (default: the seed the model was trained with).",
      valueName: "S"))
  public var seed: UInt64?

  public init() {}

  public func validate() throws {
    let isSpec = data.count == 1 && data[0].lowercased().hasSuffix(".json")
    guard isSpec || data.count == 2 else {
      throw ValidationError(
        "--data takes a training spec (.json) or two .npy files (features, labels)")
    }
    if batchSize <= 0 { throw ValidationError("--batch-size must be positive, got \(batchSize)") }
  }

  /// The settings these arguments give.
  public var settings: EvaluateSettings {
    EvaluateSettings(
      modelPath: model, data: data, loss: loss, batchSize: batchSize, json: json, seed: seed)
  }

  public func run() throws {
    try Evaluate.run(settings, console: StandardOutput())
  }
}
