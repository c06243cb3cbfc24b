import Foundation
import Plexus
import PlexusCommands
import Testing

/// A fresh temporary folder, removed by `remove()`.
struct TemporaryFolder {
  let url: URL

  init() throws {
    url = FileManager.default.temporaryDirectory.appendingPathComponent(
      "plexus-tool-tests-\(UInt64.random(in: 0...UInt64.max))", isDirectory: true)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
  }

  func file(_ name: String) -> URL { url.appendingPathComponent(name) }

  func write(_ text: String, to name: String) throws -> URL {
    let file = file(name)
    try Data(text.utf8).write(to: file)
    return file
  }

  func remove() { try? FileManager.default.removeItem(at: url) }
}

@Suite struct DataLoadingTests {
  @Test func digitsUseTheStandardSplit() throws {
    let data = try DataSpec.digits.load(seed: 99)
    #expect(data.train.count == 1437)
    #expect(data.test.count == 360)
    #expect(data.train.featureShape == [64])
    let standard = try Digits.standardSplit()
    #expect(data.test.labels == standard.test.labels)
  }

  @Test func npyFilesAreSplitWithTheSeedOrReadAsGiven() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let features = Tensor(shape: [10, 3]) { buffer in
      for index in buffer.indices { buffer[index] = Float(index) }
    }
    let labels = Tensor((0..<10).map { Float($0 % 2) })
    try NumPy.write(features, to: folder.file("x.npy"))
    try NumPy.write(labels, to: folder.file("y.npy"))
    try NumPy.write(features.samples(0..<4), to: folder.file("tx.npy"))
    try NumPy.write(labels.samples(0..<4), to: folder.file("ty.npy"))

    let split = try DataSpec.npy(
      .init(features: folder.file("x.npy"), labels: folder.file("y.npy"), testFraction: 0.3)
    ).load(seed: 1)
    #expect(split.train.count == 7)
    #expect(split.test.count == 3)
    let again = try DataSpec.npy(
      .init(features: folder.file("x.npy"), labels: folder.file("y.npy"), testFraction: 0.3)
    ).load(seed: 1)
    #expect(again.test.features == split.test.features)

    let given = try DataSpec.npy(
      .init(
        features: folder.file("x.npy"), labels: folder.file("y.npy"),
        testFeatures: folder.file("tx.npy"),
        testLabels: folder.file("ty.npy"))
    ).load(seed: 1)
    #expect(given.train.count == 10)
    #expect(given.test.features == features.samples(0..<4))
  }

  @Test func csvFilesUseTheLabelColumn() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    var text = "a,label,b\n"
    for row in 0..<20 { text += "\(row),\(row % 3),\(row * 2)\n" }
    let train = try folder.write(text, to: "train.csv")
    let test = try folder.write("a,label,b\n1,2,3\n4,0,6\n", to: "test.csv")
    let data = try DataSpec.csv(.init(path: train, labelColumn: .named("label"), testPath: test))
      .load(seed: 0)
    #expect(data.train.count == 20)
    #expect(data.train.featureShape == [2])
    #expect(data.test.labels == Tensor([2, 0]))
    #expect(data.test.features == (try Tensor(shape: [2, 2], scalars: [1, 3, 4, 6])))
  }

  @Test func missingFilesAreReported() {
    let missing = URL(fileURLWithPath: "/nonexistent/x.npy")
    #expect(throws: PlexusError.self) {
      try DataSpec.npy(.init(features: missing, labels: missing)).load(seed: 0)
    }
  }
}
