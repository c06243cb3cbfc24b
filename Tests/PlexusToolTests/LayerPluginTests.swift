import Foundation
import Plexus
import PlexusCommands
import Testing

/// The root of the Plexus package.
private let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
  .deletingLastPathComponent().deletingLastPathComponent()

/// What a finished process printed.
struct ProcessOutput: Sendable {
  var status: Int32
  var stdout: String
  var stderr: String
}

/// Runs `executable` with `arguments` to its end (standard output and error read on the way).
func runProcess(
  _ executable: URL, _ arguments: [String], environment: [String: String]? = nil,
  directory: URL? = nil
) throws -> ProcessOutput {
  let process = Process()
  process.executableURL = executable
  process.arguments = arguments
  if let environment { process.environment = environment }
  if let directory { process.currentDirectoryURL = directory }
  let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
    "plexus-process-\(UUID().uuidString)")
  try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
  defer { try? FileManager.default.removeItem(at: folder) }
  // Files rather than pipes, so a chatty process never blocks on a full pipe.
  let outURL = folder.appendingPathComponent("stdout")
  let errURL = folder.appendingPathComponent("stderr")
  _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
  _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
  let out = try FileHandle(forWritingTo: outURL)
  let err = try FileHandle(forWritingTo: errURL)
  process.standardOutput = out
  process.standardError = err
  try process.run()
  process.waitUntilExit()
  try out.close()
  try err.close()
  return ProcessOutput(
    status: process.terminationStatus,
    stdout: String(decoding: try Data(contentsOf: outURL), as: UTF8.self),
    stderr: String(decoding: try Data(contentsOf: errURL), as: UTF8.self))
}

/// The `swift` driver that runs these tests (`SWIFT_EXEC`-free: the one on PATH).
let swiftDriver = URL(fileURLWithPath: "/usr/bin/env")

/// The example package (Examples/PluginExample: a layer plugin, a model with a generated type,
/// the command plugins), built once per test run with its tests, which are run too, into a
/// scratch folder inside this package's build folder, so later runs rebuild only what changed.
enum ExamplePackage {
  /// The folder of the built products, or the build's failure.
  static let products: Result<URL, BuildFailure> = build()

  /// A failed build of the example package, with what it printed.
  struct BuildFailure: Error, CustomStringConvertible {
    var description: String
  }

  static let packageFolder = packageRoot.appendingPathComponent("Examples/PluginExample")
  static let scratchFolder = packageRoot.appendingPathComponent(".build/examples/plugin-example")
  /// The options that point `swift build`, `swift test` and `swift package` at the example.
  static let locationOptions = [
    "--package-path", packageFolder.path, "--scratch-path", scratchFolder.path,
  ]

  /// The layer plugin library.
  static func layerPlugin() throws -> URL {
    try products.get().appendingPathComponent("libSwishLayers.so")
  }

  /// Runs `swift SUBCOMMAND` on the example package.
  static func swift(
    _ subcommand: String, _ arguments: [String] = [], environment: [String: String]? = nil
  ) throws -> ProcessOutput {
    try runProcess(
      swiftDriver, ["swift", subcommand] + locationOptions + arguments, environment: environment)
  }

  private static func build() -> Result<URL, BuildFailure> {
    do {
      let built = try swift("build", ["--build-tests"])
      guard built.status == 0 else {
        return .failure(BuildFailure(description: built.stdout + built.stderr))
      }
      let tested = try swift("test", ["--skip-build"])
      guard tested.status == 0 else {
        return .failure(
          BuildFailure(description: "the example's tests failed:\n" + tested.stdout + tested.stderr)
        )
      }
      let binPath = try swift("build", ["--show-bin-path"])
      let products = URL(
        fileURLWithPath: binPath.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
      guard
        FileManager.default.fileExists(
          atPath: products.appendingPathComponent("libSwishLayers.so").path)
      else {
        return .failure(BuildFailure(description: "no libSwishLayers.so in \(products.path)"))
      }
      return .success(products)
    } catch {
      return .failure(BuildFailure(description: "\(error)"))
    }
  }
}

/// Compiles a C file into a shared library with the system C compiler.
private func compileSharedLibrary(_ source: String, in folder: TemporaryFolder, name: String)
  throws -> URL
{
  let sourceFile = try folder.write(source, to: "\(name).c")
  let library = folder.file("lib\(name).so")
  let result = try runProcess(
    swiftDriver, ["cc", "-shared", "-fPIC", "-o", library.path, sourceFile.path])
  guard result.status == 0 else {
    throw PlexusError.io("cc failed: \(result.stderr)")
  }
  return library
}

/// A layer that claims a bundled type name.
private final class ImpostorDense: UnaryLayer {
  struct Config: DefaultedConfiguration {
    static var defaults: Config { Config() }
    static var fields: [ConfigField<Config>] { [] }
  }
  static let typeName = "plexus.dense"
  let state = LayerState()
  let config: Config
  init(config: Config) throws { self.config = config }
  func build(for inputShape: SymbolicShape) throws -> SymbolicShape { inputShape }
  func forward(_ input: Tensor, record: CallRecord) throws -> Tensor { input }
  func backward(_ outputGradient: Tensor, record: CallRecord, computingInputGradient: Bool)
    throws -> Tensor?
  { outputGradient }
}

/// Writes `text` and a NUL into a handshake buffer.
private func answer(_ text: String, _ argument: UnsafeMutableRawPointer?, _ capacity: Int)
  -> Int32
{
  let bytes = Array(text.utf8) + [0]
  guard let argument, capacity >= bytes.count else { return 9 }
  argument.copyMemory(from: bytes, byteCount: bytes.count)
  return 0
}

/// Refusals that happen in this process: none of them registers anything, so the other
/// tests' registries stay the bundled ones.
@Suite struct LayerPluginRefusalTests {
  @Test func theHandshakeTextIsTheLibrarysVersions() {
    #expect(
      LayerPluginEntry.compiledHandshake
        == "\(LayerPluginEntry.handshakeMagic) \(LayerPluginEntry.abiVersion) "
        + PlexusFormat.libraryVersion)
  }

  @Test func anotherABIOrLibraryVersionIsRefusedBeforeRegistration() throws {
    let otherABI: LayerPluginEntry.Function = { request, argument, capacity in
      request == 1 ? answer("plexus-layer-plugin 2 0.1.0", argument, capacity) : 77
    }
    #expect(
      throws: LayerPluginError.incompatible(plugin: "a", pluginABI: "2", pluginVersion: "0.1.0")
    ) {
      try LayerPlugins.load(entry: otherABI, plugin: "a", base: .standard())
    }
    let olderLibrary: LayerPluginEntry.Function = { request, argument, capacity in
      request == 1 ? answer("plexus-layer-plugin 1 0.0.9", argument, capacity) : 77
    }
    let error = LayerPluginError.incompatible(plugin: "b", pluginABI: "1", pluginVersion: "0.0.9")
    #expect(throws: error) {
      try LayerPlugins.load(entry: olderLibrary, plugin: "b", base: .standard())
    }
    #expect(
      error.description
        == "layer plugin b was built for plugin ABI 1, Plexus 0.0.9; this plexus has ABI 1, "
        + "Plexus \(PlexusFormat.libraryVersion): rebuild the plugin against Plexus "
        + PlexusFormat.libraryVersion)
    #expect(LayerPlugins.loaded.allSatisfy { !["a", "b"].contains($0.plugin) })
  }

  @Test func malformedHandshakesAreRefused() throws {
    let garbage: LayerPluginEntry.Function = { _, argument, capacity in
      answer("hello", argument, capacity)
    }
    #expect {
      try LayerPlugins.load(entry: garbage, plugin: "g", base: .standard())
    } throws: {
      "\($0)".contains("its handshake 'hello' is not 'plexus-layer-plugin ABI VERSION'")
    }
    let unterminated: LayerPluginEntry.Function = { _, argument, capacity in
      argument?.initializeMemory(as: UInt8.self, repeating: 65, count: capacity)
      return 0
    }
    #expect {
      try LayerPlugins.load(entry: unterminated, plugin: "u", base: .standard())
    } throws: { "\($0)".contains("is not a NUL-terminated text within 256 bytes") }
    let failing: LayerPluginEntry.Function = { _, _, _ in 5 }
    #expect(
      throws: LayerPluginError.badHandshake(plugin: "f", detail: "returned status 5")
    ) { try LayerPlugins.load(entry: failing, plugin: "f", base: .standard()) }
  }

  @Test func aBundledNameIsRefusedByName() throws {
    let impostor: LayerPluginEntry.Function = { request, argument, capacity in
      LayerPluginEntry.handle(request, argument, capacity) { registrar in
        try registrar.register(ImpostorDense.self, module: "Impostor")
      }
    }
    let base = LayerRegistry.standard()
    #expect(
      throws: LayerPluginError.typeNameTaken(
        plugin: "impostor", type: "plexus.dense", owner: "module PlexusPerceptron")
    ) { try LayerPlugins.load(entry: impostor, plugin: "impostor", base: base) }
    #expect(base.module(of: "plexus.dense") == "PlexusPerceptron")
    #expect(LayerPlugins.loaded.allSatisfy { $0.plugin != "impostor" })
  }

  @Test func filesThatAreNotPluginsAreRefused() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let missing = folder.file("missing.so").path
    #expect {
      try LayerPlugins.load(path: missing, base: .standard())
    } throws: { error in
      guard case .cannotOpen(let plugin, let reason)? = error as? LayerPluginError else {
        return false
      }
      return plugin == missing && reason.contains("No such file")
    }
    let text = try folder.write("not a library\n", to: "text.so")
    #expect {
      try LayerPlugins.load(path: text.path, base: .standard())
    } throws: { "\($0)".hasPrefix("layer plugin \(text.path) cannot be loaded: ") }

    let noEntry = try compileSharedLibrary(
      "int unrelated(void) { return 1; }\n", in: folder, name: "noentry")
    #expect(throws: LayerPluginError.missingEntryPoint(plugin: noEntry.path)) {
      try LayerPlugins.load(path: noEntry.path, base: .standard())
    }
    // A plugin of a future ABI, in C: refused after the handshake, never called again.
    let future = try compileSharedLibrary(
      """
      #include <string.h>
      #include <stdint.h>
      int32_t plexus_plugin_entry(int32_t request, void *argument, intptr_t capacity) {
        static const char text[] = "plexus-layer-plugin 99 7.0.0";
        if (request != 1) { __builtin_trap(); }
        if (capacity < (intptr_t)sizeof text) { return 3; }
        memcpy(argument, text, sizeof text);
        return 0;
      }
      """, in: folder, name: "future")
    #expect(
      throws: LayerPluginError.incompatible(
        plugin: future.path, pluginABI: "99", pluginVersion: "7.0.0")
    ) { try LayerPlugins.load(path: future.path, base: .standard()) }
  }

  @Test func pluginOptionsAreTakenOutOfTheArguments() throws {
    let (plugins, remaining) = try ToolPlugins.extract(from: [
      "--plugin", "a.so", "train", "spec.json", "--plugin=b.so", "-o", "m.plexus", "--",
      "--plugin", "c.so",
    ])
    #expect(plugins == ["a.so", "b.so"])
    #expect(remaining == ["train", "spec.json", "-o", "m.plexus", "--", "--plugin", "c.so"])
    #expect(throws: (any Error).self) { try ToolPlugins.extract(from: ["layers", "--plugin"]) }
    #expect(throws: (any Error).self) { try ToolPlugins.extract(from: ["--plugin=", "layers"]) }
    #expect(LayerPlugins.paths(fromSearchPath: "/a/x.so::/b/y.so:") == ["/a/x.so", "/b/y.so"])
  }
}

/// The example plugin (Examples/PluginExample, `com.example.swish`) built as a dynamic library
/// and loaded by the `plexus` executable.
@Suite(.serialized) struct ExampleLayerPluginTests {
  let specPath = packageRoot.appendingPathComponent("Examples/PluginExample/swish-digits.json")
    .path

  /// The environment of this process without `PLEXUS_PLUGIN_PATH`, plus `extra`.
  private func environment(_ extra: [String: String] = [:]) -> [String: String] {
    var environment = ProcessInfo.processInfo.environment
    environment[ToolPlugins.environmentVariable] = nil
    return environment.merging(extra) { $1 }
  }

  private func tool() throws -> URL {
    try #require(plexusExecutable(), "the plexus executable was not built")
  }

  @Test func aModelWithThePluginsLayerTrainsSavesReloadsAndPredicts() throws {
    let library = try ExamplePackage.layerPlugin()
    let plexus = try tool()
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let model = folder.file("swish.plexus")
    let trained = try runProcess(
      plexus, ["--plugin", library.path, "train", specPath, "-o", model.path, "--quiet"],
      environment: environment())
    #expect(trained.status == 0, "\(trained.stdout)\(trained.stderr)")
    #expect(trained.stdout.contains("saved model to \(model.path)"))

    // Reloaded to resume training, the plugin named by the environment this time.
    let resumed = folder.file("resumed.plexus")
    let resumedRun = try runProcess(
      plexus,
      ["train", specPath, "-o", resumed.path, "--resume", model.path, "--epochs", "4", "-q"],
      environment: environment([ToolPlugins.environmentVariable: library.path]))
    #expect(resumedRun.status == 0, "\(resumedRun.stdout)\(resumedRun.stderr)")
    let history = try #require(try PlexusFile(contentsOf: resumed).trainingHistory())
    #expect(history.epochsCompleted == 4)

    let summary = try runProcess(
      plexus, ["--plugin", library.path, "summary", resumed.path], environment: environment())
    #expect(summary.status == 0, "\(summary.stderr)")
    #expect(summary.stdout.contains("com.example.swish"))

    // Converted: its weights, the Swish beta among them, to safetensors.
    let weights = folder.file("swish.safetensors")
    let converted = try runProcess(
      plexus, ["--plugin", library.path, "convert", resumed.path, weights.path],
      environment: environment())
    #expect(converted.status == 0, "\(converted.stderr)")
    let stored = try String(decoding: Data(contentsOf: weights).prefix(4096), as: UTF8.self)
    #expect(stored.contains("swish.beta"))

    // Predictions of the reloaded model on the first 200 digits.
    let digits = try Digits.load().samples(0..<200)
    try NumPy.write(digits.features, to: folder.file("x.npy"))
    let predicted = try runProcess(
      plexus,
      [
        "--plugin", library.path, "predict", resumed.path, "--input", folder.file("x.npy").path,
        "--output", folder.file("classes.npy").path, "--classes",
      ], environment: environment())
    #expect(predicted.status == 0, "\(predicted.stderr)")
    let classes = try NumPy.read(contentsOf: folder.file("classes.npy")).tensor().scalars
    let labels = digits.labels.scalars
    #expect(classes.count == 200)
    let correct = zip(classes, labels).filter { $0 == $1 }.count
    #expect(correct >= 160, "\(correct) of 200 digits classified correctly")
  }

  @Test func withoutThePluginTheErrorNamesTheLayerTypeAndTheOption() throws {
    let library = try ExamplePackage.layerPlugin()
    let plexus = try tool()
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let model = folder.file("swish.plexus")
    let trained = try runProcess(
      plexus, ["train", specPath, "-o", model.path, "-q", "--epochs", "1"],
      environment: environment([ToolPlugins.environmentVariable: library.path]))
    #expect(trained.status == 0, "\(trained.stderr)")
    for arguments in [["summary", model.path], ["train", specPath, "-o", folder.file("b").path]] {
      let refused = try runProcess(plexus, arguments, environment: environment())
      #expect(refused.status == 1)
      #expect(refused.stderr.contains("layer type 'com.example.swish' is not registered"))
      #expect(refused.stderr.contains("--plugin PATH (or PLEXUS_PLUGIN_PATH)"))
    }
  }

  @Test func layersShowsWhatEachPluginAdded() throws {
    let library = try ExamplePackage.layerPlugin()
    let plexus = try tool()
    let listed = try runProcess(
      plexus, ["--plugin", library.path, "layers", "--json", "com.example.swish"],
      environment: environment())
    #expect(listed.status == 0, "\(listed.stderr)")
    let entries = try JSONDecoder().decode([LayerList.Entry].self, from: Data(listed.stdout.utf8))
    let entry = try #require(entries.first)
    #expect(entries.count == 1)
    #expect(entry.type == "com.example.swish" && entry.module == "SwishLayers")
    #expect(entry.keys == ["initialBeta"] && entry.required.isEmpty)
    #expect(entry.plugin == library.path)
    let table = try runProcess(
      plexus, ["layers", "--plugin", library.path], environment: environment())
    #expect(table.stdout.contains("SwishLayers (plugin \(library.path))"))
    #expect(table.stdout.contains("plugin \(library.path): com.example.swish"))
    #expect(table.stdout.contains("plexus.dense"))
  }

  @Test func aSecondPluginWithTheSameTypeNameIsRefusedByName() throws {
    let library = try ExamplePackage.layerPlugin()
    let plexus = try tool()
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    // A copy is another library to the loader, with its own class of the same name.
    let copy = folder.file("libSwishCopy.so")
    try FileManager.default.copyItem(at: library, to: copy)
    let refused = try runProcess(
      plexus, ["--plugin", library.path, "--plugin", copy.path, "layers"],
      environment: environment())
    #expect(refused.status == 1)
    #expect(
      refused.stderr.contains(
        "layer plugin \(copy.path) registers layer type 'com.example.swish', which is already "
          + "registered by module SwishLayers (plugin \(library.path)); the plugin was not loaded"
      ), "\(refused.stderr)")
    // The same file named twice, also through a symbolic link, is one plugin.
    let link = folder.file("link.so")
    try FileManager.default.createSymbolicLink(at: link, withDestinationURL: library)
    let linked = try runProcess(
      plexus, ["--plugin", library.path, "--plugin", link.path, "layers"],
      environment: environment())
    #expect(linked.status == 0, "\(linked.stderr)")
    #expect(linked.stdout.components(separatedBy: "plugin \(library.path): ").count == 2)
    let twice = try runProcess(
      plexus, ["--plugin", library.path, "layers", "--plugin", library.path],
      environment: environment())
    #expect(twice.status == 0, "\(twice.stderr)")
  }
}
