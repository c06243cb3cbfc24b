import ArgumentParser
import Foundation
import Plexus

/// The `plexus` command: trains, inspects and runs Plexus models.
///
/// The executable only calls `PlexusCommand.main()`; every subcommand's work is done by a
/// function that takes a ``Console``, so tests run the commands in-process.
public struct PlexusCommand: ParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "plexus",
    abstract: "Train, inspect and run Plexus neural-network models.",
    discussion: """
      Models are described by JSON specs (see Examples/digits-mlp.json) and saved as .plexus \
      files. Run 'plexus help <command>' for a command's options. Layer plugins (dynamic \
      libraries with third-party layers) load with --plugin PATH, repeatable, or the \
      colon-separated PLEXUS_PLUGIN_PATH.
      """,
    version: PlexusFormat.libraryVersion,
    subcommands: [
      TrainCommand.self, PredictCommand.self, EvaluateCommand.self, SummaryCommand.self,
      InspectCommand.self, ConvertCommand.self, PictureCommand.self, PlotCommand.self,
      LayersCommand.self,
    ]
  )

  public init() {}

  /// `plexus` alone is a usage error: it prints the help to standard error and exits 64
  /// (`EX_USAGE`).
  public func run() throws {
    FileHandle.standardError.write(Data((Self.helpMessage() + "\n").utf8))
    throw ExitCode(64)
  }
}

/// `plexus summary MODEL`: prints a model's layers, output shapes and parameter counts.
public struct SummaryCommand: ParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "summary",
    abstract: "Print a model's layers, output shapes and parameter counts.",
    discussion: """
      MODEL is a saved model (.plexus), described with what its file records (producer, \
      creation time, loss, optimizer, epochs trained), or a training spec (.json), whose model \
      is built and described.
      """
  )

  /// The model or spec file.
  @Argument(
    help: ArgumentHelp("A saved model (.plexus) or a training spec (.json).", valueName: "MODEL"))
  public var model: String

  public init() {}

  public func run() throws {
    try Summary.run(path: model, console: StandardOutput())
  }
}

/// The work of `plexus summary`.
public enum Summary {
  /// Prints the summary of the model in `path`: a saved model (`.plexus`) or a training spec
  /// (`.json`).
  ///
  /// - Throws: `SpecError`, `PlexusFormatError` or `PlexusError` naming the file and what is
  ///   wrong in it.
  public static func run(path: String, console: any Console, registry: LayerRegistry = .standard())
    throws
  {
    if path.lowercased().hasSuffix(".json") {
      try describeSpec(path: path, console: console, registry: registry)
    } else {
      try describeModel(path: path, console: console, registry: registry)
    }
  }

  static func describeSpec(path: String, console: any Console, registry: LayerRegistry) throws {
    let url = URL(fileURLWithPath: path)
    let spec = try TrainingSpec.load(contentsOf: url)
    // Without a declared input shape, the data tells it (reading the files if need be).
    let inputShape =
      try spec.inputShape ?? spec.data.knownFeatureShape
      ?? spec.data.load(seed: spec.seed).train.featureShape
    do {
      let model = try spec.buildModel(registry: registry, inputShape: inputShape)
      console.write(model.summary())
    } catch var error as SpecError {
      error.file = url.path
      throw error
    }
  }

  static func describeModel(path: String, console: any Console, registry: LayerRegistry) throws {
    let saved = try SavedModel(path: path, registry: registry)
    console.write(saved.model.summary())
    console.line(
      "Input shape: "
        + saved.model.inputSpecs.map { ShapeCheck.describeBatch($0.shape) }.joined(separator: ", "))
    console.line(
      "File: \(saved.url.path), format \(saved.formatVersion), \(ByteCount.format(saved.fileSize))")
    if let metadata = saved.metadata {
      console.line(
        "Written by: \(metadata.producer) \(metadata.producerVersion), \(metadata.created)")
      if !metadata.description.isEmpty { console.line("Description: \(metadata.description)") }
      if let loss = metadata.values[TrainingMetadata.lossKey] { console.line("Loss: \(loss)") }
      if let optimizer = metadata.values[TrainingMetadata.optimizerKey] {
        console.line("Optimizer: \(optimizer)")
      }
      if case .object(let history)? = metadata.history,
        case .number(let epochs)? = history["epochsCompleted"]
      {
        console.line("Epochs trained: \(Int(epochs))")
      }
    }
    console.line(
      "Optimizer state: \(saved.hasOptimizerState ? "saved (training can resume)" : "none")")
  }
}

/// Human-readable byte counts.
enum ByteCount {
  /// `512 B`, `69.1 KB`, `3.2 MB` (powers of 1000).
  static func format(_ bytes: UInt64) -> String {
    if bytes < 1000 { return "\(bytes) B" }
    if bytes < 1_000_000 { return String(format: "%.1f KB", Double(bytes) / 1000) }
    return String(format: "%.1f MB", Double(bytes) / 1_000_000)
  }
}

extension DataSpec {
  /// The per-sample feature shape when it is known without reading files (the digits: `[64]`).
  public var knownFeatureShape: [Int]? {
    if case .digits = self { return [Digits.featureCount] }
    return nil
  }
}
