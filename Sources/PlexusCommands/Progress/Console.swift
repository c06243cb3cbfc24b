import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Where a command writes its output: the terminal, a log, or a buffer in tests.
public protocol Console: AnyObject {
  /// Whether the output is an interactive terminal (live progress lines are shown only there).
  var isTerminal: Bool { get }
  /// Writes text as is (no newline is added).
  func write(_ text: String)
}

extension Console {
  /// Writes a line.
  public func line(_ text: String = "") { write(text + "\n") }
}

/// The process's standard output.
public final class StandardOutput: Console {
  public let isTerminal: Bool

  /// Creates a console on standard output; `isTerminal` comes from `isatty`.
  public init() {
    isTerminal = isatty(STDOUT_FILENO) != 0
  }

  public func write(_ text: String) {
    FileHandle.standardOutput.write(Data(text.utf8))
  }
}

/// A console that keeps everything written to it, for tests and for embedding the commands.
public final class CapturedOutput: Console {
  public let isTerminal: Bool
  /// Everything written so far.
  public private(set) var text = ""

  /// Creates an empty buffer that reports itself as a terminal or not.
  public init(isTerminal: Bool = false) { self.isTerminal = isTerminal }

  public func write(_ text: String) { self.text += text }
}
