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
    .library(name: "PlexusDatasets", targets: ["PlexusDatasets"]),
    .library(name: "PlexusDBN", targets: ["PlexusDBN"]),
    .library(name: "PlexusAutoencoder", targets: ["PlexusAutoencoder"]),
    .library(name: "PlexusRecurrent", targets: ["PlexusRecurrent"]),
    .library(name: "Plexus", targets: ["Plexus"]),
    // The umbrella as one shared library, for layer plugins of the `plexus` tool: a plugin
    // links it instead of a static copy of Plexus and binds to the tool's (README).
    .library(name: "PlexusDynamic", type: .dynamic, targets: ["Plexus"]),
    .library(name: "PlexusInterop", targets: ["PlexusInterop"]),
    .library(name: "PlexusONNX", targets: ["PlexusONNX"]),
    .library(name: "PlexusCommands", targets: ["PlexusCommands"]),
    .executable(name: "plexus", targets: ["PlexusTool"]),
    // SwiftPM plugins (Plugins/): typed Swift for bundled .plexus models, and the tool's commands.
    .plugin(name: "PlexusModelCodegen", targets: ["PlexusModelCodegen"]),
    .plugin(name: "PlexusConvert", targets: ["PlexusConvert"]),
    .plugin(name: "PlexusInspect", targets: ["PlexusInspect"]),
    .plugin(name: "PlexusTrain", targets: ["PlexusTrain"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    // Documentation catalogs (Sources/*/*.docc): swift package generate-documentation.
    .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    // ONNX's protobuf messages (PlexusONNX only).
    .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
  ],
  targets: [
    // System libraries.
    .systemLibrary(
      name: "CZlib",
      pkgConfig: "zlib",
      providers: [.apt(["zlib1g-dev"]), .brew(["zlib"])]
    ),

    // Elementwise CPU kernels in C (recurrent cells, activations), compiled for AVX-512, AVX2
    // and the baseline through function target attributes and chosen at run time, since a
    // package's Swift code cannot be built for a CPU level without unsafe flags.
    .target(name: "PlexusKernels"),
    // HDF5 (Debian's serial build, through pkg-config `hdf5`), read and written by the Keras
    // conversions of PlexusInterop only.
    .systemLibrary(
      name: "CHDF5",
      pkgConfig: "hdf5",
      providers: [.apt(["libhdf5-dev"]), .brew(["hdf5"])]
    ),

    // OpenBLAS is not linked: PlexusCore loads it at run time (Tensor/BLASLibrary.swift) so it
    // can pick OpenBLAS's kernels and threading before the library initializes.

    // The core: tensors, layers, registry, training, data handling, model file. It bundles no
    // data set.
    .target(
      name: "PlexusCore",
      dependencies: ["CZlib", "PlexusKernels"],
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
      dependencies: ["PlexusCore", "PlexusPerceptron", "PlexusKernels"],
      swiftSettings: strictSettings
    ),

    .target(
      name: "PlexusDBN",
      dependencies: ["PlexusCore", "PlexusPerceptron"],
      swiftSettings: strictSettings
    ),
    .target(
      name: "PlexusAutoencoder",
      dependencies: ["PlexusCore", "PlexusPerceptron", "PlexusConvolution"],
      swiftSettings: strictSettings
    ),
    // Recurrent layers over batch-first sequences (SimpleRNN, LSTM, GRU).
    .target(
      name: "PlexusRecurrent",
      dependencies: ["PlexusCore", "PlexusKernels"],
      swiftSettings: strictSettings
    ),

    // Bundled data sets, stored as resource files (the 8x8 digits: a deflated payload of 44 KB).
    .target(
      name: "PlexusDatasets",
      dependencies: ["PlexusCore", "CZlib"],
      exclude: ["DIGITS-PROVENANCE.md"],
      resources: [.copy("Resources/digits.zlib")],
      swiftSettings: strictSettings
    ),

    // The umbrella: re-exports every module.
    .target(
      name: "Plexus",
      dependencies: [
        "PlexusCore", "PlexusPerceptron", "PlexusConvolution", "PlexusDatasets", "PlexusDBN",
        "PlexusAutoencoder", "PlexusRecurrent",
      ],
      swiftSettings: strictSettings
    ),

    // Conversion to and from other formats (safetensors, NumPy .npz, PyTorch state dicts);
    // outside the umbrella, so users of the core do not pay for it. Zip archives go through
    // the system zlib.
    .target(
      name: "PlexusInterop",
      dependencies: ["PlexusCore", "CZlib", "CHDF5"],
      swiftSettings: strictSettings
    ),

    // ONNX import and export: the messages generated from onnx.proto
    // (scripts/generate-onnx-proto.sh) through swift-protobuf, and the graph translations;
    // its own target so that users of the other conversions do not link protobuf.
    .target(
      name: "PlexusONNX",
      dependencies: ["PlexusCore", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
      swiftSettings: strictSettings
    ),

    // The `plexus` command-line tool: the commands live in a library so tests can run them
    // in-process; the executable only starts them.
    .target(
      name: "PlexusCommands",
      dependencies: [
        "Plexus", "PlexusInterop", "PlexusONNX",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      swiftSettings: strictSettings
    ),
    // The executable exports its symbols, so layer plugins it loads (dlopen) bind to its
    // PlexusCore and share its registry (README, "Layer plugins").
    .executableTarget(
      name: "PlexusTool",
      dependencies: ["PlexusCommands"],
      swiftSettings: strictSettings,
      linkerSettings: [.unsafeFlags(["-Xlinker", "--export-dynamic"], .when(platforms: [.linux]))]
    ),

    // The build-tool plugin PlexusModelCodegen: its generator checks each .plexus resource and
    // writes a Swift type for it (PlexusCodegen holds the work, so tests run it in-process).
    .target(
      name: "PlexusCodegen",
      dependencies: ["Plexus"],
      swiftSettings: strictSettings
    ),
    .executableTarget(
      name: "PlexusModelCodegenTool",
      dependencies: ["PlexusCodegen"],
      swiftSettings: strictSettings
    ),
    .plugin(
      name: "PlexusModelCodegen",
      capability: .buildTool(),
      dependencies: ["PlexusModelCodegenTool"]
    ),
    // Command plugins running the package's own `plexus` tool.
    .plugin(
      name: "PlexusConvert",
      capability: .command(
        intent: .custom(
          verb: "plexus-convert", description: "Convert a model: plexus convert IN OUT [options]"),
        permissions: [
          .writeToPackageDirectory(reason: "plexus-convert writes the converted model")
        ]
      ),
      dependencies: ["PlexusTool"]
    ),
    .plugin(
      name: "PlexusInspect",
      capability: .command(
        intent: .custom(
          verb: "plexus-inspect", description: "Print a model file's structure: plexus inspect FILE")
      ),
      dependencies: ["PlexusTool"]
    ),
    .plugin(
      name: "PlexusTrain",
      capability: .command(
        intent: .custom(
          verb: "plexus-train", description: "Train a model from a spec: plexus train SPEC [options]"),
        permissions: [
          .writeToPackageDirectory(reason: "plexus-train saves the trained model into the package")
        ]
      ),
      dependencies: ["PlexusTool"]
    ),

    // Benchmarks (run in release builds: scripts/bench.sh).
    .executableTarget(
      name: "PlexusBenchmarks",
      dependencies: ["Plexus"],
      path: "Benchmarks/PlexusBenchmarks",
      swiftSettings: strictSettings
    ),

    // Benchmark of the .plexus file against safetensors, torch and numpy (release build; see
    // Benchmarks/README.md).
    .executableTarget(
      name: "PlexusFormatBenchmark",
      dependencies: ["Plexus", "PlexusInterop"],
      path: "Benchmarks/PlexusFormatBenchmark",
      swiftSettings: strictSettings
    ),

    // Import time of a 25M-parameter ONNX model against onnx.load (release build;
    // scripts/bench-onnx.sh, Benchmarks/README.md).
    .executableTarget(
      name: "PlexusONNXBenchmark",
      dependencies: ["Plexus", "PlexusONNX"],
      path: "Benchmarks/PlexusONNXBenchmark",
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
      dependencies: [
        "PlexusCore", "PlexusDatasets", "PlexusTestSupport", "CZlib", "PlexusKernels",
      ],
      resources: [.copy("Fixtures")],
      swiftSettings: strictSettings
    ),
    .testTarget(
      name: "PlexusPerceptronTests",
      dependencies: ["PlexusCore", "PlexusPerceptron", "PlexusDatasets", "PlexusTestSupport"],
      swiftSettings: strictSettings
    ),
    .testTarget(
      name: "PlexusDatasetsTests",
      dependencies: ["PlexusDatasets", "PlexusCore", "CZlib"],
      swiftSettings: strictSettings
    ),
    .testTarget(
      name: "PlexusInteropTests",
      dependencies: ["PlexusInterop", "PlexusCore", "PlexusPerceptron", "Plexus", "PlexusCommands"],
      resources: [.copy("Fixtures")],
      swiftSettings: strictSettings
    ),
    .testTarget(
      name: "PlexusONNXTests",
      dependencies: [
        "PlexusONNX", "Plexus", "PlexusCommands",
        .product(name: "SwiftProtobuf", package: "swift-protobuf"),
      ],
      resources: [.copy("Fixtures")],
      swiftSettings: strictSettings
    ),
    .testTarget(
      name: "PlexusToolTests",
      dependencies: ["PlexusCommands", "Plexus", "PlexusTestSupport", "PlexusCodegen"],
      swiftSettings: strictSettings
    ),
    .testTarget(
      name: "PlexusConvolutionTests",
      dependencies: [
        "PlexusConvolution", "PlexusPerceptron", "PlexusDatasets", "PlexusTestSupport",
      ],
      swiftSettings: strictSettings
    ),
    .testTarget(
      name: "PlexusDBNTests",
      dependencies: ["PlexusDBN", "PlexusPerceptron", "PlexusDatasets", "PlexusTestSupport"],
      swiftSettings: strictSettings
    ),
    .testTarget(
      name: "PlexusRecurrentTests",
      dependencies: [
        "PlexusRecurrent", "PlexusPerceptron", "PlexusDatasets", "PlexusTestSupport",
      ],
      swiftSettings: strictSettings
    ),
    .testTarget(
      name: "PlexusAutoencoderTests",
      dependencies: [
        "PlexusAutoencoder", "PlexusConvolution", "PlexusPerceptron", "PlexusDatasets",
        "PlexusTestSupport",
      ],
      swiftSettings: strictSettings
    ),
    // The .plexus file: round trips of every registered layer, golden files, corrupt and
    // hostile files.
    .testTarget(
      name: "PlexusFormatTests",
      dependencies: ["Plexus", "PlexusTestSupport"],
      exclude: ["FuzzCorpus"],
      swiftSettings: strictSettings
    ),
  ]
)
