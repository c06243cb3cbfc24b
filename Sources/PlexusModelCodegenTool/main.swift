import Foundation
import PlexusCodegen

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

// The generator the PlexusModelCodegen build-tool plugin runs for each `.plexus` resource:
//
//   plexus-model-codegen --input FILE.plexus --output FILE.swift --resource-path REL
//     --target NAME [--module NAME]...
//
// It checks the model and writes its Swift type; a problem is printed as `FILE: error: ...`
// and ends the run with status 1, which fails the build.

/// The parsed command line.
struct Arguments {
  var input: String?
  var output: String?
  var resourcePath: String?
  var target: String?
  var modules: Set<String> = []

  init(_ arguments: [String]) throws {
    var index = 0
    func value(for option: String) throws -> String {
      index += 1
      guard index < arguments.count else {
        throw CodegenError(file: "plexus-model-codegen", message: "\(option) needs a value")
      }
      return arguments[index]
    }
    while index < arguments.count {
      let option = arguments[index]
      switch option {
      case "--input": input = try value(for: option)
      case "--output": output = try value(for: option)
      case "--resource-path": resourcePath = try value(for: option)
      case "--target": target = try value(for: option)
      case "--module": modules.insert(try value(for: option))
      default:
        throw CodegenError(
          file: "plexus-model-codegen",
          message: "unknown argument '\(option)'; expected --input, --output, --resource-path, "
            + "--target or --module")
      }
      index += 1
    }
  }
}

do {
  let arguments = try Arguments(Array(CommandLine.arguments.dropFirst()))
  guard let input = arguments.input, let output = arguments.output,
    let target = arguments.target
  else {
    throw CodegenError(
      file: "plexus-model-codegen", message: "--input, --output and --target are required")
  }
  let inputURL = URL(fileURLWithPath: input)
  let summary = try ModelCodegen.summarize(
    file: inputURL, target: target, availableModules: arguments.modules)
  let source = ModelCodegen.source(
    for: summary, resourcePath: arguments.resourcePath ?? inputURL.lastPathComponent,
    usesUmbrella: arguments.modules.contains("Plexus"))
  // Written to a temporary file and renamed, so an interrupted run leaves no partial source.
  let outputURL = URL(fileURLWithPath: output)
  let temporary = outputURL.deletingLastPathComponent().appendingPathComponent(
    ".\(outputURL.lastPathComponent).\(ProcessInfo.processInfo.processIdentifier).tmp")
  try Data(source.utf8).write(to: temporary)
  // rename(2) replaces an earlier output atomically.
  guard rename(temporary.path, outputURL.path) == 0 else {
    let reason = String(cString: strerror(errno))
    try? FileManager.default.removeItem(at: temporary)
    throw CodegenError(file: output, message: "cannot write the generated source: \(reason)")
  }
} catch {
  FileHandle.standardError.write(Data("\(error)\n".utf8))
  exit(1)
}
