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

extension DataSpec {
  /// The data named on a command line (`--data`): two `.npy` files, features and labels, or
  /// one CSV file whose last column is the label (a header row is detected). Paths are
  /// relative to the current folder. The test split keeps the fraction of the data it
  /// replaces when that is a file source, else 0.2.
  ///
  /// - Throws: `PlexusError.invalidArgument` for any other list of files.
  public init(commandLine paths: [String], replacing previous: DataSpec? = nil) throws {
    var testFraction = 0.2
    switch previous {
    case .npy(let source)?: testFraction = source.testFraction
    case .csv(let source)?: testFraction = source.testFraction
    default: break
    }
    let urls = paths.map { URL(fileURLWithPath: $0).standardizedFileURL }
    let extensions = urls.map { $0.pathExtension.lowercased() }
    if extensions == ["npy", "npy"] {
      self = .npy(NumpySource(features: urls[0], labels: urls[1], testFraction: testFraction))
    } else if extensions == ["csv"] {
      self = .csv(CSVSource(path: urls[0], testFraction: testFraction))
    } else {
      throw PlexusError.invalidArgument(
        "--data takes two .npy files (features, labels) or one .csv file (the label in the last "
          + "column); got \(paths.isEmpty ? "nothing" : paths.joined(separator: " "))")
    }
  }
}

extension DataSpec {
  /// Whether the test samples are drawn with the seed (a file source without a test file);
  /// the digits have a fixed split and the adding problem a test set of its own.
  public var splitsBySeed: Bool {
    switch self {
    case .npy(let source): return source.testFeatures == nil
    case .csv(let source): return source.testPath == nil
    case .digits, .adding: return false
    }
  }
}
