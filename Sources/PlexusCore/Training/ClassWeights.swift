/// Class weights in the training loss (Keras' `class_weight`): each sample's loss counts
/// `weights[c]` times, `c` being its class.
///
/// A sample's class is its target's class index (targets `[N]` for outputs over several
/// classes), the argmax of a one-hot target row, or, for a binary output (a binary loss or a
/// single output), 1 when the target is above 0.5 and 0 otherwise. The batch loss stays a mean
/// over the batch's samples: `sum_i w(c_i) * loss_i / N`, computed by evaluating the loss on
/// each class's samples (the built-in losses average over samples, so a class's mean times
/// its share of the batch is its part of the sum).
enum ClassWeighting {
  /// The class of every sample of `targets` for predictions of `width` values per sample.
  ///
  /// - Throws: `PlexusError.invalidData` naming a sample whose target is not a class;
  ///   `.invalidShape` for targets that hold several decisions per sample.
  static func classes(of targets: Tensor, width: Int, binary: Bool) throws -> [Int] {
    let rows = targets.batchCount
    guard rows > 0 else { return [] }
    let perSample = targets.count / rows
    if perSample == 1 {
      return try targets.withUnsafeBufferPointer { t in
        try (0..<rows).map { row in
          let value = t[row]
          if binary || width == 1 { return value > 0.5 ? 1 : 0 }
          guard value.isFinite, value >= 0, value < Float(width), value.rounded() == value else {
            throw PlexusError.invalidData(
              "class weights: the target of sample \(row) is \(value), expected a class index in 0..<\(width)"
            )
          }
          return Int(value)
        }
      }
    }
    guard !binary, perSample == width else {
      throw PlexusError.invalidShape(
        "class weights need one class per sample; targets of shape \(targets.shape) hold "
          + "\(perSample) decisions per sample")
    }
    return targets.withUnsafeBufferPointer { t in
      (0..<rows).map { row in
        let start = row * width
        var best = 0
        for j in 1..<width where t[start + j] > t[start + best] { best = j }
        return best
      }
    }
  }

  /// Checks that every class of the training targets has a weight.
  ///
  /// - Throws: `PlexusError.invalidArgument` naming the first sample whose class has none.
  static func requireWeights(_ weights: [Float], for classes: [Int]) throws {
    if let sample = classes.firstIndex(where: { $0 >= weights.count }) {
      throw PlexusError.invalidArgument(
        "class weights are given for classes 0..<\(weights.count), but sample \(sample) is of "
          + "class \(classes[sample])")
    }
  }

  /// The class-weighted mean loss of a batch and its gradient.
  static func compute(
    loss: any Loss, predictions: Tensor, targets: Tensor, weights: [Float]
  ) throws -> (value: Float, gradient: Tensor) {
    let width = predictions.rank >= 2 ? (predictions.shape.last ?? 1) : 1
    let classes = try classes(of: targets, width: width, binary: loss.binaryThreshold != nil)
    try requireWeights(weights, for: classes)
    var groups: [Int: [Int]] = [:]
    for (row, c) in classes.enumerated() { groups[c, default: []].append(row) }
    let total = Float(classes.count)
    if groups.count == 1, let (c, rows) = groups.first {
      // One class in the batch: the whole loss scaled by its weight.
      var (value, gradient) = try loss.compute(predictions: predictions, targets: targets)
      let weight = weights[c] * Float(rows.count) / total
      gradient.withUnsafeMutableBufferPointer { buffer in
        for index in buffer.indices { buffer[index] *= weight }
      }
      return (weight * value, gradient)
    }
    var value: Float = 0
    var gradient = Tensor.zeros(predictions.shape)
    let stride = predictions.sampleSize
    for c in groups.keys.sorted() {
      guard let rows = groups[c] else { continue }
      let (groupValue, groupGradient) = try loss.compute(
        predictions: predictions.gatherSamples(rows), targets: targets.gatherSamples(rows))
      let share = weights[c] * Float(rows.count) / total
      value += share * groupValue
      gradient.withUnsafeMutableBufferPointer { destination in
        groupGradient.withUnsafeBufferPointer { source in
          for (position, row) in rows.enumerated() {
            for offset in 0..<stride {
              destination[row * stride + offset] = share * source[position * stride + offset]
            }
          }
        }
      }
    }
    return (value, gradient)
  }
}
