import ArgumentParser
import Foundation
import Plexus

/// Layer plugins for the `plexus` tool: `--plugin PATH` (repeatable, before any subcommand's
/// arguments or among them) and the colon-separated `PLEXUS_PLUGIN_PATH`.
///
/// The options are taken out of the arguments before ArgumentParser sees them, so every
/// subcommand accepts them; the plugins' layers then belong to every
/// `LayerRegistry.standard()` the commands create.
public enum ToolPlugins {
  /// The environment variable naming plugin files, colon-separated.
  public static let environmentVariable = "PLEXUS_PLUGIN_PATH"
  /// The option naming one plugin file.
  public static let option = "--plugin"

  /// Splits the `--plugin PATH` and `--plugin=PATH` options off `arguments` (up to a `--`).
  ///
  /// - Throws: `ValidationError` for a `--plugin` without a path.
  public static func extract(from arguments: [String]) throws -> (
    plugins: [String], remaining: [String]
  ) {
    var plugins: [String] = []
    var remaining: [String] = []
    var index = arguments.startIndex
    while index < arguments.endIndex {
      let argument = arguments[index]
      if argument == "--" {
        remaining.append(contentsOf: arguments[index...])
        break
      }
      if argument == option {
        let next = arguments.index(after: index)
        guard next < arguments.endIndex, !arguments[next].isEmpty else {
          throw ValidationError("\(option) needs the path of a plugin library")
        }
        plugins.append(arguments[next])
        index = arguments.index(after: next)
        continue
      }
      if argument.hasPrefix(option + "=") {
        let path = String(argument.dropFirst(option.count + 1))
        guard !path.isEmpty else {
          throw ValidationError("\(option)= needs the path of a plugin library")
        }
        plugins.append(path)
      } else {
        remaining.append(argument)
      }
      index = arguments.index(after: index)
    }
    return (plugins, remaining)
  }

  /// Loads the plugins named by `environment[PLEXUS_PLUGIN_PATH]` and then by the `--plugin`
  /// options of `arguments`, and returns the other arguments.
  ///
  /// - Throws: `LayerPluginError` for a plugin that cannot be loaded (nothing of it is
  ///   registered), `ValidationError` for a `--plugin` without a path.
  public static func load(arguments: [String], environment: [String: String]) throws -> [String] {
    let (fromOptions, remaining) = try extract(from: arguments)
    let fromEnvironment = environment[environmentVariable].map(LayerPlugins.paths) ?? []
    for path in fromEnvironment + fromOptions {
      try LayerPlugins.load(path: path, base: .standard())
    }
    return remaining
  }
}

extension PlexusCommand {
  /// Loads the layer plugins the command line and the environment name, then runs the
  /// command; what the executable calls.
  public static func mainLoadingPlugins() {
    let remaining: [String]
    do {
      remaining = try ToolPlugins.load(
        arguments: Array(CommandLine.arguments.dropFirst()),
        environment: ProcessInfo.processInfo.environment)
    } catch {
      exit(withError: error)
    }
    main(remaining)
  }
}
