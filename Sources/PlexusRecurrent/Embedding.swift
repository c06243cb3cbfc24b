import PlexusCore

/// Maps integer ids to learned vectors, as Keras's `Embedding`: ids `[N, T]` (integers stored
/// as `Float`) give `[N, T, outputDim]`, row `id` of `embeddings [inputDim, outputDim]` per
/// step. `T` may vary from call to call when the layer is built for `[nil]`.
///
/// An id that is not an integer, or lies outside `0..<inputDim`, is a `PlexusError` naming the
/// sample and the step. With `maskZero` the id 0 is padding: it gives a zero vector and its row
/// receives no gradient (PyTorch's `padding_idx = 0`), so `inputDim` counts the padding id.
public final class Embedding: UnaryLayer {
  /// The hyperparameters of an embedding. In JSON `inputDim` and `outputDim` are required.
  public struct Config: DefaultedConfiguration {
    /// The number of ids (the vocabulary size, padding included).
    public var inputDim: Int
    /// The size of each vector.
    public var outputDim: Int
    /// Whether id 0 is padding (a zero vector that trains nothing).
    public var maskZero: Bool
    /// How the vectors are initialized.
    public var embeddingsInitializer: Initializer

    /// Creates a config.
    public init(
      inputDim: Int, outputDim: Int, maskZero: Bool = false,
      embeddingsInitializer: Initializer = .glorotUniform
    ) {
      self.inputDim = inputDim
      self.outputDim = outputDim
      self.maskZero = maskZero
      self.embeddingsInitializer = embeddingsInitializer
    }

    public static var defaults: Config { Config(inputDim: 1, outputDim: 1) }
    public static var fields: [ConfigField<Config>] {
      [
        .required("inputDim", \.inputDim), .required("outputDim", \.outputDim),
        .init("maskZero", \.maskZero), .init("embeddingsInitializer", \.embeddingsInitializer),
      ]
    }
  }

  public static let typeName = "plexus.embedding"
  public let state = LayerState()
  public let config: Config
  /// The vectors `[inputDim, outputDim]`, one row per id.
  public let embeddings = Parameter(name: "embeddings")

  /// - Throws: `PlexusError.invalidConfiguration` unless both sizes are positive, the table
  ///   fits in memory limits and, with `maskZero`, there is an id besides the padding.
  public init(config: Config) throws {
    let limit = ParameterAllocation.maximumSampleElements
    guard config.inputDim > 0, config.inputDim <= limit else {
      throw PlexusError.invalidConfiguration(
        "embedding inputDim must be in 1...\(limit), got \(config.inputDim)")
    }
    guard config.outputDim > 0, config.outputDim <= limit else {
      throw PlexusError.invalidConfiguration(
        "embedding outputDim must be in 1...\(limit), got \(config.outputDim)")
    }
    let (_, overflow) = config.inputDim.multipliedReportingOverflow(by: config.outputDim)
    guard !overflow else {
      throw PlexusError.invalidConfiguration(
        "embedding table [\(config.inputDim), \(config.outputDim)] overflows")
    }
    guard !config.maskZero || config.inputDim > 1 else {
      throw PlexusError.invalidConfiguration(
        "embedding with maskZero needs inputDim > 1 (id 0 is padding)")
    }
    self.config = config
  }

  /// Creates an embedding of `inputDim` ids into vectors of `outputDim`.
  ///
  /// - Throws: as `init(config:)`.
  public convenience init(
    inputDim: Int, outputDim: Int, maskZero: Bool = false, name: String = ""
  ) throws {
    try self.init(config: Config(inputDim: inputDim, outputDim: outputDim, maskZero: maskZero))
    self.name = name
  }

  public var parameters: [Parameter] { [embeddings] }

  public func build(for inputShape: SymbolicShape) throws -> SymbolicShape {
    guard inputShape.count == 1 else {
      throw PlexusError.shapeMismatch(
        layer: name, expected: "ids [T] (rank 1, batch [N, T]; T may vary)",
        found: ShapeCheck.flatten(inputShape))
    }
    try embeddings.declare(
      shape: [config.inputDim, config.outputDim], initializer: config.embeddingsInitializer,
      fanIn: config.inputDim, fanOut: config.outputDim)
    return [inputShape[0], config.outputDim]
  }

  public func forward(_ input: Tensor, record: CallRecord) throws -> Tensor {
    let batch = input.shape[0]
    let steps = input.shape[1]
    let inputDim = config.inputDim
    let width = config.outputDim
    let maskZero = config.maskZero
    // Validate every id before writing anything.
    try input.withUnsafeBufferPointer { ids in
      for index in ids.indices {
        let id = ids[index]
        guard id.isFinite, id.rounded() == id, id >= 0, id < Float(inputDim) else {
          let what = id.isFinite && id.rounded() == id ? "out of range" : "not an integer"
          throw PlexusError.invalidData(
            "layer '\(name)': id \(id) at sample \(index / steps), step \(index % steps) is "
              + "\(what); ids must be integers in 0..<\(inputDim)")
        }
      }
    }
    if maskZero {
      // Id 0 is padding: the steps that hold it are masked for the layers downstream.
      let masked = input.withUnsafeBufferPointer { ids in ids.map { $0 == 0 } }
      if masked.contains(true) {
        record.outputMasks = [try SequenceMask(batch: batch, steps: steps, masked: masked)]
      }
    }
    let table = embeddings.value
    return Tensor(unsafeUninitializedShape: [batch, steps, width]) { out in
      input.withUnsafeBufferPointer { ids in
        table.withUnsafeBufferPointer { rows in
          for index in ids.indices {
            let id = Int(ids[index])
            let destination = out.baseAddress! + index * width
            if maskZero && id == 0 {
              destination.update(repeating: 0, count: width)
            } else {
              destination.update(from: rows.baseAddress! + id * width, count: width)
            }
          }
        }
      }
    }
  }

  /// Accumulates each step's gradient into its id's row. Ids are discrete: their gradient is
  /// zero.
  public func backward(_ outputGradient: Tensor, record: CallRecord, computingInputGradient: Bool)
    throws -> Tensor?
  {
    let input = record.inputs[0]
    let width = config.outputDim
    let maskZero = config.maskZero
    input.withUnsafeBufferPointer { ids in
      outputGradient.withUnsafeBufferPointer { g in
        embeddings.gradient.withUnsafeMutableBufferPointer { rows in
          for index in ids.indices {
            let id = Int(ids[index])
            if maskZero && id == 0 { continue }
            for j in 0..<width { rows[id * width + j] += g[index * width + j] }
          }
        }
      }
    }
    return computingInputGradient ? Tensor.zeros(input.shape) : nil
  }
}
