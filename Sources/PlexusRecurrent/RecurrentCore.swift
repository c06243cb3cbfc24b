import Foundation
import PlexusCore

/// How a recurrent kernel `[units, gates * units]` is initialized.
public enum RecurrentKernelInitializer: String, Codable, Sendable, CaseIterable {
  /// An orthogonal `units x units` matrix per gate (Keras's default for recurrent kernels).
  case orthogonal
  /// Glorot-uniform over the whole kernel.
  case glorotUniform = "glorot_uniform"
}

/// The cell a recurrent layer runs at every step.
enum RecurrentCellKind: Sendable, Equatable {
  case simple(relu: Bool)
  case lstm
  case gru(resetAfter: Bool)

  /// The number of gate blocks of `units` columns in the kernels.
  var gateCount: Int {
    switch self {
    case .simple: return 1
    case .lstm: return 4
    case .gru: return 3
    }
  }

  /// The number of carried states (h, and c for an LSTM).
  var stateCount: Int { self == .lstm ? 2 : 1 }
}

/// The per-call buffers of a recurrent layer, kept in `CallRecord.scratch` and reused from one
/// call to the next when the sizes match.
final class RecurrentTape {
  /// Input projections `[N, T, G*H]` (bias included); in backward, their gradients.
  var projections: [Float] = []
  /// The states in processing order `[T + 1, N, H]` (entry 0: the initial state).
  var hidden: [Float] = []
  /// The LSTM cell states `[T + 1, N, H]`.
  var cells: [Float] = []
  /// Activated gates per processed step `[T, N, G*H]`.
  var gates: [Float] = []
  /// GRU: the recurrent candidate product (reset after) or `r * h_prev` (reset before),
  /// `[T, N, H]`.
  var candidates: [Float] = []
  /// Recurrent products of one step `[N, G*H]`.
  var recurrent: [Float] = []
  /// Backward: the recurrent pre-activation gradients of every step `[T, N, G*H]`.
  var recurrentGradients: [Float] = []
  /// Backward: the state gradients carried from one step to the previous one.
  var hiddenGradient: [Float] = []
  var nextHiddenGradient: [Float] = []
  var cellGradient: [Float] = []
  var product: [Float] = []
  /// Per sample and processed step (`[N, T]`): whether the step is masked.
  var masked: [Bool] = []
  /// Whether any step of the call is masked.
  var hasMaskedSteps = false
  /// The sizes of the recorded call.
  var batch = 0
  var steps = 0

  static func resize(_ buffer: inout [Float], _ count: Int) {
    if buffer.count != count { buffer = [Float](repeating: 0, count: count) }
  }
}

/// The shared machinery of `SimpleRNN`, `LSTM` and `GRU`: shape checks, parameter
/// declarations, the forward pass over a whole sequence and backpropagation through time.
final class RecurrentCore: Sendable {
  let kind: RecurrentCellKind
  let units: Int
  let returnSequences: Bool
  let returnState: Bool
  let goBackwards: Bool
  let kernelInitializer: Initializer
  let recurrentInitializer: RecurrentKernelInitializer
  /// LSTM: whether the forget gate's bias starts at 1.
  let unitForgetBias: Bool
  /// A step whose features all equal this value is masked: it carries the state unchanged.
  let maskValue: Float?
  let kernel = Parameter(name: "kernel")
  let recurrentKernel = Parameter(name: "recurrent_kernel")
  let bias = Parameter(name: "bias")
  private let features = BuildValue<Int>()

  /// Validates `config` (finite `maskValue`, `units` in range) for a layer of `layerType`.
  init(
    kind: RecurrentCellKind, config: some RecurrentConfiguration, unitForgetBias: Bool = false,
    layerType: String
  ) throws {
    if let maskValue = config.maskValue, !maskValue.isFinite {
      throw PlexusError.invalidConfiguration(
        "\(layerType) maskValue must be a finite number, got \(maskValue)")
    }
    let limit = ParameterAllocation.maximumSampleElements / 4
    guard config.units > 0, config.units <= limit else {
      throw PlexusError.invalidConfiguration(
        "\(layerType) units must be in 1...\(limit), got \(config.units)")
    }
    self.kind = kind
    units = config.units
    returnSequences = config.returnSequences
    returnState = config.returnState
    goBackwards = config.goBackwards
    kernelInitializer = config.kernelInitializer
    recurrentInitializer = config.recurrentInitializer
    self.unitForgetBias = unitForgetBias
    maskValue = config.maskValue
  }

  var parameters: [Parameter] { [kernel, recurrentKernel, bias] }

  /// Checks `[T or nil, F]` plus optional initial states `[H]`, declares the parameters and
  /// returns the output shapes.
  func build(for inputShapes: [SymbolicShape], layer: String) throws -> [SymbolicShape] {
    let states = kind.stateCount
    let stateNames = states == 2 ? "h and c" : "h"
    guard inputShapes.count == 1 || inputShapes.count == 1 + states else {
      throw PlexusError.invalidArgument(
        "layer '\(layer)' takes a sequence [T, features] and optionally its initial "
          + "\(stateNames) state\(states == 2 ? "s" : "") [\(units)]; got \(inputShapes.count) inputs"
      )
    }
    let sequence = inputShapes[0]
    guard sequence.count == 2, let featureCount = sequence[1], featureCount > 0,
      sequence[0].map({ $0 > 0 }) ?? true
    else {
      throw PlexusError.shapeMismatch(
        layer: layer, expected: "[T, features] (rank 2, batch-first [N, T, features]; T may vary)",
        found: ShapeCheck.flatten(sequence))
    }
    for state in inputShapes.dropFirst() where state != [units] {
      throw PlexusError.shapeMismatch(
        layer: layer, expected: "an initial state [\(units)]", found: ShapeCheck.flatten(state))
    }
    let gates = kind.gateCount
    let width = gates * units
    let (_, overflow) = featureCount.multipliedReportingOverflow(by: width)
    guard !overflow else {
      throw PlexusError.invalidShape(
        "layer '\(layer)': kernel [\(featureCount), \(width)] overflows")
    }
    try kernel.declare(
      shape: [featureCount, width], initializer: kernelInitializer, fanIn: featureCount,
      fanOut: width)
    let units = self.units
    switch recurrentInitializer {
    case .glorotUniform:
      try recurrentKernel.declare(
        shape: [units, width], initializer: .glorotUniform, fanIn: units, fanOut: width)
    case .orthogonal:
      try recurrentKernel.declare(shape: [units, width]) { generator in
        RecurrentCore.orthogonalBlocks(units: units, blocks: gates, using: &generator)
      }
    }
    switch kind {
    case .gru(resetAfter: true):
      try bias.declare(shape: [2, width], filledWith: 0)
    case .lstm where unitForgetBias:
      try bias.declare(shape: [width]) { _ in
        var value = Tensor.zeros([width])
        value.withUnsafeMutableBufferPointer { b in
          for j in units..<(2 * units) { b[j] = 1 }
        }
        return value
      }
    default:
      try bias.declare(shape: [width], filledWith: 0)
    }
    features.value = featureCount
    var outputs: [SymbolicShape] = [returnSequences ? [sequence[0], units] : [units]]
    if returnState { outputs += Array(repeating: [units], count: states) }
    return outputs
  }

  /// `blocks` orthogonal `units x units` matrices side by side, `[units, blocks * units]`
  /// (modified Gram-Schmidt on standard normal rows).
  static func orthogonalBlocks(units: Int, blocks: Int, using generator: inout SeededGenerator)
    -> Tensor
  {
    let width = blocks * units
    var result = Tensor.zeros([units, width])
    for block in 0..<blocks {
      var q = Tensor.normal([units, units], using: &generator).scalars
      for row in 0..<units {
        for previous in 0..<row {
          var dot: Float = 0
          for k in 0..<units { dot += q[row * units + k] * q[previous * units + k] }
          for k in 0..<units { q[row * units + k] -= dot * q[previous * units + k] }
        }
        var norm: Float = 0
        for k in 0..<units { norm += q[row * units + k] * q[row * units + k] }
        let scale = norm > 1e-12 ? 1 / norm.squareRoot() : 0
        for k in 0..<units { q[row * units + k] *= scale }
      }
      result.withUnsafeMutableBufferPointer { r in
        for row in 0..<units {
          for k in 0..<units { r[row * width + block * units + k] = q[row * units + k] }
        }
      }
    }
    return result
  }

  @inline(__always) static func sigmoid(_ x: Float) -> Float { 1 / (1 + exp(-x)) }

  /// `tanh` through one `exp` (faster than the C library's `tanhf`; absolute error about
  /// 1e-7, and exactly ±1 where `exp` overflows or underflows).
  @inline(__always) static func tanh(_ x: Float) -> Float { 2 / (1 + exp(-2 * x)) - 1 }

  private func tape(of record: CallRecord) -> RecurrentTape {
    if let tape = record.scratch as? RecurrentTape { return tape }
    let tape = RecurrentTape()
    record.scratch = tape
    return tape
  }

  private static func count(_ factors: Int..., layer: String) throws -> Int {
    var total = 1
    for factor in factors {
      let (product, overflow) = total.multipliedReportingOverflow(by: factor)
      guard !overflow else {
        throw PlexusError.invalidShape("layer '\(layer)': buffer of \(factors) elements overflows")
      }
      total = product
    }
    return total
  }

  /// Runs the whole sequence.
  func forward(_ inputs: [Tensor], record: CallRecord, layer: String) throws -> [Tensor] {
    let x = inputs[0]
    guard x.rank == 3 else {
      throw PlexusError.shapeMismatch(
        layer: layer, expected: "[N, T, features]", found: x.shape)
    }
    let batch = x.shape[0]
    let steps = x.shape[1]
    let featureCount = x.shape[2]
    guard steps > 0 else {
      throw PlexusError.invalidArgument(
        "layer '\(layer)': empty sequence (T = 0); a recurrent layer needs at least one step")
    }
    guard featureCount == features.value else {
      throw PlexusError.shapeMismatch(
        layer: layer, expected: "[N, T, \(features.value.map(String.init) ?? "?")]",
        found: x.shape)
    }
    let units = self.units
    let gates = kind.gateCount
    let width = gates * units
    let tape = tape(of: record)
    tape.batch = batch
    tape.steps = steps
    let rows = try Self.count(batch, steps, layer: layer)
    RecurrentTape.resize(&tape.projections, try Self.count(rows, width, layer: layer))
    RecurrentTape.resize(&tape.hidden, try Self.count(steps + 1, batch, units, layer: layer))
    if kind == .lstm { RecurrentTape.resize(&tape.cells, tape.hidden.count) }
    RecurrentTape.resize(&tape.gates, try Self.count(steps, batch, width, layer: layer))
    if case .gru = kind {
      RecurrentTape.resize(&tape.candidates, try Self.count(steps, batch, units, layer: layer))
    }
    RecurrentTape.resize(&tape.recurrent, try Self.count(batch, width, layer: layer))
    tape.hasMaskedSteps = false
    let inputMask = record.inputMask(0)
    if let inputMask, inputMask.batch != batch || inputMask.steps != steps {
      throw PlexusError.shapeMismatch(
        layer: layer, expected: "a sequence mask of [\(batch), \(steps)] for its input",
        found: [inputMask.batch, inputMask.steps])
    }
    if maskValue != nil || inputMask != nil {
      if tape.masked.count != rows { tape.masked = [Bool](repeating: false, count: rows) }
      let goBackwards = self.goBackwards
      let maskValue = self.maskValue
      var any = false
      x.withUnsafeBufferPointer { xs in
        for n in 0..<batch {
          for s in 0..<steps {
            let t = goBackwards ? steps - 1 - s : s
            var padded = inputMask?.isMasked(sample: n, step: t) ?? false
            if !padded, let maskValue {
              let row = xs.baseAddress! + (n * steps + t) * featureCount
              padded = true
              for k in 0..<featureCount where row[k] != maskValue {
                padded = false
                break
              }
            }
            tape.masked[n * steps + s] = padded
            any = any || padded
          }
        }
      }
      tape.hasMaskedSteps = any
    }
    let hasMaskedSteps = tape.hasMaskedSteps
    let stateSize = batch * units
    for (index, state) in inputs.dropFirst().enumerated() {
      guard state.shape == [batch, units] else {
        throw PlexusError.shapeMismatch(
          layer: layer, expected: "an initial state [\(batch), \(units)]", found: state.shape)
      }
      state.withUnsafeBufferPointer { source in
        if index == 0 {
          tape.hidden.withUnsafeMutableBufferPointer {
            $0.baseAddress!.update(from: source.baseAddress!, count: stateSize)
          }
        } else {
          tape.cells.withUnsafeMutableBufferPointer {
            $0.baseAddress!.update(from: source.baseAddress!, count: stateSize)
          }
        }
      }
    }
    if inputs.count == 1 {
      for index in 0..<stateSize { tape.hidden[index] = 0 }
      if kind == .lstm { for index in 0..<stateSize { tape.cells[index] = 0 } }
    }

    let kind = self.kind
    let goBackwards = self.goBackwards
    let kernelValue = kernel.value
    let recurrentValue = recurrentKernel.value
    let biasValue = bias.value
    // The input projection of every step in one product, bias first.
    tape.projections.withUnsafeMutableBufferPointer { projection in
      biasValue.withUnsafeBufferPointer { b in
        for row in 0..<rows {
          (projection.baseAddress! + row * width).update(from: b.baseAddress!, count: width)
        }
      }
      x.withUnsafeBufferPointer { xs in
        kernelValue.withUnsafeBufferPointer { w in
          BLAS.gemm(
            transposeA: false, transposeB: false, m: rows, n: width, k: featureCount,
            a: xs.baseAddress!, lda: featureCount, b: w.baseAddress!, ldb: width, beta: 1,
            c: projection.baseAddress!, ldc: width)
        }
      }
    }

    // The per-step products are small: splitting them across cores costs more in thread
    // wake-ups than it saves, so the step loop runs on the calling thread.
    try Parallel.maximumThreads.withValue(1) {
      tape.projections.withUnsafeBufferPointer { projectionBuffer in
        tape.hidden.withUnsafeMutableBufferPointer { hiddenBuffer in
          tape.cells.withUnsafeMutableBufferPointer { cellBuffer in
            tape.gates.withUnsafeMutableBufferPointer { gateBuffer in
              tape.candidates.withUnsafeMutableBufferPointer { candidateBuffer in
                tape.recurrent.withUnsafeMutableBufferPointer { recurrentBuffer in
                  recurrentValue.withUnsafeBufferPointer { u in
                    biasValue.withUnsafeBufferPointer { b in
                      tape.masked.withUnsafeBufferPointer { masked in
                        let xz = projectionBuffer.baseAddress!
                        let rec = recurrentBuffer.baseAddress!
                        let uBase = u.baseAddress!
                        for s in 0..<steps {
                          let t = goBackwards ? steps - 1 - s : s
                          let hPrev = hiddenBuffer.baseAddress! + s * stateSize
                          let hNext = hPrev + stateSize
                          let gate = gateBuffer.baseAddress! + s * batch * width
                          // One product for the recurrent part of every gate (GRU reset-before:
                          // only z and r; the candidate's product needs r first).
                          let recurrentColumns: Int
                          if case .gru(resetAfter: false) = kind {
                            recurrentColumns = 2 * units
                          } else {
                            recurrentColumns = width
                          }
                          BLAS.gemm(
                            transposeA: false, transposeB: false, m: batch, n: recurrentColumns,
                            k: units, a: UnsafePointer(hPrev), lda: units, b: uBase, ldb: width,
                            beta: 0, c: rec, ldc: width)
                          switch kind {
                          case .simple(let relu):
                            for n in 0..<batch {
                              let xrow = xz + (n * steps + t) * width
                              let rrow = rec + n * width
                              for j in 0..<units {
                                let z = xrow[j] + rrow[j]
                                let h = relu ? Swift.max(z, 0) : Self.tanh(z)
                                hNext[n * units + j] = h
                              }
                            }
                          case .lstm:
                            let cPrev = cellBuffer.baseAddress! + s * stateSize
                            let cNext = cPrev + stateSize
                            for n in 0..<batch {
                              LSTMCell.step(
                                projection: xz + (n * steps + t) * width,
                                recurrent: rec + n * width, gates: gate + n * width,
                                previousCell: cPrev + n * units, cell: cNext + n * units,
                                hidden: hNext + n * units, units: units)
                            }
                          case .gru(let resetAfter):
                            let candidate = candidateBuffer.baseAddress! + s * stateSize
                            if resetAfter {
                              let recurrentBias = b.baseAddress! + width
                              for n in 0..<batch {
                                GRUCell.resetAfterStep(
                                  projection: xz + (n * steps + t) * width,
                                  recurrent: rec + n * width, recurrentBias: recurrentBias,
                                  gates: gate + n * width, previousHidden: hPrev + n * units,
                                  candidate: candidate + n * units, hidden: hNext + n * units,
                                  units: units)
                              }
                            } else {
                              for n in 0..<batch {
                                let xrow = xz + (n * steps + t) * width
                                let rrow = rec + n * width
                                let grow = gate + n * width
                                for j in 0..<units {
                                  let z = Self.sigmoid(xrow[j] + rrow[j])
                                  let r = Self.sigmoid(xrow[units + j] + rrow[units + j])
                                  grow[j] = z
                                  grow[units + j] = r
                                  candidate[n * units + j] = r * hPrev[n * units + j]
                                }
                              }
                              BLAS.gemm(
                                transposeA: false, transposeB: false, m: batch, n: units, k: units,
                                a: UnsafePointer(candidate), lda: units, b: uBase + 2 * units,
                                ldb: width, beta: 0, c: rec + 2 * units, ldc: width)
                              for n in 0..<batch {
                                let xrow = xz + (n * steps + t) * width
                                let rrow = rec + n * width
                                let grow = gate + n * width
                                for j in 0..<units {
                                  let z = grow[j]
                                  let hh = Self.tanh(xrow[2 * units + j] + rrow[2 * units + j])
                                  grow[2 * units + j] = hh
                                  hNext[n * units + j] = z * hPrev[n * units + j] + (1 - z) * hh
                                }
                              }
                            }
                          }
                          // A masked step carries the state (and the cell) unchanged.
                          if hasMaskedSteps {
                            for n in 0..<batch where masked[n * steps + s] {
                              (hNext + n * units).update(from: hPrev + n * units, count: units)
                              if kind == .lstm {
                                let cPrev = cellBuffer.baseAddress! + s * stateSize
                                (cPrev + stateSize + n * units).update(
                                  from: cPrev + n * units, count: units)
                              }
                            }
                          }
                        }
                      }
                    }
                  }
                }
              }
            }
          }
        }
      }
    }

    var outputs: [Tensor] = []
    let hidden = tape.hidden
    if returnSequences {
      outputs.append(
        Tensor(unsafeUninitializedShape: [batch, steps, units]) { out in
          for s in 0..<steps {
            for n in 0..<batch {
              for j in 0..<units {
                out[(n * steps + s) * units + j] = hidden[(s + 1) * stateSize + n * units + j]
              }
            }
          }
        })
    }
    let last = Tensor(unsafeUninitializedShape: [batch, units]) { out in
      for index in 0..<stateSize { out[index] = hidden[steps * stateSize + index] }
    }
    if !returnSequences { outputs.append(last) }
    if returnSequences, tape.hasMaskedSteps {
      // The returned sequence keeps the mask, in processing order like the sequence itself.
      record.outputMasks = [try SequenceMask(batch: batch, steps: steps, masked: tape.masked)]
    }
    if returnState {
      outputs.append(last)
      if kind == .lstm {
        let cells = tape.cells
        outputs.append(
          Tensor(unsafeUninitializedShape: [batch, units]) { out in
            for index in 0..<stateSize { out[index] = cells[steps * stateSize + index] }
          })
      }
    }
    return outputs
  }

  /// One time step with carried states: `x` is `[N, features]`, `states` the states the last
  /// step returned (`h`, and `c` for an LSTM; empty: zeros). Returns the step's output `h` and
  /// the new states. Running a sequence step by step gives the full pass's outputs.
  func step(_ x: Tensor, states: [Tensor], layer: String) throws -> (
    output: Tensor, states: [Tensor]
  ) {
    guard x.rank == 2 else {
      throw PlexusError.shapeMismatch(
        layer: layer, expected: "[N, features] (one time step)", found: x.shape)
    }
    guard states.isEmpty || states.count == kind.stateCount else {
      throw PlexusError.invalidArgument(
        "layer '\(layer)' carries \(kind.stateCount) state(s), \(states.count) were given")
    }
    let (batch, features) = (x.shape[0], x.shape[1])
    let record = CallRecord()
    let inputs = [try x.reshaped([batch, 1, features])] + states
    record.begin(inputs: inputs, training: false)
    _ = try forward(inputs, record: record, layer: layer)
    let tape = tape(of: record)
    let stateSize = batch * units
    func final(_ values: [Float]) -> Tensor {
      Tensor(unsafeUninitializedShape: [batch, units]) { out in
        for index in 0..<stateSize { out[index] = values[stateSize + index] }
      }
    }
    let hidden = final(tape.hidden)
    return (hidden, kind == .lstm ? [hidden, final(tape.cells)] : [hidden])
  }

  /// Backpropagation through time for the call `record` holds.
  func backward(
    _ outputGradients: [Tensor], record: CallRecord, computingInputGradients: Bool,
    layer: String
  ) throws -> [Tensor?] {
    guard let tape = record.scratch as? RecurrentTape, let x = record.inputs.first,
      tape.batch == x.shape[0], tape.steps == x.shape[1]
    else {
      throw PlexusError.notBuilt("layer '\(layer)': backward called before forward")
    }
    let batch = tape.batch
    let steps = tape.steps
    let featureCount = x.shape[2]
    let units = self.units
    let width = kind.gateCount * units
    let stateSize = batch * units
    let rows = batch * steps
    let kind = self.kind
    let goBackwards = self.goBackwards
    let returnSequences = self.returnSequences
    let hasMaskedSteps = tape.hasMaskedSteps
    RecurrentTape.resize(&tape.hiddenGradient, stateSize)
    RecurrentTape.resize(&tape.nextHiddenGradient, stateSize)
    RecurrentTape.resize(&tape.cellGradient, stateSize)
    RecurrentTape.resize(&tape.product, stateSize)
    // The recurrent pre-activation gradients of all steps, for one kernel product at the end.
    RecurrentTape.resize(&tape.recurrentGradients, steps * batch * width)
    for index in 0..<stateSize {
      tape.hiddenGradient[index] = 0
      tape.cellGradient[index] = 0
    }
    let sequenceGradient = outputGradients[0]
    if !returnSequences {
      sequenceGradient.withUnsafeBufferPointer { g in
        for index in 0..<stateSize { tape.hiddenGradient[index] += g[index] }
      }
    }
    if returnState {
      outputGradients[1].withUnsafeBufferPointer { g in
        for index in 0..<stateSize { tape.hiddenGradient[index] += g[index] }
      }
      if kind == .lstm {
        outputGradients[2].withUnsafeBufferPointer { g in
          for index in 0..<stateSize { tape.cellGradient[index] += g[index] }
        }
      }
    }
    let recurrentValue = recurrentKernel.value

    // As in forward: the per-step products run on the calling thread.
    try Parallel.maximumThreads.withValue(1) {
      sequenceGradient.withUnsafeBufferPointer { sequenceBuffer in
        tape.projections.withUnsafeMutableBufferPointer { projectionGradientBuffer in
          tape.recurrentGradients.withUnsafeMutableBufferPointer { recurrentGradientBuffer in
            tape.hidden.withUnsafeBufferPointer { hiddenBuffer in
              tape.cells.withUnsafeBufferPointer { cellBuffer in
                tape.gates.withUnsafeBufferPointer { gateBuffer in
                  tape.candidates.withUnsafeBufferPointer { candidateBuffer in
                    tape.hiddenGradient.withUnsafeMutableBufferPointer { dhBuffer in
                      tape.nextHiddenGradient.withUnsafeMutableBufferPointer { dhPrevBuffer in
                        tape.cellGradient.withUnsafeMutableBufferPointer { dcBuffer in
                          tape.product.withUnsafeMutableBufferPointer { productBuffer in
                            recurrentValue.withUnsafeBufferPointer { u in
                              tape.masked.withUnsafeBufferPointer { masked in
                                var dh = dhBuffer.baseAddress!
                                var dhPrev = dhPrevBuffer.baseAddress!
                                let dc = dcBuffer.baseAddress!
                                let dzx = projectionGradientBuffer.baseAddress!
                                let uBase = u.baseAddress!
                                for s in stride(from: steps - 1, through: 0, by: -1) {
                                  let t = goBackwards ? steps - 1 - s : s
                                  if returnSequences {
                                    for n in 0..<batch {
                                      for j in 0..<units {
                                        dh[n * units + j] +=
                                          sequenceBuffer[(n * steps + s) * units + j]
                                      }
                                    }
                                  }
                                  let hPrev = hiddenBuffer.baseAddress! + s * stateSize
                                  let hNext = hPrev + stateSize
                                  let gate = gateBuffer.baseAddress! + s * batch * width
                                  let dr = recurrentGradientBuffer.baseAddress! + s * batch * width
                                  var recurrentColumns = width
                                  var hasDirect = false
                                  let maskedRows = masked.baseAddress!
                                  if hasMaskedSteps && kind == .lstm {
                                    // Keep the cell gradient of masked samples: it passes through.
                                    for n in 0..<batch where maskedRows[n * steps + s] {
                                      (productBuffer.baseAddress! + n * units).update(
                                        from: dc + n * units, count: units)
                                    }
                                  }
                                  switch kind {
                                  case .simple(let relu):
                                    for n in 0..<batch {
                                      let xrow = dzx + (n * steps + t) * width
                                      let rrow = dr + n * width
                                      for j in 0..<units {
                                        let h = hNext[n * units + j]
                                        let derivative: Float = relu ? (h > 0 ? 1 : 0) : 1 - h * h
                                        let g = dh[n * units + j] * derivative
                                        xrow[j] = g
                                        rrow[j] = g
                                      }
                                    }
                                  case .lstm:
                                    let cPrev = cellBuffer.baseAddress! + s * stateSize
                                    let cNext = cPrev + stateSize
                                    for n in 0..<batch {
                                      let xrow = dzx + (n * steps + t) * width
                                      let rrow = dr + n * width
                                      let grow = gate + n * width
                                      for j in 0..<units {
                                        let k = n * units + j
                                        let i = grow[j]
                                        let f = grow[units + j]
                                        let g = grow[2 * units + j]
                                        let o = grow[3 * units + j]
                                        let tc = Self.tanh(cNext[k])
                                        let dcTotal = dc[k] + dh[k] * o * (1 - tc * tc)
                                        let di = dcTotal * g * i * (1 - i)
                                        let df = dcTotal * cPrev[k] * f * (1 - f)
                                        let dg = dcTotal * i * (1 - g * g)
                                        let dO = dh[k] * tc * o * (1 - o)
                                        dc[k] = dcTotal * f
                                        xrow[j] = di
                                        xrow[units + j] = df
                                        xrow[2 * units + j] = dg
                                        xrow[3 * units + j] = dO
                                        rrow[j] = di
                                        rrow[units + j] = df
                                        rrow[2 * units + j] = dg
                                        rrow[3 * units + j] = dO
                                      }
                                    }
                                  case .gru(let resetAfter):
                                    let candidate = candidateBuffer.baseAddress! + s * stateSize
                                    hasDirect = true
                                    if resetAfter {
                                      for n in 0..<batch {
                                        let xrow = dzx + (n * steps + t) * width
                                        let rrow = dr + n * width
                                        let grow = gate + n * width
                                        for j in 0..<units {
                                          let k = n * units + j
                                          let z = grow[j]
                                          let r = grow[units + j]
                                          let hh = grow[2 * units + j]
                                          let g = dh[k]
                                          let dhh = g * (1 - z) * (1 - hh * hh)
                                          let dz = g * (hPrev[k] - hh) * z * (1 - z)
                                          let dReset = dhh * candidate[k] * r * (1 - r)
                                          xrow[j] = dz
                                          xrow[units + j] = dReset
                                          xrow[2 * units + j] = dhh
                                          rrow[j] = dz
                                          rrow[units + j] = dReset
                                          rrow[2 * units + j] = dhh * r
                                          dhPrev[k] = g * z
                                        }
                                      }
                                    } else {
                                      recurrentColumns = 2 * units
                                      for n in 0..<batch {
                                        let xrow = dzx + (n * steps + t) * width
                                        let rrow = dr + n * width
                                        let grow = gate + n * width
                                        for j in 0..<units {
                                          let k = n * units + j
                                          let z = grow[j]
                                          let hh = grow[2 * units + j]
                                          let dhh = dh[k] * (1 - z) * (1 - hh * hh)
                                          xrow[2 * units + j] = dhh
                                          rrow[2 * units + j] = dhh
                                        }
                                      }
                                      // d(r * h_prev) = dhh · U_h^T
                                      let product = productBuffer.baseAddress!
                                      BLAS.gemm(
                                        transposeA: false, transposeB: true, m: batch, n: units,
                                        k: units, a: UnsafePointer(dr + 2 * units), lda: width,
                                        b: uBase + 2 * units, ldb: width, beta: 0, c: product,
                                        ldc: units)
                                      for n in 0..<batch {
                                        let xrow = dzx + (n * steps + t) * width
                                        let rrow = dr + n * width
                                        let grow = gate + n * width
                                        for j in 0..<units {
                                          let k = n * units + j
                                          let z = grow[j]
                                          let r = grow[units + j]
                                          let hh = grow[2 * units + j]
                                          let g = dh[k]
                                          let dz = g * (hPrev[k] - hh) * z * (1 - z)
                                          let dReset = product[k] * hPrev[k] * r * (1 - r)
                                          xrow[j] = dz
                                          xrow[units + j] = dReset
                                          rrow[j] = dz
                                          rrow[units + j] = dReset
                                          dhPrev[k] = g * z + product[k] * r
                                        }
                                      }
                                      _ = candidate
                                    }
                                  }
                                  // A masked step passes its state gradients through and trains
                                  // nothing.
                                  if hasMaskedSteps {
                                    for n in 0..<batch where maskedRows[n * steps + s] {
                                      (dzx + (n * steps + t) * width).update(
                                        repeating: 0, count: width)
                                      (dr + n * width).update(repeating: 0, count: width)
                                      if kind == .lstm {
                                        (dc + n * units).update(
                                          from: productBuffer.baseAddress! + n * units, count: units
                                        )
                                      }
                                    }
                                  }
                                  // dh_prev (+)= dR · U^T over the gates read from h_prev.
                                  BLAS.gemm(
                                    transposeA: false, transposeB: true, m: batch, n: units,
                                    k: recurrentColumns, a: UnsafePointer(dr), lda: width, b: uBase,
                                    ldb: width, beta: hasDirect ? 1 : 0, c: dhPrev, ldc: units)
                                  if hasMaskedSteps {
                                    for n in 0..<batch where maskedRows[n * steps + s] {
                                      (dhPrev + n * units).update(
                                        from: dh + n * units, count: units)
                                    }
                                  }
                                  swap(&dh, &dhPrev)
                                }
                                if dh != dhBuffer.baseAddress! {
                                  dhBuffer.baseAddress!.update(from: dh, count: stateSize)
                                }
                              }
                            }
                          }
                        }
                      }
                    }
                  }
                }
              }
            }
          }
        }
      }
    }

    // Parameter gradients: one product each over all steps.
    let projectionGradients = tape.projections
    let recurrentGradients = tape.recurrentGradients
    x.withUnsafeBufferPointer { xs in
      projectionGradients.withUnsafeBufferPointer { g in
        kernel.gradient.withUnsafeMutableBufferPointer { dw in
          BLAS.gemm(
            transposeA: true, transposeB: false, m: featureCount, n: width, k: rows,
            a: xs.baseAddress!, lda: featureCount, b: g.baseAddress!, ldb: width, beta: 1,
            c: dw.baseAddress!, ldc: width)
        }
      }
    }
    tape.hidden.withUnsafeBufferPointer { hs in
      tape.candidates.withUnsafeBufferPointer { candidates in
        recurrentGradients.withUnsafeBufferPointer { g in
          recurrentKernel.gradient.withUnsafeMutableBufferPointer { du in
            if case .gru(resetAfter: false) = kind {
              BLAS.gemm(
                transposeA: true, transposeB: false, m: units, n: 2 * units, k: rows,
                a: hs.baseAddress!, lda: units, b: g.baseAddress!, ldb: width, beta: 1,
                c: du.baseAddress!, ldc: width)
              BLAS.gemm(
                transposeA: true, transposeB: false, m: units, n: units, k: rows,
                a: candidates.baseAddress!, lda: units, b: g.baseAddress! + 2 * units, ldb: width,
                beta: 1, c: du.baseAddress! + 2 * units, ldc: width)
            } else {
              BLAS.gemm(
                transposeA: true, transposeB: false, m: units, n: width, k: rows,
                a: hs.baseAddress!, lda: units, b: g.baseAddress!, ldb: width, beta: 1,
                c: du.baseAddress!, ldc: width)
            }
          }
        }
      }
    }
    bias.gradient.withUnsafeMutableBufferPointer { db in
      for row in 0..<rows {
        for j in 0..<width { db[j] += projectionGradients[row * width + j] }
      }
      if case .gru(resetAfter: true) = kind {
        for row in 0..<rows {
          for j in 0..<width { db[width + j] += recurrentGradients[row * width + j] }
        }
      }
    }

    var gradients: [Tensor?] = []
    if computingInputGradients {
      let kernelValue = kernel.value
      gradients.append(
        Tensor(unsafeUninitializedShape: [batch, steps, featureCount]) { dx in
          projectionGradients.withUnsafeBufferPointer { g in
            kernelValue.withUnsafeBufferPointer { w in
              BLAS.gemm(
                transposeA: false, transposeB: true, m: rows, n: featureCount, k: width,
                a: g.baseAddress!, lda: width, b: w.baseAddress!, ldb: width, beta: 0,
                c: dx.baseAddress!, ldc: featureCount)
            }
          }
        })
    } else {
      gradients.append(nil)
    }
    if record.inputs.count > 1 {
      gradients.append(try Tensor(shape: [batch, units], scalars: tape.hiddenGradient))
      if kind == .lstm {
        gradients.append(try Tensor(shape: [batch, units], scalars: tape.cellGradient))
      }
    }
    return gradients
  }
}
