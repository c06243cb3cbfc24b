import Foundation
import Plexus
import PlexusCommands
import Testing

@testable import PlexusInterop

/// `--layout keras`: weight files named by Keras 3 variable paths.
@Suite struct KerasWeightLayoutTests {
  /// A Keras fixture converted to `.plexus`, in `folder`.
  private func converted(_ family: String, in folder: ScratchFolder) throws -> String {
    let path = folder.file("\(family).plexus")
    try Convert.run(
      ConvertSettings(
        inputPath: kerasFixtureFolder.appendingPathComponent("\(family).keras").path,
        outputPath: path), console: CapturedOutput())
    return path
  }

  /// The tensors of a Keras-layout export are the datasets of Keras's own weights file, path
  /// for path and value for value.
  @Test(arguments: ["mlp", "cnn", "gru", "functional", "separable", "dropout_rnn"])
  func exportsNameEachTensorAfterItsKerasVariable(family: String) throws {
    let folder = try ScratchFolder()
    defer { folder.remove() }
    let model = try converted(family, in: folder)
    let exported = folder.file("\(family).safetensors")
    let console = CapturedOutput()
    try Convert.run(
      ConvertSettings(inputPath: model, outputPath: exported, layout: .keras), console: console)
    #expect(console.text.contains("Keras layout"), "\(console.text)")
    let file = try WeightFile(contentsOf: URL(fileURLWithPath: exported))
    let keras = try HDF5File(image: try kerasMembers(family).weights, source: family)
    for info in file.tensors {
      #expect(
        try keras.readTensor(info.name) == (try file.tensor(named: info.name)), "\(info.name)")
    }
    let stored = try KerasFile(
      contentsOf: kerasFixtureFolder.appendingPathComponent("\(family).keras"))
    let (kerasModel, assignments) = try stored.loadModel(registry: .standard())
    #expect(file.tensors.count == kerasModel.parameters.count)
    #expect(Set(file.tensors.map(\.name)) == Set(assignments.map(\.datasetPath)))
  }

  /// Keras-layout safetensors and `.npz` files read back exactly: the safetensors by the layout
  /// in its metadata, the `.npz` with `--layout keras` and an architecture.
  @Test func kerasLayoutFilesReadBackExactly() throws {
    let folder = try ScratchFolder()
    defer { folder.remove() }
    let model = try converted("separable", in: folder)
    let original = try loadModel(from: URL(fileURLWithPath: model), registry: .standard())
    for format in ["safetensors", "npz"] {
      let exported = folder.file("weights.\(format)")
      try Convert.run(
        ConvertSettings(inputPath: model, outputPath: exported, layout: .keras),
        console: CapturedOutput())
      let back = folder.file("back-\(format).plexus")
      let console = CapturedOutput()
      try Convert.run(
        ConvertSettings(
          inputPath: exported, outputPath: back, architecturePath: format == "npz" ? model : nil,
          layout: format == "npz" ? .keras : nil), console: console)
      #expect(console.text.contains("by Keras 3 path"), "\(console.text)")
      let reloaded = try loadModel(from: URL(fileURLWithPath: back), registry: .standard())
      for (a, b) in zip(original.namedParameters, reloaded.namedParameters) {
        #expect(a.path == b.path && a.parameter.value == b.parameter.value, "\(format) \(a.path)")
      }
    }
  }

  @Test func mismatchedFilesAndMappingsAreRefused() throws {
    let folder = try ScratchFolder()
    defer { folder.remove() }
    let model = try converted("mlp", in: folder)
    // Plexus names are not Keras paths.
    let plexusNamed = folder.file("plexus.npz")
    try Convert.run(
      ConvertSettings(inputPath: model, outputPath: plexusNamed), console: CapturedOutput())
    #expect(throws: PlexusError.self) {
      try Convert.run(
        ConvertSettings(
          inputPath: plexusNamed, outputPath: folder.file("x.plexus"), architecturePath: model,
          layout: .keras), console: CapturedOutput())
    }
    // Another architecture's Keras paths do not fit.
    let other = try converted("cnn", in: folder)
    let cnnWeights = folder.file("cnn.npz")
    try Convert.run(
      ConvertSettings(inputPath: other, outputPath: cnnWeights, layout: .keras),
      console: CapturedOutput())
    #expect(throws: PlexusError.self) {
      try Convert.run(
        ConvertSettings(
          inputPath: cnnWeights, outputPath: folder.file("y.plexus"), architecturePath: model,
          layout: .keras), console: CapturedOutput())
    }
    // The Keras layout names every tensor itself.
    let mapping = folder.file("mapping.json")
    try Data(#"{"layers/dense/vars/0": "dense.kernel"}"#.utf8).write(
      to: URL(fileURLWithPath: mapping))
    #expect(throws: (any Error).self) {
      try Convert.run(
        ConvertSettings(
          inputPath: model, outputPath: folder.file("z.npz"), layout: .keras,
          mappingPath: mapping), console: CapturedOutput())
    }
    // A model with a layer Keras lacks has no Keras layout.
    let noisy = Sequential([try GaussianNoise(config: .init(stddev: 0.1)), try Dense(units: 2)])
    try noisy.build(inputShape: [3], seed: 1)
    #expect(throws: (any Error).self) { try WeightExport.tensors(of: noisy, layout: .keras) }
  }
}
