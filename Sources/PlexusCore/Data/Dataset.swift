/// Samples and their targets, batch first, for training and evaluation.
///
/// `features` has shape `[N, ...]` (for example `[N, 64]` or `[N, 8, 8, 1]`); `labels` has
/// shape `[N]` (class indices stored as `Float`, or one scalar target per sample) or
/// `[N, ...]` (target vectors, such as one-hot rows or the inputs of an autoencoder).
///
/// ```swift
/// let digits = try Digits.load()  // the bundled digits of PlexusDatasets
/// let (train, test) = try digits.split(testFraction: 0.2, seed: 1)
/// for (x, y) in try train.batches(size: 32, shuffle: true, seed: 7) {
///   // x: [32, 64], y: [32]; the last batch may be smaller
/// }
/// ```
public struct Dataset: Sendable {
  /// The inputs, shape `[N, ...]`.
  public let features: Tensor
  /// The targets, shape `[N]` or `[N, ...]`.
  public let labels: Tensor
  /// The number of classes when `labels` are class indices, otherwise `nil`.
  ///
  /// Labels count as class indices when they have shape `[N]` and every value is a
  /// non-negative integer; the class count is then the largest label plus one. An empty
  /// dataset has no class count.
  public let classCount: Int?

  /// Creates a dataset, checking that features and labels hold the same number of samples.
  ///
  /// - Throws: `PlexusError.invalidShape` when either tensor has rank 0 or their first
  ///   dimensions differ; `PlexusError.invalidData` when a label is NaN or infinite.
  public init(features: Tensor, labels: Tensor) throws {
    guard features.rank >= 1 else {
      throw PlexusError.invalidShape(
        "dataset features need a batch dimension [N, ...], found shape \(features.shape)")
    }
    guard labels.rank >= 1 else {
      throw PlexusError.invalidShape(
        "dataset labels need a batch dimension [N] or [N, ...], found shape \(labels.shape)")
    }
    guard features.shape[0] == labels.shape[0] else {
      throw PlexusError.invalidShape(
        "dataset features hold \(features.shape[0]) samples (shape \(features.shape)) but labels "
          + "hold \(labels.shape[0]) (shape \(labels.shape)); the first dimensions must match")
    }
    let nonFinite: Int? = labels.withUnsafeBufferPointer { buffer in
      buffer.firstIndex { !$0.isFinite }
    }
    if let nonFinite {
      throw PlexusError.invalidData(
        "label at flat index \(nonFinite) is \(labels[flat: nonFinite]); labels must be finite")
    }
    self.features = features
    self.labels = labels
    self.classCount = labels.rank == 1 ? Dataset.inferClassCount(labels) : nil
  }

  private init(uncheckedFeatures features: Tensor, labels: Tensor, classCount: Int?) {
    self.features = features
    self.labels = labels
    self.classCount = classCount
  }

  /// The number of samples.
  public var count: Int { features.shape[0] }

  /// The shape of one sample's features (the feature shape without its batch dimension).
  public var featureShape: [Int] { features.sampleShape }

  private static func inferClassCount(_ labels: Tensor) -> Int? {
    labels.withUnsafeBufferPointer { buffer -> Int? in
      guard !buffer.isEmpty else { return nil }
      var largest: Float = 0
      for value in buffer {
        guard value >= 0, value.rounded() == value, value < Float(Int32.max) else { return nil }
        if value > largest { largest = value }
      }
      return Int(largest) + 1
    }
  }

  // MARK: Class labels

  /// Checks that `labels` has shape `[N]` and holds integral class indices in
  /// `0..<classCount`.
  ///
  /// - Throws: `PlexusError.invalidArgument` when `classCount` is not positive;
  ///   `PlexusError.invalidShape` when `labels` is not rank 1; `PlexusError.invalidData`
  ///   naming the index and value of the first label that is not an integer or lies out of
  ///   range.
  public static func validateClassLabels(_ labels: Tensor, classCount: Int) throws {
    guard classCount > 0 else {
      throw PlexusError.invalidArgument("class count must be positive, found \(classCount)")
    }
    guard labels.rank == 1 else {
      throw PlexusError.invalidShape(
        "class labels must have shape [N] (one class index per sample), found \(labels.shape)")
    }
    let limit = Float(classCount)
    let bad: (Int, Float)? = labels.withUnsafeBufferPointer { buffer in
      for index in buffer.indices {
        let value = buffer[index]
        if !(value >= 0 && value < limit && value.rounded() == value) { return (index, value) }
      }
      return nil
    }
    if let (index, value) = bad {
      let problem =
        !value.isFinite
        ? "is not finite" : value.rounded() != value ? "is not an integer" : "is out of range"
      throw PlexusError.invalidData(
        "class label at index \(index) is \(value), which \(problem); expected an integer in "
          + "0..<\(classCount)")
    }
  }

  /// The labels as one-hot rows: shape `[N, classCount]`, 1 in the column of each sample's
  /// class and 0 elsewhere.
  ///
  /// - Throws: the errors of ``validateClassLabels(_:classCount:)`` when the labels are not
  ///   class indices in `0..<classCount`.
  public func oneHotLabels(classCount: Int) throws -> Tensor {
    try Dataset.validateClassLabels(labels, classCount: classCount)
    let count = self.count
    return Tensor(shape: [count, classCount]) { destination in
      labels.withUnsafeBufferPointer { source in
        for row in 0..<count { destination[row * classCount + Int(source[row])] = 1 }
      }
    }
  }

  /// The same samples with each sample's features reshaped to `sampleShape`, for example
  /// `[8, 8, 1]` to turn digits `[N, 64]` into images `[N, 8, 8, 1]` for a CNN.
  ///
  /// - Parameter sampleShape: the new shape of one sample, without the batch dimension.
  /// - Throws: `PlexusError.invalidShape` when `sampleShape` holds a different number of
  ///   elements than one sample has.
  public func reshapedFeatures(_ sampleShape: [Int]) throws -> Dataset {
    let newSize = try Tensor.elementCount(of: sampleShape)
    guard newSize == features.sampleSize else {
      throw PlexusError.invalidShape(
        "cannot reshape samples of shape \(featureShape) (\(features.sampleSize) elements) to "
          + "\(sampleShape) (\(newSize) elements)")
    }
    return Dataset(
      uncheckedFeatures: try features.reshaped([count] + sampleShape), labels: labels,
      classCount: classCount)
  }

  // MARK: Selection and shuffling

  /// The samples at `indices`, in that order (indices may repeat).
  ///
  /// - Throws: `PlexusError.invalidArgument` naming the first index outside `0..<count`.
  public func subset(_ indices: [Int]) throws -> Dataset {
    if let position = indices.firstIndex(where: { $0 < 0 || $0 >= count }) {
      throw PlexusError.invalidArgument(
        "subset index \(indices[position]) at position \(position) is outside 0..<\(count)")
    }
    return Dataset(
      uncheckedFeatures: features.gatherSamples(indices), labels: labels.gatherSamples(indices),
      classCount: classCount)
  }

  /// The samples `range`, in order.
  ///
  /// - Throws: `PlexusError.invalidArgument` when `range` does not lie within `0..<count`.
  public func samples(_ range: Range<Int>) throws -> Dataset {
    guard range.lowerBound >= 0, range.upperBound <= count else {
      throw PlexusError.invalidArgument("sample range \(range) is outside 0..<\(count)")
    }
    return Dataset(
      uncheckedFeatures: features.samples(range), labels: labels.samples(range),
      classCount: classCount)
  }

  /// A random permutation of `0..<count`, fully determined by `seed` on every platform.
  ///
  /// A Fisher–Yates shuffle driven by ``SeededGenerator``: for `i` from `count - 1` down to 1,
  /// swap position `i` with a uniform position in `0...i` (drawn by Lemire's unbiased
  /// multiply-and-reject method from the generator's 64-bit outputs).
  public static func permutation(count: Int, seed: UInt64) -> [Int] {
    var indices = Array(0..<Swift.max(count, 0))
    var generator = SeededGenerator(seed: seed)
    var position = indices.count - 1
    while position > 0 {
      let other = Int(uniform(below: UInt64(position + 1), using: &generator))
      indices.swapAt(position, other)
      position -= 1
    }
    return indices
  }

  /// A uniform integer in `0..<bound` (Lemire's nearly divisionless method, unbiased).
  private static func uniform(below bound: UInt64, using generator: inout SeededGenerator) -> UInt64
  {
    var product = generator.next().multipliedFullWidth(by: bound)
    if product.low < bound {
      let threshold = (0 &- bound) % bound
      while product.low < threshold { product = generator.next().multipliedFullWidth(by: bound) }
    }
    return product.high
  }

  /// The samples in the order of ``permutation(count:seed:)``.
  public func shuffled(seed: UInt64) -> Dataset {
    let order = Dataset.permutation(count: count, seed: seed)
    return Dataset(
      uncheckedFeatures: features.gatherSamples(order), labels: labels.gatherSamples(order),
      classCount: classCount)
  }

  /// Splits the samples into a training and a test set.
  ///
  /// Exactly: the test set size is `testFraction * count` rounded to the nearest integer
  /// (halves away from zero); the samples are put in the order of
  /// ``permutation(count:seed:)``; the last `testCount` samples of that order are the test
  /// set and the ones before them the training set, both in permuted order. The same seed
  /// always gives the same split. Equivalent to `split(testCount:seed:)` with that count.
  ///
  /// - Throws: `PlexusError.invalidArgument` when `testFraction` is not in `(0, 1)` or when
  ///   either side of the split would be empty.
  public func split(testFraction: Double, seed: UInt64) throws -> (train: Dataset, test: Dataset) {
    guard testFraction > 0, testFraction < 1 else {
      throw PlexusError.invalidArgument(
        "test fraction must lie strictly between 0 and 1, found \(testFraction)")
    }
    let testCount = Int((testFraction * Double(count)).rounded())
    return try split(testCount: testCount, seed: seed)
  }

  /// Splits the samples into a training set and a test set of exactly `testCount` samples.
  ///
  /// The samples are put in the order of ``permutation(count:seed:)``; the last `testCount`
  /// of that order are the test set and the others the training set, both in permuted order.
  ///
  /// - Throws: `PlexusError.invalidArgument` when either side would be empty.
  public func split(testCount: Int, seed: UInt64) throws -> (train: Dataset, test: Dataset) {
    guard count >= 2 else {
      throw PlexusError.invalidArgument(
        "cannot split \(count) sample(s): a split needs at least 2 so that neither side is empty")
    }
    guard testCount >= 1, testCount < count else {
      throw PlexusError.invalidArgument(
        "a split of \(count) samples needs a test set of 1...\(count - 1) samples so that neither "
          + "side is empty, found \(testCount)")
    }
    let order = Dataset.permutation(count: count, seed: seed)
    let trainCount = count - testCount
    return (
      try subset(Array(order[..<trainCount])),
      try subset(Array(order[trainCount...]))
    )
  }

  // MARK: Batches

  /// The samples in batches of `size` (the last batch holds the remainder and may be smaller).
  ///
  /// With `shuffle`, the samples are visited in the order of
  /// ``permutation(count:seed:)``; use a different seed per epoch (for example
  /// `seed &+ UInt64(epoch)`) for a new order each epoch. Without `shuffle` they are visited
  /// in order and `seed` is ignored.
  ///
  /// - Throws: `PlexusError.invalidArgument` when `size` is not positive.
  public func batches(size: Int, shuffle: Bool = false, seed: UInt64 = 0) throws -> Batches {
    guard size > 0 else {
      throw PlexusError.invalidArgument("batch size must be positive, found \(size)")
    }
    return Batches(
      dataset: self, size: size,
      order: shuffle ? Dataset.permutation(count: count, seed: seed) : nil)
  }

  /// The batches of a dataset; each element is `(features, labels)` of up to `size` samples.
  public struct Batches: Sequence, Sendable {
    /// A batch: features `[B, ...]` and labels `[B]` or `[B, ...]`.
    public typealias Element = (features: Tensor, labels: Tensor)

    let dataset: Dataset
    /// The batch size (the last batch may be smaller).
    public let size: Int
    let order: [Int]?

    /// The number of batches: `count / size` rounded up.
    public var count: Int { (dataset.count + size - 1) / size }

    /// An iterator over the batches, from the first sample on.
    public func makeIterator() -> Iterator {
      Iterator(batches: self, start: 0)
    }

    /// Produces the batches one after another.
    public struct Iterator: IteratorProtocol, Sendable {
      let batches: Batches
      var start: Int

      /// The next batch, or `nil` after the last one.
      public mutating func next() -> Element? {
        let total = batches.dataset.count
        guard start < total else { return nil }
        let end = Swift.min(start + batches.size, total)
        defer { start = end }
        let data = batches.dataset
        if let order = batches.order {
          let indices = Array(order[start..<end])
          return (data.features.gatherSamples(indices), data.labels.gatherSamples(indices))
        }
        return (data.features.samples(start..<end), data.labels.samples(start..<end))
      }
    }
  }
}
