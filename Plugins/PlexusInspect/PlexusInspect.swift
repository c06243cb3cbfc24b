import Foundation
import PackagePlugin

/// `swift package plexus-inspect`: prints the structure of a model file (`plexus inspect FILE`).
///
/// Runs the package's own `plexus` tool (`plexus inspect`) in the package directory with the
/// arguments given, so relative paths are the package's.
@main
struct PlexusInspect: CommandPlugin {
  func performCommand(context: PluginContext, arguments: [String]) async throws {
    // The executable target of the `plexus` product.
    let tool = try context.tool(named: "PlexusTool")
    let process = Process()
    process.executableURL = tool.url
    process.arguments = ["inspect"] + arguments
    process.currentDirectoryURL = context.package.directoryURL
    try process.run()
    process.waitUntilExit()
    guard process.terminationReason == .exit, process.terminationStatus == 0 else {
      Diagnostics.error("plexus inspect failed (status \(process.terminationStatus))")
      throw PlexusToolFailure(status: process.terminationStatus)
    }
  }
}

/// The `plexus` run failed; the tool has printed why.
struct PlexusToolFailure: Error, CustomStringConvertible {
  var status: Int32
  var description: String { "plexus exited with status \(status)" }
}
