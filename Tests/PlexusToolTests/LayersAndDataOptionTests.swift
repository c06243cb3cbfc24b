import ArgumentParser
import Foundation
import Plexus
import PlexusCommands
import Testing

@Suite struct LayersCommandTests {
  @Test func listsEveryRegisteredTypeWithModuleAndKeys() throws {
    let registry = LayerRegistry.standard()
    let entries = LayerList.entries(registry: registry)
    #expect(entries.map(\.type) == registry.typeNames)
    let dense = try #require(entries.first { $0.type == "plexus.dense" })
    #expect(dense.module == "PlexusPerceptron")
    #expect(dense.required == ["units"])
    #expect(dense.keys.contains("activation") && dense.keys.contains("useBias"))
    let lstm = try #require(entries.first { $0.type == "plexus.lstm" })
    #expect(lstm.module == "PlexusRecurrent" && lstm.required == ["units"])

    let console = CapturedOutput()
    try LayerList.run(types: [], json: false, console: console, registry: registry)
    #expect(console.text.contains("plexus.dense"))
    #expect(console.text.contains("units*, "))
    #expect(console.text.contains("\(entries.count) layer types"))

    let json = CapturedOutput()
    try LayerList.run(types: ["plexus.conv2d"], json: true, console: json, registry: registry)
    let decoded = try JSONDecoder().decode([LayerList.Entry].self, from: Data(json.text.utf8))
    #expect(decoded.map(\.type) == ["plexus.conv2d"])
    #expect(decoded[0].module == "PlexusConvolution" && decoded[0].required.contains("filters"))

    #expect {
      try LayerList.run(types: ["dense"], json: false, console: CapturedOutput())
    } throws: { "\($0)".contains("did you mean 'plexus.dense'?") }
    #expect(
      try PlexusCommand.parseAsRoot(["layers", "--json"]) is LayersCommand)
  }
}

@Suite struct TrainDataOptionTests {
  @Test func dataOnTheCommandLineReplacesTheSpecsData() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let spec = try writeBlobsSpec(in: folder, epochs: 2)
    // The spec's files go away; the same samples under other names and as CSV take their place.
    let x = try NumPy.read(contentsOf: folder.file("x.npy")).tensor()
    let y = try NumPy.read(contentsOf: folder.file("y.npy")).tensor()
    try FileManager.default.moveItem(at: folder.file("x.npy"), to: folder.file("features.npy"))
    try FileManager.default.moveItem(at: folder.file("y.npy"), to: folder.file("labels.npy"))
    #expect(throws: (any Error).self) {
      try Train.run(
        TrainSettings(specPath: spec.path, outputPath: folder.file("a.plexus").path, quiet: true),
        console: CapturedOutput())
    }
    let fromNumPy = try Train.run(
      TrainSettings(
        specPath: spec.path, outputPath: folder.file("a.plexus").path, quiet: true,
        dataPaths: [folder.file("features.npy").path, folder.file("labels.npy").path]),
      console: CapturedOutput())
    var csv = "x1,x2,label\n"
    for row in 0..<x.shape[0] {
      csv += "\(x[row, 0]),\(x[row, 1]),\(Int(y[row]))\n"
    }
    let table = try folder.write(csv, to: "blobs.csv")
    let fromCSV = try Train.run(
      TrainSettings(
        specPath: spec.path, outputPath: folder.file("b.plexus").path, quiet: true,
        dataPaths: [table.path]),
      console: CapturedOutput())
    // Same samples, same split fraction and seed: the same run.
    #expect(fromCSV.history["loss"] == fromNumPy.history["loss"])
    #expect(fromNumPy.history.epochsCompleted == 2)

    let parsed = try #require(
      try PlexusCommand.parseAsRoot(["train", "s.json", "--data", "a.npy", "b.npy", "--quiet"])
        as? TrainCommand)
    #expect(parsed.settings.dataPaths == ["a.npy", "b.npy"])
    for bad in [["a.npy"], ["a.txt"], ["a.csv", "b.csv"]] {
      #expect(throws: (any Error).self, "\(bad)") {
        try PlexusCommand.parseAsRoot(["train", "s.json", "--data"] + bad)
      }
    }
  }
}
