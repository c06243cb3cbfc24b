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
      files. Run 'plexus help <command>' for a command's options.
      """,
    subcommands: [TrainCommand.self, SummaryCommand.self]
  )

  public init() {}
}

/// `plexus summary MODEL`: prints a model's layers, output shapes and parameter counts.
public struct SummaryCommand: ParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "summary",
    abstract: "Print a model's layers, output shapes and parameter counts.",
    discussion: "MODEL is a training spec (.json): its model is built and described."
  )

  /// The spec or model file.
  @Argument(help: ArgumentHelp("A training spec (.json).", valueName: "MODEL"))
  public var model: String

  public init() {}

  public func run() throws {
    try Summary.run(path: model, console: StandardOutput())
  }
}

/// The work of `plexus summary`.
public enum Summary {
  /// Prints the summary of the model in `path` (a training spec).
  ///
  /// - Throws: `SpecError` or `PlexusError` naming the file and what is wrong in it.
  public static func run(path: String, console: any Console, registry: LayerRegistry = .standard())
    throws
  {
    let url = URL(fileURLWithPath: path)
    let spec = try TrainingSpec.load(contentsOf: url)
    guard let inputShape = spec.inputShape ?? spec.data.knownFeatureShape else {
      throw SpecError(
        file: url.path, path: "$",
        message:
          "missing key 'inputShape' (needed to describe a model whose data is read from files)")
    }
    do {
      let model = try spec.buildModel(registry: registry, inputShape: inputShape)
      console.write(model.summary())
    } catch var error as SpecError {
      error.file = url.path
      throw error
    }
  }
}

extension DataSpec {
  /// The per-sample feature shape when it is known without reading files (the digits: `[64]`).
  public var knownFeatureShape: [Int]? {
    if case .digits = self { return [Digits.featureCount] }
    return nil
  }
}
