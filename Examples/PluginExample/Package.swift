// swift-tools-version: 6.1
import PackageDescription

// How another package uses Plexus and its plugins:
// - SwishLayers: a layer plugin for the `plexus` tool, a dynamic library with one custom layer
//   (`com.example.swish`) and the entry point the tool calls. Build it with
//   `swift build --product SwishLayers` and load it with `plexus --plugin PATH ...`.
// - DigitsClassifier: a bundled model, `digits-mlp.plexus`, whose Swift type `DigitsMLP` the
//   PlexusModelCodegen build-tool plugin generates; `digits-demo` runs it.
// - The command plugins: `swift package plexus-inspect FILE`, `swift package plexus-convert IN
//   OUT`, `swift package plexus-train SPEC -o OUT`.
// Every target links Plexus as the one shared library PlexusDynamic, so the process holds one
// copy of it (the layer plugin must; the others share its test binary).
// With PLEXUS_EXAMPLE_MISSING_MODULE set, the package also has MissingModuleCheck, whose build
// must fail: its model needs PlexusPerceptron, which it does not depend on (the test suite's
// check of that error).
let missingModuleCheck: [Target] =
  Context.environment["PLEXUS_EXAMPLE_MISSING_MODULE"] == nil
  ? []
  : [
    .target(
      name: "MissingModuleCheck",
      dependencies: [.product(name: "PlexusCore", package: "Plexus")],
      resources: [.copy("digits-mlp.plexus")],
      plugins: [.plugin(name: "PlexusModelCodegen", package: "Plexus")]
    )
  ]

let package = Package(
  name: "PlexusPluginExample",
  products: [
    .library(name: "SwishLayers", type: .dynamic, targets: ["SwishLayers"]),
    .executable(name: "digits-demo", targets: ["DigitsDemo"]),
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
    // A bundled model with its Swift type generated at build time (`DigitsMLP`).
    .target(
      name: "DigitsClassifier",
      dependencies: [.product(name: "PlexusDynamic", package: "Plexus")],
      resources: [.copy("digits-mlp.plexus")],
      swiftSettings: [.swiftLanguageMode(.v6)],
      plugins: [.plugin(name: "PlexusModelCodegen", package: "Plexus")]
    ),
    .executableTarget(
      name: "DigitsDemo",
      dependencies: ["DigitsClassifier", .product(name: "PlexusDynamic", package: "Plexus")],
      swiftSettings: [.swiftLanguageMode(.v6)]
    ),
    .testTarget(
      name: "DigitsClassifierTests",
      dependencies: ["DigitsClassifier", .product(name: "PlexusDynamic", package: "Plexus")],
      swiftSettings: [.swiftLanguageMode(.v6)]
    ),
    .testTarget(
      name: "SwishLayersTests",
      dependencies: ["SwishLayers", .product(name: "PlexusDynamic", package: "Plexus")],
      swiftSettings: [.swiftLanguageMode(.v6)]
    ),
  ] + missingModuleCheck
)
