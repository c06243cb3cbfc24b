import Foundation
import Plexus
import Testing

/// Every registered layer has a test file named after it (`Conv2DTests.swift`) that runs it
/// through `LayerHarness`, so a new layer cannot land without the shared checks.
@Suite struct LayerTestCoverageTests {
  static let testsFolder = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent()

  /// The test files under Tests/, by file name, with their contents.
  static func testFiles() throws -> [String: String] {
    var files: [String: String] = [:]
    let enumerator = FileManager.default.enumerator(
      at: testsFolder, includingPropertiesForKeys: nil)
    while let url = enumerator?.nextObject() as? URL {
      guard url.pathExtension == "swift" else { continue }
      files[url.lastPathComponent] = try String(contentsOf: url, encoding: .utf8)
    }
    return files
  }

  @Test func everyRegisteredLayerHasATestFileThatRunsTheHarness() throws {
    let registry = LayerRegistry.standard()
    let files = try Self.testFiles()
    #expect(files.count > 20, "the test sources were not found at \(Self.testsFolder.path)")
    var missing: [String] = []
    for typeName in registry.typeNames {
      let layerType = try #require(registry.layerType(of: typeName))
      let fileName = "\(layerType)Tests.swift"
      guard let text = files[fileName], text.contains("LayerHarness.run") else {
        missing.append("\(typeName) (\(fileName))")
        continue
      }
    }
    #expect(missing.isEmpty, "layers without a test file that calls LayerHarness.run: \(missing)")
  }
}
