import Dispatch
import Foundation
import PlexusCore
import PlexusKernels

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

  /// The columns of the recurrent kernel that multiply the previous state directly (GRU
  /// reset-before: only z and r; its candidate's product needs r first).
  func recurrentColumns(units: Int) -> Int {
    if case .gru(resetAfter: false) = self { return 2 * units }
    return gateCount * units
  }
}

/// The per-call buffers of a recurrent layer, kept in `CallRecord.scratch` and reused from one
/// call to the next (they grow when a call needs more).
final class RecurrentTape {
  /// The input projections of every step in processing order `[T, N, G*H]` (bias included).
  /// An LSTM adds the recurrent products in place and keeps its activated gates there; a
  /// GRU's backward pass replaces them by their gradients.
  let projections = FloatBuffer()
  /// The states in processing order `[T + 1, N, H]` (entry 0: the initial state).
  let hidden = FloatBuffer()
  /// The LSTM cell states `[T + 1, N, H]`.
  let cells = FloatBuffer()
  /// LSTM: `tanh` of each new cell state `[T, N, H]`, for backpropagation.
  let cellTanh = FloatBuffer()
  /// GRU: the activated gates per processed step `[T, N, G*H]`.
  let gates = FloatBuffer()
  /// GRU: the recurrent candidate product (reset after) or `r * h_prev` (reset before),
  /// `[T, N, H]`.
  let candidates = FloatBuffer()
  /// GRU: the recurrent products of one step `[N, G*H]`.
  let recurrent = FloatBuffer()
  /// Per sample and processed step (`[N, T]`): 1 where the step is masked, else 0.
  let masked = FloatBuffer()
  /// Input dropout: the scale of each input feature per sample `[N, F]` (0 or `1 / (1 -
  /// rate)`, the same at every step).
  let inputScales = FloatBuffer()
  /// The inputs in processing order `[T, N, F]` (scaled by the input dropout mask), which the
  /// projections and the kernel's gradient read; in backward, the input gradients in that
  /// order before they are put back in `[N, T, F]`.
  let orderedInputs = FloatBuffer()
  let orderedInputGradients = FloatBuffer()
  /// Recurrent dropout: the scale of each state unit per sample `[N, H]` and the scaled
  /// previous states the recurrent products read `[T, N, H]`.
  let recurrentScales = FloatBuffer()
  let droppedHidden = FloatBuffer()
  /// Backward: the recurrent pre-activation gradients of every step `[T, N, G*H]` (for an LSTM
  /// and a simple cell also the input projections' gradients: they are the same).
  let recurrentGradients = FloatBuffer()
  /// The recurrent kernel's columns that multiply the previous state, packed once per call
  /// for `plexus_gemm_packed`: as they are in forward, transposed in backward.
  let packedRecurrentKernel = FloatBuffer()
  /// Backward: the state gradients carried from one step to the previous one `[N, H]`, and
  /// per-step temporaries of that size.
  let hiddenGradient = FloatBuffer()
  let nextHiddenGradient = FloatBuffer()
  let cellGradient = FloatBuffer()
  let product = FloatBuffer()
  let droppedProduct = FloatBuffer()
  /// The sizes and options of the recorded call.
  var batch = 0
  var steps = 0
  var hasMaskedSteps = false
  var usesInputDropout = false
  var usesRecurrentDropout = false
}

/// One call's buffers as raw pointers, with its sizes: what the threads that run disjoint
/// ranges of samples share. Each thread writes only its own samples' rows, so the value is
/// shared without locks.
struct SequencePass: @unchecked Sendable {
  let kind: RecurrentCellKind
  let batch: Int
  let steps: Int
  let units: Int
  let goBackwards: Bool
  let returnSequences: Bool
  /// `[T, N, W]` in processing order: the input projections (an LSTM's gates once a step has
  /// run); a GRU's backward pass writes their gradients there.
  let projections: UnsafeMutablePointer<Float>
  let hidden: UnsafeMutablePointer<Float>
  let cells: UnsafeMutablePointer<Float>
  let cellTanh: UnsafeMutablePointer<Float>
  let gates: UnsafeMutablePointer<Float>
  let candidates: UnsafeMutablePointer<Float>
  let recurrent: UnsafeMutablePointer<Float>
  let recurrentKernel: UnsafePointer<Float>
  /// The columns of `recurrentKernel` that multiply the previous state, packed by
  /// `plexus_gemm_pack`: as they are (forward) or transposed (backward); `nil` for a batch
  /// too small to pay for packing (the products then go to BLAS, one row to `sgemv`).
  let packedRecurrentKernel: UnsafePointer<Float>?
  let bias: UnsafePointer<Float>
  /// `nil` when no step of the call is masked.
  let masked: UnsafePointer<Float>?
  /// `nil` without recurrent dropout.
  let recurrentScales: UnsafePointer<Float>?
  let droppedHidden: UnsafeMutablePointer<Float>
  // Backward only.
  let sequenceGradient: UnsafePointer<Float>?
  let recurrentGradients: UnsafeMutablePointer<Float>
  let hiddenGradient: UnsafeMutablePointer<Float>
  let nextHiddenGradient: UnsafeMutablePointer<Float>
  let cellGradient: UnsafeMutablePointer<Float>
  let product: UnsafeMutablePointer<Float>
  let droppedProduct: UnsafeMutablePointer<Float>

  var width: Int { kind.gateCount * units }
  var stateSize: Int { batch * units }

  /// The time index of processing step `s`.
  @inline(__always) func time(_ s: Int) -> Int { goBackwards ? steps - 1 - s : s }

  @inline(__always) func isMasked(_ n: Int, _ s: Int) -> Bool {
    masked.map { $0[n * steps + s] != 0 } ?? false
  }

  /// The columns of the recurrent kernel that multiply the previous state directly (GRU
  /// reset-before: only z and r; its candidate's product needs r first).
  var recurrentColumns: Int { kind.recurrentColumns(units: units) }

  /// `C (+)= dR · Uᵀ` for `rows` samples over the columns read from the previous state: the
  /// part of the previous state's gradient that flows back through the recurrent product.
  private func previousStateProduct(
    rows: Int, gradients: UnsafePointer<Float>, accumulate: Bool,
    into target: UnsafeMutablePointer<Float>
  ) {
    if let packedRecurrentKernel {
      plexus_gemm_packed(
        Int64(rows), Int64(units), Int64(recurrentColumns), gradients, Int64(width),
        packedRecurrentKernel, accumulate ? 1 : 0, target, Int64(units))
    } else {
      BLAS.gemmOnCallingThread(
        transposeA: false, transposeB: true, m: rows, n: units, k: recurrentColumns,
        a: gradients, lda: width, b: recurrentKernel, ldb: width, beta: accumulate ? 1 : 0,
        c: target, ldc: units)
    }
  }

  /// Runs every step for the samples `samples`.
  func forward(samples: Range<Int>) {
    let (units, width, stateSize) = (self.units, self.width, self.stateSize)
    let (n0, rows) = (samples.lowerBound, samples.count)
    for s in 0..<steps {
      let block = projections + s * batch * width
      let hPrev = hidden + s * stateSize
      let hNext = hPrev + stateSize
      let gate = gates + s * batch * width
      // The state the recurrent products read: scaled by the recurrent dropout mask.
      var source = UnsafePointer(hPrev)
      if let scales = recurrentScales {
        let dropped = droppedHidden + s * stateSize
        for index in (n0 * units)..<(samples.upperBound * units) {
          dropped[index] = hPrev[index] * scales[index]
        }
        source = UnsafePointer(dropped)
      }
      // A simple cell and an LSTM add the recurrent product to the projections in place; a
      // GRU needs it apart.
      let summedInPlace = kind.gateCount != 3
      let product = (summedInPlace ? block : recurrent) + n0 * width
      if let packedRecurrentKernel {
        plexus_gemm_packed(
          Int64(rows), Int64(recurrentColumns), Int64(units), source + n0 * units,
          Int64(units), packedRecurrentKernel, summedInPlace ? 1 : 0, product, Int64(width))
      } else {
        BLAS.gemmOnCallingThread(
          transposeA: false, transposeB: false, m: rows, n: recurrentColumns, k: units,
          a: source + n0 * units, lda: units, b: recurrentKernel, ldb: width,
          beta: summedInPlace ? 1 : 0, c: product, ldc: width)
      }
      switch kind {
      case .simple(let relu):
        for n in samples {
          let row = block + n * width
          for j in 0..<units {
            let z = row[j] + bias[j]
            hNext[n * units + j] = relu ? Swift.max(z, 0) : RecurrentCore.tanh(z)
          }
        }
      case .lstm:
        let cPrev = cells + s * stateSize
        plexus_lstm_step_forward(
          Int64(rows), Int64(units), block + n0 * width, Int64(width), bias, cPrev + n0 * units,
          cPrev + stateSize + n0 * units, cellTanh + s * stateSize + n0 * units,
          hNext + n0 * units)
      case .gru(resetAfter: true):
        plexus_gru_reset_after_step_forward(
          Int64(rows), Int64(units), block + n0 * width, Int64(width),
          recurrent + n0 * width, Int64(width), bias + width, gate + n0 * width,
          hPrev + n0 * units, candidates + s * stateSize + n0 * units, hNext + n0 * units)
      case .gru(resetAfter: false):
        let candidate = candidates + s * stateSize
        for n in samples {
          let xrow = block + n * width
          let rrow = recurrent + n * width
          let grow = gate + n * width
          for j in 0..<units {
            let z = RecurrentCore.sigmoid(xrow[j] + rrow[j])
            let r = RecurrentCore.sigmoid(xrow[units + j] + rrow[units + j])
            grow[j] = z
            grow[units + j] = r
            candidate[n * units + j] = r * source[n * units + j]
          }
        }
        BLAS.gemmOnCallingThread(
          transposeA: false, transposeB: false, m: rows, n: units, k: units,
          a: candidate + n0 * units, lda: units, b: recurrentKernel + 2 * units, ldb: width,
          beta: 0, c: recurrent + n0 * width + 2 * units, ldc: width)
        for n in samples {
          let xrow = block + n * width
          let rrow = recurrent + n * width
          let grow = gate + n * width
          for j in 0..<units {
            let z = grow[j]
            let hh = RecurrentCore.tanh(xrow[2 * units + j] + rrow[2 * units + j])
            grow[2 * units + j] = hh
            hNext[n * units + j] = z * hPrev[n * units + j] + (1 - z) * hh
          }
        }
      }
      // A masked step carries the state (and the cell) unchanged.
      if masked != nil {
        for n in samples where isMasked(n, s) {
          (hNext + n * units).update(from: hPrev + n * units, count: units)
          if kind == .lstm {
            let cPrev = cells + s * stateSize
            (cPrev + stateSize + n * units).update(from: cPrev + n * units, count: units)
          }
        }
      }
    }
  }

  /// Backpropagation through every step for the samples `samples`: writes their rows of the
  /// input pre-activation gradients (`projections`), of `recurrentGradients`, and their
  /// initial states' gradients into `hiddenGradient` and `cellGradient`.
  func backward(samples: Range<Int>) {
    let (units, width, stateSize) = (self.units, self.width, self.stateSize)
    let (n0, rows) = (samples.lowerBound, samples.count)
    let rowRange = (n0 * units)..<(samples.upperBound * units)
    var dh = hiddenGradient
    var dhPrev = nextHiddenGradient
    let dc = cellGradient
    for s in stride(from: steps - 1, through: 0, by: -1) {
      if returnSequences, let sequenceGradient {
        for n in samples {
          let source = sequenceGradient + (n * steps + s) * units
          for j in 0..<units { dh[n * units + j] += source[j] }
        }
      }
      let hPrev = hidden + s * stateSize
      let gate = gates + s * batch * width
      let dr = recurrentGradients + s * batch * width
      // GRU: the input projections' gradients of this step.
      let block = projections + s * batch * width
      // What the recurrent products read at this step: the previous state, scaled by the
      // recurrent dropout mask.
      let source = UnsafePointer(recurrentScales != nil ? droppedHidden + s * stateSize : hPrev)
      var hasDirect = false
      if masked != nil && kind == .lstm {
        // Keep the cell gradient of masked samples: it passes through.
        for n in samples where isMasked(n, s) {
          (product + n * units).update(from: dc + n * units, count: units)
        }
      }
      switch kind {
      case .simple(let relu):
        let hNext = hPrev + stateSize
        for n in samples {
          let row = dr + n * width
          for j in 0..<units {
            let h = hNext[n * units + j]
            let derivative: Float = relu ? (h > 0 ? 1 : 0) : 1 - h * h
            row[j] = dh[n * units + j] * derivative
          }
        }
      case .lstm:
        plexus_lstm_step_backward(
          Int64(rows), Int64(units), gate + n0 * width, Int64(width),
          cells + s * stateSize + n0 * units, cellTanh + s * stateSize + n0 * units,
          dh + n0 * units, dc + n0 * units, dr + n0 * width, Int64(width))
      case .gru(resetAfter: true):
        hasDirect = true
        plexus_gru_reset_after_step_backward(
          Int64(rows), Int64(units), gate + n0 * width,
          candidates + s * stateSize + n0 * units, hPrev + n0 * units, dh + n0 * units,
          block + n0 * width, Int64(width), dr + n0 * width, dhPrev + n0 * units)
      case .gru(resetAfter: false):
        hasDirect = true
        for n in samples {
          let xrow = block + n * width
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
        BLAS.gemmOnCallingThread(
          transposeA: false, transposeB: true, m: rows, n: units, k: units,
          a: dr + n0 * width + 2 * units, lda: width, b: recurrentKernel + 2 * units,
          ldb: width, beta: 0, c: product + n0 * units, ldc: units)
        for n in samples {
          let xrow = block + n * width
          let rrow = dr + n * width
          let grow = gate + n * width
          for j in 0..<units {
            let k = n * units + j
            let z = grow[j]
            let r = grow[units + j]
            let hh = grow[2 * units + j]
            let g = dh[k]
            let dz = g * (hPrev[k] - hh) * z * (1 - z)
            let dReset = product[k] * source[k] * r * (1 - r)
            xrow[j] = dz
            xrow[units + j] = dReset
            rrow[j] = dz
            rrow[units + j] = dReset
            let scale = recurrentScales?[k] ?? 1
            dhPrev[k] = g * z + product[k] * r * scale
          }
        }
      }
      // A masked step passes its state gradients through and trains nothing.
      if masked != nil {
        for n in samples where isMasked(n, s) {
          if kind.gateCount == 3 { (block + n * width).update(repeating: 0, count: width) }
          (dr + n * width).update(repeating: 0, count: width)
          if kind == .lstm {
            (dc + n * units).update(from: product + n * units, count: units)
          }
        }
      }
      // dh_prev (+)= dR · U^T over the gates read from h_prev (times the dropout mask).
      if let scales = recurrentScales {
        previousStateProduct(
          rows: rows, gradients: dr + n0 * width, accumulate: false,
          into: droppedProduct + n0 * units)
        for index in rowRange {
          dhPrev[index] = (hasDirect ? dhPrev[index] : 0) + droppedProduct[index] * scales[index]
        }
      } else {
        previousStateProduct(
          rows: rows, gradients: dr + n0 * width, accumulate: hasDirect,
          into: dhPrev + n0 * units)
      }
      if masked != nil {
        for n in samples where isMasked(n, s) {
          (dhPrev + n * units).update(from: dh + n * units, count: units)
        }
      }
      swap(&dh, &dhPrev)
    }
    if dh != hiddenGradient {
      (hiddenGradient + n0 * units).update(from: dh + n0 * units, count: rows * units)
    }
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
  /// The fraction of input features dropped in training (one mask per sample and call).
  let dropout: Float
  /// The fraction of state units dropped before the recurrent products in training.
  let recurrentDropout: Float
  let kernel = Parameter(name: "kernel")
  let recurrentKernel = Parameter(name: "recurrent_kernel")
  let bias = Parameter(name: "bias")
  private let features = BuildValue<Int>()

  /// Validates `config` (finite `maskValue`, `units` in range) for a layer of `layerType`.
  init(
    kind: RecurrentCellKind, config: some RecurrentConfiguration, unitForgetBias: Bool = false,
    layerType: String
  ) throws {
    for (key, rate) in [("dropout", config.dropout), ("recurrentDropout", config.recurrentDropout)]
    where !(rate >= 0 && rate < 1) {
      throw PlexusError.invalidConfiguration(
        "\(layerType) \(key) must be in [0, 1), got \(rate)")
    }
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
    dropout = config.dropout
    recurrentDropout = config.recurrentDropout
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

  /// Whether a call in training draws dropout masks.
  var usesDropout: Bool { dropout > 0 || recurrentDropout > 0 }

  /// Materializes the parameters and, for a layer with dropout, seeds its random stream
  /// (without dropout nothing more is drawn, so seeded models without it are unchanged).
  func initialize(state: LayerState, seed: UInt64?, using generator: inout SeededGenerator)
    throws
  {
    for parameter in parameters { try parameter.materialize(using: &generator) }
    if usesDropout { state.seedRandomStream(seed: seed, from: &generator) }
  }

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

  /// How many threads run a call's samples: the per-step products are too small to split,
  /// but samples are independent through the whole sequence, so a large batch splits into
  /// ranges of samples that run every step without meeting (one wake-up per pass).
  private static func sampleChunks(batch: Int, work: Int) -> Int {
    let threads = Parallel.maximumThreads.current
    guard threads > 1, batch > 1 else { return 1 }
    return Swift.max(1, Swift.min(threads, batch, work / BLAS.minimumParallelWork.current))
  }

  /// Runs `body` over `0..<batch` in `chunks` contiguous ranges, concurrently when more than
  /// one.
  private static func forEachSampleRange(
    batch: Int, chunks: Int, _ body: @Sendable (Range<Int>) -> Void
  ) {
    guard chunks > 1 else {
      body(0..<batch)
      return
    }
    let size = (batch + chunks - 1) / chunks
    DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
      let range = (chunk * size)..<Swift.min(batch, (chunk + 1) * size)
      if !range.isEmpty { body(range) }
    }
  }

  /// Draws `count` dropout scales (0 with probability `rate`, else `1 / (1 - rate)`).
  private static func drawScales(
    _ buffer: UnsafeMutablePointer<Float>, count: Int, rate: Float,
    using generator: inout SeededGenerator
  ) {
    let keep = 1 - rate
    let scale = 1 / keep
    for index in 0..<count { buffer[index] = generator.nextUnitFloat() < keep ? scale : 0 }
  }

  /// Runs the whole sequence. In training with dropout, the masks are drawn from `state`'s
  /// random stream: one per sample for the inputs and one for the state, the same at every
  /// step (variational dropout, as Keras).
  func forward(_ inputs: [Tensor], record: CallRecord, layer: String, state: LayerState)
    throws -> [Tensor]
  {
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
    let width = kind.gateCount * units
    let tape = tape(of: record)
    let rows = try Self.count(batch, steps, layer: layer)
    let stateSize = try Self.count(batch, units, layer: layer)
    let stepStates = try Self.count(steps, stateSize, layer: layer)
    let projections = tape.projections.reserve(try Self.count(rows, width, layer: layer))
    let hidden = tape.hidden.reserve(try Self.count(steps + 1, stateSize, layer: layer))
    let cells = tape.cells.reserve(kind == .lstm ? stepStates + stateSize : 1)
    let cellTanh = tape.cellTanh.reserve(kind == .lstm ? stepStates : 1)
    let isGRU = kind.gateCount == 3
    // An LSTM keeps its gates in the projections; a simple cell needs none.
    let gates =
      kind == .lstm
      ? projections
      : tape.gates.reserve(isGRU ? try Self.count(steps, batch, width, layer: layer) : 1)
    let candidates = tape.candidates.reserve(kind.stateCount == 1 ? stepStates : 1)
    let recurrent = tape.recurrent.reserve(isGRU ? try Self.count(batch, width, layer: layer) : 1)
    tape.batch = batch
    tape.steps = steps
    tape.hasMaskedSteps = false

    // Masked steps, in processing order.
    let inputMask = record.inputMask(0)
    if let inputMask, inputMask.batch != batch || inputMask.steps != steps {
      throw PlexusError.shapeMismatch(
        layer: layer, expected: "a sequence mask of [\(batch), \(steps)] for its input",
        found: [inputMask.batch, inputMask.steps])
    }
    let masked = tape.masked.reserve(rows)
    if maskValue != nil || inputMask != nil {
      let (goBackwards, maskValue) = (self.goBackwards, self.maskValue)
      var any = false
      x.withUnsafeBufferPointer { xs in
        for n in 0..<batch {
          for s in 0..<steps {
            let t = goBackwards ? steps - 1 - s : s
            var padded = inputMask?.isMasked(sample: n, step: t) ?? false
            if !padded, let maskValue {
              let row = xs.baseAddress! + (n * steps + t) * featureCount
              padded = (0..<featureCount).allSatisfy { row[$0] == maskValue }
            }
            masked[n * steps + s] = padded ? 1 : 0
            any = any || padded
          }
        }
      }
      tape.hasMaskedSteps = any
    }

    // Initial states.
    for (index, initial) in inputs.dropFirst().enumerated() {
      guard initial.shape == [batch, units] else {
        throw PlexusError.shapeMismatch(
          layer: layer, expected: "an initial state [\(batch), \(units)]", found: initial.shape)
      }
      initial.withUnsafeBufferPointer { source in
        (index == 0 ? hidden : cells).update(from: source.baseAddress!, count: stateSize)
      }
    }
    if inputs.count == 1 {
      hidden.update(repeating: 0, count: stateSize)
      if kind == .lstm { cells.update(repeating: 0, count: stateSize) }
    }

    // Dropout masks (training only).
    let training = record.isTraining
    tape.usesInputDropout = training && dropout > 0
    tape.usesRecurrentDropout = training && recurrentDropout > 0
    let inputScales: UnsafePointer<Float>?
    if tape.usesInputDropout || tape.usesRecurrentDropout {
      let scales = tape.inputScales.reserve(try Self.count(batch, featureCount, layer: layer))
      let recurrentScales = tape.recurrentScales.reserve(stateSize)
      let (dropout, recurrentDropout) = (self.dropout, self.recurrentDropout)
      let (usesInput, usesRecurrent) = (tape.usesInputDropout, tape.usesRecurrentDropout)
      state.withRandomStream { generator in
        if usesInput {
          Self.drawScales(scales, count: batch * featureCount, rate: dropout, using: &generator)
        }
        if usesRecurrent {
          Self.drawScales(
            recurrentScales, count: stateSize, rate: recurrentDropout, using: &generator)
        }
      }
      inputScales = usesInput ? UnsafePointer(scales) : nil
    } else {
      inputScales = nil
    }
    // The inputs in processing order (step-major), scaled by the input dropout mask.
    let ordered = tape.orderedInputs.reserve(try Self.count(rows, featureCount, layer: layer))
    x.withUnsafeBufferPointer { xs in
      reorder(
        batch: batch, steps: steps, features: featureCount, scales: inputScales,
        sampleMajor: UnsafeMutablePointer(mutating: xs.baseAddress!), stepMajor: ordered,
        toStepMajor: true)
    }
    let droppedHidden = tape.droppedHidden.reserve(tape.usesRecurrentDropout ? stepStates : 1)

    // The input projection of every step in one product.
    let kernelValue = kernel.value
    let recurrentValue = recurrentKernel.value
    let biasValue = bias.value
    // A GRU's projections start from the bias; a simple cell and an LSTM add it in their step.
    if isGRU {
      biasValue.withUnsafeBufferPointer { b in
        for row in 0..<rows {
          (projections + row * width).update(from: b.baseAddress!, count: width)
        }
      }
    }
    kernelValue.withUnsafeBufferPointer { w in
      BLAS.gemm(
        transposeA: false, transposeB: false, m: rows, n: width, k: featureCount,
        a: ordered, lda: featureCount, b: w.baseAddress!, ldb: width, beta: isGRU ? 1 : 0,
        c: projections, ldc: width)
    }

    let chunks = Self.sampleChunks(batch: batch, work: stepStates &* width)
    let packed = Self.packRecurrentKernel(
      recurrentValue, kind: kind, units: units, batch: batch, transposed: false, into: tape)
    recurrentValue.withUnsafeBufferPointer { u in
      biasValue.withUnsafeBufferPointer { b in
        let pass = SequencePass(
          kind: kind, batch: batch, steps: steps, units: units, goBackwards: goBackwards,
          returnSequences: returnSequences, projections: projections, hidden: hidden,
          cells: cells, cellTanh: cellTanh, gates: gates, candidates: candidates,
          recurrent: recurrent, recurrentKernel: u.baseAddress!, packedRecurrentKernel: packed,
          bias: b.baseAddress!,
          masked: tape.hasMaskedSteps ? UnsafePointer(masked) : nil,
          recurrentScales: tape.usesRecurrentDropout
            ? UnsafePointer(tape.recurrentScales.pointer) : nil,
          droppedHidden: droppedHidden, sequenceGradient: nil,
          recurrentGradients: recurrent, hiddenGradient: recurrent,
          nextHiddenGradient: recurrent, cellGradient: recurrent, product: recurrent,
          droppedProduct: recurrent)
        Self.forEachSampleRange(batch: batch, chunks: chunks) { pass.forward(samples: $0) }
      }
    }

    var outputs: [Tensor] = []
    if returnSequences {
      outputs.append(
        Tensor(unsafeUninitializedShape: [batch, steps, units]) { out in
          for s in 0..<steps {
            for n in 0..<batch {
              (out.baseAddress! + (n * steps + s) * units).update(
                from: hidden + (s + 1) * stateSize + n * units, count: units)
            }
          }
        })
    }
    let last = Self.state(hidden + steps * stateSize, batch: batch, units: units)
    if !returnSequences { outputs.append(last) }
    if returnSequences, tape.hasMaskedSteps {
      // The returned sequence keeps the mask, in processing order like the sequence itself.
      record.outputMasks = [
        try SequenceMask(batch: batch, steps: steps, masked: (0..<rows).map { masked[$0] != 0 })
      ]
    }
    if returnState {
      outputs.append(last)
      if kind == .lstm {
        outputs.append(Self.state(cells + steps * stateSize, batch: batch, units: units))
      }
    }
    return outputs
  }

  /// Packs the columns of the recurrent kernel `[H, G*H]` that multiply the previous state
  /// into `tape.packedRecurrentKernel`: as they are for the forward products (`k = H`), or
  /// transposed for backward's `dR · Uᵀ` (`k` = those columns). `nil` below
  /// `minimumPackedBatch` samples, where packing costs more than it saves.
  private static func packRecurrentKernel(
    _ kernel: Tensor, kind: RecurrentCellKind, units: Int, batch: Int, transposed: Bool,
    into tape: RecurrentTape
  ) -> UnsafePointer<Float>? {
    guard batch >= minimumPackedBatch else { return nil }
    let width = kind.gateCount * units
    let columns = kind.recurrentColumns(units: units)
    let (k, n) = transposed ? (columns, units) : (units, columns)
    let packed = tape.packedRecurrentKernel.reserve(
      Int(plexus_gemm_packed_size(Int64(k), Int64(n))))
    kernel.withUnsafeBufferPointer { u in
      plexus_gemm_pack(Int64(k), Int64(n), u.baseAddress!, Int64(width), transposed ? 1 : 0, packed)
    }
    return UnsafePointer(packed)
  }

  /// Copies rows of `features` values between a sequence `[N, T, F]` (`sampleMajor`) and the
  /// processing order `[T, N, F]` (`stepMajor`, reversed in time for `goBackwards`), in the
  /// direction `toStepMajor` says, multiplying each sample's row by its `scales` (the input
  /// dropout mask `[N, F]`) when given: the inputs on the way in, their gradients on the way
  /// out.
  private func reorder(
    batch: Int, steps: Int, features: Int, scales: UnsafePointer<Float>?,
    sampleMajor: UnsafeMutablePointer<Float>, stepMajor: UnsafeMutablePointer<Float>,
    toStepMajor: Bool
  ) {
    for s in 0..<steps {
      let t = goBackwards ? steps - 1 - s : s
      for n in 0..<batch {
        let sequenceRow = sampleMajor + (n * steps + t) * features
        let orderedRow = stepMajor + (s * batch + n) * features
        let (source, target) = toStepMajor ? (sequenceRow, orderedRow) : (orderedRow, sequenceRow)
        if let scale = scales.map({ $0 + n * features }) {
          for k in 0..<features { target[k] = source[k] * scale[k] }
        } else {
          target.update(from: source, count: features)
        }
      }
    }
  }

  /// The smallest batch whose per-step recurrent products run on a packed kernel.
  static let minimumPackedBatch = 4

  /// A `[batch, units]` tensor copied from `source`.
  private static func state(_ source: UnsafePointer<Float>, batch: Int, units: Int) -> Tensor {
    Tensor(unsafeUninitializedShape: [batch, units]) { out in
      out.baseAddress!.update(from: source, count: batch * units)
    }
  }

  /// One time step with carried states: `x` is `[N, features]`, `states` the states the last
  /// step returned (`h`, and `c` for an LSTM; empty: zeros). Returns the step's output `h` and
  /// the new states. Running a sequence step by step gives the full pass's outputs.
  func step(_ x: Tensor, states: [Tensor], layer: String, state: LayerState) throws -> (
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
    _ = try forward(inputs, record: record, layer: layer, state: state)
    let tape = tape(of: record)
    let stateSize = batch * units
    let hidden = Self.state(tape.hidden.pointer + stateSize, batch: batch, units: units)
    guard kind == .lstm else { return (hidden, [hidden]) }
    return (
      hidden, [hidden, Self.state(tape.cells.pointer + stateSize, batch: batch, units: units)]
    )
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
    let hiddenGradient = tape.hiddenGradient.reserve(stateSize)
    let cellGradient = tape.cellGradient.reserve(stateSize)
    hiddenGradient.update(repeating: 0, count: stateSize)
    cellGradient.update(repeating: 0, count: stateSize)
    let sequenceGradient = outputGradients[0]
    if !returnSequences {
      sequenceGradient.withUnsafeBufferPointer { g in
        for index in 0..<stateSize { hiddenGradient[index] += g[index] }
      }
    }
    if returnState {
      outputGradients[1].withUnsafeBufferPointer { g in
        for index in 0..<stateSize { hiddenGradient[index] += g[index] }
      }
      if kind == .lstm {
        outputGradients[2].withUnsafeBufferPointer { g in
          for index in 0..<stateSize { cellGradient[index] += g[index] }
        }
      }
    }
    let recurrentGradients = tape.recurrentGradients.reserve(steps * batch * width)
    let projectionGradients = tape.projections.pointer
    let stepStates = steps * stateSize
    let chunks = Self.sampleChunks(batch: batch, work: stepStates &* width)
    let packed = Self.packRecurrentKernel(
      recurrentKernel.value, kind: kind, units: units, batch: batch, transposed: true,
      into: tape)
    recurrentKernel.value.withUnsafeBufferPointer { u in
      bias.value.withUnsafeBufferPointer { b in
        sequenceGradient.withUnsafeBufferPointer { sequence in
          let pass = SequencePass(
            kind: kind, batch: batch, steps: steps, units: units, goBackwards: goBackwards,
            returnSequences: returnSequences, projections: projectionGradients,
            hidden: tape.hidden.pointer, cells: tape.cells.pointer,
            cellTanh: tape.cellTanh.pointer,
            gates: kind == .lstm ? projectionGradients : tape.gates.pointer,
            candidates: tape.candidates.pointer, recurrent: tape.recurrent.pointer,
            recurrentKernel: u.baseAddress!, packedRecurrentKernel: packed,
            bias: b.baseAddress!,
            masked: tape.hasMaskedSteps ? UnsafePointer(tape.masked.pointer) : nil,
            recurrentScales: tape.usesRecurrentDropout
              ? UnsafePointer(tape.recurrentScales.pointer) : nil,
            droppedHidden: tape.droppedHidden.pointer,
            sequenceGradient: returnSequences ? sequence.baseAddress! : nil,
            recurrentGradients: recurrentGradients, hiddenGradient: hiddenGradient,
            nextHiddenGradient: tape.nextHiddenGradient.reserve(stateSize),
            cellGradient: cellGradient, product: tape.product.reserve(stateSize),
            droppedProduct: tape.droppedProduct.reserve(stateSize))
          Self.forEachSampleRange(batch: batch, chunks: chunks) { pass.backward(samples: $0) }
        }
      }
    }

    // Parameter gradients: one product each over all steps. The pre-activation gradients of
    // the input projections are the recurrent ones, except for a GRU.
    let inputPreactivationGradients =
      kind.gateCount == 3 ? UnsafePointer(projectionGradients) : UnsafePointer(recurrentGradients)
    let orderedInputs = UnsafePointer(tape.orderedInputs.pointer)
    let states = UnsafePointer(
      tape.usesRecurrentDropout ? tape.droppedHidden.pointer : tape.hidden.pointer)
    kernel.gradient.withUnsafeMutableBufferPointer { dw in
      BLAS.gemm(
        transposeA: true, transposeB: false, m: featureCount, n: width, k: rows,
        a: orderedInputs, lda: featureCount, b: inputPreactivationGradients, ldb: width,
        beta: 1, c: dw.baseAddress!, ldc: width)
    }
    recurrentKernel.gradient.withUnsafeMutableBufferPointer { du in
      if case .gru(resetAfter: false) = kind {
        BLAS.gemm(
          transposeA: true, transposeB: false, m: units, n: 2 * units, k: rows, a: states,
          lda: units, b: recurrentGradients, ldb: width, beta: 1, c: du.baseAddress!,
          ldc: width)
        BLAS.gemm(
          transposeA: true, transposeB: false, m: units, n: units, k: rows,
          a: tape.candidates.pointer, lda: units, b: recurrentGradients + 2 * units, ldb: width,
          beta: 1, c: du.baseAddress! + 2 * units, ldc: width)
      } else {
        BLAS.gemm(
          transposeA: true, transposeB: false, m: units, n: width, k: rows, a: states,
          lda: units, b: recurrentGradients, ldb: width, beta: 1, c: du.baseAddress!,
          ldc: width)
      }
    }
    bias.gradient.withUnsafeMutableBufferPointer { db in
      for row in 0..<rows {
        let source = inputPreactivationGradients + row * width
        for j in 0..<width { db[j] += source[j] }
      }
      if case .gru(resetAfter: true) = kind {
        for row in 0..<rows {
          let source = recurrentGradients + row * width
          for j in 0..<width { db[width + j] += source[j] }
        }
      }
    }

    var gradients: [Tensor?] = []
    if computingInputGradients {
      let orderedGradients = tape.orderedInputGradients.reserve(rows * featureCount)
      kernel.value.withUnsafeBufferPointer { w in
        BLAS.gemm(
          transposeA: false, transposeB: true, m: rows, n: featureCount, k: width,
          a: inputPreactivationGradients, lda: width, b: w.baseAddress!, ldb: width, beta: 0,
          c: orderedGradients, ldc: featureCount)
      }
      let inputScales = tape.usesInputDropout ? UnsafePointer(tape.inputScales.pointer) : nil
      gradients.append(
        Tensor(unsafeUninitializedShape: [batch, steps, featureCount]) { dx in
          reorder(
            batch: batch, steps: steps, features: featureCount, scales: inputScales,
            sampleMajor: dx.baseAddress!, stepMajor: orderedGradients, toStepMajor: false)
        })
    } else {
      gradients.append(nil)
    }
    if record.inputs.count > 1 {
      gradients.append(Self.state(hiddenGradient, batch: batch, units: units))
      if kind == .lstm { gradients.append(Self.state(cellGradient, batch: batch, units: units)) }
    }
    return gradients
  }
}
