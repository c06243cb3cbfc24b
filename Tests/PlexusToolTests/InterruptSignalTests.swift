import Foundation
import Plexus
import PlexusCommands
import Testing

/// The `plexus` executable the build put beside the test bundle.
func plexusExecutable() -> URL? {
  let candidates = [
    URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
      .appendingPathComponent("plexus"),
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().appendingPathComponent(".build/debug/plexus"),
  ]
  return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }
}

/// Collects a pipe's output as it comes.
private final class OutputCollector: @unchecked Sendable {
  private let lock = NSLock()
  private var data = Data()

  func append(_ chunk: Data) { lock.withLock { data.append(chunk) } }
  var text: String { lock.withLock { String(decoding: data, as: UTF8.self) } }
}

@Suite struct InterruptSignalTests {
  /// Ctrl-C (SIGINT) sent to a training tool: it finishes the batch, saves a resumable model
  /// and exits with status 130; training resumes from the file.
  @Test func sigintSavesAResumableModelAndExits130() throws {
    let executable = try #require(plexusExecutable(), "the plexus executable was not built")
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let spec = try writeBlobsSpec(in: folder, epochs: 1_000_000)
    let output = folder.file("interrupted.plexus")
    let process = Process()
    process.executableURL = executable
    process.arguments = ["train", spec.path, "-o", output.path]
    let stdout = Pipe()
    let stderr = Pipe()
    process.standardOutput = stdout
    process.standardError = stderr
    let collected = OutputCollector()
    stdout.fileHandleForReading.readabilityHandler = { collected.append($0.availableData) }
    let ended = DispatchSemaphore(value: 0)
    process.terminationHandler = { _ in ended.signal() }
    try process.run()
    // Wait (generously) until training is under way, then press Ctrl-C.
    let deadline = Date().addingTimeInterval(120)
    while collected.text.components(separatedBy: "/1000000 ").count <= 3, process.isRunning,
      Date() < deadline
    {
      Thread.sleep(forTimeInterval: 0.01)
    }
    #expect(process.isRunning, "the tool ended early: \(collected.text)")
    process.interrupt()
    if ended.wait(timeout: .now() + 120) == .timedOut {
      process.terminate()
      Issue.record("the tool did not exit after SIGINT")
      return
    }
    stdout.fileHandleForReading.readabilityHandler = nil
    collected.append(stdout.fileHandleForReading.readDataToEndOfFile())
    let errors = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    #expect(process.terminationReason == .exit)
    #expect(process.terminationStatus == 130, "stderr: \(errors)")
    #expect(collected.text.contains("saved a resumable model to \(output.path)"))

    let file = try PlexusFile(contentsOf: output)
    #expect(file.hasOptimizerState)
    let completed = try #require(try file.trainingHistory()).epochsCompleted
    #expect(completed >= 2)
    let resumed = try Train.run(
      TrainSettings(
        specPath: spec.path, outputPath: folder.file("resumed.plexus").path,
        epochs: completed + 2, quiet: true, resumePath: output.path), console: CapturedOutput())
    #expect(resumed.history.epochsCompleted == completed + 2)
  }
}
