import Foundation
import PlexusCore
import PlexusTestSupport
import Testing

@testable import PlexusRecurrent

/// A naive per-step reference of the recurrent cells, in double precision, written from the
/// equations in the layers' documentation (no shared code with the layers).
enum RecurrentReference {
  /// Every processed step's `h` (processing order, `[N][T][H]`) and the final `c` (LSTM).
  /// Dropout: `inputScales` (`[N * F]`) multiply every step's input features and
  /// `recurrentScales` (`[N * H]`) the state that the recurrent products read (not the GRU's
  /// direct `z * h_prev` path).
  static func run(
    kind: RecurrentCellKind, x: Tensor, h0: Tensor?, c0: Tensor?, kernel: Tensor,
    recurrent: Tensor, bias: Tensor, goBackwards: Bool, maskValue: Float? = nil,
    inputScales: [Float]? = nil, recurrentScales: [Float]? = nil
  ) -> (sequence: [[[Double]]], cell: [[Double]]) {
    let n = x.shape[0]
    let steps = x.shape[1]
    let f = x.shape[2]
    let h = recurrent.shape[0]
    let w = kernel.scalars.map(Double.init)
    let u = recurrent.scalars.map(Double.init)
    let b = bias.scalars.map(Double.init)
    let xs = x.scalars.map(Double.init)
    let width = kernel.shape[1]
    func sigmoid(_ v: Double) -> Double { 1 / (1 + exp(-v)) }
    var sequences: [[[Double]]] = []
    var cells: [[Double]] = []
    for sample in 0..<n {
      var state = (0..<h).map { j in h0.map { Double($0.scalars[sample * h + j]) } ?? 0 }
      var cell = (0..<h).map { j in c0.map { Double($0.scalars[sample * h + j]) } ?? 0 }
      var outputs: [[Double]] = []
      for s in 0..<steps {
        let t = goBackwards ? steps - 1 - s : s
        if let maskValue,
          (0..<f).allSatisfy({ x.scalars[(sample * steps + t) * f + $0] == maskValue })
        {
          outputs.append(state)
          continue
        }
        func inputPart(_ column: Int) -> Double {
          var total = 0.0
          for k in 0..<f {
            let scale = inputScales.map { Double($0[sample * f + k]) } ?? 1
            total += xs[(sample * steps + t) * f + k] * scale * w[k * width + column]
          }
          return total
        }
        let read = (0..<h).map { k in
          state[k] * (recurrentScales.map { Double($0[sample * h + k]) } ?? 1)
        }
        func recurrentPart(_ column: Int, _ vector: [Double]) -> Double {
          var total = 0.0
          for k in 0..<h { total += vector[k] * u[k * width + column] }
          return total
        }
        var next = [Double](repeating: 0, count: h)
        switch kind {
        case .simple(let relu):
          for j in 0..<h {
            let z = inputPart(j) + recurrentPart(j, read) + b[j]
            next[j] = relu ? max(z, 0) : tanh(z)
          }
        case .lstm:
          for j in 0..<h {
            func z(_ gate: Int) -> Double {
              inputPart(gate * h + j) + recurrentPart(gate * h + j, read) + b[gate * h + j]
            }
            let i = sigmoid(z(0))
            let fg = sigmoid(z(1))
            let g = tanh(z(2))
            let o = sigmoid(z(3))
            cell[j] = fg * cell[j] + i * g
            next[j] = o * tanh(cell[j])
          }
        case .gru(let resetAfter):
          var zs = [Double](repeating: 0, count: h)
          var rs = [Double](repeating: 0, count: h)
          for j in 0..<h {
            let recurrentBias = resetAfter ? (b[width + j], b[width + h + j]) : (0, 0)
            zs[j] = sigmoid(inputPart(j) + b[j] + recurrentPart(j, read) + recurrentBias.0)
            rs[j] = sigmoid(
              inputPart(h + j) + b[h + j] + recurrentPart(h + j, read) + recurrentBias.1)
          }
          let resetState = (0..<h).map { rs[$0] * read[$0] }
          for j in 0..<h {
            let candidate: Double
            if resetAfter {
              candidate = tanh(
                inputPart(2 * h + j) + b[2 * h + j]
                  + rs[j] * (recurrentPart(2 * h + j, read) + b[width + 2 * h + j]))
            } else {
              candidate = tanh(
                inputPart(2 * h + j) + b[2 * h + j] + recurrentPart(2 * h + j, resetState))
            }
            next[j] = zs[j] * state[j] + (1 - zs[j]) * candidate
          }
        }
        state = next
        outputs.append(state)
      }
      sequences.append(outputs)
      cells.append(cell)
    }
    return (sequences, cells)
  }

  /// Builds a recurrent layer for `inputShapes`, draws its weights from `seed` and gives its
  /// bias random values (so the bias enters every check).
  static func prepare(_ layer: any Layer, inputShapes: [SymbolicShape], seed: UInt64 = 1) throws {
    try layer.ensureBuilt(inputShapes: inputShapes)
    var generator = SeededGenerator(seed: seed)
    try layer.initialize(using: &generator)
    for parameter in layer.parameters {
      parameter.value = Tensor.normal(
        parameter.value.shape, standardDeviation: 0.5, using: &generator)
    }
  }

  /// The largest difference between a layer's outputs and the reference.
  static func maximumDifference(
    layer: any Layer, core: RecurrentCore, x: Tensor, h0: Tensor? = nil, c0: Tensor? = nil
  ) throws -> Double {
    var inputs = [x]
    if let h0 { inputs.append(h0) }
    if let c0 { inputs.append(c0) }
    let outputs = try layer.run(inputs, training: false, record: CallRecord())
    let reference = run(
      kind: core.kind, x: x, h0: h0, c0: c0, kernel: core.kernel.value,
      recurrent: core.recurrentKernel.value, bias: core.bias.value,
      goBackwards: core.goBackwards, maskValue: core.maskValue)
    let n = x.shape[0]
    let steps = x.shape[1]
    let h = core.units
    var expected: [[Double]] = []
    if core.returnSequences {
      expected.append(reference.sequence.flatMap { $0.flatMap { $0 } })
    } else {
      expected.append(reference.sequence.flatMap { $0[steps - 1] })
    }
    if core.returnState {
      expected.append(reference.sequence.flatMap { $0[steps - 1] })
      if core.kind == .lstm { expected.append(reference.cell.flatMap { $0 }) }
    }
    guard outputs.count == expected.count else { return .infinity }
    var worst = 0.0
    for (output, values) in zip(outputs, expected) {
      guard output.count == values.count, output.shape.first == n, output.shape.last == h else {
        return .infinity
      }
      for (found, wanted) in zip(output.scalars, values) {
        worst = max(worst, abs(Double(found) - wanted))
      }
    }
    return worst
  }

  /// Finite-difference check of one configured layer with batch 5 (enough for the packed
  /// recurrent products; the layer harness covers batches below `minimumPackedBatch`) and
  /// `steps` steps; returns the largest relative error.
  static func gradientError(
    _ layer: any Layer, features: Int, units: Int, states: Int, steps: Int = 6, seed: UInt64 = 2
  ) throws -> Double {
    let shapes: [SymbolicShape] = [[nil, features]] + Array(repeating: [units], count: states)
    try prepare(layer, inputShapes: shapes, seed: seed)
    var generator = SeededGenerator(seed: seed + 100)
    let batch = 5
    #expect(batch >= RecurrentCore.minimumPackedBatch)
    var inputs = [Tensor.normal([batch, steps, features], using: &generator)]
    for _ in 0..<states { inputs.append(Tensor.normal([batch, units], using: &generator)) }
    // A step of 1e-2 and an error floor of 1e-2: with less, float32 rounding through six steps
    // of saturating gates dominates the differences of small entries.
    let report = try GradientCheck.check(
      layer: layer, inputs: inputs, epsilon: 1e-2, maximumEntries: 80, floor: 1e-2)
    return report.maximumError
  }

  /// A batch `[3, steps, features]` in which sample 0 has its last two time steps and sample 2
  /// its first step and step 3 set to `maskValue` (padding at both ends and inside).
  static func paddedBatch(steps: Int, features: Int, maskValue: Float, seed: UInt64) -> Tensor {
    var generator = SeededGenerator(seed: seed)
    var x = Tensor.normal([3, steps, features], using: &generator)
    let masked = [(0, steps - 1), (0, steps - 2), (2, 0), (2, 3)]
    x.withUnsafeMutableBufferPointer { values in
      for (n, t) in masked {
        for k in 0..<features { values[(n * steps + t) * features + k] = maskValue }
      }
    }
    return x
  }

  /// Checks a layer with `maskValue` on a padded batch: forward against the reference, the
  /// parameter gradients by finite differences (the input's are not: perturbing a padded
  /// step unmasks it) and zero input gradients at the masked steps. Returns the gradient error.
  static func maskedCheck(_ layer: any Layer, core: RecurrentCore, features: Int) throws
    -> Double
  {
    try prepare(layer, inputShapes: [[nil, features]])
    let x = paddedBatch(steps: 6, features: features, maskValue: 0, seed: 31)
    #expect(try maximumDifference(layer: layer, core: core, x: x) < 1e-5)
    let report = try GradientCheck.check(
      layer: layer, inputs: [x], epsilon: 1e-2, maximumEntries: 80, floor: 1e-2,
      checkingInputs: false)
    let record = CallRecord()
    let outputs = try layer.run([x], training: true, record: record)
    let gradient = try #require(
      try layer.gradients(outputs.map { Tensor(shape: $0.shape, repeating: 1) }, record: record)[
        0])
    for (n, t) in [(0, 5), (0, 4), (2, 0), (2, 3)] {
      for k in 0..<features { #expect(gradient[flat: (n * 6 + t) * features + k] == 0) }
    }
    return report.maximumError
  }

  /// Expects `body` to throw a `PlexusError` whose description contains `fragment`.
  static func expectError(_ fragment: String, _ body: () throws -> Void) {
    do {
      try body()
      Issue.record("expected an error containing '\(fragment)'")
    } catch let error as PlexusError {
      #expect(String(describing: error).contains(fragment), "\(error)")
    } catch {
      Issue.record("expected a PlexusError, got \(error)")
    }
  }
}
