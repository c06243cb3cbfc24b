import PlexusCore

/// The result of comparing a layer's analytic gradients with central finite differences.
public struct GradientCheckReport: CustomStringConvertible, Sendable {
  /// The largest relative error over the input gradient's checked entries.
  public var inputError: Double
  /// The largest relative error per parameter path.
  public var parameterErrors: [String: Double]
  /// The number of entries compared.
  public var checkedEntries: Int

  /// The largest error over input and parameters.
  public var maximumError: Double { ([inputError] + Array(parameterErrors.values)).max() ?? 0 }

  public var description: String {
    let parameters = parameterErrors.sorted { $0.key < $1.key }
      .map { "\($0.key): \($0.value)" }.joined(separator: ", ")
    return "input: \(inputError); \(parameters) (\(checkedEntries) entries)"
  }
}

/// Central finite-difference checks of a layer's backward pass.
///
/// The scalar loss is `sum(output * R)` for a fixed random `R`, so the analytic gradient is
/// `backward(R)`. Each checked entry is perturbed by `±epsilon`; forward passes accumulate the
/// loss in double precision. The error of an entry is
/// `|analytic - numeric| / max(|analytic| + |numeric|, floor)`.
public enum GradientCheck {
  /// Checks the gradients of `layer` (already built) for `input`.
  ///
  /// - Parameters:
  ///   - layer: a built layer; `forward` must be deterministic for a given input and mode.
  ///   - input: a batch for the layer.
  ///   - training: the mode passed to `forward`.
  ///   - epsilon: the finite-difference step.
  ///   - maximumEntries: how many entries per tensor to check (spread evenly); all if larger.
  ///   - seed: the seed of the random projection `R`.
  public static func check(
    layer: any Layer, input: Tensor, training: Bool = true, epsilon: Float = 1e-3,
    maximumEntries: Int = 64, seed: UInt64 = 7, floor: Double = 1e-3
  ) throws -> GradientCheckReport {
    let probe = try layer.forward(input, training: training)
    var generator = SeededGenerator(seed: seed)
    let projection = Tensor.normal(probe.shape, using: &generator)

    func loss(_ x: Tensor) throws -> Double {
      let output = try layer.forward(x, training: training)
      var total: Double = 0
      output.withUnsafeBufferPointer { out in
        projection.withUnsafeBufferPointer { r in
          for index in out.indices { total += Double(out[index]) * Double(r[index]) }
        }
      }
      return total
    }

    for parameter in layer.parameters { parameter.zeroGradient() }
    _ = try layer.forward(input, training: training)
    let inputGradient = try layer.backward(projection)
    let analyticParameters = layer.namedParameters.map { ($0.path, $0.parameter.gradient) }

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
    for index in indices(input.count) {
      var plus = input
      plus[flat: index] += epsilon
      var minus = input
      minus[flat: index] -= epsilon
      let numeric = (try loss(plus) - loss(minus)) / (2 * Double(epsilon))
      inputError = Swift.max(inputError, relativeError(inputGradient[flat: index], numeric))
      checked += 1
    }

    var parameterErrors: [String: Double] = [:]
    for ((path, analytic), entry) in zip(analyticParameters, layer.namedParameters) {
      let parameter = entry.parameter
      // Non-trainable state (such as BatchNorm's moving statistics) has no gradient.
      guard parameter.isTrainable else { continue }
      var worst: Double = 0
      for index in indices(parameter.value.count) {
        let original = parameter.value[flat: index]
        parameter.value[flat: index] = original + epsilon
        let lossPlus = try loss(input)
        parameter.value[flat: index] = original - epsilon
        let lossMinus = try loss(input)
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

  /// Builds `layer` for `inputShape` (per sample), draws a random batch and checks gradients.
  public static func check(
    layer: any Layer, batchInputShape: [Int], seed: UInt64 = 1, training: Bool = true,
    epsilon: Float = 1e-3, maximumEntries: Int = 64, inputScale: Float = 1
  ) throws -> GradientCheckReport {
    var generator = SeededGenerator(seed: seed)
    _ = try layer.build(inputShape: Array(batchInputShape.dropFirst()), generator: &generator)
    let input = Tensor.normal(batchInputShape, standardDeviation: inputScale, using: &generator)
    return try check(
      layer: layer, input: input, training: training, epsilon: epsilon,
      maximumEntries: maximumEntries, seed: seed &+ 1)
  }
}

/// Checks shared by every layer's tests, as Keras' `run_layer_test`.
public enum LayerHarness {
  /// Encodes the layer's config to JSON, recreates the layer through `registry` and returns the
  /// recreated layer; throws when the registry cannot make it or the configs differ.
  public static func roundTripConfig(of layer: any Layer, registry: LayerRegistry) throws
    -> any Layer
  {
    let description = try LayerDescription(layer)
    let encoded = try JSONValue(encoding: description)
    let decoded = try encoded.decode(LayerDescription.self, context: "round trip")
    let recreated = try registry.makeLayer(from: decoded)
    let again = try LayerDescription(recreated)
    guard again == description else {
      throw PlexusError.invalidConfiguration(
        "config changed in a round trip: \(description) vs \(again)")
    }
    return recreated
  }
}
