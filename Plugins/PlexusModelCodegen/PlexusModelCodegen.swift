import Foundation
import PackagePlugin

/// Turns every `.plexus` resource of a target into a Swift type (`digits-mlp.plexus` gives
/// `DigitsMLP`, in `digits-mlp.plexus.swift`): the file is checked at build time, and a damaged or unsupported model, or one
/// whose layers come from a module the target does not depend on, fails the build.
///
/// Each model is one build command whose input is the model file and whose output is the
/// generated source, so the generator runs again only when the model changes.
@main
struct PlexusModelCodegen: BuildToolPlugin {
  func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
    guard let module = target.sourceModule else { return [] }
    let generator = try context.tool(named: "PlexusModelCodegenTool")
    // The modules the target can import: its own dependencies, direct and through products.
    var modules: Set<String> = []
    for dependency in module.recursiveTargetDependencies { modules.insert(dependency.name) }
    for dependency in module.dependencies {
      if case .product(let product) = dependency {
        for productTarget in product.targets { modules.insert(productTarget.name) }
      }
    }
    let models = module.sourceFiles.filter { $0.url.pathExtension == "plexus" }
    return models.map { file in
      // The type name is the generator's to choose; the file is named after the resource.
      let output = context.pluginWorkDirectoryURL.appendingPathComponent(
        "\(file.url.lastPathComponent).swift")
      let targetPath = module.directoryURL.standardizedFileURL.path
      let filePath = file.url.standardizedFileURL.path
      let relative =
        filePath.hasPrefix(targetPath + "/")
        ? String(filePath.dropFirst(targetPath.count + 1)) : file.url.lastPathComponent
      var arguments = [
        "--input", file.url.path, "--output", output.path, "--resource-path", relative,
        "--target", module.name,
      ]
      for name in modules.sorted() { arguments += ["--module", name] }
      return .buildCommand(
        displayName: "Generating \(output.lastPathComponent) from \(file.url.lastPathComponent)",
        executable: generator.url, arguments: arguments, inputFiles: [file.url],
        outputFiles: [output])
    }
  }

}
