import Foundation
import Plexus
import PlexusCommands
import Testing

#if canImport(FoundationXML)
  import FoundationXML
#endif

/// The polylines of an SVG document and the panels they sit in, as an XML parser reads them.
private final class SVGReader: NSObject, XMLParserDelegate {
  var polylines: [(key: String, points: [(Double, Double)], dashed: Bool)] = []
  var panels: [String] = []
  var rootIsSVG = false
  private var depth = 0

  func parser(
    _ parser: XMLParser, didStartElement name: String, namespaceURI: String?,
    qualifiedName: String?, attributes: [String: String] = [:]
  ) {
    if depth == 0 {
      rootIsSVG = name == "svg" && attributes["xmlns"] == "http://www.w3.org/2000/svg"
    }
    depth += 1
    if name == "g", let id = attributes["id"] { panels.append(id) }
    guard name == "polyline" else { return }
    let points = (attributes["points"] ?? "").split(separator: " ").map { pair in
      let parts = pair.split(separator: ",").compactMap { Double($0) }
      return (parts.first ?? .nan, parts.last ?? .nan)
    }
    polylines.append(
      (attributes["data-key"] ?? "", points, attributes["stroke-dasharray"] != nil))
  }

  func parser(
    _ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?
  ) {
    depth -= 1
  }

  static func read(_ data: Data) throws -> SVGReader {
    let reader = SVGReader()
    let parser = XMLParser(data: data)
    parser.delegate = reader
    guard parser.parse() else {
      throw PlexusError.invalidData(
        "the SVG does not parse: \(parser.parserError.map { "\($0)" } ?? "unknown error")")
    }
    return reader
  }
}

@Suite struct PlotTests {
  @Test func theSVGHasOnePolylinePerSeries() throws {
    var history = History()
    for epoch in 0..<7 {
      let e = Float(epoch)
      history.append([
        "loss": 1 / (e + 1), "val_loss": 1.2 / (e + 1), "accuracy": 0.5 + e / 20,
        "val_accuracy": 0.45 + e / 20, "lr": 0.01, "kl": e == 3 ? .nan : e,
      ])
    }
    let svg = HistoryPlot.svg(history, title: "a <test> & more")
    let reader = try SVGReader.read(Data(svg.utf8))
    #expect(reader.rootIsSVG)
    #expect(reader.panels == ["panel-loss", "panel-accuracy", "panel-kl", "panel-lr"])
    #expect(
      reader.polylines.map(\.key) == ["loss", "val_loss", "accuracy", "val_accuracy", "kl", "lr"])
    #expect(reader.polylines.map(\.dashed) == [false, true, false, true, false, false])
    // One point per finite value, left to right; the NaN of `kl` is left out.
    for line in reader.polylines {
      #expect(line.points.count == (line.key == "kl" ? 6 : 7), "\(line.key)")
      #expect(zip(line.points, line.points.dropFirst()).allSatisfy { $0.0 < $1.0 })
    }
    // Lower values are drawn lower (larger y): the loss falls, so its points rise.
    let loss = reader.polylines[0].points
    #expect(zip(loss, loss.dropFirst()).allSatisfy { $0.1 < $1.1 })
    #expect(svg.contains("a &lt;test&gt; &amp; more"))

    // One epoch and a flat series still make a valid drawing.
    var single = History()
    single.append(["loss": 0.5])
    let one = try SVGReader.read(Data(HistoryPlot.svg(single, title: "one").utf8))
    #expect(one.polylines.count == 1 && one.polylines[0].points.count == 1)
    #expect(one.polylines[0].points.allSatisfy { $0.0.isFinite && $0.1.isFinite })
  }

  @Test func plotCommandAndTrainPlotWriteTheHistory() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let spec = try writeBlobsSpec(in: folder, epochs: 4)
    let model = folder.file("m.plexus")
    let live = folder.file("live.svg")
    try Train.run(
      TrainSettings(specPath: spec.path, outputPath: model.path, quiet: true, plotPath: live.path),
      console: CapturedOutput())
    let drawn = try SVGReader.read(Data(contentsOf: live))
    #expect(
      drawn.polylines.map(\.key) == ["loss", "val_loss", "accuracy", "val_accuracy", "lr"])
    #expect(drawn.polylines.allSatisfy { $0.points.count == 4 })

    let output = folder.file("history.svg")
    let console = CapturedOutput()
    try HistoryPlot.run(modelPath: model.path, outputPath: output.path, console: console)
    #expect(console.text.contains("4 epochs, loss + val_loss, accuracy + val_accuracy, lr"))
    #expect(try Data(contentsOf: output) == Data(contentsOf: live))
    #expect(try PlexusCommand.parseAsRoot(["plot", model.path, "-o", output.path]) is PlotCommand)

    // A model without a history and an output that is the model are refused.
    let bare = folder.file("bare.plexus")
    let plain = try PlexusFile(contentsOf: model).loadModel(registry: .standard())
    try plain.save(to: bare)
    #expect {
      try HistoryPlot.run(modelPath: bare.path, outputPath: output.path, console: CapturedOutput())
    } throws: { "\($0)".contains("records no training history") }
    #expect {
      try HistoryPlot.run(modelPath: model.path, outputPath: model.path, console: CapturedOutput())
    } throws: { "\($0)".contains("is also an input") }
  }
}
