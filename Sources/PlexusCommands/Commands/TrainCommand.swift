import ArgumentParser
import Foundation
import Plexus

/// `plexus train SPEC.json`: trains the model a spec describes and saves it.
public struct TrainCommand: ParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "train",
    abstract:
      "Train the model a JSON spec describes, evaluate it on the held-out test split and save it.",
    discussion: """
      Shows a live progress bar (epoch, batch, loss, accuracy, samples/s, ETA) when standard \
      output is a terminal, and one line per epoch otherwise.
      """
  )

  /// The spec file.
  @Argument(help: ArgumentHelp("The training spec (JSON).", valueName: "SPEC.json"))
  public var spec: String

  /// Where to save the model.
  @Option(
    name: .shortAndLong,
    help: ArgumentHelp(
      "Where to save the model (default: <spec file name>.plexus).", valueName: "model.plexus"))
  public var output: String?

  /// Overrides the spec's epoch count.
  @Option(
    parsing: .unconditional,
    help: ArgumentHelp("Train for N epochs instead of the spec's count.", valueName: "N"))
  public var epochs: Int?

  /// Overrides the spec's seed.
  @Option(help: ArgumentHelp("Use seed S instead of the spec's seed.", valueName: "S"))
  public var seed: UInt64?

  /// Prints only the final figures.
  @Flag(name: .shortAndLong, help: "Print only the test figures and where the model went.")
  public var quiet = false

  /// A saved model to continue training.
  @Option(
    help: ArgumentHelp(
      "Continue training the model saved in this file (weights, optimizer state, history) up to the spec's epoch count or --epochs.",
      valueName: "model.plexus"))
  public var resume: String?

  /// Data files that replace the spec's data.
  @Option(
    parsing: .upToNextOption,
    help: ArgumentHelp(
      "Train on these files instead of the spec's data: features and labels (.npy), or one CSV file whose last column is the label.",
      valueName: "x.npy y.npy | data.csv"))
  public var data: [String] = []

  public init() {}

  public func validate() throws {
    if let epochs, epochs <= 0 { throw ValidationError("--epochs must be positive, got \(epochs)") }
    if !data.isEmpty { _ = try DataSpec(commandLine: data) }
  }

  /// The settings these arguments give.
  public var settings: TrainSettings {
    TrainSettings(
      specPath: spec, outputPath: output, epochs: epochs, seed: seed, quiet: quiet,
      resumePath: resume, dataPaths: data.isEmpty ? nil : data)
  }

  public func run() throws {
    try Train.run(settings, console: StandardOutput())
  }
}
