import ArgumentParser
import Foundation
import Plexus

/// `plexus layers`: lists the layer types a spec may name.
public struct LayersCommand: ParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "layers",
    abstract: "List the registered layer types with their module and config keys.",
    discussion: """
      Each type is what a spec's layer names in "type"; its config takes the keys listed \
      (required ones marked with *). Run 'plexus layers plexus.dense' for one type.
      """
  )

  /// Types to show; all when empty.
  @Argument(help: ArgumentHelp("Layer types to show (default: all).", valueName: "TYPE"))
  public var types: [String] = []

  /// Prints JSON.
  @Flag(help: "Print JSON instead of a table.")
  public var json = false

  public init() {}

  public func run() throws {
    try LayerList.run(types: types, json: json, console: StandardOutput())
  }
}

/// The work of `plexus layers`.
public enum LayerList {
  /// A registered layer type as `plexus layers` lists it.
  public struct Entry: Codable, Equatable, Sendable {
    /// The registered type name (`plexus.dense`).
    public var type: String
    /// The module that registered it (`PlexusPerceptron`).
    public var module: String
    /// Every config key, in the config's order.
    public var keys: [String]
    /// The keys that must be given.
    public var required: [String]
    /// The layer plugin that added the type (`--plugin`), `nil` for a bundled type.
    public var plugin: String? = nil
  }

  /// The registered types of `registry`, sorted by name.
  public static func entries(registry: LayerRegistry) -> [Entry] {
    registry.typeNames.map { name in
      var keys: [String] = []
      var required: [String] = []
      if let layerType = registry.layerType(of: name) {
        (keys, required) = configKeys(of: layerType)
      }
      return Entry(
        type: name, module: registry.module(of: name) ?? "", keys: keys, required: required,
        plugin: registry.plugin(of: name))
    }
  }

  private static func configKeys(of layerType: any Layer.Type) -> ([String], [String]) {
    func keys<L: Layer>(_: L.Type) -> ([String], [String]) {
      guard let config = L.Config.self as? any DefaultedConfiguration.Type else { return ([], []) }
      return (config.keys, config.requiredKeys)
    }
    return keys(layerType)
  }

  /// Prints the types (or the ones named) as a table or JSON.
  ///
  /// - Throws: `PlexusError.unknownLayerType`-like `invalidArgument` naming a type that is not
  ///   registered, with the registered ones.
  public static func run(
    types: [String], json: Bool, console: any Console, registry: LayerRegistry = .standard()
  ) throws {
    var entries = entries(registry: registry)
    if !types.isEmpty {
      for type in types where !registry.contains(type) {
        let suggestion =
          registry.contains("plexus.\(type)") ? " (did you mean 'plexus.\(type)'?)" : ""
        throw PlexusError.invalidArgument(
          "no layer type '\(type)' is registered\(suggestion); registered types: "
            + registry.typeNames.joined(separator: ", "))
      }
      entries = entries.filter { types.contains($0.type) }
    }
    if json {
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
      console.line(String(decoding: try encoder.encode(entries), as: UTF8.self))
      return
    }
    func origin(_ entry: Entry) -> String {
      entry.plugin.map { "\(entry.module) (plugin \($0))" } ?? entry.module
    }
    let typeWidth = entries.map(\.type.count).max() ?? 4
    let moduleWidth = entries.map { origin($0).count }.max() ?? 6
    func padded(_ text: String, _ width: Int) -> String {
      text + String(repeating: " ", count: Swift.max(width - text.count, 0))
    }
    console.line(
      padded("type", typeWidth) + "  " + padded("module", moduleWidth)
        + "  config keys (* required)")
    for entry in entries {
      let keys = entry.keys.map { entry.required.contains($0) ? "\($0)*" : $0 }
      console.line(
        padded(entry.type, typeWidth) + "  " + padded(origin(entry), moduleWidth) + "  "
          + (keys.isEmpty ? "-" : keys.joined(separator: ", ")))
    }
    if types.isEmpty {
      console.line(
        "\(entries.count) layer types; a spec layer reads {\"type\": ..., \"config\": {...}}")
      for plugin in LayerPlugins.loaded {
        console.line(
          "plugin \(plugin.plugin): " + plugin.layerTypes.joined(separator: ", "))
      }
    }
  }
}
