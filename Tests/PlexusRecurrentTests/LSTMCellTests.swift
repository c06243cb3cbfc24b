import PlexusCore
import Testing

@testable import PlexusRecurrent

@Suite struct LSTMCellTests {
  /// The vector cell (release builds) and the scalar one (debug builds) agree, including the
  /// units after the last full group of eight.
  @Test(arguments: [8, 13, 128])
  func vectorAndScalarCellsAgree(units: Int) {
    var generator = SeededGenerator(seed: UInt64(units))
    let projection = Tensor.normal([4 * units], standardDeviation: 3, using: &generator).scalars
    let recurrent = Tensor.normal([4 * units], using: &generator).scalars
    let previous = Tensor.normal([units], using: &generator).scalars
    func run(vector: Bool) -> (gates: [Float], cell: [Float], hidden: [Float]) {
      var gates = [Float](repeating: 0, count: 4 * units)
      var cell = [Float](repeating: 0, count: units)
      var hidden = [Float](repeating: 0, count: units)
      gates.withUnsafeMutableBufferPointer { g in
        cell.withUnsafeMutableBufferPointer { c in
          hidden.withUnsafeMutableBufferPointer { h in
            if vector {
              LSTMCell.vectorStep(
                projection: projection, recurrent: recurrent, gates: g.baseAddress!,
                previousCell: previous, cell: c.baseAddress!, hidden: h.baseAddress!, units: units)
            } else {
              LSTMCell.scalarStep(
                projection: projection, recurrent: recurrent, gates: g.baseAddress!,
                previousCell: previous, cell: c.baseAddress!, hidden: h.baseAddress!, units: units,
                from: 0)
            }
          }
        }
      }
      return (gates, cell, hidden)
    }
    let (vector, scalar) = (run(vector: true), run(vector: false))
    for (a, b) in [
      (vector.gates, scalar.gates), (vector.cell, scalar.cell), (vector.hidden, scalar.hidden),
    ] {
      #expect(zip(a, b).allSatisfy { abs($0 - $1) <= 2e-6 * max(1, abs($1)) })
    }
  }
}

@Suite struct GRUCellTests {
  @Test(arguments: [8, 13, 128])
  func vectorAndScalarCellsAgree(units: Int) {
    var generator = SeededGenerator(seed: UInt64(units) + 100)
    let projection = Tensor.normal([3 * units], standardDeviation: 3, using: &generator).scalars
    let recurrent = Tensor.normal([3 * units], using: &generator).scalars
    let bias = Tensor.normal([3 * units], using: &generator).scalars
    let previous = Tensor.normal([units], using: &generator).scalars
    func run(vector: Bool) -> [[Float]] {
      var gates = [Float](repeating: 0, count: 3 * units)
      var candidate = [Float](repeating: 0, count: units)
      var hidden = [Float](repeating: 0, count: units)
      gates.withUnsafeMutableBufferPointer { g in
        candidate.withUnsafeMutableBufferPointer { c in
          hidden.withUnsafeMutableBufferPointer { h in
            let start =
              vector
              ? GRUCell.vectorPart(
                projection: projection, recurrent: recurrent, recurrentBias: bias,
                gates: g.baseAddress!, previousHidden: previous, candidate: c.baseAddress!,
                hidden: h.baseAddress!, units: units) : 0
            GRUCell.scalarPart(
              projection: projection, recurrent: recurrent, recurrentBias: bias,
              gates: g.baseAddress!, previousHidden: previous, candidate: c.baseAddress!,
              hidden: h.baseAddress!, units: units, from: start)
          }
        }
      }
      return [gates, candidate, hidden]
    }
    for (a, b) in zip(run(vector: true), run(vector: false)) {
      #expect(zip(a, b).allSatisfy { abs($0 - $1) <= 2e-6 * max(1, abs($1)) })
    }
  }
}
