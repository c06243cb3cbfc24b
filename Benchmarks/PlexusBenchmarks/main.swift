import Foundation
import Plexus

// The Plexus benchmark runner. Prints one JSON object per line, one per workload; the
// comparison script (Benchmarks/compare.py) matches them with the reference implementations.
//
// Usage: PlexusBenchmarks [--only NAME[,NAME...]] [--seconds S]
// PLEXUS_BENCH_THREADS=N caps Plexus's threads (Parallel.maximumThreads), e.g. 1 to compare
// two builds on a machine whose other core is busy.

var selected: Set<String>? = nil
var seconds = 1.0
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let argument = arguments.next() {
  switch argument {
  case "--only":
    guard let value = arguments.next() else {
      print("--only needs a value")
      exit(2)
    }
    selected = Set(value.split(separator: ",").map(String.init))
  case "--seconds":
    guard let value = arguments.next().flatMap(Double.init), value > 0 else {
      print("--seconds needs a positive number")
      exit(2)
    }
    seconds = value
  default:
    print("unknown argument \(argument); usage: PlexusBenchmarks [--only NAME,...] [--seconds S]")
    exit(2)
  }
}

if let value = ProcessInfo.processInfo.environment["PLEXUS_BENCH_THREADS"] {
  guard let threads = Int(value), (try? Parallel.maximumThreads.setDefault(threads)) != nil else {
    print("PLEXUS_BENCH_THREADS must be a thread count in 1...1024, got \(value)")
    exit(2)
  }
}
// PLEXUS_BENCH_CONV_PARALLEL_WORK=N sets ConvolutionLayers.minimumParallelWork, to compare
// threading thresholds in one build.
if let value = ProcessInfo.processInfo.environment["PLEXUS_BENCH_CONV_PARALLEL_WORK"] {
  guard let work = Int(value),
    (try? ConvolutionLayers.minimumParallelWork.setDefault(work)) != nil
  else {
    print("PLEXUS_BENCH_CONV_PARALLEL_WORK must be a multiply-add count >= 1, got \(value)")
    exit(2)
  }
}
FileHandle.standardError.write(Data("BLAS: \(BLAS.backendDescription)\n".utf8))
do {
  for workload in Workloads.all where selected?.contains(workload.name) ?? true {
    let measurement = try workload.run(seconds)
    FileHandle.standardOutput.write(Data((measurement.jsonLine + "\n").utf8))
  }
} catch {
  FileHandle.standardError.write(Data("benchmark failed: \(error)\n".utf8))
  exit(1)
}
