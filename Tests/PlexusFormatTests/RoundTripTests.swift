import Foundation
import Plexus
import Testing

@Suite struct RoundTripTests {
  @Test func everyRegisteredLayerTypeHasASampleModel() {
    let registered = Set(LayerRegistry.standard().typeNames)
    let missing = registered.subtracting(SampleModels.byLayerType.keys).sorted()
    #expect(missing.isEmpty, "add a sample model to SampleModels.byLayerType for: \(missing)")
  }

  @Test(arguments: LayerRegistry.standard().typeNames)
  func layerTypeRoundTripsBitForBit(typeName: String) throws {
    let sample = try #require(SampleModels.byLayerType[typeName], "no sample model for \(typeName)")
    let model = try sample.built()
    let usedTypes = Self.layerTypes(of: model)
    #expect(
      usedTypes.contains(typeName), "the sample for \(typeName) does not use it: \(usedTypes)")
    let folder = try TemporaryFolder()
    for codec in TensorCodec.allCases {
      let url = folder.file("\(codec.rawValue).plexus")
      try model.save(to: url, options: SaveOptions(codec: codec))
      let loaded = try Sequential.load(from: url, registry: LayerRegistry.standard())
      #expect(loaded.config == model.config)
      let original = model.namedParameters
      let copies = loaded.namedParameters
      #expect(original.map(\.path) == copies.map(\.path))
      for (a, b) in zip(original, copies) {
        #expect(
          bitwiseEqual(a.parameter.value, b.parameter.value),
          "\(a.path) changed with codec \(codec)")
        #expect(a.parameter.isTrainable == b.parameter.isTrainable)
      }
      let input = sample.input()
      #expect(bitwiseEqual(try model.predict(input), try loaded.predict(input)))
    }
  }

  static func layerTypes(of layer: any Layer) -> Set<String> {
    var types: Set<String> = [layer.typeName]
    for child in layer.sublayers { types.formUnion(layerTypes(of: child)) }
    return types
  }

  @Test(arguments: [TensorDType.f16, .bf16, .int8])
  func narrowDTypesRoundWithinTheirPrecision(dtype: TensorDType) throws {
    let model = try SampleModels.dense.built()
    let folder = try TemporaryFolder()
    for codec in TensorCodec.allCases {
      let url = folder.file("m.plexus")
      try model.save(to: url, options: SaveOptions(codec: codec, dtype: dtype))
      let loaded = try Sequential.load(from: url, registry: LayerRegistry.standard())
      for (a, b) in zip(model.namedParameters, loaded.namedParameters) {
        let largest = a.parameter.value.withUnsafeBufferPointer { $0.map(abs).max() ?? 0 }
        let tolerance: Float =
          switch dtype {
          case .f16: largest * 1e-3
          case .bf16: largest * 4e-3
          case .int8: largest / 127 * 0.5001
          case .f32: 0
          }
        #expect(
          try a.parameter.value.maxAbsoluteDifference(to: b.parameter.value) <= tolerance,
          "\(a.path) \(dtype) \(codec)")
      }
      let entry = try #require(try PlexusFile(contentsOf: url).entry(named: "dense_1.kernel"))
      #expect(entry.dtype == dtype)
      #expect(entry.rawLength == UInt64(entry.elementCount * dtype.byteWidth))
    }
  }

  @Test func bfloat16AndHalfConversionsRoundToNearestEven() throws {
    // 1 + 2^-8 lies halfway between two bfloat16 values and rounds to 1 (even); 1 + 3 * 2^-9
    // rounds up. Half precision keeps 1 + 2^-10 exactly.
    let values: [Float] = [1 + 0x1p-8, 1 + 3 * 0x1p-9, 1 + 0x1p-10, -2.5, 65504, 0]
    let model = Sequential([try Dense(units: 1, useBias: false)])
    try model.build(inputShape: [6])
    try model.parameters[0].assign(try Tensor(shape: [6, 1], scalars: values))
    let folder = try TemporaryFolder()
    let url = folder.file("m.plexus")
    try model.save(to: url, options: SaveOptions(codec: .raw, dtype: .bf16))
    let bf16 = try PlexusFile(contentsOf: url).tensor(named: "dense_1.kernel").scalars
    let expectedBF16: [Float] = [1, 1 + 0x1p-7, 1, -2.5, 65536, 0]
    #expect(bf16 == expectedBF16)
    try model.save(to: url, options: SaveOptions(codec: .raw, dtype: .f16))
    let f16 = try PlexusFile(contentsOf: url).tensor(named: "dense_1.kernel").scalars
    let expectedF16: [Float] = [1 + 0x1p-8, 1 + 3 * 0x1p-9, 1 + 0x1p-10, -2.5, 65504, 0]
    #expect(f16 == expectedF16)
  }

  @Test func largeTensorsSpanManyBlocksAndLoadInParallel() throws {
    let model = Sequential([try Dense(units: 300)])
    try model.build(inputShape: [1000], seed: 3)
    let folder = try TemporaryFolder()
    let url = folder.file("m.plexus")
    try model.save(to: url, options: SaveOptions(blockSize: 64 << 10))
    let file = try PlexusFile(contentsOf: url)
    let entry = try #require(file.entry(named: "dense_1.kernel"))
    let blockSize = 64 << 10
    let expectedBlocks: Int = (1000 * 300 * 4 + blockSize - 1) / blockSize
    #expect(entry.blocks?.count == expectedBlocks)
    let loaded = try Sequential.load(from: file, registry: LayerRegistry.standard())
    #expect(bitwiseEqual(model.parameters[0].value, loaded.parameters[0].value))
    let serial = try file.tensors(threads: 1)
    #expect(bitwiseEqual(try #require(serial["dense_1.kernel"]), model.parameters[0].value))
    // Writes of half a megabyte and more bypass the writer's buffer: they must land after what
    // is buffered (the header and first chunks).
    for codec in TensorCodec.allCases {
      try model.save(
        to: url, options: SaveOptions(codec: codec, compressionLevel: 0, blockSize: 768 << 10))
      let copy = try Sequential.load(from: url, registry: LayerRegistry.standard())
      #expect(bitwiseEqual(model.parameters[0].value, copy.parameters[0].value), "\(codec)")
    }
  }

  @Test func threadCountsOutOfRangeAreRefused() throws {
    let model = Sequential([try Dense(units: 3)])
    try model.build(inputShape: [4], seed: 3)
    let folder = try TemporaryFolder()
    let url = folder.file("m.plexus")
    for threads in [0, -2, 1025] {
      #expect(throws: PlexusError.self) {
        try model.save(to: url, options: SaveOptions(threads: threads))
      }
    }
    #expect(!FileManager.default.fileExists(atPath: url.path))
    // The default thread count follows an override of Parallel.maximumThreads.
    #expect(try Parallel.maximumThreads.withValue(1) { SaveOptions().threads } == 1)
    try model.save(to: url, options: SaveOptions(threads: 1))
    let file = try PlexusFile(contentsOf: url)
    for threads in [0, -1, Int.max] {
      #expect(throws: PlexusError.self) { try file.tensors(threads: threads) }
    }
    #expect(try file.tensors(threads: 2).count == 2)
  }

  @Test func rawTensorsAreAlignedAndReadableInPlace() throws {
    let model = try SampleModels.dense.built()
    let folder = try TemporaryFolder()
    let url = folder.file("m.plexus")
    try model.save(to: url, options: SaveOptions(codec: .raw))
    let file = try PlexusFile(contentsOf: url)
    #expect(file.isMapped)
    for entry in file.tensors {
      #expect(entry.offset % 64 == 0)
      let expected = try #require(model.namedParameters.first { $0.path == entry.name }).parameter
        .value
      let inPlace = try file.withStoredBytes(of: entry.name) { bytes in
        #expect(Int(bitPattern: bytes.baseAddress) % 64 == 0)
        return Array(bytes.bindMemory(to: Float.self))
      }
      #expect(inPlace == expected.scalars)
    }
  }

  @Test func metadataAndOptimizerStateRoundTrip() throws {
    let model = try SampleModels.dense.built()
    let history: JSONValue = .object([
      "loss": .array([.number(0.9), .number(0.4)]), "epochs": .number(2),
    ])
    let metadata = ModelMetadata(
      created: "2026-01-02T03:04:05Z", description: "digits classifier",
      values: ["dataset": "digits"], history: history)
    var slots: [String: Tensor] = [:]
    for (index, parameter) in model.parameters.enumerated() {
      slots["\(index).m"] = parameter.value * 0.5
      slots["\(index).v"] = try parameter.value * parameter.value
    }
    let state = OptimizerState(
      typeName: "adam", config: .object(["learningRate": .number(0.001)]), step: 42, slots: slots)
    let folder = try TemporaryFolder()
    let url = folder.file("m.plexus")
    try model.save(
      to: url, options: SaveOptions(dtype: .f16, metadata: metadata, optimizerState: state))
    let file = try PlexusFile(contentsOf: url)
    #expect(file.metadata == metadata)
    let restored = try #require(try file.optimizerState())
    #expect(restored.typeName == "adam" && restored.step == 42 && restored.config == state.config)
    #expect(Set(restored.slots.keys) == Set(slots.keys))
    for (key, tensor) in slots {
      // Optimizer slots stay float32 even when the weights are stored narrower.
      #expect(bitwiseEqual(try #require(restored.slots[key]), tensor), "slot \(key)")
    }
    // The model loads without the optimizer tensors getting in the way.
    _ = try Sequential.load(from: file, registry: LayerRegistry.standard())
  }

  @Test func unregisteredLayerTypeNamesTheModuleToImport() throws {
    let model = try SampleModels.dense.built()
    let folder = try TemporaryFolder()
    let url = folder.file("m.plexus")
    try model.save(to: url)
    let registry = LayerRegistry()
    registry.addProviderHints(PerceptronLayers.typeNames, module: PerceptronLayers.module)
    #expect(throws: PlexusError.unknownLayerType(type: "plexus.dense", module: "PlexusPerceptron"))
    {
      try Sequential.load(from: url, registry: registry)
    }
    let message = PlexusError.unknownLayerType(type: "plexus.dense", module: "PlexusPerceptron")
      .description
    #expect(message.contains("import PlexusPerceptron"))
  }

  @Test func unbuiltModelIsNotSaved() throws {
    let folder = try TemporaryFolder()
    #expect(throws: PlexusError.self) {
      try Sequential([try Dense(units: 2)]).save(to: folder.file("m.plexus"))
    }
    #expect(!FileManager.default.fileExists(atPath: folder.file("m.plexus").path))
  }

  @Test func converterChangesCodecAndDTypeAndKeepsEverythingElse() throws {
    let model = try #require(SampleModels.byLayerType["plexus.sequential"]).built()
    let folder = try TemporaryFolder()
    let source = folder.file("in.plexus")
    let metadata = ModelMetadata(created: "2026-01-02T03:04:05Z", description: "nested")
    try model.save(to: source, options: SaveOptions(metadata: metadata))
    let raw = folder.file("raw.plexus")
    try PlexusConverter.convert(from: source, to: raw, codec: .raw)
    let rawFile = try PlexusFile(contentsOf: raw)
    #expect(rawFile.tensors.allSatisfy { $0.codec == .raw && $0.dtype == .f32 })
    #expect(rawFile.metadata == metadata)
    #expect(rawFile.architecture == (try PlexusFile(contentsOf: source)).architecture)
    let loaded = try Sequential.load(from: rawFile, registry: LayerRegistry.standard())
    for (a, b) in zip(model.parameters, loaded.parameters) {
      #expect(bitwiseEqual(a.value, b.value))
    }
    // In place, to f16 with deflate.
    try PlexusConverter.convert(from: raw, to: raw, codec: .deflate, dtype: .f16)
    let half = try PlexusFile(contentsOf: raw)
    #expect(half.tensors.allSatisfy { $0.codec == .deflate && $0.dtype == .f16 })
    #expect(half.verify().isEmpty)
  }

  @Test func inspectionDescribesTheFile() throws {
    let model = try #require(SampleModels.byLayerType["plexus.sequential"]).built()
    let folder = try TemporaryFolder()
    let url = folder.file("m.plexus")
    try model.save(to: url, options: SaveOptions(metadata: ModelMetadata(values: ["owner": "lab"])))
    let report = try PlexusInspection.inspect(url)
    #expect(report.problems.isEmpty)
    #expect(report.tensors.allSatisfy { $0.checksum == "ok" })
    #expect(
      report.layers.map(\.path) == [
        "sequential_1", "sequential_1.dense_1", "sequential_1.dense_2", "dense_1",
      ])
    #expect(report.parameterCount == model.parameterCount)
    #expect(report.inputShape == [5])
    let text = report.renderText()
    #expect(
      text.contains("sequential_1.dense_1") && text.contains("shuffle-deflate")
        && text.contains("owner: lab"))
    let json = try report.renderJSON()
    let decoded = try JSONDecoder().decode(PlexusInspection.self, from: Data(json.utf8))
    #expect(decoded == report)
  }
}
