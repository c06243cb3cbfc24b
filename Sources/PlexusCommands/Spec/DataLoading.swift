import Foundation
import Plexus

/// Training and test data read as a spec's `data` says.
public struct LoadedData: Sendable {
  /// The training samples (validation is split off them by `fit`).
  public var train: Dataset
  /// The held-out test samples.
  public var test: Dataset
  /// A short description for the log (`digits: 1437 training / 360 test samples`).
  public var description: String
}

extension DataSpec {
  /// Reads the data and splits off the test samples.
  ///
  /// - Parameter seed: the seed of the test split when a fraction is held out.
  /// - Throws: `PlexusError` naming the file and what is wrong in it.
  public func load(seed: UInt64) throws -> LoadedData {
    switch self {
    case .digits:
      let (train, test) = try Digits.standardSplit()
      return LoadedData(train: train, test: test, description: "bundled digits (standard split)")
    case .npy(let source):
      let all = try Dataset(
        features: try NumPy.read(contentsOf: source.features).tensor(),
        labels: try NumPy.read(contentsOf: source.labels).tensor())
      if let testFeatures = source.testFeatures, let testLabels = source.testLabels {
        let test = try Dataset(
          features: try NumPy.read(contentsOf: testFeatures).tensor(),
          labels: try NumPy.read(contentsOf: testLabels).tensor())
        return LoadedData(
          train: all, test: test,
          description: "\(source.features.lastPathComponent), \(source.labels.lastPathComponent)")
      }
      let (train, test) = try all.split(testFraction: source.testFraction, seed: seed)
      return LoadedData(
        train: train, test: test,
        description: "\(source.features.lastPathComponent), \(source.labels.lastPathComponent)")
    case .adding(let source):
      // The test set comes from its own stream of the seed.
      return LoadedData(
        train: try AddingProblem.make(samples: source.samples, steps: source.steps, seed: seed),
        test: try AddingProblem.make(
          samples: source.testSamples, steps: source.steps, seed: seed ^ 0xADD1_6000),
        description: "adding problem (\(source.steps) steps)")
    case .csv(let source):
      let all = try CSV.loadDataset(
        contentsOf: source.path, labelColumn: source.labelColumn, hasHeader: source.hasHeader,
        delimiter: source.delimiter)
      if let testPath = source.testPath {
        let test = try CSV.loadDataset(
          contentsOf: testPath, labelColumn: source.labelColumn, hasHeader: source.hasHeader,
          delimiter: source.delimiter)
        return LoadedData(train: all, test: test, description: source.path.lastPathComponent)
      }
      let (train, test) = try all.split(testFraction: source.testFraction, seed: seed)
      return LoadedData(train: train, test: test, description: source.path.lastPathComponent)
    }
  }
}
