import Foundation
import Plexus
import PlexusCommands
import Testing

@Suite struct EvaluateReportTests {
  @Test func classifiersGetAConfusionMatrixAndPerClassMeasures() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let spec = try writeBlobsSpec(in: folder, epochs: 2)
    let model = folder.file("m.plexus")
    let trained = try Train.run(
      TrainSettings(specPath: spec.path, outputPath: model.path, quiet: true),
      console: CapturedOutput())

    let console = CapturedOutput()
    let logs = try Evaluate.run(
      EvaluateSettings(modelPath: model.path, data: [spec.path]), console: console)
    #expect(logs == trained.test)
    #expect(console.text.contains("confusion matrix (rows: true class, columns: predicted class)"))
    #expect(console.text.contains("class   precision  recall   f1       support"))
    #expect(console.text.contains("macro   "))

    let json = CapturedOutput()
    try Evaluate.run(
      EvaluateSettings(modelPath: model.path, data: [spec.path], json: true), console: json)
    let object = try JSONDecoder().decode(JSONValue.self, from: Data(json.text.utf8))
    guard case .array(let rows)? = object["confusionMatrix"],
      case .array(let classes)? = object["classes"],
      case .number(let samples)? = object["samples"]
    else {
      Issue.record("no confusion matrix in \(json.text)")
      return
    }
    let counts = rows.map { row -> [Int] in
      guard case .array(let cells) = row else { return [] }
      return cells.compactMap { if case .number(let n) = $0 { Int(n) } else { nil } }
    }
    #expect(counts.count == 2 && counts.allSatisfy { $0.count == 2 })
    #expect(counts.flatMap { $0 }.reduce(0, +) == Int(samples))
    // The measures follow from the counts, and the accuracy from the diagonal.
    let diagonal = counts[0][0] + counts[1][1]
    if case .number(let accuracy)? = object["logs"]?["accuracy"] {
      #expect(abs(accuracy - Double(diagonal) / samples) < 1e-6)
    } else {
      Issue.record("no accuracy")
    }
    for (c, entry) in classes.enumerated() {
      let support = counts[c].reduce(0, +)
      let predicted = counts[0][c] + counts[1][c]
      #expect(entry["support"] == .number(Double(support)))
      if case .number(let precision)? = entry["precision"], predicted > 0 {
        #expect(abs(precision - Double(counts[c][c]) / Double(predicted)) < 1e-6)
      }
      if case .number(let recall)? = entry["recall"], support > 0 {
        #expect(abs(recall - Double(counts[c][c]) / Double(support)) < 1e-6)
      }
    }

    // --seed splits the spec's data anew; with .npy data it is refused.
    let other = try Evaluate.evaluate(
      EvaluateSettings(modelPath: model.path, data: [spec.path], seed: 1234))
    #expect(other.source.contains("(seed 1234)"))
    let recorded = try Evaluate.evaluate(EvaluateSettings(modelPath: model.path, data: [spec.path]))
    #expect(recorded.source.contains("(seed 3)"))
    #expect(other.confusion?.total == recorded.confusion?.total)
    #expect {
      try Evaluate.run(
        EvaluateSettings(
          modelPath: model.path, data: [folder.file("x.npy").path, folder.file("y.npy").path],
          seed: 5), console: CapturedOutput())
    } throws: { "\($0)".contains("--seed chooses a spec's test split") }
    let parsed = try #require(
      try PlexusCommand.parseAsRoot([
        "evaluate", "m.plexus", "--data", "s.json", "--json", "--seed", "9",
      ]) as? EvaluateCommand)
    #expect(
      parsed.settings
        == EvaluateSettings(modelPath: "m.plexus", data: ["s.json"], json: true, seed: 9))
  }
}
