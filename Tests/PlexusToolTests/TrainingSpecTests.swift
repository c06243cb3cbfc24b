import Foundation
import Plexus
import PlexusCommands
import Testing

private let base = URL(fileURLWithPath: "/data/specs", isDirectory: true)

private func decode(_ json: String) throws -> TrainingSpec {
  try TrainingSpec.decode(Data(json.utf8), baseDirectory: base)
}

/// Decodes `json` and returns the spec error it throws.
private func specError(_ json: String) -> SpecError? {
  do {
    _ = try decode(json)
    return nil
  } catch {
    return error as? SpecError
  }
}

private let minimalLayers = #"[{"type": "plexus.dense", "config": {"units": 3}}]"#

@Suite struct TrainingSpecTests {
  @Test func graphSpecErrorsNameTheLayer() throws {
    let spec = try decode(
      #"""
      {"inputShape": [4], "layers": [
        {"type": "plexus.dense", "name": "a", "config": {"units": 3}},
        {"type": "plexus.add", "name": "sum", "inputs": ["a", "input"]}],
       "loss": "mse", "optimizer": "sgd", "data": {"source": "digits"}}
      """#)
    #expect {
      try spec.buildModel(registry: .standard(), inputShape: [4])
    } throws: { error in
      (error as? SpecError)?.path == "$.layers[1]" && "\(error)".contains("sum")
    }
    #expect(throws: SpecError.self) {
      try decode(
        #"""
        {"layers": [{"type": "plexus.add", "name": "sum", "inputs": ["nowhere"]}],
         "loss": "mse", "optimizer": "sgd", "data": {"source": "digits"}}
        """#)
    }
  }

  @Test func decodesAFullSpec() throws {
    let spec = try decode(
      #"""
      {
        "name": "digits-mlp",
        "inputShape": [64],
        "layers": [
          {"type": "plexus.dense", "name": "hidden_1", "config": {"units": 128, "activation": "relu"}},
          {"type": "plexus.dropout", "config": {"rate": 0.1}},
          {"type": "plexus.dense", "config": {"units": 10}}
        ],
        "loss": "softmax_cross_entropy",
        "optimizer": {"type": "adam", "learningRate": 0.001},
        "epochs": 20, "batchSize": 64, "seed": 7, "validationSplit": 0.1, "shuffle": false,
        "data": {"source": "digits"}
      }
      """#)
    #expect(spec.name == "digits-mlp")
    #expect(spec.inputShape == [64])
    #expect(spec.layers.map(\.type) == ["plexus.dense", "plexus.dropout", "plexus.dense"])
    #expect(spec.layers.map(\.name) == ["hidden_1", "", ""])
    #expect(
      spec.layers[0].config == .object(["units": .number(128), "activation": .string("relu")]))
    #expect(spec.loss == ComponentSpec(type: "softmax_cross_entropy", path: "$.loss"))
    #expect(
      spec.optimizer
        == ComponentSpec(
          type: "adam", parameters: ["learningRate": .number(0.001)], path: "$.optimizer"))
    #expect(spec.epochs == 20)
    #expect(spec.batchSize == 64)
    #expect(spec.seed == 7)
    #expect(spec.validationSplit == 0.1)
    #expect(spec.shuffle == false)
    #expect(spec.data == .digits)

    let model = try spec.buildModel(registry: .standard(), inputShape: [64])
    #expect(model.name == "digits-mlp")
    #expect(model.sublayers.map(\.name) == ["hidden_1", "dropout_1", "dense_1"])
    #expect(model.outputSpecs.first?.shape == [10])
  }

  @Test func appliesDefaults() throws {
    let spec = try decode(
      #"{"layers": \#(minimalLayers), "loss": "mse", "optimizer": "sgd", "data": {"source": "digits"}}"#
    )
    #expect(spec.name == nil)
    #expect(spec.inputShape == nil)
    #expect(spec.epochs == 10)
    #expect(spec.batchSize == 32)
    #expect(spec.seed == 0)
    #expect(spec.validationSplit == 0)
    #expect(spec.shuffle)
    #expect(spec.layers[0].config == .object(["units": .number(3)]))
  }

  @Test func resolvesDataPathsAgainstTheSpecFolder() throws {
    let npy = try decode(
      #"""
      {"layers": \#(minimalLayers), "loss": "mse", "optimizer": "sgd",
       "data": {"source": "npy", "features": "x.npy", "labels": "../y.npy", "testFraction": 0.25}}
      """#)
    #expect(
      npy.data
        == .npy(
          .init(
            features: URL(fileURLWithPath: "/data/specs/x.npy"),
            labels: URL(fileURLWithPath: "/data/y.npy"),
            testFraction: 0.25)))
    let csv = try decode(
      #"""
      {"layers": \#(minimalLayers), "loss": "mse", "optimizer": "sgd",
       "data": {"source": "csv", "path": "/abs/iris.csv", "labelColumn": "species", "delimiter": ";",
                "testPath": "sub/test.csv"}}
      """#)
    #expect(
      csv.data
        == .csv(
          .init(
            path: URL(fileURLWithPath: "/abs/iris.csv"), labelColumn: .named("species"),
            delimiter: ";",
            testPath: URL(fileURLWithPath: "/data/specs/sub/test.csv"))))
    let indexed = try decode(
      #"""
      {"layers": \#(minimalLayers), "loss": "mse", "optimizer": "sgd",
       "data": {"source": "csv", "path": "a.csv", "labelColumn": -1, "header": false}}
      """#)
    guard case .csv(let source) = indexed.data else {
      Issue.record("expected a CSV source, got \(indexed.data)")
      return
    }
    #expect(source.labelColumn == .last)
    let defaults = try decode(
      #"{"layers": \#(minimalLayers), "loss": "mse", "optimizer": "sgd", "data": {"source": "csv", "path": "a.csv", "labelColumn": 2}}"#
    )
    #expect(
      defaults.data
        == .csv(.init(path: URL(fileURLWithPath: "/data/specs/a.csv"), labelColumn: .index(2))))
    guard case .csv(let defaultSource) = defaults.data else { return }
    #expect(defaultSource.hasHeader == nil)
    #expect(source.hasHeader == false)
  }

  @Test func malformedJSONIsReportedAtTheTop() throws {
    let error = try #require(specError(#"{"layers": [}"#))
    #expect(error.path == "$")
    #expect(error.message.hasPrefix("not valid JSON"))
  }

  @Test func missingKeysNameTheirPath() throws {
    #expect(
      specError(#"{"loss": "mse", "optimizer": "sgd", "data": {"source": "digits"}}"#)
        == SpecError(
          path: "$", message: "missing key 'layers' (expected an array of layer descriptions)"))
    #expect(
      specError(
        #"""
        {"layers": [{"type": "plexus.dense", "config": {"units": 3}}, {"config": {}}],
         "loss": "mse", "optimizer": "sgd", "data": {"source": "digits"}}
        """#)
        == SpecError(
          path: "$.layers[1]",
          message:
            "missing key 'type' (expected a registered layer type name such as 'plexus.dense')"))
    #expect(
      specError(
        #"{"layers": \#(minimalLayers), "loss": "mse", "optimizer": "sgd", "data": {"source": "npy", "features": "x.npy"}}"#
      )
        == SpecError(path: "$.data", message: "missing key 'labels' (expected a file path)"))
    #expect(
      specError(
        #"{"layers": \#(minimalLayers), "loss": "mse", "optimizer": {"learningRate": 1}, "data": {"source": "digits"}}"#
      )
        == SpecError(path: "$.optimizer", message: "missing key 'type' (expected a type name)"))
  }

  @Test func wrongTypesNameTheirPathAndTheExpectation() {
    let cases: [(String, SpecError)] = [
      (
        #""epochs": "ten""#,
        SpecError(
          path: "$.epochs",
          message: "expected a positive number of epochs, found a string (\"ten\")")
      ),
      (
        #""epochs": 0"#,
        SpecError(path: "$.epochs", message: "expected a positive number of epochs, found 0")
      ),
      (
        #""batchSize": 2.5"#,
        SpecError(
          path: "$.batchSize", message: "expected a positive batch size, found a number (2.5)")
      ),
      (
        #""seed": -1"#,
        SpecError(
          path: "$.seed", message: "expected a non-negative integer seed below 2^53, found -1")
      ),
      (
        #""shuffle": "yes""#,
        SpecError(path: "$.shuffle", message: "expected true or false, found a string (\"yes\")")
      ),
      (
        #""validationSplit": 1"#,
        SpecError(path: "$.validationSplit", message: "expected a fraction in [0, 1), found 1.0")
      ),
      (
        #""inputShape": [8, 0]"#,
        SpecError(path: "$.inputShape[1]", message: "expected a positive dimension, found 0")
      ),
      (
        #""inputShape": 64"#,
        SpecError(path: "$.inputShape", message: "expected an array, found a number (64)")
      ),
      (
        #""name": ["a"]"#,
        SpecError(path: "$.name", message: "expected a string, found an array of 1 element")
      ),
      (
        #""epoch": 3"#,
        SpecError(
          path: "$",
          message: "unknown key 'epoch' (did you mean 'epochs'?); expected one of "
            + "name, inputShape, layers, loss, optimizer, epochs, batchSize, seed, validationSplit, shuffle, data, target, pretraining, metrics, classWeights, earlyStopping, learningRateSchedule"
        )
      ),
    ]
    for (member, expected) in cases {
      let json =
        #"{"layers": \#(minimalLayers), "loss": "mse", "optimizer": "sgd", "data": {"source": "digits"}, \#(member)}"#
      #expect(specError(json) == expected, "\(member)")
    }
  }

  @Test func wrongTypesInsideLayersAndData() {
    #expect(
      specError(
        #"{"layers": [{"type": 5}], "loss": "mse", "optimizer": "sgd", "data": {"source": "digits"}}"#
      )
        == SpecError(path: "$.layers[0].type", message: "expected a string, found a number (5)"))
    #expect(
      specError(
        #"{"layers": [{"type": "plexus.dense", "config": [1]}], "loss": "mse", "optimizer": "sgd", "data": {"source": "digits"}}"#
      )
        == SpecError(
          path: "$.layers[0].config", message: "expected an object, found an array of 1 element"))
    #expect(
      specError(#"{"layers": [], "loss": "mse", "optimizer": "sgd", "data": {"source": "digits"}}"#)
        == SpecError(path: "$.layers", message: "expected at least one layer"))
    #expect(
      specError(
        #"{"layers": \#(minimalLayers), "loss": 3, "optimizer": "sgd", "data": {"source": "digits"}}"#
      )
        == SpecError(
          path: "$.loss",
          message: "expected a name or an object such as {\"type\": ..., ...}, found a number (3)"))
    #expect(
      specError(
        #"{"layers": \#(minimalLayers), "loss": "mse", "optimizer": "sgd", "data": {"source": "mnist"}}"#
      )
        == SpecError(
          path: "$.data.source",
          message: "unknown data source 'mnist'; expected one of digits, npy, csv, adding"))
    #expect(
      specError(
        #"{"layers": \#(minimalLayers), "loss": "mse", "optimizer": "sgd", "data": {"source": "npy", "features": "x", "labels": "y", "testLabels": "t"}}"#
      )
        == SpecError(
          path: "$.data", message: "give both 'testFeatures' and 'testLabels', or neither"))
    #expect(
      specError(
        #"{"layers": \#(minimalLayers), "loss": "mse", "optimizer": "sgd", "data": {"source": "csv", "path": "a.csv", "labelColumn": true}}"#
      )
        == SpecError(
          path: "$.data.labelColumn",
          message:
            "expected a column name, a zero-based index or -1 (the last), found a boolean (true)"))
    #expect(
      specError(
        #"{"layers": \#(minimalLayers), "loss": "mse", "optimizer": "sgd", "data": {"source": "csv", "path": "a.csv", "labelColumn": -2}}"#
      )
        == SpecError(
          path: "$.data.labelColumn",
          message: "expected a column name, a zero-based index or -1 (the last), found -2"))
    #expect(
      specError(
        #"""
        {"layers": [{"type": "plexus.dense", "name": "a", "config": {"units": 2}},
                    {"type": "plexus.dense", "name": "a", "config": {"units": 2}}],
         "loss": "mse", "optimizer": "sgd", "data": {"source": "digits"}}
        """#)
        == SpecError(
          path: "$.layers[1].name", message: "layer name 'a' is already used by $.layers[0]"))
  }

  @Test func unknownLayerTypeNamesTheModuleThatProvidesIt() throws {
    let spec = try decode(
      #"""
      {"layers": [{"type": "plexus.dense", "config": {"units": 4}}, {"type": "plexus.lstm", "config": {"units": 4}}],
       "loss": "mse", "optimizer": "sgd", "data": {"source": "digits"}}
      """#)
    let registry = LayerRegistry()
    PerceptronLayers.register(in: registry)
    do {
      _ = try spec.makeModel(registry: registry)
      Issue.record("an unregistered layer type was accepted")
    } catch let error as SpecError {
      #expect(error.path == "$.layers[1].type")
      #expect(error.message.contains("'plexus.lstm' is not registered"))
      // A bundled module provides it: the message names the module to import.
      #expect(error.message.contains("provided by module PlexusRecurrent"))
    }
    let thirdParty = try decode(
      #"{"layers": [{"type": "com.example.gated"}], "loss": "mse", "optimizer": "sgd", "data": {"source": "digits"}}"#
    )
    #expect(
      throws: SpecError(
        path: "$.layers[0].type",
        message: PlexusError.unknownLayerType(type: "com.example.gated", module: nil).description)
    ) {
      try thirdParty.makeModel(registry: registry)
    }
  }

  @Test func badLayerConfigsAndShapesNameTheLayer() throws {
    let missingUnits = try decode(
      #"{"layers": [{"type": "plexus.dense", "config": {"activation": "relu"}}], "loss": "mse", "optimizer": "sgd", "data": {"source": "digits"}}"#
    )
    do {
      _ = try missingUnits.makeModel(registry: .standard())
      Issue.record("a dense layer without units was accepted")
    } catch let error as SpecError {
      #expect(error.path == "$.layers[0].config")
      #expect(error.message.contains("missing key 'units'"))
    }
    let badActivation = try decode(
      #"{"layers": [{"type": "plexus.dense", "config": {"units": 2, "activation": "swish2"}}], "loss": "mse", "optimizer": "sgd", "data": {"source": "digits"}}"#
    )
    do {
      _ = try badActivation.makeModel(registry: .standard())
      Issue.record("an unknown activation was accepted")
    } catch let error as SpecError {
      #expect(error.path == "$.layers[0].config")
      #expect(error.message.contains("unknown activation 'swish2'"))
    }
    let misspeltKey = try decode(
      #"""
      {"layers": [{"type": "plexus.dense", "config": {"units": 8}},
                  {"type": "plexus.dense", "config": {"units": 2, "activaton": "relu"}}],
       "loss": "mse", "optimizer": "sgd", "data": {"source": "digits"}}
      """#)
    #expect(
      throws: SpecError(
        path: "$.layers[1].config",
        message: "invalid configuration: config of layer type 'plexus.dense': unknown key "
          + "'activaton' (did you mean 'activation'?); expected one of activation, "
          + "biasInitializer, biasRegularizer, kernelInitializer, kernelRegularizer, units, useBias"
      )
    ) {
      try misspeltKey.makeModel(registry: .standard())
    }
    let badShape = try decode(
      #"""
      {"inputShape": [8, 8], "layers": [{"type": "plexus.dense", "config": {"units": 2}}],
       "loss": "mse", "optimizer": "sgd", "data": {"source": "digits"}}
      """#)
    do {
      _ = try badShape.buildModel(registry: .standard(), inputShape: [8, 8])
      Issue.record("a rank-2 input to a dense layer was accepted")
    } catch let error as SpecError {
      #expect(error.path == "$.layers[0]")
      #expect(error.message.contains("dense_1"))
    }
  }

  @Test func fileErrorsNameTheFile() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
      "plexus-spec-\(UInt64.random(in: 0...UInt64.max))")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let file = folder.appendingPathComponent("broken.json")
    try Data(#"{"layers": 1}"#.utf8).write(to: file)
    do {
      _ = try TrainingSpec.load(contentsOf: file)
      Issue.record("a malformed spec file was accepted")
    } catch let error as SpecError {
      #expect(error.file == file.path)
      #expect(
        error.description == "\(file.path): at $.layers: expected an array, found a number (1)")
    }
    #expect(throws: PlexusError.self) {
      try TrainingSpec.load(contentsOf: folder.appendingPathComponent("missing.json"))
    }
  }
}
