import Plexus

extension Workloads {
  /// Workloads of restricted Boltzmann machines.
  static var dbnWorkloads: [Workload] {
    [
      Workload(name: "rbm_cd1_epoch_digits") { try rbmEpoch($0, monitored: false) },
      Workload(name: "rbm_cd1_epoch_digits_monitored") { try rbmEpoch($0, monitored: true) },
    ]
  }

  /// One epoch of CD-1 on the bundled digits (1437 training images, features in `[0, 1]`) for
  /// an RBM of 100 hidden units, batch 10, plain SGD with rate 0.1 and no shuffling: what
  /// scikit-learn's `BernoulliRBM(n_components=100, learning_rate=0.1, batch_size=10,
  /// n_iter=1).fit` does. Each step logs its batch's reconstruction error; `monitored` adds
  /// the free energy and pseudo-likelihood of every batch (`monitorsLikelihood`, the default),
  /// which scikit-learn computes only when verbose, once per epoch.
  static func rbmEpoch(_ seconds: Double, monitored: Bool) throws -> Measurement {
    let (train, _) = try Digits.standardSplit()
    let rbm = try RBM(
      config: RBM.Config(visible: 64, hidden: 100, seed: 1, monitorsLikelihood: monitored))
    let optimizer = SGD(learningRate: 0.1)
    let options = TrainingOptions(epochs: 1, batchSize: 10, shuffle: false, seed: 1)
    let name = monitored ? "rbm_cd1_epoch_digits_monitored" : "rbm_cd1_epoch_digits"
    var result = try measure(name, seconds: seconds) {
      try rbm.fit(train.features, optimizer: optimizer, options: options)
    }
    result.extra["samples_per_s"] = Double(train.count) / result.medianSeconds
    return result
  }
}
