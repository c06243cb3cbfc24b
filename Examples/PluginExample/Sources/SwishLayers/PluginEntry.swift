import PlexusCore

/// The entry point the `plexus` tool calls (`--plugin`): the handshake, then the registration
/// of this plugin's layers. `LayerPluginEntry.handle` is compiled into the plugin, so the
/// handshake reports the Plexus version this library was built against.
@_cdecl("plexus_plugin_entry")
public func plexusPluginEntry(
  _ request: Int32, _ argument: UnsafeMutableRawPointer?, _ capacity: Int
) -> Int32 {
  LayerPluginEntry.handle(request, argument, capacity) { registrar in
    try registrar.register(Swish.self, module: "SwishLayers")
  }
}
