import PlexusCore

/// The result of comparing a layer's analytic gradients with central finite differences.
public struct GradientCheckReport: CustomStringConvertible, Sendable {
  /// The largest relative error over the input gradients' checked entries.
  public var inputError: Double
  /// The largest relative error per parameter path.
  public var parameterErrors: [String: Double]
  /// The number of entries compared.
  public var checkedEntries: Int

  /// The largest error over inputs and parameters.
  public var maximumError: Double { ([inputError] + Array(parameterErrors.values)).max() ?? 0 }

  public var description: String {
    let parameters = parameterErrors.sorted { $0.key < $1.key }
      .map { "\($0.key): \($0.value)" }.joined(separator: ", ")
    return "input: \(inputError); \(parameters) (\(checkedEntries) entries)"
  }
}

/// Central finite-difference checks of a layer's (or a model's) backward pass.
///
/// The scalar loss is `sum_k sum(output_k * R_k)` for fixed random `R_k`, plus the losses the
/// layers contribute in training mode, so the analytic gradient is `backward(R)`. Each checked entry is perturbed by `±epsilon`; forward passes
/// accumulate the loss in double precision. The error of an entry is
/// `|analytic - numeric| / max(|analytic| + |numeric|, floor)`. Parameters are the layer's
/// trainable parameters, each once (a weight used twice is checked once, with its summed
/// gradient).
public enum GradientCheck {
  /// Checks the gradients of a built layer for one batch per input.
  ///
  /// - Parameters:
  ///   - layer: a built layer; `forward` must be deterministic for given inputs and mode.
  ///   - inputs: one batch per input of the layer.
  ///   - training: the mode of the forward passes.
  ///   - epsilon: the finite-difference step.
  ///   - maximumEntries: how many entries per tensor to check (spread evenly); all if larger.
  ///   - seed: the seed of the random projections `R`.
  ///   - checkingInputs: whether to compare the input gradients too (not for discrete inputs
  ///     such as an embedding's ids, which a finite difference would make invalid).
  public static func check(
    layer: any Layer, inputs: [Tensor], training: Bool = true, epsilon: Float = 1e-3,
    maximumEntries: Int = 64, seed: UInt64 = 7, floor: Double = 1e-3,
    checkingInputs: Bool = true
  ) throws -> GradientCheckReport {
    let record = CallRecord()
    let probe = try layer.run(inputs, training: training, record: record)
    var generator = SeededGenerator(seed: seed)
    let projections = probe.map { Tensor.normal($0.shape, using: &generator) }

    func loss(_ x: [Tensor]) throws -> Double {
      let lossRecord = CallRecord()
      let outputs = try layer.run(x, training: training, record: lossRecord)
      // Losses the layers add to the objective (activity penalties, KL terms) count too.
      var total: Double = lossRecord.contributedLosses.reduce(0) { $0 + Double($1.value) }
      for (output, projection) in zip(outputs, projections) {
        output.withUnsafeBufferPointer { out in
          projection.withUnsafeBufferPointer { r in
            for index in out.indices { total += Double(out[index]) * Double(r[index]) }
          }
        }
      }
      return total
    }

    let parameters = uniqueTrainable(layer)
    for parameter in layer.parameters { parameter.zeroGradient() }
    _ = try layer.run(inputs, training: training, record: record)
    let inputGradients = try layer.gradients(projections, record: record)
    let analyticParameters = parameters.map { ($0.path, $0.parameter.gradient) }

    func relativeError(_ analytic: Float, _ numeric: Double) -> Double {
      let a = Double(analytic)
      return abs(a - numeric) / Swift.max(abs(a) + abs(numeric), floor)
    }
    func indices(_ count: Int) -> [Int] {
      guard count > maximumEntries else { return Array(0..<count) }
      let stride = Double(count) / Double(maximumEntries)
      return (0..<maximumEntries).map { Int(Double($0) * stride) }
    }

    var checked = 0
    var inputError: Double = 0
    for (inputIndex, input) in inputs.enumerated() where checkingInputs {
      guard let analytic = inputGradients[inputIndex] else {
        throw PlexusError.invalidArgument("the layer returned no gradient for input \(inputIndex)")
      }
      for index in indices(input.count) {
        var plus = inputs
        plus[inputIndex][flat: index] += epsilon
        var minus = inputs
        minus[inputIndex][flat: index] -= epsilon
        let numeric = (try loss(plus) - loss(minus)) / (2 * Double(epsilon))
        inputError = Swift.max(inputError, relativeError(analytic[flat: index], numeric))
        checked += 1
      }
    }

    var parameterErrors: [String: Double] = [:]
    for ((path, analytic), entry) in zip(analyticParameters, parameters) {
      let parameter = entry.parameter
      var worst: Double = 0
      for index in indices(parameter.value.count) {
        let original = parameter.value[flat: index]
        parameter.value[flat: index] = original + epsilon
        let lossPlus = try loss(inputs)
        parameter.value[flat: index] = original - epsilon
        let lossMinus = try loss(inputs)
        parameter.value[flat: index] = original
        let numeric = (lossPlus - lossMinus) / (2 * Double(epsilon))
        worst = Swift.max(worst, relativeError(analytic[flat: index], numeric))
        checked += 1
      }
      parameterErrors[path] = worst
    }
    return GradientCheckReport(
      inputError: inputError, parameterErrors: parameterErrors, checkedEntries: checked)
  }

  /// Checks a built single-input layer for one batch.
  public static func check(
    layer: any Layer, input: Tensor, training: Bool = true, epsilon: Float = 1e-3,
    maximumEntries: Int = 64, seed: UInt64 = 7, floor: Double = 1e-3
  ) throws -> GradientCheckReport {
    try check(
      layer: layer, inputs: [input], training: training, epsilon: epsilon,
      maximumEntries: maximumEntries, seed: seed, floor: floor)
  }

  /// Builds `layer` for the per-sample part of `batchInputShape`, draws a random batch and
  /// checks gradients.
  public static func check(
    layer: any Layer, batchInputShape: [Int], seed: UInt64 = 1, training: Bool = true,
    epsilon: Float = 1e-3, maximumEntries: Int = 64, inputScale: Float = 1
  ) throws -> GradientCheckReport {
    try check(
      layer: layer, batchInputShapes: [batchInputShape], seed: seed, training: training,
      epsilon: epsilon, maximumEntries: maximumEntries, inputScale: inputScale)
  }

  /// Builds `layer` for several inputs, draws random batches and checks gradients.
  public static func check(
    layer: any Layer, batchInputShapes: [[Int]], seed: UInt64 = 1, training: Bool = true,
    epsilon: Float = 1e-3, maximumEntries: Int = 64, inputScale: Float = 1
  ) throws -> GradientCheckReport {
    var generator = SeededGenerator(seed: seed)
    try layer.ensureBuilt(inputShapes: batchInputShapes.map { $0.dropFirst().map { $0 } })
    var initializer = generator.split()
    try layer.initialize(using: &initializer)
    let inputs = batchInputShapes.map {
      Tensor.normal($0, standardDeviation: inputScale, using: &generator)
    }
    return try check(
      layer: layer, inputs: inputs, training: training, epsilon: epsilon,
      maximumEntries: maximumEntries, seed: seed &+ 1)
  }

  /// The trainable parameters with their paths, each parameter once.
  static func uniqueTrainable(_ layer: any Layer) -> [(path: String, parameter: Parameter)] {
    let trainable = Set(layer.trainableParameters.map(ObjectIdentifier.init))
    var seen = Set<ObjectIdentifier>()
    return layer.namedParameters.filter {
      trainable.contains(ObjectIdentifier($0.parameter))
        && seen.insert(ObjectIdentifier($0.parameter)).inserted
    }
  }
}
