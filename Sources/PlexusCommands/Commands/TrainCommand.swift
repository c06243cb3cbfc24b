import ArgumentParser
import Foundation
import Plexus
import Synchronization

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The Ctrl-C presses seen since training started (set by the signal handler, read after each
/// batch).
private let interruptRequests = Atomic<Int>(0)

/// `plexus train SPEC.json`: trains the model a spec describes and saves it.
public struct TrainCommand: ParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "train",
    abstract:
      "Train the model a JSON spec describes, evaluate it on the held-out test split and save it.",
    discussion: """
      Shows a live progress bar (epoch, batch, loss, accuracy, samples/s, ETA) when standard \
      output is a terminal, and one line per epoch otherwise. Ctrl-C finishes the current batch, \
      saves a resumable model at the output and exits with status 130 (a second Ctrl-C ends \
      the tool at once); --resume continues it.
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

  /// Saves a checkpoint every N epochs.
  @Option(
    help: ArgumentHelp(
      "Save a resumable checkpoint every N epochs (atomically).", valueName: "N"))
  public var checkpointEvery: Int?

  /// Where checkpoints go.
  @Option(
    help: ArgumentHelp(
      "The checkpoint file (default: <output>.checkpoint.plexus).", valueName: "file.plexus"))
  public var checkpoint: String?

  /// Keeps only the best checkpoint.
  @Flag(
    help:
      "Write a checkpoint only when val_loss improved, so the file keeps the best epoch (needs a validation split)."
  )
  public var checkpointBest = false

  /// An SVG file redrawn after each epoch.
  @Option(
    help: ArgumentHelp(
      "Draw the loss and metrics per epoch into this SVG file after every epoch.",
      valueName: "history.svg"))
  public var plot: String?

  public init() {}

  public func validate() throws {
    if let checkpointEvery, checkpointEvery <= 0 {
      throw ValidationError("--checkpoint-every must be positive, got \(checkpointEvery)")
    }
    if checkpointEvery == nil, checkpoint != nil || checkpointBest {
      throw ValidationError("--checkpoint and --checkpoint-best need --checkpoint-every N")
    }
    if let epochs, epochs <= 0 { throw ValidationError("--epochs must be positive, got \(epochs)") }
    if !data.isEmpty { _ = try DataSpec(commandLine: data) }
  }

  /// The settings these arguments give.
  public var settings: TrainSettings {
    TrainSettings(
      specPath: spec, outputPath: output, epochs: epochs, seed: seed, quiet: quiet,
      resumePath: resume, dataPaths: data.isEmpty ? nil : data, checkpointEvery: checkpointEvery,
      checkpointPath: checkpoint, checkpointBest: checkpointBest, plotPath: plot)
  }

  public func run() throws {
    // Ctrl-C asks training to stop after its batch; a second one ends the tool at once. A
    // parent may have started the tool with SIGINT blocked (a process spawned from a worker
    // thread inherits its mask): unblock it so Ctrl-C reaches the handler.
    var mask = sigset_t()
    sigemptyset(&mask)
    sigaddset(&mask, SIGINT)
    pthread_sigmask(SIG_UNBLOCK, &mask, nil)
    signal(SIGINT) { _ in
      interruptRequests.add(1, ordering: .relaxed)
      signal(SIGINT, SIG_DFL)
    }
    defer { signal(SIGINT, SIG_DFL) }
    do {
      let report = try Train.run(
        settings, console: StandardOutput(),
        interruption: { interruptRequests.load(ordering: .relaxed) > 0 })
      if report.interruption != nil { throw ExitCode(130) }
    } catch let interrupted as TrainingInterrupted {
      FileHandle.standardError.write(Data("\(interrupted)\n".utf8))
      throw ExitCode(130)
    }
  }
}
