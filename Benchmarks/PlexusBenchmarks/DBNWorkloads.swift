import Plexus

extension Workloads {
  /// Workloads of restricted Boltzmann machines.
  static var dbnWorkloads: [Workload] {
    [Workload(name: "rbm_cd1_epoch_digits", run: rbmEpoch)]
  }

  /// One epoch of CD-1 on the bundled digits (1437 training images, features in `[0, 1]`) for
  /// an RBM of 100 hidden units, batch 10, plain SGD with rate 0.1 and no shuffling: what
  /// scikit-learn's `BernoulliRBM(n_components=100, learning_rate=0.1, batch_size=10,
  /// n_iter=1).fit` does. Plexus also logs the reconstruction error, free energy and
  /// pseudo-likelihood of every batch.
  static func rbmEpoch(_ seconds: Double) throws -> Measurement {
    let (train, _) = try Digits.standardSplit()
    let rbm = try RBM(visible: 64, hidden: 100, seed: 1)
    let optimizer = SGD(learningRate: 0.1)
    let options = TrainingOptions(epochs: 1, batchSize: 10, shuffle: false, seed: 1)
    var result = try measure("rbm_cd1_epoch_digits", seconds: seconds) {
      try rbm.fit(train.features, optimizer: optimizer, options: options)
    }
    result.extra["samples_per_s"] = Double(train.count) / result.medianSeconds
    return result
  }
}
