import Foundation
import Plexus

/// A spec turned into the pieces of a training run: data, built model, loss, optimizer and
/// metrics.
struct PreparedTraining {
  let data: LoadedData
  let model: any ModelProtocol
  /// `nil` for a model that learns without targets (an RBM).
  let lossFunction: LossFunction?
  let loss: (any Loss)?
  let optimizerConfig: OptimizerConfig
  let metrics: [Metric]
  let target: TrainingTarget
  /// The pretraining optimizer, for a DBN with a `pretraining` section.
  let pretrainingOptimizer: OptimizerConfig?

  /// - Throws: `SpecError` (without a file name) for problems located in the spec.
  init(spec: TrainingSpec, registry: LayerRegistry) throws {
    lossFunction = try spec.loss?.decodeLoss()
    loss = try lossFunction?.makeLoss()
    optimizerConfig = try spec.optimizer.decodeOptimizer()
    pretrainingOptimizer = try spec.pretraining?.optimizer.decodeOptimizer()
    metrics =
      spec.metrics ?? (loss?.isClassification == true && spec.target == .labels ? [.accuracy] : [])
    if spec.metrics?.isEmpty == false, loss == nil {
      throw SpecError(
        path: "$.metrics", message: "metrics compare outputs with targets; this model has no loss")
    }
    if spec.classWeights != nil, loss == nil || spec.target == .input {
      throw SpecError(
        path: "$.classWeights",
        message: "class weights weigh samples by their label's class; this model "
          + (loss == nil ? "learns without targets" : "is trained to reproduce its input"))
    }
    var data = try spec.data.load(seed: spec.seed)
    let featureShape = data.train.featureShape
    if let declared = spec.inputShape, declared != featureShape {
      // Samples of another shape with as many elements (digits [64] for a CNN's [8, 8, 1])
      // are reshaped; anything else is a mistake in the spec.
      let declaredCount: Int
      do {
        declaredCount = try Tensor.elementCount(of: declared)
      } catch let error as PlexusError {
        throw SpecError(path: "$.inputShape", message: error.description)
      }
      let featureCount = featureShape.reduce(1, *)
      guard declaredCount == featureCount else {
        throw SpecError(
          path: "$.inputShape",
          message: "the model takes samples of shape \(declared) (\(declaredCount) values) "
            + "but the data's samples have shape \(featureShape) (\(featureCount) values)"
        )
      }
      data.train = try data.train.reshapedFeatures(declared)
      data.test = try data.test.reshapedFeatures(declared)
    }
    self.data = data
    target = spec.target
    model = try spec.buildModel(registry: registry, inputShape: spec.inputShape ?? featureShape)
    if spec.loss == nil, !model.learnsWithoutTargets {
      throw SpecError(
        path: "$",
        message: "missing key 'loss': this model trains against targets; name a loss "
          + "such as \"softmax_cross_entropy\" or \"mse\"")
    }
    if spec.pretraining != nil, !(model is DBN) {
      throw SpecError(
        path: "$.pretraining",
        message: "pretraining applies to a '\(DBN.typeName)' model (a stack of RBMs); this "
          + "model is a '\(model.typeName)'")
    }
  }

  /// What the model is trained to output for `split`: its labels, or its features for a
  /// reconstruction target.
  func targets(of split: Dataset) -> Tensor {
    target == .input ? split.features : split.labels
  }

  /// The training settings to keep in the model file's metadata.
  func metadataValues() throws -> [String: String] {
    var values = [TrainingMetadata.optimizerKey: try TrainingMetadata.json(optimizerConfig)]
    if let lossFunction {
      values[TrainingMetadata.lossKey] = try TrainingMetadata.json(lossFunction)
    }
    return values
  }
}

/// Keys under which `plexus train` records the loss and optimizer in a model file.
public enum TrainingMetadata {
  /// The loss, as `LossFunction` JSON (its registered name and config).
  public static let lossKey = "plexus.loss"
  /// The optimizer, as `OptimizerConfig` JSON (its registered name and every hyperparameter).
  public static let optimizerKey = "plexus.optimizer"
  /// The seed that split the training data into training and test samples.
  public static let dataSeedKey = "plexus.data_seed"
  /// For a run interrupted within an epoch: the batches of the next epoch already trained.
  public static let resumeBatchKey = "plexus.resume_batch"

  /// The batches to skip when resuming from `file` (0 when it ended at an epoch boundary).
  ///
  /// - Throws: `PlexusError.invalidData` for a value that is not a non-negative integer.
  static func resumeBatch(in file: PlexusFile) throws -> Int {
    guard let text = file.metadata?.values[resumeBatchKey] else { return 0 }
    guard let batches = Int(text), batches >= 0 else {
      throw PlexusError.invalidData(
        "the file's metadata value '\(resumeBatchKey)' is '\(text.prefix(40))', expected a number of batches"
      )
    }
    return batches
  }

  static func json(_ value: some Encodable) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    return String(decoding: try encoder.encode(value), as: UTF8.self)
  }
}

extension ComponentSpec {
  /// The loss this component names, looked up in `LossRegistry.shared`.
  ///
  /// - Throws: `SpecError` at the component's path.
  func decodeLoss() throws -> LossFunction {
    do {
      return try LossFunction(json: object)
    } catch let error as PlexusError {
      throw SpecError(path: path, message: error.description)
    }
  }

  /// The optimizer this component names, looked up in `OptimizerRegistry.shared`, with every
  /// hyperparameter checked.
  ///
  /// - Throws: `SpecError` at the component's path.
  func decodeOptimizer() throws -> OptimizerConfig {
    do {
      return try OptimizerConfig(json: object)
    } catch let error as PlexusError {
      throw SpecError(path: path, message: error.description)
    }
  }
}
