import Plexus

/// Forwards `fit`'s progress events to a ``ProgressDisplay``.
final class FitProgress: PlexusCore.ProgressReporter {
  let display: ProgressDisplay
  let batchSize: Int
  private var trainingSamples = 0

  init(display: ProgressDisplay, batchSize: Int) {
    self.display = display
    self.batchSize = batchSize
  }

  func report(_ progress: TrainingProgress) {
    switch progress {
    case .trainingBegan(let epochs, let samples, _, let batchesPerEpoch):
      trainingSamples = samples
      display.trainingBegan(epochs: epochs, batchesPerEpoch: batchesPerEpoch)
    case .epochBegan(let epoch, _, _):
      display.epochBegan(epoch)
    case .batchEnded(_, _, let batch, _, let logs):
      display.batchEnded(
        batch, samples: Swift.min(batch * batchSize, trainingSamples),
        loss: logs["loss"].map(Double.init),
        accuracy: logs["accuracy"].map(Double.init))
    case .epochEnded(_, _, let logs):
      let shown: Set = ["loss", "accuracy", "val_loss", "val_accuracy", "lr"]
      display.epochEnded(
        loss: logs["loss"].map(Double.init), accuracy: logs["accuracy"].map(Double.init),
        validationLoss: logs["val_loss"].map(Double.init),
        validationAccuracy: logs["val_accuracy"].map(Double.init),
        otherLogs: logs.filter { !shown.contains($0.key) }.mapValues(Double.init))
    case .trainingEnded:
      break
    }
  }
}
