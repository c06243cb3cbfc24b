import Dispatch

/// One measured workload: a name, the median time of one iteration and extra figures.
struct Measurement {
  var name: String
  var medianSeconds: Double
  var iterations: Int
  var extra: [String: Double] = [:]

  var jsonLine: String {
    var fields = [
      "\"name\": \"\(name)\"", "\"median_ms\": \(medianSeconds * 1000)",
      "\"iterations\": \(iterations)",
    ]
    for (key, value) in extra.sorted(by: { $0.key < $1.key }) {
      fields.append("\"\(key)\": \(value)")
    }
    return "{" + fields.joined(separator: ", ") + ", \"impl\": \"plexus\"}"
  }
}

/// Times `body` after a warm-up: runs it in rounds of `inner` calls for about `seconds` and
/// reports the median per-call time over the rounds.
func measure(
  _ name: String, seconds: Double = 1.0, inner: Int = 1, warmup: Int = 3, _ body: () throws -> Void
) rethrows -> Measurement {
  for _ in 0..<warmup { try body() }
  var rounds: [Double] = []
  let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(seconds * 1e9)
  var calls = 0
  repeat {
    let start = DispatchTime.now().uptimeNanoseconds
    for _ in 0..<inner { try body() }
    let end = DispatchTime.now().uptimeNanoseconds
    rounds.append(Double(end - start) / 1e9 / Double(inner))
    calls += inner
  } while DispatchTime.now().uptimeNanoseconds < deadline || rounds.count < 5
  rounds.sort()
  return Measurement(name: name, medianSeconds: rounds[rounds.count / 2], iterations: calls)
}
