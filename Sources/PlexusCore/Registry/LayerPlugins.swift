import Synchronization

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The contract between a host (the `plexus` tool) and a layer plugin: a dynamic library that
/// exports one C-callable function, `plexus_plugin_entry`, which the host calls twice.
///
/// ```swift
/// import PlexusCore
///
/// @_cdecl("plexus_plugin_entry")
/// public func plexusPluginEntry(
///   _ request: Int32, _ argument: UnsafeMutableRawPointer?, _ capacity: Int
/// ) -> Int32 {
///   LayerPluginEntry.handle(request, argument, capacity) { registrar in
///     try registrar.register(Swish.self, module: "SwishLayers")
///   }
/// }
/// ```
///
/// 1. **Handshake** (`request == handshakeRequest`): `argument` is a buffer of `capacity`
///    bytes; the plugin writes `plexus-layer-plugin ABI VERSION` and a NUL, where `ABI` is the
///    plugin ABI version and `VERSION` the Plexus library version it was compiled against. Both
///    are compiled into the plugin (``handle(_:_:_:register:)`` is emitted into the plugin), so
///    they are the plugin's own, and the answer is plain C data: a plugin built against another
///    Plexus is refused before any Swift value crosses the boundary.
/// 2. **Registration** (`request == registerRequest`), only when both versions equal the
///    host's: `argument` is an opaque ``LayerPluginRegistrar``; the plugin registers its layer
///    classes and returns 0.
///
/// Plexus has no stable Swift ABI between versions (class layouts and protocol requirements
/// change), so a plugin must be built against the very library version of the host.
public enum LayerPluginEntry {
  /// The name of the entry point a plugin exports.
  public static let symbol = "plexus_plugin_entry"
  /// The request that asks for the handshake text.
  public static let handshakeRequest: Int32 = 1
  /// The request that asks the plugin to register its layers.
  public static let registerRequest: Int32 = 2
  /// The first word of the handshake text.
  public static let handshakeMagic = "plexus-layer-plugin"
  /// The size of the buffer the host passes for the handshake.
  public static let handshakeCapacity = 256

  /// The C signature of the entry point.
  public typealias Function =
    @convention(c) (Int32, UnsafeMutableRawPointer?, Int) -> Int32

  /// The plugin ABI version of the host: the entry point's signature and requests, and the
  /// registrar's interface.
  public static let abiVersion: UInt32 = 1

  /// The handshake a plugin compiled against this library sends. Emitted into the plugin, so
  /// it holds the versions the plugin was built with, whatever the host's are.
  @_alwaysEmitIntoClient
  public static var compiledHandshake: String {
    // Keep in step with `abiVersion` and `PlexusFormat.libraryVersion` (a test checks it).
    "plexus-layer-plugin 1 0.1.0"
  }

  /// Answers a host's request: the handshake, or the registration of the plugin's layers by
  /// `register`. Returns 0 on success; a failed registration is recorded in the registrar.
  ///
  /// Emitted into the plugin, so its handshake branch uses nothing from the host's library.
  @_alwaysEmitIntoClient
  public static func handle(
    _ request: Int32, _ argument: UnsafeMutableRawPointer?, _ capacity: Int,
    register: (LayerPluginRegistrar) throws -> Void
  ) -> Int32 {
    guard let argument else { return 2 }
    switch request {
    case 1:
      let bytes = Array(compiledHandshake.utf8)
      guard capacity > bytes.count else { return 3 }
      let buffer = argument.bindMemory(to: UInt8.self, capacity: capacity)
      for (index, byte) in bytes.enumerated() { buffer[index] = byte }
      buffer[bytes.count] = 0
      return 0
    case 2:
      let registrar = Unmanaged<LayerPluginRegistrar>.fromOpaque(argument).takeUnretainedValue()
      do {
        try register(registrar)
        return 0
      } catch {
        registrar.fail(error)
        return 1
      }
    default:
      return 4
    }
  }
}

/// Why a layer plugin was not loaded. Nothing of a refused plugin is registered.
public enum LayerPluginError: Error, CustomStringConvertible, Equatable, Sendable {
  /// The file could not be opened as a dynamic library (the loader's message).
  case cannotOpen(plugin: String, reason: String)
  /// The library does not export the entry point.
  case missingEntryPoint(plugin: String)
  /// The handshake failed or its answer is malformed.
  case badHandshake(plugin: String, detail: String)
  /// The plugin was built against another plugin ABI or library version.
  case incompatible(plugin: String, pluginABI: String, pluginVersion: String)
  /// The plugin registers a layer type name that is already registered.
  case typeNameTaken(plugin: String, type: String, owner: String)
  /// The plugin's registration failed otherwise.
  case registrationFailed(plugin: String, message: String)

  public var description: String {
    let host = "ABI \(LayerPluginEntry.abiVersion), Plexus \(PlexusFormat.libraryVersion)"
    switch self {
    case .cannotOpen(let plugin, let reason):
      return "layer plugin \(plugin) cannot be loaded: \(reason)"
    case .missingEntryPoint(let plugin):
      return
        "layer plugin \(plugin) is not a Plexus plugin: it does not export the entry point "
        + "'\(LayerPluginEntry.symbol)'"
    case .badHandshake(let plugin, let detail):
      return "layer plugin \(plugin) is not a Plexus plugin: its handshake \(detail)"
    case .incompatible(let plugin, let pluginABI, let pluginVersion):
      return
        "layer plugin \(plugin) was built for plugin ABI \(pluginABI), Plexus \(pluginVersion); "
        + "this plexus has \(host): rebuild the plugin against Plexus "
        + "\(PlexusFormat.libraryVersion)"
    case .typeNameTaken(let plugin, let type, let owner):
      return
        "layer plugin \(plugin) registers layer type '\(type)', which is already registered "
        + "by \(owner); the plugin was not loaded"
    case .registrationFailed(let plugin, let message):
      return "layer plugin \(plugin) failed to register its layers: \(message)"
    }
  }
}

/// What a plugin receives to register its layers. It registers into a copy of the host's
/// registry, so a refused plugin leaves nothing behind.
public final class LayerPluginRegistrar {
  /// The plugin's file.
  public let plugin: String
  let registry: LayerRegistry
  private(set) var registeredNames: [String] = []
  private(set) var error: LayerPluginError?

  init(plugin: String, registry: LayerRegistry) {
    self.plugin = plugin
    self.registry = registry
  }

  /// Registers a layer class under its `typeName`, attributed to `module`.
  ///
  /// - Throws: `LayerPluginError.typeNameTaken` when the name is registered already (by a
  ///   bundled module or another plugin); `LayerPluginError.registrationFailed` for a
  ///   malformed name.
  public func register<L: Layer>(_ layerType: L.Type, module: String) throws {
    let name = L.typeName
    if let existing = registry.layerType(of: name) {
      let sameClass = ObjectIdentifier(existing) == ObjectIdentifier(layerType)
      if registeredNames.contains(name) {
        if sameClass { return }
        throw record(
          .typeNameTaken(
            plugin: plugin, type: name,
            owner: "module \(registry.module(of: name) ?? module) of the same plugin"))
      }
      let owner = registry.module(of: name) ?? "another module"
      let ownerPlugin = registry.plugin(of: name).map { " (plugin \($0))" } ?? ""
      throw record(
        .typeNameTaken(plugin: plugin, type: name, owner: "module \(owner)\(ownerPlugin)"))
    }
    do {
      try registry.register(layerType, module: module)
    } catch {
      throw record(.registrationFailed(plugin: plugin, message: "\(error)"))
    }
    registeredNames.append(name)
  }

  /// Records an error the plugin's registration threw (called by the entry point).
  public func fail(_ error: any Error) {
    if self.error == nil {
      self.error =
        error as? LayerPluginError ?? .registrationFailed(plugin: plugin, message: "\(error)")
    }
  }

  private func record(_ error: LayerPluginError) -> LayerPluginError {
    if self.error == nil { self.error = error }
    return error
  }
}

/// A layer plugin loaded into this process.
public struct LoadedLayerPlugin: Equatable, Sendable {
  /// The file it was loaded from (or the name given to an in-process entry point).
  public var plugin: String
  /// The layer type names it registered, sorted.
  public var layerTypes: [String]
}

/// The layer plugins of this process: loading them and adding their layers to registries.
///
/// Loading checks the plugin against a registry that already holds every other layer
/// (`LayerRegistry.standard()`, which includes the plugins loaded before), so a name is never
/// registered twice; the loaded plugins' layers are then part of every
/// `LayerRegistry.standard()`. A library is never unloaded (Swift code cannot be), also when it
/// is refused.
public enum LayerPlugins {
  private struct Record: Sendable {
    let info: LoadedLayerPlugin
    let entries: [String: LayerRegistry.Entry]
  }

  private static let records = Mutex<[Record]>([])

  /// The plugins loaded so far, in load order.
  public static var loaded: [LoadedLayerPlugin] {
    records.withLock { $0.map(\.info) }
  }

  /// Adds the layers of every loaded plugin to `registry`.
  public static func registerLoaded(in registry: LayerRegistry) {
    for record in records.withLock({ $0 }) { registry.adopt(record.entries) }
  }

  /// The plugin files named by a `PLEXUS_PLUGIN_PATH` value: colon-separated, empty entries
  /// skipped.
  public static func paths(fromSearchPath value: String) -> [String] {
    value.split(separator: ":", omittingEmptySubsequences: true).map(String.init)
  }

  /// Loads the plugin library at `path` (`dlopen`), checks its handshake and registers its
  /// layers. Loading the same file again returns the earlier result.
  ///
  /// - Parameters:
  ///   - path: the library file; it is made absolute and canonical (symbolic links resolved),
  ///     so the same file named two ways is loaded once.
  ///   - base: a registry holding every layer already available, against which the plugin's
  ///     names are checked (`LayerRegistry.standard()`); it receives the plugin's layers.
  /// - Throws: `LayerPluginError` naming the file and what is wrong.
  @discardableResult
  public static func load(path: String, base: LayerRegistry) throws -> LoadedLayerPlugin {
    let path = canonicalPath(path)
    if let earlier = records.withLock({ $0.first { $0.info.plugin == path } }) {
      return earlier.info
    }
    guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
      let reason = dlerror().map { String(cString: $0) } ?? "unknown error"
      throw LayerPluginError.cannotOpen(plugin: path, reason: reason)
    }
    guard let symbol = dlsym(handle, LayerPluginEntry.symbol) else {
      throw LayerPluginError.missingEntryPoint(plugin: path)
    }
    let entry = unsafeBitCast(symbol, to: LayerPluginEntry.Function.self)
    return try load(entry: entry, plugin: path, base: base)
  }

  /// The absolute path of an existing file with symbolic links resolved; `path` itself when it
  /// cannot be resolved (the loader then reports the file).
  private static func canonicalPath(_ path: String) -> String {
    guard let resolved = realpath(path, nil) else { return path }
    defer { free(resolved) }
    return String(cString: resolved)
  }

  /// Runs the handshake and the registration of an entry point already in the process (a
  /// plugin linked statically, or one `load(path:base:)` opened), under the name `plugin`.
  ///
  /// - Throws: `LayerPluginError` naming `plugin` and what is wrong.
  @discardableResult
  public static func load(
    entry: LayerPluginEntry.Function, plugin: String, base: LayerRegistry
  ) throws -> LoadedLayerPlugin {
    try checkHandshake(entry: entry, plugin: plugin)
    let registrar = LayerPluginRegistrar(plugin: plugin, registry: base.copy())
    let status = withExtendedLifetime(registrar) {
      entry(LayerPluginEntry.registerRequest, Unmanaged.passUnretained(registrar).toOpaque(), 0)
    }
    if let error = registrar.error { throw error }
    guard status == 0 else {
      throw LayerPluginError.registrationFailed(
        plugin: plugin, message: "its entry point returned status \(status)")
    }
    var entries = registrar.registry.entries(named: registrar.registeredNames)
    for name in entries.keys { entries[name]?.plugin = plugin }
    let info = LoadedLayerPlugin(plugin: plugin, layerTypes: entries.keys.sorted())
    try records.withLock { records in
      // Another thread may have loaded a plugin with one of these names meanwhile.
      for record in records {
        if let name = entries.keys.first(where: { record.entries[$0] != nil }) {
          let owner = record.entries[name].map { "module \($0.module)" } ?? "another module"
          throw LayerPluginError.typeNameTaken(
            plugin: plugin, type: name, owner: "\(owner) (plugin \(record.info.plugin))")
        }
      }
      records.append(Record(info: info, entries: entries))
    }
    base.adopt(entries)
    return info
  }

  private static func checkHandshake(entry: LayerPluginEntry.Function, plugin: String) throws {
    let capacity = LayerPluginEntry.handshakeCapacity
    var buffer = [UInt8](repeating: 0, count: capacity)
    let status = buffer.withUnsafeMutableBytes { bytes in
      entry(LayerPluginEntry.handshakeRequest, bytes.baseAddress, capacity)
    }
    guard status == 0 else {
      throw LayerPluginError.badHandshake(plugin: plugin, detail: "returned status \(status)")
    }
    guard let end = buffer.firstIndex(of: 0) else {
      throw LayerPluginError.badHandshake(
        plugin: plugin, detail: "is not a NUL-terminated text within \(capacity) bytes")
    }
    guard let text = String(validating: buffer[..<end], as: UTF8.self) else {
      throw LayerPluginError.badHandshake(plugin: plugin, detail: "is not UTF-8")
    }
    let words = text.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
    guard words.count == 3, words[0] == LayerPluginEntry.handshakeMagic else {
      throw LayerPluginError.badHandshake(
        plugin: plugin,
        detail: "'\(text.prefix(80))' is not '\(LayerPluginEntry.handshakeMagic) ABI VERSION'")
    }
    guard words[1] == String(LayerPluginEntry.abiVersion), words[2] == PlexusFormat.libraryVersion
    else {
      throw LayerPluginError.incompatible(
        plugin: plugin, pluginABI: words[1], pluginVersion: words[2])
    }
  }
}
