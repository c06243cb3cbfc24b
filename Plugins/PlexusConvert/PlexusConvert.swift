import Foundation
import PackagePlugin

/// `swift package plexus-convert`: converts a model between formats (`plexus convert IN OUT [options]`).
///
/// Runs the package's own `plexus` tool (`plexus convert`) in the package directory with the
/// arguments given, so relative paths are the package's.
@main
struct PlexusConvert: CommandPlugin {
  func performCommand(context: PluginContext, arguments: [String]) async throws {
    // The executable target of the `plexus` product.
    let tool = try context.tool(named: "PlexusTool")
    let process = Process()
    process.executableURL = tool.url
    process.arguments = ["convert"] + arguments
    process.currentDirectoryURL = context.package.directoryURL
    try process.run()
    process.waitUntilExit()
    guard process.terminationReason == .exit, process.terminationStatus == 0 else {
      Diagnostics.error("plexus convert failed (status \(process.terminationStatus))")
      throw PlexusToolFailure(status: process.terminationStatus)
    }
  }
}

/// The `plexus` run failed; the tool has printed why.
struct PlexusToolFailure: Error, CustomStringConvertible {
  var status: Int32
  var description: String { "plexus exited with status \(status)" }
}
