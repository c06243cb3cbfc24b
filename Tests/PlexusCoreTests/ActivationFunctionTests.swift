import Dispatch
import Foundation
import PlexusCore
import PlexusTestSupport
import Synchronization
import Testing

// MARK: Third-party activations defined outside Plexus

/// `y = scale * x²`: a third-party elementwise activation with a parameter.
struct ScaledSquare: ElementwiseActivationKernel {
  static let name = "com.example.scaled_square"
  static let defaultParameters: [String: Float] = ["scale": 1]
  let scale: Float

  init(scale: Float) { self.scale = scale }

  init(parameters: [String: Float]) throws {
    scale = try Self.parameter("scale", in: parameters)
    guard scale > 0 else {
      throw PlexusError.invalidConfiguration(
        "activation '\(Self.name)' needs a positive scale, found \(scale)")
    }
  }

  var parameters: [String: Float] { ["scale": scale] }
  func value(_ x: Float) -> Float { scale * x * x }
  func derivative(at x: Float, output y: Float) -> Float { 2 * scale * x }
}

/// `y_i = x_i - mean(x)` per row: a third-party row-wise activation with buffer-level loops.
struct RowCentering: ActivationKernel {
  static let name = "com.example.row_centering"
  init() {}
  init(parameters: [String: Float]) {}
  var derivativeNeedsInput: Bool { false }
  var costPerElement: Int { 2 }

  func apply(_ buffer: UnsafeMutableBufferPointer<Float>, lastDimension: Int) {
    Self.centerRows(buffer, lastDimension: lastDimension)
  }

  func backward(
    gradient: UnsafeMutableBufferPointer<Float>, input: UnsafeBufferPointer<Float>,
    output: UnsafeBufferPointer<Float>, lastDimension: Int
  ) {
    // The Jacobian is symmetric: the gradient is centered the same way.
    Self.centerRows(gradient, lastDimension: lastDimension)
  }

  static func centerRows(_ buffer: UnsafeMutableBufferPointer<Float>, lastDimension: Int) {
    let width = max(lastDimension, 1)
    var start = 0
    while start < buffer.count {
      let end = min(start + width, buffer.count)
      var total: Float = 0
      for index in start..<end { total += buffer[index] }
      let mean = total / Float(end - start)
      for index in start..<end { buffer[index] -= mean }
      start = end
    }
  }
}

/// Registers the third-party activations in the process-wide registry (again is harmless).
func registerExampleActivations() throws {
  try ActivationRegistry.shared.register(ScaledSquare.self, module: "ExampleActivations")
  try ActivationRegistry.shared.register(RowCentering.self, module: "ExampleActivations")
}

// MARK: References

/// A reference definition of one activation in double precision.
struct ActivationReference: Sendable, CustomStringConvertible {
  let function: ActivationFunction
  /// The value at `x`.
  let value: @Sendable (Double) -> Double
  /// The derivative at `x` (away from kinks).
  let derivative: @Sendable (Double) -> Double
  /// Inputs at which the function and its derivative are checked.
  var points: [Double] = ActivationReference.standardPoints
  /// Inputs where the derivative is not defined (the finite-difference inputs avoid them).
  var kinks: [Double] = []

  var description: String { function.description }

  static let standardPoints: [Double] = [
    -1e4, -100, -30, -5, -2.5, -1, -0.3, -1e-3, 1e-3, 0.3, 1, 2.5, 5, 30, 100, 1e4,
  ]

  static func sigmoid(_ x: Double) -> Double { 1 / (1 + exp(-x)) }
  static func softplus(_ x: Double) -> Double { max(x, 0) + log1p(exp(-abs(x))) }
  static let seluAlpha = 1.6732632423543772848170429916717
  static let seluScale = 1.0507009873554804934193349852946

  static let all: [ActivationReference] = [
    ActivationReference(function: .linear, value: { $0 }, derivative: { _ in 1 }),
    ActivationReference(
      function: .sigmoid, value: sigmoid, derivative: { sigmoid($0) * (1 - sigmoid($0)) }),
    ActivationReference(
      function: .tanh, value: { Foundation.tanh($0) },
      derivative: { 1 - Foundation.tanh($0) * Foundation.tanh($0) }),
    ActivationReference(
      function: .relu, value: { max($0, 0) }, derivative: { $0 > 0 ? 1 : 0 }, kinks: [0]),
    ActivationReference(
      function: .leakyRelu(), value: { $0 < 0 ? 0.3 * $0 : $0 },
      derivative: { $0 < 0 ? 0.3 : 1 }, kinks: [0]),
    ActivationReference(
      function: .leakyRelu(alpha: 0.2), value: { $0 < 0 ? Double(Float(0.2)) * $0 : $0 },
      derivative: { $0 < 0 ? Double(Float(0.2)) : 1 }, kinks: [0]),
    ActivationReference(
      function: .elu(), value: { $0 < 0 ? expm1($0) : $0 }, derivative: { $0 < 0 ? exp($0) : 1 },
      kinks: [0]),
    ActivationReference(
      function: .elu(alpha: 0.5), value: { $0 < 0 ? 0.5 * expm1($0) : $0 },
      derivative: { $0 < 0 ? 0.5 * exp($0) : 1 }, kinks: [0]),
    ActivationReference(
      function: .gelu, value: { 0.5 * $0 * erfc(-$0 / 2.0.squareRoot()) },
      derivative: { x in
        0.5 * erfc(-x / 2.0.squareRoot()) + x * exp(-0.5 * x * x) / (2 * Double.pi).squareRoot()
      }),
    ActivationReference(function: .softplus, value: softplus, derivative: sigmoid),
    ActivationReference(
      function: .step, value: { $0 >= 0 ? 1 : 0 }, derivative: { _ in 0 }, kinks: [0]),
    ActivationReference(
      function: .hardSigmoid, value: { min(max($0 + 3, 0), 6) / 6 },
      derivative: { abs($0) < 3 ? 1.0 / 6 : 0 }, kinks: [-3, 3]),
    ActivationReference(
      function: .silu, value: { $0 * sigmoid($0) },
      derivative: { x in sigmoid(x) * (1 + x * (1 - sigmoid(x))) }),
    ActivationReference(
      function: .mish, value: { $0 * Foundation.tanh(softplus($0)) },
      derivative: { x in
        let t = Foundation.tanh(softplus(x))
        return t + x * (1 - t * t) * sigmoid(x)
      }),
    ActivationReference(
      function: .selu, value: { $0 > 0 ? seluScale * $0 : seluScale * seluAlpha * expm1($0) },
      derivative: { $0 > 0 ? seluScale : seluScale * seluAlpha * exp($0) }, kinks: [0]),
    ActivationReference(
      function: .softsign, value: { $0 / (1 + abs($0)) },
      derivative: { 1 / ((1 + abs($0)) * (1 + abs($0))) }),
    ActivationReference(
      function: .exponential, value: { exp($0) }, derivative: { exp($0) },
      // e^x overflows a Float above about 88.7.
      points: [-1e4, -100, -30, -5, -1, -1e-3, 1e-3, 1, 5, 30, 80]),
    ActivationReference(
      function: .relu6, value: { min(max($0, 0), 6) }, derivative: { $0 > 0 && $0 < 6 ? 1 : 0 },
      points: standardPoints + [5.5, 6.5], kinks: [0, 6]),
    ActivationReference(
      function: .thresholdedRelu(), value: { $0 > 1 ? $0 : 0 }, derivative: { $0 > 1 ? 1 : 0 },
      kinks: [1]),
    ActivationReference(
      function: .thresholdedRelu(theta: -0.5), value: { $0 > -0.5 ? $0 : 0 },
      derivative: { $0 > -0.5 ? 1 : 0 }, kinks: [-0.5]),
  ]

  /// Softmax and log-softmax references over a row.
  static func softmax(_ row: [Double]) -> [Double] {
    let largest = row.max()!
    let exponentials = row.map { exp($0 - largest) }
    let total = exponentials.reduce(0, +)
    return exponentials.map { $0 / total }
  }

  static func logSoftmax(_ row: [Double]) -> [Double] {
    let largest = row.max()!
    let logTotal = log(row.map { exp($0 - largest) }.reduce(0, +))
    return row.map { $0 - largest - logTotal }
  }
}

/// Whether `found` is within a relative tolerance of `expected` (absolute near zero).
func isClose(_ found: Float, _ expected: Double, tolerance: Double = 2e-6) -> Bool {
  abs(Double(found) - expected) <= tolerance * max(1, abs(expected))
}

/// An input batch of spread values that keeps more than the finite-difference step away from
/// kinks.
func spreadInput(shape: [Int], scale: Float, kinks: [Double], seed: UInt64) -> Tensor {
  var generator = SeededGenerator(seed: seed)
  var input = Tensor.normal(shape, standardDeviation: scale, using: &generator)
  let margin = 0.05
  for index in 0..<input.count {
    var x = Double(input[flat: index])
    for kink in kinks where abs(x - kink) < margin { x = kink + (x < kink ? -margin : margin) }
    input[flat: index] = Float(x)
  }
  return input
}

// MARK: Tests

@Suite struct ActivationFunctionTests {
  /// Every first-party function with default and non-default parameters.
  static let firstParty: [ActivationFunction] =
    ActivationReference.all.map(\.function) + [.softmax, .logSoftmax]

  static let firstPartyNames = [
    "elu", "exponential", "gelu", "hard_sigmoid", "leaky_relu", "linear", "log_softmax", "mish",
    "relu", "relu6", "selu", "sigmoid", "silu", "softmax", "softplus", "softsign", "step", "tanh",
    "thresholded_relu",
  ]

  @Test func everyFirstPartyNameIsRegistered() {
    #expect(ActivationRegistry().names == Self.firstPartyNames)
    for name in Self.firstPartyNames {
      #expect(ActivationFunction.allNames.contains(name))
      #expect(ActivationRegistry.shared.module(of: name) == "PlexusCore")
    }
    #expect(Set(Self.firstParty.map(\.name)) == Set(Self.firstPartyNames))
  }

  @Test(arguments: ActivationReference.all)
  func valuesAndDerivativesMatchTheReference(reference: ActivationReference) throws {
    let points = reference.points + reference.kinks
    let input = Tensor(points.map { Float($0) })
    let output = reference.function.apply(input)
    for (index, x) in points.enumerated() {
      let expected = reference.value(Double(Float(x)))
      #expect(output[flat: index].isFinite, "\(reference) at \(x)")
      #expect(
        isClose(output[flat: index], expected),
        "\(reference) at \(x): \(output[flat: index]) vs \(expected)")
    }
    // The derivative, away from kinks: backward of a gradient of ones.
    let gradient = reference.function.backward(
      input: input, output: output, outputGradient: Tensor(shape: input.shape, repeating: 1))
    for (index, x) in reference.points.enumerated() {
      let expected = reference.derivative(Double(Float(x)))
      #expect(gradient[flat: index].isFinite, "\(reference)' at \(x)")
      #expect(
        isClose(gradient[flat: index], expected, tolerance: 1e-5),
        "\(reference)' at \(x): \(gradient[flat: index]) vs \(expected)")
    }
  }

  @Test func softmaxAndLogSoftmaxMatchTheReferencePerRow() throws {
    let rows: [[Double]] = [
      [1, 2, 3, 4], [1000, 0, -1000, 5], [-50, -50, -50, -50], [1e4, 1e4 - 1, -1e4, 0],
      [1e-3, -1e-3, 0, 80],
    ]
    let input = try Tensor(shape: [5, 4], scalars: rows.flatMap { $0.map { Float($0) } })
    let softmax = ActivationFunction.softmax.apply(input)
    let logSoftmax = ActivationFunction.logSoftmax.apply(input)
    for (row, values) in rows.enumerated() {
      let floats = values.map { Double(Float($0)) }
      for (column, (p, logP)) in zip(
        ActivationReference.softmax(floats), ActivationReference.logSoftmax(floats)
      ).enumerated() {
        let index = row * 4 + column
        #expect(softmax[flat: index].isFinite && logSoftmax[flat: index].isFinite)
        #expect(isClose(softmax[flat: index], p), "softmax row \(row): \(softmax[flat: index])")
        #expect(
          isClose(logSoftmax[flat: index], logP),
          "log_softmax row \(row): \(logSoftmax[flat: index]) vs \(logP)")
      }
    }
  }

  @Test(arguments: ActivationReference.all.map(\.function) + [.softmax, .logSoftmax])
  func backwardMatchesFiniteDifferencesOverBatchesAndRows(function: ActivationFunction) throws {
    let kinks = ActivationReference.all.first { $0.function == function }?.kinks ?? []
    let layer = Activation(function, name: "activation")
    try layer.build(inputShape: [2, 5], seed: 3)
    let input = spreadInput(shape: [3, 2, 5], scale: 2.5, kinks: kinks, seed: 11)
    // A step of 1e-2 keeps Float rounding of outputs near 1 (tanh, softmax) out of the
    // difference quotient; the inputs stay 0.05 away from kinks.
    let report = try GradientCheck.check(
      layer: layer, input: input, epsilon: 1e-2, maximumEntries: 30)
    #expect(report.checkedEntries == 30)
    #expect(report.maximumError < 1e-2, "\(function): \(report)")
  }

  @Test(arguments: firstParty.filter { !$0.derivativeNeedsInput })
  func outputOnlyDerivativesAcceptTheOutputOrNothingAsInput(function: ActivationFunction) {
    let input = spreadInput(shape: [4, 6], scale: 2, kinks: [0, 1, 3, -3, 6], seed: 5)
    let output = function.apply(input)
    var generator = SeededGenerator(seed: 6)
    let outputGradient = Tensor.normal(input.shape, using: &generator)
    let expected = function.backward(input: input, output: output, outputGradient: outputGradient)
    #expect(
      function.backward(input: output, output: output, outputGradient: outputGradient) == expected)
    var gradient = outputGradient
    gradient.withUnsafeMutableBufferPointer { g in
      output.withUnsafeBufferPointer { y in
        function.backwardInPlace(
          gradient: g, input: UnsafeBufferPointer(start: nil, count: 0), output: y,
          lastDimension: 6)
      }
    }
    #expect(gradient == expected)
  }

  @Test(arguments: [ActivationFunction.softmax, .logSoftmax, .relu, .gelu])
  func largeBuffersSplitAcrossCoresByWholeRows(function: ActivationFunction) throws {
    // Large enough for `Parallel.forEachChunk` to split it on a multi-core machine.
    let (rows, width) = (4099, 48)
    var generator = SeededGenerator(seed: 21)
    let input = Tensor.normal([rows, width], standardDeviation: 3, using: &generator)
    let outputGradient = Tensor.normal([rows, width], using: &generator)
    let output = function.apply(input)
    let inputGradient = function.backward(
      input: input, output: output, outputGradient: outputGradient)
    for row in stride(from: 0, to: rows, by: 97) + [rows - 1] {
      let x = try input.samples(row..<row + 1).reshaped([1, width])
      let y = function.apply(x)
      let dx = function.backward(
        input: x, output: y, outputGradient: outputGradient.samples(row..<row + 1))
      #expect(output.samples(row..<row + 1) == y, "row \(row)")
      #expect(inputGradient.samples(row..<row + 1) == dx, "row \(row)")
    }
  }

  @Test(arguments: firstParty)
  func everyFunctionRoundTripsThroughJSON(function: ActivationFunction) throws {
    let data = try JSONEncoder().encode(function)
    let decoded = try JSONDecoder().decode(ActivationFunction.self, from: data)
    #expect(decoded == function)
    #expect(decoded.parameters == function.parameters)
    let text = String(decoding: data, as: UTF8.self)
    let defaults = ActivationRegistry.shared.defaultParameters(of: function.name)
    if function.parameters == defaults {
      #expect(text == "\"\(function.name)\"")
    } else {
      #expect(text.hasPrefix("{") && text.contains(function.name))
    }
  }

  @Test func parametersEncodeExactlyAsBefore() throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    func encoded(_ function: ActivationFunction) throws -> String {
      String(decoding: try encoder.encode(function), as: UTF8.self)
    }
    #expect(try encoded(.relu) == #""relu""#)
    #expect(try encoded(.leakyRelu(alpha: 0.3)) == #""leaky_relu""#)
    #expect(try encoded(.leakyRelu(alpha: 0.1)) == #"{"alpha":0.1,"name":"leaky_relu"}"#)
    #expect(try encoded(.elu(alpha: 1)) == #""elu""#)
    #expect(try encoded(.elu(alpha: 0.5)) == #"{"alpha":0.5,"name":"elu"}"#)
    #expect(try encoded(.thresholdedRelu(theta: 2)) == #"{"name":"thresholded_relu","theta":2}"#)
    #expect(.leakyRelu(alpha: 0.2) != ActivationFunction.leakyRelu(alpha: 0.3))
    #expect("\(ActivationFunction.leakyRelu(alpha: 0.25))" == "leaky_relu(alpha: 0.25)")
  }

  @Test func oldJSONFormsDecodeToTheSameValues() throws {
    let cases: [(String, ActivationFunction)] = [
      (#""linear""#, .linear), (#""identity""#, .linear), (#""none""#, .linear),
      (#""sigmoid""#, .sigmoid), (#""tanh""#, .tanh), (#""relu""#, .relu),
      (#""leaky_relu""#, .leakyRelu(alpha: 0.3)), (#""leakyrelu""#, .leakyRelu(alpha: 0.3)),
      (#"{"name": "leaky_relu", "alpha": 0.2}"#, .leakyRelu(alpha: 0.2)),
      (#"{"alpha": 0.1, "name": "leaky_relu"}"#, .leakyRelu(alpha: 0.1)),
      (#""elu""#, .elu(alpha: 1)), (#"{"name": "elu", "alpha": 0.5}"#, .elu(alpha: 0.5)),
      (#""gelu""#, .gelu), (#""softplus""#, .softplus), (#""softmax""#, .softmax),
      (#""step""#, .step), (#""heaviside""#, .step), (#"{"name": "relu"}"#, .relu),
      (#""swish""#, .silu), (#""silu""#, .swish),
    ]
    for (json, expected) in cases {
      let decoded = try JSONDecoder().decode(ActivationFunction.self, from: Data(json.utf8))
      #expect(decoded == expected, "\(json)")
    }
    #expect(try ActivationFunction(name: "leaky_relu", alpha: 0.2) == .leakyRelu(alpha: 0.2))
    #expect(try ActivationFunction(name: "elu") == .elu(alpha: 1))
    #expect(try ActivationFunction(name: "relu") == .relu)
  }

  @Test func activationLayerConfigsDecodeThroughTheLayerRegistry() throws {
    try registerExampleActivations()
    let configs: [(JSONValue, ActivationFunction)] = [
      (.string("relu"), .relu),
      (.object(["name": .string("leaky_relu"), "alpha": .number(0.2)]), .leakyRelu(alpha: 0.2)),
      (.string("thresholded_relu"), .thresholdedRelu()),
      (
        .object(["name": .string("com.example.scaled_square"), "scale": .number(2.5)]),
        ActivationFunction(ScaledSquare(scale: 2.5))
      ),
      (.string("com.example.row_centering"), ActivationFunction(RowCentering())),
    ]
    for (activation, expected) in configs {
      let description = LayerDescription(
        type: "plexus.activation", name: "activation_1",
        config: .object(["activation": activation]))
      let layer = try LayerRegistry().makeLayer(from: description)
      #expect((layer as? Activation)?.config.activation == expected)
      #expect(try LayerDescription(layer).config == description.config)
    }
  }

  @Test func invalidConfigsAreErrorsThatSayWhy() throws {
    func decodingError(_ json: String) -> String? {
      do {
        _ = try JSONDecoder().decode(ActivationFunction.self, from: Data(json.utf8))
        return nil
      } catch {
        return "\(error)"
      }
    }
    let unknown = decodingError(#""swish2""#)
    #expect(unknown?.contains("unknown activation 'swish2'; expected one of") == true)
    for name in Self.firstPartyNames { #expect(unknown?.contains(name) == true, "\(name)") }
    #expect(
      decodingError(#"{"name": "relu", "alpha": 0.2}"#)?.contains("no parameter 'alpha'") == true)
    #expect(
      decodingError(#"{"name": "leaky_relu", "slope": 0.2}"#)?.contains(
        "no parameter 'slope'; its parameters are alpha") == true)
    #expect(decodingError(#"{"alpha": 0.2}"#) != nil)
    #expect(decodingError(#"{"name": "leaky_relu", "alpha": "big"}"#) != nil)
    #expect(decodingError("12") != nil)
    #expect(decodingError(#"{"name": "leaky_relu", "alpha": 1e300}"#) != nil)

    // Inside a config, the error says where.
    let inLayer = LayerDescription(
      type: "plexus.activation", name: "a", config: .object(["activation": .string("swish2")]))
    #expect {
      try LayerRegistry().makeLayer(from: inLayer)
    } throws: { error in
      "\(error)".contains("unknown activation 'swish2'") && "\(error)".contains("at .activation")
    }

    #expect {
      try ActivationFunction(name: "swish2")
    } throws: { error in
      let text = "\(error)"
      return text.contains("expected one of")
        && Self.firstPartyNames.allSatisfy { text.contains($0) }
    }
    #expect(throws: PlexusError.self) { try ActivationFunction(name: "relu", alpha: 0.1) }
    #expect(throws: PlexusError.self) {
      try ActivationFunction(name: "leaky_relu", parameters: ["alpha": .nan])
    }
    #expect(throws: PlexusError.self) {
      try ActivationFunction(name: "elu", parameters: ["alpha": .infinity])
    }
    // A namespaced unknown name says how to register it.
    #expect {
      try ActivationFunction(name: "com.example.unregistered")
    } throws: { error in
      "\(error)".contains("ActivationRegistry.shared.register")
    }
  }

  @Test func thirdPartyActivationsWorkThroughJSONApplyAndGradients() throws {
    try registerExampleActivations()
    #expect(ActivationRegistry.shared.module(of: ScaledSquare.name) == "ExampleActivations")
    #expect(ActivationFunction.allNames.contains("com.example.scaled_square"))

    // JSON: the bare name with defaults, an object otherwise; values decode to equal functions.
    let square = try ActivationFunction(name: "com.example.scaled_square", parameters: [:])
    #expect(square == ActivationFunction(ScaledSquare(scale: 1)))
    #expect(
      String(decoding: try JSONEncoder().encode(square), as: UTF8.self)
        == #""com.example.scaled_square""#)
    let scaled = try JSONDecoder().decode(
      ActivationFunction.self,
      from: Data(#"{"name": "com.example.scaled_square", "scale": 3}"#.utf8))
    #expect(scaled == ActivationFunction(ScaledSquare(scale: 3)))
    #expect(
      try JSONDecoder().decode(ActivationFunction.self, from: JSONEncoder().encode(scaled))
        == scaled)
    #expect(throws: PlexusError.self) {
      try ActivationFunction(name: "com.example.scaled_square", parameters: ["scale": -1])
    }

    // Apply.
    #expect(scaled.apply(Tensor([-2, 0, 0.5])).scalars == [12, 0, 0.75])
    let centered = ActivationFunction(RowCentering()).apply(
      try Tensor(shape: [2, 3], scalars: [1, 2, 3, 10, 10, 40]))
    #expect(centered.scalars == [-1, 0, 1, -10, -10, 20])
    #expect(!ActivationFunction(RowCentering()).derivativeNeedsInput)

    // Gradients, with a batch and several rows per sample.
    for function in [scaled, ActivationFunction(RowCentering())] {
      let layer = Activation(function, name: "custom")
      let report = try GradientCheck.check(layer: layer, batchInputShape: [3, 2, 4])
      #expect(report.maximumError < 1e-2, "\(function): \(report)")
    }

    // A whole model with the custom activation through its JSON description.
    let model = Sequential([Activation(scaled), Activation(.logSoftmax)])
    try model.build(inputShape: [4], seed: 1)
    let json = try JSONEncoder().encode(model.config)
    let copy = try Sequential(
      config: JSONDecoder().decode(Sequential.Config.self, from: json), registry: LayerRegistry())
    try copy.build(inputShape: [4])
    let input = try Tensor(shape: [2, 4], scalars: [0.1, -0.4, 1, 2, -3, 0.5, 0.25, 1.5])
    #expect(try copy.predict(input) == model.predict(input))
  }

  @Test func aDecoderCanUseItsOwnRegistry() throws {
    struct Cube: ElementwiseActivationKernel {
      static let name = "org.example.private_cube"
      init(parameters: [String: Float]) {}
      func value(_ x: Float) -> Float { x * x * x }
      func derivative(at x: Float, output y: Float) -> Float { 3 * x * x }
    }
    let registry = ActivationRegistry()
    try registry.register(Cube.self, module: "Private")
    let json = Data(#""org.example.private_cube""#.utf8)
    let decoder = JSONDecoder()
    decoder.userInfo[ActivationRegistry.userInfoKey] = registry
    #expect(
      try decoder.decode(ActivationFunction.self, from: json)
        == ActivationFunction(Cube(parameters: [:])))
    #expect(throws: PlexusError.self) {
      try JSONDecoder().decode(ActivationFunction.self, from: json)
    }
    #expect(!ActivationRegistry.shared.contains(Cube.name))
  }

  @Test func registrationRulesAreEnforced() throws {
    struct Bare: ElementwiseActivationKernel {
      static let name = "square"
      init(parameters: [String: Float]) {}
      func value(_ x: Float) -> Float { x * x }
      func derivative(at x: Float, output y: Float) -> Float { 2 * x }
    }
    struct Impostor: ElementwiseActivationKernel {
      static let name = "com.example.scaled_square"
      init(parameters: [String: Float]) {}
      func value(_ x: Float) -> Float { x }
      func derivative(at x: Float, output y: Float) -> Float { 1 }
    }
    struct ReservedKey: ElementwiseActivationKernel {
      static let name = "com.example.reserved_key"
      static let defaultParameters: [String: Float] = ["name": 1]
      init(parameters: [String: Float]) {}
      var parameters: [String: Float] { ["name": 1] }
      func value(_ x: Float) -> Float { x }
      func derivative(at x: Float, output y: Float) -> Float { 1 }
    }
    struct RejectsDefaults: ElementwiseActivationKernel {
      static let name = "com.example.rejects_defaults"
      static let defaultParameters: [String: Float] = ["gain": 0]
      let gain: Float
      init(parameters: [String: Float]) throws {
        gain = try Self.parameter("gain", in: parameters)
        guard gain != 0 else { throw PlexusError.invalidConfiguration("gain must not be zero") }
      }
      var parameters: [String: Float] { ["gain": gain] }
      func value(_ x: Float) -> Float { gain * x }
      func derivative(at x: Float, output y: Float) -> Float { gain }
    }
    struct ForgetsParameters: ElementwiseActivationKernel {
      static let name = "com.example.forgets_parameters"
      static let defaultParameters: [String: Float] = ["gain": 1]
      init(parameters: [String: Float]) {}
      func value(_ x: Float) -> Float { x }
      func derivative(at x: Float, output y: Float) -> Float { 1 }
    }

    let registry = ActivationRegistry()
    #expect {
      try registry.register(Bare.self, module: "Example")
    } throws: { "\($0)".contains("must be namespaced, such as 'com.example.square'") }
    try registry.register(ScaledSquare.self, module: "ExampleActivations")
    try registry.register(ScaledSquare.self, module: "ExampleActivations")
    #expect {
      try registry.register(Impostor.self, module: "Other")
    } throws: { "\($0)".contains("already registered by module ExampleActivations") }
    #expect(throws: PlexusError.self) { try registry.register(ReservedKey.self, module: "E") }
    #expect(throws: PlexusError.self) { try registry.register(RejectsDefaults.self, module: "E") }
    #expect(throws: PlexusError.self) {
      try registry.register(ForgetsParameters.self, module: "E")
    }
    #expect(
      registry.names.filter { $0.hasPrefix("com.example.") } == ["com.example.scaled_square"])
  }

  @Test func concurrentRegistrationAndLookupAreSafe() throws {
    let registry = ActivationRegistry()
    let results = Mutex<(probe: Int, impostor: Int, failures: [String])>((0, 0, []))
    DispatchQueue.concurrentPerform(iterations: 400) { iteration in
      do {
        switch iteration % 10 {
        case 0: try registry.register(Probe<Tag0>.self, module: "Probes")
        case 1: try registry.register(Probe<Tag1>.self, module: "Probes")
        case 2: try registry.register(Probe<Tag2>.self, module: "Probes")
        case 3: try registry.register(Probe<Tag3>.self, module: "Probes")
        case 4: try registry.register(ProbeImpostor.self, module: "Impostors")
        case 5:
          _ = try registry.makeFunction(name: "leaky_relu", parameters: ["alpha": 0.1])
          _ = try ActivationRegistry.shared.makeFunction(name: "relu")
        case 6: _ = registry.names
        case 7:
          // Decoding through the shared registry while another registry changes.
          _ = try JSONDecoder().decode(ActivationFunction.self, from: Data(#""gelu""#.utf8))
        case 8: _ = registry.contains("com.example.probe1")
        default: _ = registry.module(of: "com.example.probe2")
        }
        if iteration % 10 == 0 { results.withLock { $0.probe += 1 } }
        if iteration % 10 == 4 { results.withLock { $0.impostor += 1 } }
      } catch {
        let text = "\(error)"
        results.withLock { $0.failures.append(text) }
      }
    }
    let (probe, impostor, failures) = results.withLock { $0 }
    // Probe<Tag0> and the impostor race for one name: one wins every attempt, the other none.
    #expect((probe, impostor) == (40, 0) || (probe, impostor) == (0, 40), "\(probe), \(impostor)")
    #expect(failures.count == 40)
    #expect(failures.allSatisfy { $0.contains("com.example.probe0' is already registered") })
    for index in 0..<4 { #expect(registry.contains("com.example.probe\(index)")) }
    let winner = try registry.makeFunction(name: "com.example.probe0").apply(Tensor([1]))
    #expect(winner.scalars == [probe == 40 ? 1 : 101])
    #expect(try registry.makeFunction(name: "com.example.probe3").apply(Tensor([1])).scalars == [4])
  }
}

// MARK: Probe kernels for the concurrency test

protocol ProbeTag: Sendable { static var index: Int { get } }
enum Tag0: ProbeTag { static let index = 0 }
enum Tag1: ProbeTag { static let index = 1 }
enum Tag2: ProbeTag { static let index = 2 }
enum Tag3: ProbeTag { static let index = 3 }

/// `x + index`, one registered name per tag.
struct Probe<Tag: ProbeTag>: ElementwiseActivationKernel {
  static var name: String { "com.example.probe\(Tag.index)" }
  init(parameters: [String: Float]) {}
  var derivativeNeedsInput: Bool { false }
  func value(_ x: Float) -> Float { x + Float(Tag.index) }
  func derivative(at x: Float, output y: Float) -> Float { 1 }
}

/// `x + 100` under probe 0's name.
struct ProbeImpostor: ElementwiseActivationKernel {
  static let name = "com.example.probe0"
  init(parameters: [String: Float]) {}
  var derivativeNeedsInput: Bool { false }
  func value(_ x: Float) -> Float { x + 100 }
  func derivative(at x: Float, output y: Float) -> Float { 1 }
}
