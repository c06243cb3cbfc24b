import Plexus

extension Workloads {
  /// Workloads that need the training loop.
  static var trainingWorkloads: [Workload] { [] }
}
