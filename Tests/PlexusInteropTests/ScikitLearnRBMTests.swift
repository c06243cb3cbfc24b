import Foundation
import Plexus
import PlexusCommands
import PlexusInterop
import Testing

@Suite struct ScikitLearnRBMTests {
  /// A BernoulliRBM's components_ and intercepts (scripts/generate-sklearn-fixtures.py) become
  /// a Plexus RBM whose hidden probabilities are scikit-learn's `transform`, and export back
  /// exactly.
  @Test func bernoulliRBMParametersConvertAndExportBack() throws {
    let folder = try ScratchFolder()
    defer { folder.remove() }
    let converted = folder.file("rbm.plexus")
    let console = CapturedOutput()
    try Convert.run(
      ConvertSettings(
        inputPath: fixture("sklearn-rbm.npz"), outputPath: converted,
        architecturePath: fixture("sklearn-rbm.spec.json")), console: console)
    #expect(console.text.contains("as scikit-learn's BernoulliRBM"), "\(console.text)")
    #expect(console.text.contains("components_ [6, 16]     -> rbm.weights [16, 6] (transposed)"))
    let rbm = try #require(
      try loadModel(from: URL(fileURLWithPath: converted), registry: .standard()) as? RBM)
    let input = try NumPy.read(contentsOf: URL(fileURLWithPath: fixture("sklearn-rbm-input.npy")))
      .tensor()
    let expected = try NumPy.read(
      contentsOf: URL(fileURLWithPath: fixture("sklearn-rbm-output.npy"))
    ).tensor()
    let hidden = try rbm.transform(input)
    let difference = largestDifference(hidden, expected)
    #expect(difference <= 1e-4, "largest difference \(difference)")
    // plexus predict runs the .npz with its architecture the same way.
    let predicted = try Predict.run(
      PredictSettings(
        modelPath: fixture("sklearn-rbm.npz"), inputPath: fixture("sklearn-rbm-input.npy"),
        architecturePath: fixture("sklearn-rbm.spec.json")), console: CapturedOutput())
    #expect(predicted == hidden)

    // Back to scikit-learn's names and layouts, bit for bit.
    let exported = folder.file("back.npz")
    try Convert.run(
      ConvertSettings(inputPath: converted, outputPath: exported, layout: .sklearn),
      console: CapturedOutput())
    let original = try WeightFile(contentsOf: URL(fileURLWithPath: fixture("sklearn-rbm.npz")))
    let back = try WeightFile(contentsOf: URL(fileURLWithPath: exported))
    #expect(
      back.tensors.map(\.name) == ["components_", "intercept_hidden_", "intercept_visible_"])
    for info in original.tensors {
      #expect(
        try back.tensor(named: info.name) == original.tensor(named: info.name), "\(info.name)")
    }
    // And in again, recognized by its names.
    let again = folder.file("again.plexus")
    try Convert.run(
      ConvertSettings(
        inputPath: exported, outputPath: again, architecturePath: fixture("sklearn-rbm.spec.json")),
      console: CapturedOutput())
    let reloaded = try loadModel(from: URL(fileURLWithPath: again), registry: .standard())
    #expect(reloaded.parameters.map(\.value) == rbm.parameters.map(\.value))
  }

  /// Wrong shapes, another architecture, extra tensors and a mapping file are clear errors.
  @Test func mismatchesAreNamed() throws {
    let folder = try ScratchFolder()
    defer { folder.remove() }
    let spec = try String(contentsOfFile: fixture("sklearn-rbm.spec.json"), encoding: .utf8)
    let smaller = folder.file("smaller.json")
    try spec.replacingOccurrences(of: "\"hidden\": 6", with: "\"hidden\": 5")
      .write(toFile: smaller, atomically: true, encoding: .utf8)
    #expect(spec.contains("\"hidden\": 6"))
    func convert(_ input: String, architecture: String, layout: WeightLayout? = nil) -> String? {
      errorMessage {
        try Convert.run(
          ConvertSettings(
            inputPath: input, outputPath: folder.file("x.plexus"), architecturePath: architecture,
            layout: layout), console: CapturedOutput())
      }
    }
    let wrongShape = convert(fixture("sklearn-rbm.npz"), architecture: smaller)
    #expect(
      wrongShape?.contains("tensor 'components_' has shape [6, 16]") == true
        && wrongShape?.contains("needs [5, 16] for 'rbm.weights'") == true, "\(wrongShape ?? "")")
    let notAnRBM = convert(fixture("sklearn-rbm.npz"), architecture: fixture("mlp.spec.json"))
    #expect(notAnRBM?.contains("go to a model with one RBM") == true, "\(notAnRBM ?? "")")

    // An extra array beside the three.
    let extra = folder.file("extra.npz")
    let file = try WeightFile(contentsOf: URL(fileURLWithPath: fixture("sklearn-rbm.npz")))
    try NumPyArchive.write(
      try file.tensors.map { (name: $0.name, tensor: try file.tensor(named: $0.name)) }
        + [(name: "n_iter_", tensor: Tensor([30]))],
      to: URL(fileURLWithPath: extra))
    let extraMessage = convert(extra, architecture: fixture("sklearn-rbm.spec.json"))
    #expect(extraMessage?.contains("'n_iter_' is none of a BernoulliRBM's") == true)
    // The layout asked for on a file without the names.
    let plain = convert(
      fixture("cnn.npz"), architecture: fixture("sklearn-rbm.spec.json"), layout: .sklearn)
    #expect(plain?.contains("is none of a BernoulliRBM's") == true, "\(plain ?? "")")
    // Exporting a model that is no RBM.
    let mlp = folder.file("mlp.plexus")
    try Convert.run(
      ConvertSettings(
        inputPath: fixture("mlp.pt"), outputPath: mlp, architecturePath: fixture("mlp.spec.json")),
      console: CapturedOutput())
    let export = errorMessage {
      try Convert.run(
        ConvertSettings(inputPath: mlp, outputPath: folder.file("mlp.npz"), layout: .sklearn),
        console: CapturedOutput())
    }
    #expect(export?.contains("go to a model with one RBM") == true, "\(export ?? "")")
  }
}
