import Foundation

/// What a `.plexus` file holds, for people (`renderText()`) and machines (`renderJSON()`): the
/// chunks, the architecture, the tensors with dtype, shape, codec and size, the metadata, the
/// optimizer state and the checksum status. `plexus inspect` prints it.
public struct PlexusInspection: Codable, Sendable, Equatable {
  /// A chunk of the file.
  public struct Chunk: Codable, Sendable, Equatable {
    /// The four-character type.
    public var type: String
    /// The absolute offset of its header.
    public var offset: UInt64
    /// The payload length.
    public var length: UInt64
    /// Whether it is marked critical.
    public var critical: Bool
    /// Whether this reader knows the type.
    public var known: Bool
  }

  /// A layer of the architecture (nested layers are listed after their container, with a path).
  public struct Layer: Codable, Sendable, Equatable {
    /// The layer's path (`dense_1`, `sequential_1.dense_1`).
    public var path: String
    /// The registered type name.
    public var type: String
    /// The number of parameter scalars stored for the layer.
    public var parameters: Int
    /// The layer's config.
    public var config: JSONValue
    /// For a layer of a graph model, the tensors each of its calls reads (`a`, `shared#2`),
    /// calls separated by `;`; absent in a sequential model.
    public var connections: String?
    /// `false` for a frozen layer; absent for a trainable one.
    public var trainable: Bool?
  }

  /// A tensor of the index.
  public struct Tensor: Codable, Sendable, Equatable {
    /// The name.
    public var name: String
    /// `model` or `optimizer`.
    public var group: String
    /// The storage dtype.
    public var dtype: TensorDType
    /// The shape.
    public var shape: [Int]
    /// The codec.
    public var codec: TensorCodec
    /// The stored bytes.
    public var storedBytes: UInt64
    /// The raw bytes in the storage dtype.
    public var rawBytes: UInt64
    /// The number of deflate blocks (0 for raw).
    public var blocks: Int
    /// The CRC-32 of the stored bytes, `0x` and eight hex digits.
    public var crc32: String
    /// `ok`, `mismatch` or `unchecked`.
    public var checksum: String
  }

  /// The optimizer state's summary.
  public struct Optimizer: Codable, Sendable, Equatable {
    /// The optimizer type.
    public var type: String
    /// The steps taken.
    public var step: Int
    /// The hyperparameters.
    public var config: JSONValue
    /// The number of slot tensors.
    public var slots: Int
  }

  /// The format version, `major.minor`.
  public var formatVersion: String
  /// The file size in bytes.
  public var fileSize: UInt64
  /// The chunks in file order.
  public var chunks: [Chunk]
  /// The root layer's type.
  public var rootType: String
  /// The per-sample input shape, when recorded.
  public var inputShape: [Int]?
  /// The layers.
  public var layers: [Layer]
  /// The tensors.
  public var tensors: [Tensor]
  /// The number of model parameter scalars.
  public var parameterCount: Int
  /// The stored bytes of all tensors.
  public var storedBytes: UInt64
  /// The stored bytes relative to the model tensors as raw float32 (4 bytes a scalar).
  public var sizeRelativeToFloat32: Double
  /// The metadata.
  public var metadata: ModelMetadata?
  /// The optimizer state's summary.
  public var optimizer: Optimizer?
  /// Whether checksums were verified.
  public var checksumsVerified: Bool
  /// Problems found while verifying (empty when the file is intact or unverified).
  public var problems: [String]

  /// Inspects an opened file; with `verify`, checks every chunk CRC and tensor checksum.
  public init(file: PlexusFile, verify: Bool = true) {
    formatVersion = "\(file.majorVersion).\(file.minorVersion)"
    fileSize = file.fileSize
    chunks = file.chunks.map {
      Chunk(
        type: $0.type, offset: $0.offset, length: $0.length, critical: $0.isCritical,
        known: $0.isKnown)
    }
    rootType = file.architecture.type
    let config = file.architecture.config
    if case .array(let dimensions)? = config["inputShape"] {
      inputShape = dimensions.compactMap {
        if case .number(let value) = $0 { return Int(value) } else { return nil }
      }
    }
    let modelTensors = file.tensors.filter { $0.group == TensorIndexEntry.modelGroup }
    var rows: [Layer] = []
    /// The calls of each layer of a graph config, as the tensors they read.
    func connections(of config: JSONValue) -> [String: String] {
      guard case .array(let nodes)? = config["nodes"] else { return [:] }
      var calls: [String: [String]] = [:]
      for node in nodes {
        guard let call = try? node.decode(Model.NodeDescription.self, context: "node") else {
          continue
        }
        let sources = call.inputs.map { reference in
          reference.source + (reference.call > 0 ? "#\(reference.call + 1)" : "")
            + (reference.output > 0 ? "[\(reference.output)]" : "")
        }
        calls[call.layer, default: []].append(sources.joined(separator: ", "))
      }
      return calls.mapValues { $0.joined(separator: "; ") }
    }
    func walk(_ description: LayerDescription, prefix: String, connections: [String: String]?) {
      let path = prefix + description.name
      let count = modelTensors.filter { $0.name.hasPrefix(path + ".") }.reduce(0) {
        $0 + $1.elementCount
      }
      rows.append(
        Layer(
          path: path, type: description.type, parameters: count, config: description.config,
          connections: connections.map { $0[description.name] ?? "" },
          trainable: description.trainable))
      walkChildren(of: description.config, prefix: path + ".")
    }
    func walkChildren(of config: JSONValue, prefix: String) {
      guard case .array(let children)? = config["layers"] else { return }
      let graph = config["nodes"] != nil ? connections(of: config) : nil
      for child in children {
        if let nested = try? child.decode(LayerDescription.self, context: "layer") {
          walk(nested, prefix: prefix, connections: graph)
        }
      }
    }
    walkChildren(
      of: config, prefix: file.architecture.name.isEmpty ? "" : file.architecture.name + ".")
    layers = rows
    var problemsByTensor: [String: String] = [:]
    var otherProblems: [String] = []
    if verify {
      for problem in file.verify() {
        if let tensor = problem.tensor {
          problemsByTensor[tensor] = problem.description
        } else {
          otherProblems.append(problem.description)
        }
      }
    }
    tensors = file.tensors.map { entry in
      Tensor(
        name: entry.name, group: entry.group, dtype: entry.dtype, shape: entry.shape,
        codec: entry.codec,
        storedBytes: entry.storedLength, rawBytes: entry.rawLength,
        blocks: entry.blocks?.count ?? 0,
        crc32: hex32(entry.crc32),
        checksum: verify ? (problemsByTensor[entry.name] == nil ? "ok" : "mismatch") : "unchecked")
    }
    parameterCount = modelTensors.reduce(0) { $0 + $1.elementCount }
    storedBytes = file.tensors.reduce(0) { $0 + $1.storedLength }
    let modelStored = modelTensors.reduce(UInt64(0)) { $0 + $1.storedLength }
    sizeRelativeToFloat32 =
      parameterCount == 0
      ? 0 : (Double(modelStored) / Double(parameterCount * 4) * 10_000).rounded() / 10_000
    metadata = file.metadata
    optimizer = file.optimizerDocument.map {
      Optimizer(type: $0.type, step: $0.step, config: $0.config, slots: $0.slots.count)
    }
    checksumsVerified = verify
    problems = otherProblems + problemsByTensor.keys.sorted().compactMap { problemsByTensor[$0] }
  }

  /// Opens and inspects the file at `url`.
  ///
  /// - Throws: `PlexusFormatError` when the file cannot be opened or its structure is invalid.
  public static func inspect(_ url: URL, verify: Bool = true) throws -> PlexusInspection {
    PlexusInspection(file: try PlexusFile(contentsOf: url), verify: verify)
  }

  /// The report as pretty-printed JSON with sorted keys (stable, for machines and golden files).
  public func renderJSON() throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    return String(decoding: try encoder.encode(self), as: UTF8.self) + "\n"
  }

  /// The report as text tables.
  public func renderText() -> String {
    var text = "Plexus model file, format \(formatVersion), \(fileSize) bytes\n"
    text += "Root: \(rootType)"
    if let inputShape {
      text += ", input shape [N, " + inputShape.map(String.init).joined(separator: ", ") + "]"
    }
    text += "\n\nArchitecture\n"
    let graph = layers.contains { $0.connections != nil }
    text += Self.table(
      [["Layer", "Type", "Params"] + (graph ? ["Connected to"] : [])]
        + layers.map {
          [$0.path, $0.type + ($0.trainable == false ? " (frozen)" : ""), String($0.parameters)]
            + (graph ? [$0.connections ?? ""] : [])
        }, rightAligned: [2])
    text += "Total params: \(parameterCount)\n\nTensors\n"
    text += Self.table(
      [["Name", "Group", "DType", "Shape", "Codec", "Stored", "Raw", "Checksum"]]
        + tensors.map {
          [
            $0.name, $0.group, $0.dtype.rawValue,
            "[" + $0.shape.map(String.init).joined(separator: ", ") + "]",
            $0.codec.rawValue, String($0.storedBytes), String($0.rawBytes), $0.checksum,
          ]
        }, rightAligned: [5, 6])
    text +=
      "Stored tensor bytes: \(storedBytes) (\(String(format: "%.4f", sizeRelativeToFloat32)) of raw float32)\n"
    if let metadata {
      text += "\nMetadata\n"
      text += "  producer: \(metadata.producer) \(metadata.producerVersion)\n"
      text += "  created: \(metadata.created)\n"
      if !metadata.description.isEmpty { text += "  description: \(metadata.description)\n" }
      for (key, value) in metadata.values.sorted(by: { $0.key < $1.key }) {
        text += "  \(key): \(value)\n"
      }
      if metadata.history != nil { text += "  history: present\n" }
    }
    if let optimizer {
      text +=
        "\nOptimizer: \(optimizer.type), step \(optimizer.step), \(optimizer.slots) slot tensors\n"
    }
    text += "\nChunks\n"
    text += Self.table(
      [["Type", "Offset", "Length", "Critical", "Known"]]
        + chunks.map {
          [
            $0.type, String($0.offset), String($0.length), $0.critical ? "yes" : "no",
            $0.known ? "yes" : "no",
          ]
        },
      rightAligned: [1, 2])
    if checksumsVerified {
      text +=
        problems.isEmpty ? "\nChecksums: all OK\n" : "\nChecksums: \(problems.count) problem(s)\n"
      for problem in problems { text += "  \(problem)\n" }
    } else {
      text += "\nChecksums: not verified\n"
    }
    return text
  }

  private static func table(_ rows: [[String]], rightAligned: Set<Int>) -> String {
    guard let header = rows.first else { return "" }
    let widths = header.indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
    var text = ""
    for (index, row) in rows.enumerated() {
      let cells = row.enumerated().map { column, cell in
        let pad = String(repeating: " ", count: widths[column] - cell.count)
        return rightAligned.contains(column) ? pad + cell : cell + pad
      }
      text +=
        "  "
        + cells.joined(separator: "  ").replacingOccurrences(
          of: "\\s+$", with: "", options: .regularExpression) + "\n"
      if index == 0 {
        text +=
          "  " + widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ") + "\n"
      }
    }
    return text
  }
}
