// Measures .plexus save/load throughput, lazy open time and file size for a model of about
// 25 million float32 parameters with trained-like weights, and writes the same tensors for
// Benchmarks/format_reference.py (safetensors, torch, numpy) to compare in the same run.
//
//   swift run -c release PlexusFormatBenchmark [output folder]   (default: Benchmarks/results)

import Foundation
import Plexus
import PlexusInterop

/// Trained-like weights: Student-t with 5 degrees of freedom (heavier tails than the Gaussian
/// of a fresh initialization, as trained weights have), scaled to the Glorot standard deviation
/// of each layer; biases small and heavy-tailed too.
func trainedLike(_ shape: [Int], fanIn: Int, fanOut: Int, seed: UInt64) -> Tensor {
  var generator = SeededGenerator(seed: seed)
  let degrees: Float = 5
  let scale = (2 / Float(fanIn + fanOut)).squareRoot() * ((degrees - 2) / degrees).squareRoot()
  var tensor = Tensor.zeros(shape)
  tensor.withUnsafeMutableBufferPointer { values in
    for index in values.indices {
      var chiSquare: Float = 0
      for _ in 0..<5 {
        let z = generator.nextNormal()
        chiSquare += z * z
      }
      values[index] = scale * generator.nextNormal() / (chiSquare / degrees).squareRoot()
    }
  }
  return tensor
}

func seconds(_ body: () throws -> Void) rethrows -> Double {
  let start = DispatchTime.now().uptimeNanoseconds
  try body()
  return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

/// The best of `repeats` timings.
func best(_ repeats: Int, _ body: () throws -> Void) rethrows -> Double {
  var result = Double.infinity
  for _ in 0..<repeats { result = min(result, try seconds(body)) }
  return result
}

let output = URL(fileURLWithPath: CommandLine.arguments.dropFirst().first ?? "Benchmarks/results")
try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)

// A 4096-4096-2048 MLP head: 25.2 million parameters, 100.7 MB as float32.
let model = Sequential([try Dense(units: 4096, activation: .relu), try Dense(units: 2048)])
try model.build(inputShape: [4096], seed: 1)
for (index, layer) in model.layers.enumerated() {
  guard let dense = layer as? Dense, let bias = dense.bias else {
    continue
  }
  let kernel = dense.kernel
  let shape = kernel.value.shape
  try kernel.assign(trainedLike(shape, fanIn: shape[0], fanOut: shape[1], seed: UInt64(10 + index)))
  try bias.assign(
    trainedLike(bias.value.shape, fanIn: 64, fanOut: 64, seed: UInt64(20 + index)) * 0.1)
}
let tensors = model.namedParameters.map { (name: $0.path, tensor: $0.parameter.value) }
let rawBytes = tensors.reduce(0) { $0 + $1.tensor.count * 4 }
let megabytes = Double(rawBytes) / 1e6
print(
  String(
    format: "Model: %d parameters, %.1f MB as float32; %d threads", rawBytes / 4, megabytes,
    Parallel.maximumThreads.current))

// The same tensors for the Python reference: raw little-endian float32 and a manifest.
var manifest: [[String: JSONValue]] = []
var weights = Data()
for (name, tensor) in tensors {
  manifest.append([
    "name": .string(name), "shape": .array(tensor.shape.map { .number(Double($0)) }),
  ])
  tensor.withUnsafeBufferPointer {
    weights.append(UnsafeBufferPointer(start: $0.baseAddress, count: $0.count))
  }
}
try weights.write(to: output.appendingPathComponent("weights.f32"))
try JSONEncoder().encode(manifest).write(to: output.appendingPathComponent("weights.json"))
weights = Data()

struct Row: Codable {
  var name: String
  var saveMBps: Double
  var loadMBps: Double
  var fileLoadMBps: Double
  var openMilliseconds: Double
  var sizeRelative: Double
}
var rows: [Row] = []
let registry = LayerRegistry.standard()

let cases: [(String, SaveOptions)] = [
  ("raw f32", SaveOptions(codec: .raw)),
  ("default: shuffle-deflate", SaveOptions()),
  ("shuffle-deflate level 1", SaveOptions(codec: .shuffleDeflate, compressionLevel: 1)),
  ("deflate level 1", SaveOptions(codec: .deflate, compressionLevel: 1)),
  ("shuffle-deflate f16", SaveOptions(dtype: .f16)),
]
// PLEXUS_BENCH_CASES=raw,default (prefixes of the case names) limits the run to some cases.
let selected = ProcessInfo.processInfo.environment["PLEXUS_BENCH_CASES"]?.split(separator: ",").map(
  String.init)
// PLEXUS_BENCH_OPENS=20000 repeats the lazy open that often (for a profile; default 20).
let opens = ProcessInfo.processInfo.environment["PLEXUS_BENCH_OPENS"].flatMap { Int($0) } ?? 20
for (name, options) in cases where selected.map({ $0.contains { name.hasPrefix($0) } }) ?? true {
  let url = output.appendingPathComponent("bench.plexus")
  let save = try best(3) { try model.save(to: url, options: options) }
  let size = try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int ?? 0
  let open = try best(max(1, opens)) { _ = try PlexusFile(contentsOf: url) }
  let fileLoad = try best(3) { _ = try PlexusFile(contentsOf: url).tensors() }
  let load = try best(3) { _ = try Sequential.load(from: url, registry: registry) }
  let row = Row(
    name: name, saveMBps: megabytes / save, loadMBps: megabytes / load,
    fileLoadMBps: megabytes / fileLoad,
    openMilliseconds: open * 1000, sizeRelative: Double(size) / Double(rawBytes))
  rows.append(row)
  print(
    String(
      format:
        "%-28@ save %7.0f MB/s  load model %7.0f MB/s  load tensors %7.0f MB/s  open %6.3f ms  size %.4f",
      name as NSString, row.saveMBps, row.loadMBps, row.fileLoadMBps, row.openMilliseconds,
      row.sizeRelative))
}

// Raw tensors used in place from the memory map, without a copy.
do {
  let url = output.appendingPathComponent("bench.plexus")
  try model.save(to: url, options: SaveOptions(codec: .raw))
  var checksum: Float = 0
  let lazy = try best(20) {
    let file = try PlexusFile(contentsOf: url)
    checksum += try file.withStoredBytes(of: "dense_1.kernel") {
      $0.load(fromByteOffset: 0, as: Float.self)
    }
  }
  print(
    String(
      format: "raw: lazy open + first float of a tensor in place: %.3f ms (%g)", lazy * 1000,
      checksum))
  let unverified = try best(3) {
    _ = try PlexusFile(contentsOf: url).tensors(verifyChecksums: false)
  }
  print(
    String(
      format: "raw: load tensors without checksum verification: %.0f MB/s", megabytes / unverified))
  try FileManager.default.removeItem(at: url)
}

// The same tensors through Plexus's safetensors reader and writer (PlexusInterop), on a file
// the Python reference reads too (`bench-plexus.safetensors`), to compare with the
// safetensors package.
do {
  let url = output.appendingPathComponent("bench-plexus.safetensors")
  let save = try best(3) { try SafeTensorsFile.write(tensors, to: url) }
  let open = try best(20) { _ = try SafeTensorsFile(contentsOf: url).entries.count }
  let load = try best(3) {
    let file = try SafeTensorsFile(contentsOf: url)
    for entry in file.entries { _ = try file.tensor(entry) }
  }
  let size = try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int ?? 0
  let row = Row(
    name: "safetensors (Plexus)", saveMBps: megabytes / save, loadMBps: megabytes / load,
    fileLoadMBps: megabytes / load, openMilliseconds: open * 1000,
    sizeRelative: Double(size) / Double(rawBytes))
  rows.append(row)
  print(
    String(
      format: "%-28@ save %7.0f MB/s  load tensors %7.0f MB/s  open %6.3f ms  size %.4f",
      row.name as NSString, row.saveMBps, row.loadMBps, row.openMilliseconds, row.sizeRelative))
}

let encoder = JSONEncoder()
encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
try encoder.encode(rows).write(to: output.appendingPathComponent("plexus.json"))
