// swift-tools-version: 6.1
import PackageDescription

// A layer plugin for the `plexus` tool: a dynamic library with one custom layer
// (`com.example.swish`) and the entry point the tool calls. Build it with
// `swift build --product SwishLayers` and load it with `plexus --plugin PATH ...`.
let package = Package(
  name: "PlexusPluginExample",
  products: [
    .library(name: "SwishLayers", type: .dynamic, targets: ["SwishLayers"])
  ],
  dependencies: [
    // Plexus by path; a package elsewhere names it by URL and version instead.
    .package(name: "Plexus", path: "../..")
  ],
  targets: [
    .target(
      name: "SwishLayers",
      dependencies: [.product(name: "PlexusDynamic", package: "Plexus")],
      swiftSettings: [.swiftLanguageMode(.v6)]
    ),
    .testTarget(
      name: "SwishLayersTests",
      dependencies: ["SwishLayers", .product(name: "PlexusDynamic", package: "Plexus")],
      swiftSettings: [.swiftLanguageMode(.v6)]
    ),
  ]
)
