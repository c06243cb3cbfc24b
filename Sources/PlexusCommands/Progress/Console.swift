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
  /// The terminal's width in columns, asked each time (it changes when the window is
  /// resized); `nil` when unknown.
  var columns: Int? { get }
}

extension Console {
  public var columns: Int? { nil }

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

  /// The width the terminal reports (`TIOCGWINSZ`), or `nil` when standard output is not one.
  public var columns: Int? {
    guard isTerminal else { return nil }
    var size = winsize()
    #if canImport(Glibc)
      let request = UInt(TIOCGWINSZ)
    #else
      let request = TIOCGWINSZ
    #endif
    guard ioctl(STDOUT_FILENO, request, &size) == 0, size.ws_col > 0 else { return nil }
    return Int(size.ws_col)
  }
}

/// A console that keeps everything written to it, for tests and for embedding the commands.
public final class CapturedOutput: Console {
  public let isTerminal: Bool
  /// Everything written so far.
  public private(set) var text = ""
  /// The width it reports (tests set it to see lines fitted).
  public var columns: Int?

  /// Creates an empty buffer that reports itself as a terminal or not, of `columns` width.
  public init(isTerminal: Bool = false, columns: Int? = nil) {
    self.isTerminal = isTerminal
    self.columns = columns
  }

  public func write(_ text: String) { self.text += text }
}
