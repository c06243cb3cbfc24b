import Foundation
import PlexusCore

/// A failed harness check, with what was checked and what was found.
public struct HarnessFailure: Error, CustomStringConvertible {
  /// What failed.
  public let message: String
  public var description: String { message }
}

/// One input configuration of a layer test: the per-sample shapes of the layer's inputs and,
/// when known, the per-sample output shapes the layer must produce.
public struct LayerShapeCase: Sendable {
  /// The per-sample shape of each input.
  public var inputs: [[Int]]
  /// The expected per-sample output shapes (`nil`: not checked).
  public var outputs: [[Int]]?

  /// A case for a single-input layer.
  public init(_ input: [Int], output: [Int]? = nil) {
    self.inputs = [input]
    self.outputs = output.map { [$0] }
  }

  /// A case for a layer with several inputs or outputs.
  public init(inputs: [[Int]], outputs: [[Int]]? = nil) {
    self.inputs = inputs
    self.outputs = outputs
  }
}

/// The test of one layer type, as Keras's `run_layer_test`: what to build and which checks to
/// run.
public struct LayerTest {
  /// Creates a fresh, unbuilt layer (called once per check).
  public var make: () throws -> any Layer
  /// The registry that knows the layer's type (for the config and file round trips).
  public var registry: LayerRegistry
  /// Input shapes the layer accepts, with their expected outputs. The first one is used for
  /// the gradient, file and training checks.
  public var shapes: [LayerShapeCase]
  /// Per-sample input shapes the layer must reject when it is built.
  public var badShapes: [[[Int]]]
  /// The batch size of the checks (more than one sample).
  public var batch = 3
  /// The mode of the gradient check (training for most layers; inference for layers that are
  /// random in training, such as dropout).
  public var gradientCheckTraining = true
  /// The largest relative error accepted by the gradient check.
  public var gradientTolerance: Double = 1e-2
  /// The finite-difference step.
  public var epsilon: Float = 1e-3
  /// Makes the inputs of a batch (default: standard normal values).
  public var makeInputs: ((_ shapes: [[Int]], _ generator: inout SeededGenerator) -> [Tensor])?
  /// Whether the layer has parameters that a few training steps must improve.
  public var checksTraining = true
  /// Whether the gradient check compares input gradients (false for discrete inputs, such as
  /// an embedding's ids, that a finite difference would make invalid).
  public var checksInputGradients = true

  /// Creates a layer test.
  public init(
    registry: LayerRegistry, shapes: [LayerShapeCase], badShapes: [[[Int]]] = [],
    make: @escaping () throws -> any Layer
  ) {
    self.registry = registry
    self.shapes = shapes
    self.badShapes = badShapes
    self.make = make
  }
}

/// Checks shared by every layer's tests: output shapes for several inputs, finite-difference
/// gradients of inputs and every parameter with a batch of several samples, the config JSON
/// round trip, the `.plexus` round trip under every codec, a few training steps that lower a
/// loss, and bad shapes rejected.
public enum LayerHarness {
  /// Runs every check of `test`; throws a `HarnessFailure` naming the first check that fails.
  public static func run(_ test: LayerTest) throws {
    guard let primary = test.shapes.first else {
      throw HarnessFailure(message: "a layer test needs at least one shape case")
    }
    try checkShapes(test)
    try checkBadShapes(test)
    try checkGradients(test, shapes: primary)
    _ = try roundTripConfig(of: test.make(), registry: test.registry)
    try checkFileRoundTrip(test, shapes: primary)
    if test.checksTraining { try checkTraining(test, shapes: primary) }
  }

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
      throw HarnessFailure(message: "config changed in a round trip: \(description) vs \(again)")
    }
    return recreated
  }

  /// Checks how a layer type decodes its JSON config through `registry`:
  /// - `minimal` (a JSON object of exactly the required keys) decodes to `defaults`, and
  ///   leaving out any of its keys is refused as a missing key;
  /// - `full` (every key set, each optional key to a value other than its default) encodes
  ///   every key, each of them alone changes the decoded config, and it decodes back equal;
  /// - `typo` (a JSON object of one misspelt key with a value valid for the key it stands
  ///   for) added to `minimal` is refused with "config of layer type '<type>': unknown key
  ///   '<key>'" and, when `suggestion` is given, "(did you mean '<suggestion>'?)" (and that
  ///   key with the same value is accepted); without, no suggestion.
  ///
  /// - Returns: the message of the refused typo.
  @discardableResult
  public static func checkConfigDecoding<L: Layer>(
    _ layerType: L.Type, registry: LayerRegistry, minimal: String, defaults: L.Config,
    full: L.Config, typo: String, suggestion: String?
  ) throws -> String where L.Config: DefaultedConfiguration {
    let type = L.typeName
    func object(_ text: String) throws -> [String: JSONValue] {
      guard
        case .object(let members) = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
      else { throw HarnessFailure(message: "\(type): \(text) is not a JSON object") }
      return members
    }
    func make(_ members: [String: JSONValue]) throws -> L.Config {
      let layer = try registry.makeLayer(
        from: LayerDescription(type: type, name: "probe", config: .object(members)))
      guard let typed = layer as? L else {
        throw HarnessFailure(message: "\(type) made a \(Swift.type(of: layer)), not a \(L.self)")
      }
      return typed.config
    }
    func refusal(_ members: [String: JSONValue]) throws -> String {
      do {
        _ = try make(members)
      } catch PlexusError.invalidConfiguration(let message) {
        return message
      }
      throw HarnessFailure(message: "\(type) accepted the config \(JSONValue.object(members))")
    }

    let minimalMembers = try object(minimal)
    let required = L.Config.fields.filter(\.isRequired).map(\.key)
    guard Set(minimalMembers.keys) == Set(required) else {
      throw HarnessFailure(
        message: "\(type): the minimal config has \(minimalMembers.keys.sorted()), "
          + "the required keys are \(required.sorted())")
    }
    let decoded = try make(minimalMembers)
    guard decoded == defaults else {
      throw HarnessFailure(message: "\(type): \(minimal) decodes to \(decoded), not \(defaults)")
    }
    for key in required {
      let message = try refusal(minimalMembers.filter { $0.key != key })
      guard message.hasPrefix("config of layer type '\(type)': missing key '\(key)'") else {
        throw HarnessFailure(message: "\(type) without '\(key)': \(message)")
      }
    }

    guard case .object(let fullMembers) = try JSONValue(encoding: full),
      Set(fullMembers.keys) == Set(L.Config.keys)
    else {
      throw HarnessFailure(message: "\(type): the full config \(full) does not set every key")
    }
    for (key, value) in fullMembers where !required.contains(key) {
      var members = minimalMembers
      members[key] = value
      guard try make(members) != defaults else {
        throw HarnessFailure(message: "\(type): '\(key)': \(value) leaves the defaults unchanged")
      }
    }
    let again = try make(fullMembers)
    guard again == full else {
      throw HarnessFailure(message: "\(type): \(full) decodes back as \(again)")
    }

    let typoMembers = try object(typo)
    guard typoMembers.count == 1, let (key, value) = typoMembers.first,
      !L.Config.keys.contains(key)
    else {
      throw HarnessFailure(message: "\(type): \(typo) is not one unknown key")
    }
    let message = try refusal(minimalMembers.merging(typoMembers) { $1 })
    let hint = suggestion.map { " (did you mean '\($0)'?)" } ?? ""
    guard message.hasPrefix("config of layer type '\(type)': unknown key '\(key)'\(hint);"),
      suggestion != nil || !message.contains("did you mean")
    else {
      throw HarnessFailure(message: "\(type): \(typo) refused as: \(message)")
    }
    if let suggestion {
      var corrected = minimalMembers
      corrected[suggestion] = value
      _ = try make(corrected)
    }
    return message
  }

  static func inputs(_ test: LayerTest, shapes: [[Int]], seed: UInt64) -> [Tensor] {
    var generator = SeededGenerator(seed: seed)
    let batchShapes = shapes.map { [test.batch] + $0 }
    if let makeInputs = test.makeInputs { return makeInputs(batchShapes, &generator) }
    return batchShapes.map { Tensor.normal($0, using: &generator) }
  }

  static func buildModel(_ test: LayerTest, shapes: LayerShapeCase, seed: UInt64) throws -> (
    Model, any Layer
  ) {
    let layer = try test.make()
    let inputs = try shapes.inputs.enumerated().map {
      try Input(shape: $1, name: "input_\($0 + 1)")
    }
    let outputs = try layer.call(inputs)
    return (try Model(inputs: inputs, outputs: outputs, seed: seed), layer)
  }

  static func checkShapes(_ test: LayerTest) throws {
    for shapes in test.shapes {
      let (model, layer) = try buildModel(test, shapes: shapes, seed: 3)
      let outputs = try model.predict(inputs(test, shapes: shapes.inputs, seed: 5))
      let found = outputs.map { Array($0.shape.dropFirst()) }
      if let expected = shapes.outputs, expected != found {
        throw HarnessFailure(
          message: "\(layer.typeName) on \(shapes.inputs): outputs \(found), expected \(expected)")
      }
      for output in outputs where output.shape.first != test.batch {
        throw HarnessFailure(
          message: "\(layer.typeName): output \(output.shape) lost the batch of \(test.batch)")
      }
      let symbolic = layer.state.outputShapes ?? []
      guard symbolic.count == found.count,
        zip(symbolic, found).allSatisfy({ ShapeCheck.accepts($0, sample: $1[...]) })
      else {
        throw HarnessFailure(
          message: "\(layer.typeName): built output shapes \(symbolic) but computed \(found)")
      }
    }
  }

  static func checkBadShapes(_ test: LayerTest) throws {
    for shapes in test.badShapes {
      let layer = try test.make()
      do {
        try layer.ensureBuilt(inputShapes: shapes.map { $0.map { $0 } })
      } catch is PlexusError {
        continue
      }
      throw HarnessFailure(message: "\(layer.typeName) accepted the bad input shapes \(shapes)")
    }
  }

  static func checkGradients(_ test: LayerTest, shapes: LayerShapeCase) throws {
    let (_, layer) = try buildModel(test, shapes: shapes, seed: 11)
    let report = try GradientCheck.check(
      layer: layer, inputs: inputs(test, shapes: shapes.inputs, seed: 13),
      training: test.gradientCheckTraining, epsilon: test.epsilon,
      checkingInputs: test.checksInputGradients)
    guard report.maximumError < test.gradientTolerance else {
      throw HarnessFailure(message: "\(layer.typeName): gradient check failed: \(report)")
    }
    let trainable = layer.trainableParameters.count
    guard
      report.parameterErrors.count
        == Set(layer.trainableParameters.map(ObjectIdentifier.init)).count
    else {
      throw HarnessFailure(
        message:
          "\(layer.typeName): \(trainable) trainable parameters but \(report.parameterErrors.count) checked"
      )
    }
  }

  static func checkFileRoundTrip(_ test: LayerTest, shapes: LayerShapeCase) throws {
    let (model, layer) = try buildModel(test, shapes: shapes, seed: 17)
    let batch = inputs(test, shapes: shapes.inputs, seed: 19)
    let expected = try model.predict(batch)
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
      "plexus-harness-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    for codec in TensorCodec.allCases {
      let url = folder.appendingPathComponent("\(codec.rawValue).plexus")
      try model.save(to: url, options: SaveOptions(codec: codec))
      let loaded = try loadModel(from: url, registry: test.registry)
      let found = try loaded.predict(batch)
      guard found.map(\.scalars) == expected.map(\.scalars) else {
        throw HarnessFailure(
          message: "\(layer.typeName): predictions differ after a \(codec.rawValue) round trip")
      }
      let before = model.namedParameters.map { ($0.path, $0.parameter.value.scalars) }
      let after = loaded.namedParameters.map { ($0.path, $0.parameter.value.scalars) }
      guard before.map(\.0) == after.map(\.0), before.map(\.1) == after.map(\.1) else {
        throw HarnessFailure(
          message: "\(layer.typeName): parameters differ after a \(codec.rawValue) round trip")
      }
    }
  }

  static func checkTraining(_ test: LayerTest, shapes: LayerShapeCase) throws {
    let (model, layer) = try buildModel(test, shapes: shapes, seed: 23)
    guard !layer.trainableParameters.isEmpty else { return }
    let batch = inputs(test, shapes: shapes.inputs, seed: 29)
    let outputs = try model.predict(batch)
    var generator = SeededGenerator(seed: 31)
    let targets = outputs.map { Tensor.normal($0.shape, using: &generator) }
    let losses = outputs.map { _ in OutputLoss(MeanSquaredError()) }
    let before = try model.evaluate(inputs: batch, targets: targets, losses: losses)["loss"] ?? 0
    try model.fit(
      inputs: batch, targets: targets, losses: losses, optimizer: Adam(learningRate: 0.01),
      options: TrainingOptions(epochs: 5, batchSize: test.batch, shuffle: false))
    let after = try model.evaluate(inputs: batch, targets: targets, losses: losses)["loss"] ?? 0
    guard after < before else {
      throw HarnessFailure(
        message:
          "\(layer.typeName): five training steps did not lower the loss (\(before) -> \(after))"
      )
    }
  }
}
