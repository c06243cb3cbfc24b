import PlexusCore

/// The adding problem (Hochreiter and Schmidhuber, 1997), a classic test of long-range memory
/// for recurrent networks, generated from a seed.
///
/// Each sample is a sequence of `steps` steps of two features: a value drawn uniformly from
/// `[0, 1)` and a marker that is 1 at exactly two steps (one in each half of the sequence) and
/// 0 elsewhere. The target is the sum of the two marked values, in `[0, 2)`. A model that
/// ignores its input and answers 1 has a mean squared error of about 1/6 (0.167).
public enum AddingProblem {
  /// The most steps a generated sequence may have.
  public static let maximumSteps = 100_000
  /// The most values (samples x steps x 2) one data set may hold (2^28).
  public static let maximumValues = 1 << 28

  /// Generates `samples` sequences of `steps` steps: features `[samples, steps, 2]`, labels
  /// `[samples, 1]`.
  ///
  /// - Throws: `PlexusError.invalidArgument` for fewer than 2 or more than `maximumSteps`
  ///   steps, no samples, or more than `maximumValues` values in all.
  public static func make(samples: Int, steps: Int, seed: UInt64) throws -> Dataset {
    guard (2...maximumSteps).contains(steps) else {
      throw PlexusError.invalidArgument(
        "the adding problem needs 2...\(maximumSteps) steps, got \(steps)")
    }
    guard samples > 0 else {
      throw PlexusError.invalidArgument(
        "the adding problem needs at least one sample, got \(samples)")
    }
    let (perSample, overflow1) = steps.multipliedReportingOverflow(by: 2)
    let (values, overflow2) = perSample.multipliedReportingOverflow(by: samples)
    guard !overflow1, !overflow2, values <= maximumValues else {
      throw PlexusError.invalidArgument(
        "\(samples) sequences of \(steps) steps would hold more than \(maximumValues) values")
    }
    var generator = SeededGenerator(seed: seed)
    var features = [Float](repeating: 0, count: values)
    var labels = [Float](repeating: 0, count: samples)
    let half = steps / 2
    for sample in 0..<samples {
      let base = sample * perSample
      for step in 0..<steps { features[base + 2 * step] = generator.nextUnitFloat() }
      let first = Int(generator.next() % UInt64(half))
      let second = half + Int(generator.next() % UInt64(steps - half))
      features[base + 2 * first + 1] = 1
      features[base + 2 * second + 1] = 1
      labels[sample] = features[base + 2 * first] + features[base + 2 * second]
    }
    return try Dataset(
      features: try Tensor(shape: [samples, steps, 2], scalars: features),
      labels: try Tensor(shape: [samples, 1], scalars: labels))
  }
}
