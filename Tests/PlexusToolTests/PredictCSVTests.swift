import Foundation
import Plexus
import PlexusCommands
import Testing

@Suite struct PredictCSVTests {
  @Test func csvInputsPredictAsTheirNumPyArray() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let spec = try writeBlobsSpec(in: folder, epochs: 2)
    let model = folder.file("m.plexus")
    try Train.run(
      TrainSettings(specPath: spec.path, outputPath: model.path, quiet: true),
      console: CapturedOutput())
    let x = try NumPy.read(contentsOf: folder.file("x.npy")).tensor().samples(0..<6)
    try NumPy.write(x, to: folder.file("six.npy"))
    var csv = "a,b\n"
    for row in 0..<6 { csv += "\(x[row, 0]), \(x[row, 1])\n" }
    let table = try folder.write(csv, to: "six.csv")
    let fromCSV = try Predict.run(
      PredictSettings(modelPath: model.path, inputPath: table.path, classes: true),
      console: CapturedOutput())
    let fromNumPy = try Predict.run(
      PredictSettings(modelPath: model.path, inputPath: folder.file("six.npy").path, classes: true),
      console: CapturedOutput())
    #expect(fromCSV == fromNumPy)
    #expect(fromCSV.shape == [6])

    // Non-finite and out-of-range cells name their line and column; a wrong width says so.
    for (text, message) in [
      ("1,2\n3,nan\n", "line 2, column 2: non-finite value \"nan\""),
      ("1,2\n-inf,0\n", "line 2, column 1: non-finite value \"-inf\""),
      ("1,2\n1,1e39\n", "line 2, column 2: the value 1e39 is beyond the float32 range"),
      ("1,2,3\n4,5,6\n", "the model takes a batch"),
      ("x,y\n", "no data rows"),
      ("1,2\n3\n", "line 2 has 1 fields, expected 2"),
    ] {
      let bad = try folder.write(text, to: "bad.csv")
      #expect(
        performing: {
          try Predict.run(
            PredictSettings(modelPath: model.path, inputPath: bad.path), console: CapturedOutput())
        }, throws: { "\($0)".contains(message) })
    }
  }

  @Test func csvFeaturesReaderTakesEveryColumn() throws {
    let features = try CSV.loadFeatures(text: "x\n1\n2.5\n")
    #expect(features.shape == [2, 1] && features.scalars == [1, 2.5])
    let wide = try CSV.loadFeatures(text: "1;2;3\n4;5;6\n", delimiter: ";")
    #expect(wide.shape == [2, 3])
    #expect(throws: PlexusError.self) { try CSV.loadFeatures(text: "") }
  }
}
