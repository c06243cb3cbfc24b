// swift-tools-version: 6.1
import PackageDescription

/// Swift settings shared by every Plexus target: Swift 6 mode with strict concurrency.
let strictSettings: [SwiftSetting] = [
  .swiftLanguageMode(.v6)
]

let package = Package(
  name: "Plexus",
  platforms: [.macOS(.v15), .iOS(.v18)],
  products: [
    .library(name: "PlexusCore", targets: ["PlexusCore"]),
    .library(name: "PlexusPerceptron", targets: ["PlexusPerceptron"]),
    .library(name: "PlexusConvolution", targets: ["PlexusConvolution"]),
    .library(name: "Plexus", targets: ["Plexus"]),
  ],
  dependencies: [],
  targets: [
    // System libraries.
    .systemLibrary(
      name: "CZlib",
      pkgConfig: "zlib",
      providers: [.apt(["zlib1g-dev"]), .brew(["zlib"])]
    ),
    .systemLibrary(
      name: "CBLAS",
      pkgConfig: "openblas",
      providers: [.apt(["libopenblas-dev"])]
    ),

    // The core: tensors, layers, registry, training, data, model file.
    .target(
      name: "PlexusCore",
      dependencies: [
        "CZlib",
        .target(name: "CBLAS", condition: .when(platforms: [.linux])),
      ],
      swiftSettings: strictSettings,
      linkerSettings: [.linkedFramework("Accelerate", .when(platforms: [.macOS, .iOS]))]
    ),

    // Network families.
    .target(
      name: "PlexusPerceptron",
      dependencies: ["PlexusCore"],
      swiftSettings: strictSettings
    ),
    .target(
      name: "PlexusConvolution",
      dependencies: ["PlexusCore", "PlexusPerceptron"],
      swiftSettings: strictSettings
    ),

    // The umbrella: re-exports every module.
    .target(
      name: "Plexus",
      dependencies: ["PlexusCore", "PlexusPerceptron", "PlexusConvolution"],
      swiftSettings: strictSettings
    ),

    // Shared test helpers (gradient checks, layer harness).
    .target(
      name: "PlexusTestSupport",
      dependencies: ["PlexusCore"],
      path: "Tests/PlexusTestSupport",
      swiftSettings: strictSettings
    ),

    // Tests.
    .testTarget(
      name: "PlexusCoreTests",
      dependencies: ["PlexusCore", "PlexusTestSupport"],
      swiftSettings: strictSettings
    ),
    .testTarget(
      name: "PlexusPerceptronTests",
      dependencies: ["PlexusCore", "PlexusPerceptron", "PlexusTestSupport"],
      swiftSettings: strictSettings
    ),
    .testTarget(
      name: "PlexusConvolutionTests",
      dependencies: ["PlexusConvolution", "PlexusPerceptron", "PlexusTestSupport"],
      swiftSettings: strictSettings
    ),
  ]
)
