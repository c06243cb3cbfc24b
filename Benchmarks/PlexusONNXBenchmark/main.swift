// Measures the import of a 25.2-million-parameter ONNX model (the 4096-4096-2048 dense network
// of the format benchmark, exported by Plexus) against `onnx.load` in Python on the same file
// (Benchmarks/onnx_reference.py), and the export for reference.
//
//   swift run -c release PlexusONNXBenchmark [output folder] [repeats]
//   (default: Benchmarks/results, 3)

import Foundation
import Plexus
import PlexusONNX

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

let arguments = CommandLine.arguments.dropFirst()
let output = URL(fileURLWithPath: arguments.first ?? "Benchmarks/results")
let repeats = arguments.dropFirst().first.flatMap { Int($0) } ?? 3
try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)

// Seeded Glorot weights: the timing does not depend on the values.
let model = Sequential([try Dense(units: 4096, activation: .relu), try Dense(units: 2048)])
try model.build(inputShape: [4096], seed: 1)
let parameters = model.namedParameters.reduce(0) { $0 + $1.parameter.value.count }
let megabytes = Double(parameters * 4) / 1e6
print(String(format: "Model: %d parameters, %.1f MB as float32", parameters, megabytes))

let url = output.appendingPathComponent("bench.onnx")
let export = try best(repeats) { try ONNXExporter(model: model).write(to: url) }
let registry = LayerRegistry.standard()
let decode = try best(repeats) { _ = try ONNXModelFile(contentsOf: url) }
let translate = try best(repeats) { _ = try ONNXModelFile(contentsOf: url).translate() }
let load = try best(repeats) {
  _ = try ONNXModelFile(contentsOf: url).importModel(registry: registry)
}
let rows: [(String, Double)] = [
  ("export (write .onnx)", export), ("decode protobuf", decode),
  ("decode + translate graph and weights", translate), ("import to a Plexus model", load),
]
for (name, time) in rows {
  let label = ("Plexus " + name).padding(toLength: 45, withPad: " ", startingAt: 0)
  print(label + String(format: " %8.1f ms  %7.0f MB/s", time * 1000, megabytes / time))
}
let encoder = JSONEncoder()
encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
try encoder.encode(Dictionary(uniqueKeysWithValues: rows.map { ($0.0, $0.1) }))
  .write(to: output.appendingPathComponent("onnx-plexus.json"))
