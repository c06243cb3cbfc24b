import ArgumentParser
import Foundation
import Plexus

/// `plexus plot MODEL -o history.svg`: draws a saved model's training history.
public struct PlotCommand: ParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "plot",
    abstract: "Draw a saved model's training history (loss and metrics per epoch) as an SVG file.",
    discussion: """
      One panel per figure: the loss, each metric and the learning rate, with the training \
      values as a solid line and the validation values dashed. 'plexus train --plot FILE' \
      draws the same while it trains.
      """
  )

  /// The model file.
  @Argument(help: ArgumentHelp("A model saved by plexus train (.plexus).", valueName: "MODEL"))
  public var model: String

  /// Where to write the SVG.
  @Option(
    name: .shortAndLong, help: ArgumentHelp("The SVG file to write.", valueName: "history.svg"))
  public var output: String

  public init() {}

  public func run() throws {
    try HistoryPlot.run(modelPath: model, outputPath: output, console: StandardOutput())
  }
}

/// Training histories drawn as SVG line charts, written by hand (no dependency).
public enum HistoryPlot {
  /// One line of a panel.
  public struct Series: Equatable, Sendable {
    /// The log key (`loss`, `val_loss`).
    public var key: String
    /// One value per epoch (NaN where there is none).
    public var values: [Float]
  }

  /// One chart: a figure with its training and validation series.
  public struct Panel: Equatable, Sendable {
    /// The figure (`loss`, `accuracy`, `lr`).
    public var figure: String
    /// Its series: the training one first, then `val_`, when present.
    public var series: [Series]
  }

  /// The panels of a history: the loss first, then each metric in name order, the learning
  /// rate last; each with its training series and its `val_` counterpart.
  public static func panels(of history: History) -> [Panel] {
    var figures = Set(history.keys.map { $0.hasPrefix("val_") ? String($0.dropFirst(4)) : $0 })
    var order: [String] = []
    if figures.remove("loss") != nil { order.append("loss") }
    let rate = figures.remove("lr")
    order += figures.sorted()
    if rate != nil { order.append("lr") }
    return order.map { figure in
      Panel(
        figure: figure,
        series: [figure, "val_" + figure].compactMap { key in
          history[key].map { Series(key: key, values: $0) }
        })
    }
  }

  /// Reads the history in a model file and writes its plot.
  ///
  /// - Throws: `PlexusFormatError` for an unreadable file, `PlexusError.invalidArgument` for a
  ///   file without a history or an output that is the model.
  public static func run(modelPath: String, outputPath: String, console: any Console) throws {
    try OutputPath.check(outputPath, against: [modelPath], flag: "--output")
    let file = try PlexusFile(contentsOf: URL(fileURLWithPath: modelPath))
    guard let history = try file.trainingHistory(), history.epochsCompleted > 0 else {
      throw PlexusError.invalidArgument(
        "\(modelPath) records no training history (models saved by plexus train do)")
    }
    let title =
      file.metadata?.description.isEmpty == false
      ? file.metadata!.description : URL(fileURLWithPath: modelPath).lastPathComponent
    try write(history, title: title, to: URL(fileURLWithPath: outputPath))
    let panels = panels(of: history)
    console.line(
      "wrote \(outputPath): \(history.epochsCompleted) epochs, "
        + panels.map { panel in panel.series.map(\.key).joined(separator: " + ") }.joined(
          separator: ", "))
  }

  /// Writes the plot of `history` to `url`, atomically.
  ///
  /// - Throws: `PlexusError.io` when the file cannot be written.
  public static func write(_ history: History, title: String, to url: URL) throws {
    try AtomicFile.write(Data(svg(history, title: title).utf8), to: url)
  }

  // MARK: Drawing

  static let panelWidth = 640.0
  static let panelHeight = 240.0
  static let margin = (left: 70.0, right: 24.0, top: 34.0, bottom: 40.0)
  static let titleHeight = 36.0
  static let colors = (train: "#1f77b4", validation: "#ff7f0e")

  /// The SVG text of `history`'s plot: a title and one panel per figure, each with axes,
  /// ticks, a legend and one `polyline` per series (training solid, validation dashed), and
  /// a dot per epoch when there are few.
  public static func svg(_ history: History, title: String) -> String {
    let panels = panels(of: history)
    let epochs = Swift.max(
      history.epochsCompleted, panels.flatMap(\.series).map(\.values.count).max() ?? 0)
    let width = margin.left + panelWidth + margin.right
    let height =
      titleHeight + Double(Swift.max(panels.count, 1)) * (panelHeight + margin.top + margin.bottom)
    var svg = """
      <?xml version="1.0" encoding="UTF-8"?>
      <svg xmlns="http://www.w3.org/2000/svg" width="\(format(width))" height="\(format(height))" \
      viewBox="0 0 \(format(width)) \(format(height))" font-family="Helvetica, Arial, sans-serif" font-size="12">
      <rect width="100%" height="100%" fill="white"/>
      <text x="\(format(width / 2))" y="24" text-anchor="middle" font-size="16" font-weight="bold">\(escape(title))</text>

      """
    if panels.isEmpty {
      svg +=
        "<text x=\"\(format(width / 2))\" y=\"\(format(titleHeight + 40))\" text-anchor=\"middle\">no epochs recorded</text>\n"
    }
    for (index, panel) in panels.enumerated() {
      let top =
        titleHeight + Double(index) * (panelHeight + margin.top + margin.bottom) + margin.top
      svg += drawPanel(panel, epochs: epochs, left: margin.left, top: top)
    }
    svg += "</svg>\n"
    return svg
  }

  private static func drawPanel(_ panel: Panel, epochs: Int, left: Double, top: Double) -> String {
    let finite = panel.series.flatMap(\.values).filter(\.isFinite).map(Double.init)
    var low = finite.min() ?? 0
    var high = finite.max() ?? 1
    if high - low < 1e-12 * Swift.max(abs(high), 1) {
      // A flat line: a band around it.
      let pad = Swift.max(abs(high) * 0.05, 1e-6)
      low -= pad
      high += pad
    }
    let ticks = niceTicks(low: low, high: high, count: 5)
    low = Swift.min(low, ticks.first ?? low)
    high = Swift.max(high, ticks.last ?? high)
    let lastEpoch = Double(Swift.max(epochs, 1))
    func x(_ epoch: Double) -> Double {
      lastEpoch <= 1 ? left + panelWidth / 2 : left + (epoch - 1) / (lastEpoch - 1) * panelWidth
    }
    func y(_ value: Double) -> Double {
      top + panelHeight - (value - low) / (high - low) * panelHeight
    }

    var out = "<g class=\"panel\" id=\"panel-\(escape(panel.figure))\">\n"
    out +=
      "<text x=\"\(format(left))\" y=\"\(format(top - 10))\" font-size=\"13\" font-weight=\"bold\">\(escape(panel.figure))</text>\n"
    out +=
      "<rect x=\"\(format(left))\" y=\"\(format(top))\" width=\"\(format(panelWidth))\" height=\"\(format(panelHeight))\" fill=\"none\" stroke=\"#999\"/>\n"
    for tick in ticks where tick >= low && tick <= high {
      let ty = y(tick)
      out +=
        "<line x1=\"\(format(left))\" y1=\"\(format(ty))\" x2=\"\(format(left + panelWidth))\" y2=\"\(format(ty))\" stroke=\"#e5e5e5\"/>\n"
      out +=
        "<text x=\"\(format(left - 6))\" y=\"\(format(ty + 4))\" text-anchor=\"end\">\(escape(tickLabel(tick, step: ticks.count > 1 ? ticks[1] - ticks[0] : 1)))</text>\n"
    }
    for epoch in epochTicks(epochs) {
      let tx = x(Double(epoch))
      out +=
        "<line x1=\"\(format(tx))\" y1=\"\(format(top + panelHeight))\" x2=\"\(format(tx))\" y2=\"\(format(top + panelHeight + 4))\" stroke=\"#999\"/>\n"
      out +=
        "<text x=\"\(format(tx))\" y=\"\(format(top + panelHeight + 17))\" text-anchor=\"middle\">\(epoch)</text>\n"
    }
    out +=
      "<text x=\"\(format(left + panelWidth / 2))\" y=\"\(format(top + panelHeight + 33))\" text-anchor=\"middle\" fill=\"#555\">epoch</text>\n"
    // The legend above the chart, right-aligned, with each series' last value.
    var legendRight = left + panelWidth
    for series in panel.series.reversed() {
      let validation = series.key.hasPrefix("val_")
      let color = validation ? colors.validation : colors.train
      let last = series.values.last(where: \.isFinite).map { tickLabel(Double($0), step: 0) } ?? "-"
      let label = "\(series.key) \(last)"
      let textWidth = Double(label.count) * 6.6
      let start = legendRight - textWidth - 28
      let legendY = top - 10
      out +=
        "<line x1=\"\(format(start))\" y1=\"\(format(legendY - 4))\" x2=\"\(format(start + 22))\" y2=\"\(format(legendY - 4))\" stroke=\"\(color)\" stroke-width=\"2\"\(validation ? " stroke-dasharray=\"6 4\"" : "")/>\n"
      out += "<text x=\"\(format(start + 26))\" y=\"\(format(legendY))\">\(escape(label))</text>\n"
      legendRight = start - 16
    }
    for series in panel.series {
      let validation = series.key.hasPrefix("val_")
      let color = validation ? colors.validation : colors.train
      let points = series.values.enumerated().compactMap { epoch, value -> (Double, Double)? in
        value.isFinite ? (x(Double(epoch + 1)), y(Double(value))) : nil
      }
      let list = points.map { "\(format($0.0)),\(format($0.1))" }.joined(separator: " ")
      out +=
        "<polyline class=\"series\" data-key=\"\(escape(series.key))\" points=\"\(list)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\"\(validation ? " stroke-dasharray=\"6 4\"" : "")/>\n"
      if points.count <= 60 {
        for point in points {
          out +=
            "<circle cx=\"\(format(point.0))\" cy=\"\(format(point.1))\" r=\"2.5\" fill=\"\(color)\"/>\n"
        }
      }
    }
    out += "</g>\n"
    return out
  }

  /// About `count` round values covering `low...high` (steps of 1, 2 or 5 times a power of 10).
  static func niceTicks(low: Double, high: Double, count: Int) -> [Double] {
    guard high > low, low.isFinite, high.isFinite else { return [low] }
    let rough = (high - low) / Double(Swift.max(count, 1))
    let power = Foundation.pow(10, Foundation.floor(Foundation.log10(rough)))
    let step = [1.0, 2, 5, 10].map { $0 * power }.first { $0 >= rough } ?? 10 * power
    let first = Foundation.floor(low / step) * step
    var ticks: [Double] = []
    var value = first
    while value <= high + step * 0.5, ticks.count < 50 {
      ticks.append(value)
      value += step
    }
    return ticks
  }

  /// At most about ten epoch numbers along the axis, at round steps.
  static func epochTicks(_ epochs: Int) -> [Int] {
    guard epochs > 1 else { return [1] }
    let step =
      [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10_000]
      .first { epochs / $0 <= 10 } ?? Swift.max(epochs / 10, 1)
    var ticks = [1]
    var epoch = step
    while epoch <= epochs {
      if epoch != 1 { ticks.append(epoch) }
      epoch += step
    }
    return ticks
  }

  /// A tick value with as many decimals as the step needs (or 4 significant digits).
  static func tickLabel(_ value: Double, step: Double) -> String {
    if value != 0, abs(value) < 1e-3 || abs(value) >= 1e6 { return String(format: "%.2e", value) }
    if step > 0 {
      let decimals = Swift.max(0, Swift.min(6, Int(-Foundation.floor(Foundation.log10(step)))))
      return String(format: "%.\(decimals)f", value)
    }
    return String(format: "%.4g", value)
  }

  private static func format(_ value: Double) -> String {
    let rounded = (value * 10).rounded() / 10
    return rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
  }

  /// `text` with the XML special characters escaped (and control characters dropped).
  static func escape(_ text: String) -> String {
    var result = ""
    for scalar in text.unicodeScalars {
      switch scalar {
      case "&": result += "&amp;"
      case "<": result += "&lt;"
      case ">": result += "&gt;"
      case "\"": result += "&quot;"
      case "'": result += "&apos;"
      default:
        if scalar.value < 0x20 || (0xFFFE...0xFFFF).contains(scalar.value) { continue }
        result.unicodeScalars.append(scalar)
      }
    }
    return result
  }
}
