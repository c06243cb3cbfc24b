import Foundation

/// What a model or layer keeps for training besides its parameters and its layer random
/// stream: generators and tensors that the next training step reads (an RBM's Gibbs sampler
/// and persistent chains). Saved with the model so that a resumed run continues them.
public struct TrainingState: Sendable {
  /// Random generators by key, as they stand.
  public var streams: [String: SeededGenerator]
  /// Tensors by key.
  public var tensors: [String: Tensor]

  /// Creates a state.
  public init(streams: [String: SeededGenerator] = [:], tensors: [String: Tensor] = [:]) {
    self.streams = streams
    self.tensors = tensors
  }

  /// Whether the state holds nothing.
  public var isEmpty: Bool { streams.isEmpty && tensors.isEmpty }
}

/// A model or layer with training state outside its parameters (``TrainingState``), which
/// `plexus train` and `save(to:history:optimizer:)` save and loading restores.
public protocol TrainingStateHolder: AnyObject {
  /// The state as it stands: what the next training step continues from.
  var trainingState: TrainingState { get }

  /// Replaces the state with a saved one.
  ///
  /// - Throws: `PlexusError.invalidArgument` naming a key the holder does not know or a tensor
  ///   of the wrong shape.
  func restoreTrainingState(_ state: TrainingState) throws
}

extension ModelProtocol {
  /// The holders of training state: the model itself (path `""`) and its layers, by layer path.
  public var trainingStateHolders: [(path: String, holder: any TrainingStateHolder)] {
    var result: [(path: String, holder: any TrainingStateHolder)] = []
    if let holder = self as? any TrainingStateHolder { result.append(("", holder)) }
    for (path, layer) in layerPaths {
      if let holder = layer as? any TrainingStateHolder { result.append((path, holder)) }
    }
    return result
  }
}

/// How training state is kept in a model file: a `META` value under ``key`` holding a JSON
/// object that maps each holder's path (`""` for the model itself) to
/// `{"streams": {key: [four state words]}, "tensors": {key: tensor name}}`, the words as in
/// `plexus.random_streams` and the tensors stored in the tensor index under the group
/// ``group`` (`Formats/plexus-format.md` §6).
public enum TrainingStateMetadata {
  /// The metadata value key.
  public static let key = "plexus.training_state"
  /// The tensor-index group of training-state tensors (also early stopping's best weights).
  public static let group = "training"

  struct Record: Codable, Equatable {
    var streams: [String: [String]]
    var tensors: [String: String]
  }

  /// The tensor name of a holder's tensor.
  static func tensorName(path: String, key: String) -> String {
    "training/" + (path.isEmpty ? "model" : "layer/\(path)") + "/" + key
  }

  static func hexWords(_ stream: SeededGenerator) -> [String] {
    stream.stateWords.map { word in
      let digits = String(word, radix: 16)
      return String(repeating: "0", count: 16 - digits.count) + digits
    }
  }

  static func stream(hexWords words: [String]) -> SeededGenerator? {
    let values = words.compactMap { $0.count == 16 ? UInt64($0, radix: 16) : nil }
    guard values.count == 4, words.count == 4 else { return nil }
    return try? SeededGenerator(stateWords: values)
  }

  /// The metadata value and the tensors that keep the training state of `model`'s holders;
  /// `nil` and none when no holder has state.
  public static func encode(_ model: any ModelProtocol) throws -> (
    value: String?, tensors: [(name: String, tensor: Tensor)]
  ) {
    var records: [String: Record] = [:]
    var tensors: [(name: String, tensor: Tensor)] = []
    for (path, holder) in model.trainingStateHolders {
      let state = holder.trainingState
      guard !state.isEmpty else { continue }
      var record = Record(streams: state.streams.mapValues(hexWords), tensors: [:])
      for (key, tensor) in state.tensors.sorted(by: { $0.key < $1.key }) {
        let name = tensorName(path: path, key: key)
        record.tensors[key] = name
        tensors.append((name, tensor))
      }
      records[path] = record
    }
    guard !records.isEmpty else { return (nil, []) }
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    return (String(decoding: try encoder.encode(records), as: UTF8.self), tensors)
  }
}

extension PlexusFile {
  /// The training state saved for each holder path, or `nil` when none was saved.
  ///
  /// - Throws: `PlexusFormatError` (`.malformed`) for a malformed value or a named tensor that
  ///   is missing from the `training` group.
  public func trainingStates() throws -> [String: TrainingState]? {
    let key = TrainingStateMetadata.key
    guard let text = metadata?.values[key] else { return nil }
    func fail(_ message: String) -> PlexusFormatError {
      PlexusFormatError(
        .malformed, "metadata value '\(key)': \(message)", chunk: PlexusFormat.ChunkType.metadata)
    }
    guard
      let records = try? JSONDecoder().decode(
        [String: TrainingStateMetadata.Record].self, from: Data(text.utf8))
    else {
      throw fail(
        "expected an object mapping holder paths to {\"streams\": {...}, \"tensors\": {...}}")
    }
    let stored = try tensors(group: TrainingStateMetadata.group)
    var states: [String: TrainingState] = [:]
    for (path, record) in records {
      var state = TrainingState()
      for (name, words) in record.streams {
        guard let stream = TrainingStateMetadata.stream(hexWords: words) else {
          throw fail(
            "'\(path)' stream '\(name)' needs four nonzero state words of 16 hexadecimal digits")
        }
        state.streams[name] = stream
      }
      for (name, tensorName) in record.tensors {
        guard let tensor = stored[tensorName] else {
          throw fail(
            "'\(path)' tensor '\(name)' names '\(tensorName)', which is no tensor of the "
              + "'\(TrainingStateMetadata.group)' group")
        }
        state.tensors[name] = tensor
      }
      states[path] = state
    }
    return states
  }

  /// Restores the saved training state into `model`'s holders.
  ///
  /// - Throws: `PlexusFormatError` (`.modelMismatch`) for a path that is no holder of the model
  ///   or a state it refuses; as ``trainingStates()``.
  func restoreTrainingState(of model: any ModelProtocol) throws {
    guard let states = try trainingStates() else { return }
    let holders = Dictionary(
      model.trainingStateHolders.map { ($0.path, $0.holder) }, uniquingKeysWith: { a, _ in a })
    for (path, state) in states.sorted(by: { $0.key < $1.key }) {
      guard let holder = holders[path] else {
        throw PlexusFormatError(
          .modelMismatch,
          "training state is saved for '\(path.isEmpty ? "the model" : path)', which keeps none",
          chunk: PlexusFormat.ChunkType.metadata)
      }
      do {
        try holder.restoreTrainingState(state)
      } catch let error as PlexusError {
        throw PlexusFormatError(
          .modelMismatch, error.description, chunk: PlexusFormat.ChunkType.metadata)
      }
    }
  }
}

/// How early stopping's weights are kept in a model file, so that a resumed run restores the
/// best epoch's weights as an uninterrupted one would: a `META` value under ``key`` holding
/// `{"bestEpoch": n, "best": {parameter path: tensor name}, "resume": {...}}`, the tensors in
/// the `training` group. `best` holds the parameters at the end of epoch `bestEpoch`;
/// `resume`, present when training ended by restoring them, the last epoch's parameters, from
/// which a resumed run continues (the file's model tensors are then the best epoch's).
public enum EarlyStoppingMetadata {
  /// The metadata value key.
  public static let key = "plexus.early_stopping"

  struct Record: Codable, Equatable {
    var bestEpoch: Int
    var best: [String: String]
    var resume: [String: String]?
  }

  /// Early stopping's weights saved in a file.
  public struct SavedWeights: Sendable {
    /// The epoch (from 1) whose parameters `best` holds.
    public var bestEpoch: Int
    /// The values of `model.parameters` at the end of `bestEpoch`.
    public var best: [Tensor]
    /// The values of `model.parameters` to resume from, when the file's own are the best
    /// epoch's.
    public var resume: [Tensor]?
  }

  /// The metadata value and tensors that keep `stopping`'s weights for `model` (whose
  /// `parameters` they follow); `nil` and none when it keeps no best weights.
  ///
  /// - Throws: `PlexusError.invalidArgument` when the weights do not fit the model.
  public static func encode(_ stopping: EarlyStopping, model: any ModelProtocol) throws -> (
    value: String?, tensors: [(name: String, tensor: Tensor)]
  ) {
    guard let best = stopping.bestWeightsSnapshot, let bestEpoch = stopping.bestEpoch else {
      return (nil, [])
    }
    let paths = try parameterPaths(of: model, count: best.count)
    var tensors: [(name: String, tensor: Tensor)] = []
    var record = Record(bestEpoch: bestEpoch, best: [:], resume: nil)
    for (path, value) in zip(paths, best) {
      let name = "training/early_stopping/best/\(path)"
      record.best[path] = name
      tensors.append((name, value))
    }
    if let resume = stopping.weightsBeforeRestore {
      guard resume.count == paths.count else {
        throw PlexusError.invalidArgument(
          "early stopping holds \(resume.count) last-epoch values for \(paths.count) parameters")
      }
      var names: [String: String] = [:]
      for (path, value) in zip(paths, resume) {
        let name = "training/early_stopping/resume/\(path)"
        names[path] = name
        tensors.append((name, value))
      }
      record.resume = names
    }
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    return (String(decoding: try encoder.encode(record), as: UTF8.self), tensors)
  }

  /// The paths of `model.parameters`, in their order.
  static func parameterPaths(of model: any ModelProtocol, count: Int) throws -> [String] {
    let named = Dictionary(
      model.namedParameters.map { (ObjectIdentifier($0.parameter), $0.path) },
      uniquingKeysWith: { a, _ in a })
    let paths = model.parameters.compactMap { named[ObjectIdentifier($0)] }
    guard paths.count == model.parameters.count, Set(paths).count == paths.count,
      paths.count == count
    else {
      throw PlexusError.invalidArgument(
        "early stopping holds \(count) values, the model has \(model.parameters.count) "
          + "parameters (\(paths.count) with a unique path)")
    }
    return paths
  }
}

extension PlexusFile {
  /// Early stopping's weights saved for `model`, or `nil` when none were saved.
  ///
  /// - Throws: `PlexusFormatError` (`.malformed`) for a malformed value, a missing tensor, or
  ///   one that does not fit the model's parameter of its path.
  public func earlyStoppingWeights(for model: any ModelProtocol) throws
    -> EarlyStoppingMetadata.SavedWeights?
  {
    let key = EarlyStoppingMetadata.key
    guard let text = metadata?.values[key] else { return nil }
    func fail(_ message: String) -> PlexusFormatError {
      PlexusFormatError(
        .malformed, "metadata value '\(key)': \(message)", chunk: PlexusFormat.ChunkType.metadata)
    }
    guard
      let record = try? JSONDecoder().decode(
        EarlyStoppingMetadata.Record.self, from: Data(text.utf8))
    else {
      throw fail("expected {\"bestEpoch\": n, \"best\": {...}, \"resume\": {...}}")
    }
    guard record.bestEpoch >= 1 else { throw fail("bestEpoch \(record.bestEpoch) is below 1") }
    let stored = try tensors(group: TrainingStateMetadata.group)
    let paths: [String]
    do {
      paths = try EarlyStoppingMetadata.parameterPaths(
        of: model, count: model.parameters.count)
    } catch {
      throw fail("\(error)")
    }
    func values(_ names: [String: String], _ what: String) throws -> [Tensor] {
      guard Set(names.keys) == Set(paths) else {
        throw fail(
          "the \(what) weights name parameters "
            + names.keys.sorted().joined(separator: ", ") + "; the model has "
            + paths.joined(separator: ", "))
      }
      return try zip(paths, model.parameters).map { path, parameter in
        guard let tensor = names[path].flatMap({ stored[$0] }) else {
          throw fail("the \(what) weights of '\(path)' name no tensor of the 'training' group")
        }
        guard tensor.shape == parameter.value.shape else {
          throw fail(
            "the \(what) weights of '\(path)' have shape \(tensor.shape), the parameter "
              + "\(parameter.value.shape)")
        }
        return tensor
      }
    }
    return EarlyStoppingMetadata.SavedWeights(
      bestEpoch: record.bestEpoch, best: try values(record.best, "best"),
      resume: try record.resume.map { try values($0, "resume") })
  }
}
