import PlexusCore

/// The elementwise part of one LSTM step for one sample: the gates from the input projection
/// plus the recurrent product (`i, f, g, o` blocks of `units` each), the new cell
/// `c = f * c_prev + i * g` and the output `h = o * tanh(c)`; the gate values are kept for
/// backpropagation. Release builds run eight units at a time through `VectorMath`; debug
/// builds the scalar loop (unoptimized SIMD code is far slower). Both agree within a few ulps.
enum LSTMCell {
  @inline(__always)
  static func step(
    projection: UnsafePointer<Float>, recurrent: UnsafePointer<Float>,
    gates: UnsafeMutablePointer<Float>, previousCell: UnsafePointer<Float>,
    cell: UnsafeMutablePointer<Float>, hidden: UnsafeMutablePointer<Float>, units: Int
  ) {
    #if DEBUG
      scalarStep(
        projection: projection, recurrent: recurrent, gates: gates, previousCell: previousCell,
        cell: cell, hidden: hidden, units: units, from: 0)
    #else
      vectorStep(
        projection: projection, recurrent: recurrent, gates: gates, previousCell: previousCell,
        cell: cell, hidden: hidden, units: units)
    #endif
  }

  /// Units `start..<units`, one at a time.
  @inline(__always)
  static func scalarStep(
    projection: UnsafePointer<Float>, recurrent: UnsafePointer<Float>,
    gates: UnsafeMutablePointer<Float>, previousCell: UnsafePointer<Float>,
    cell: UnsafeMutablePointer<Float>, hidden: UnsafeMutablePointer<Float>, units: Int,
    from start: Int
  ) {
    for j in start..<units {
      let i = RecurrentCore.sigmoid(projection[j] + recurrent[j])
      let f = RecurrentCore.sigmoid(projection[units + j] + recurrent[units + j])
      let g = RecurrentCore.tanh(projection[2 * units + j] + recurrent[2 * units + j])
      let o = RecurrentCore.sigmoid(projection[3 * units + j] + recurrent[3 * units + j])
      let c = f * previousCell[j] + i * g
      cell[j] = c
      hidden[j] = o * RecurrentCore.tanh(c)
      gates[j] = i
      gates[units + j] = f
      gates[2 * units + j] = g
      gates[3 * units + j] = o
    }
  }

  /// Eight units at a time, the remainder one at a time.
  @inline(__always)
  static func vectorStep(
    projection: UnsafePointer<Float>, recurrent: UnsafePointer<Float>,
    gates: UnsafeMutablePointer<Float>, previousCell: UnsafePointer<Float>,
    cell: UnsafeMutablePointer<Float>, hidden: UnsafeMutablePointer<Float>, units: Int
  ) {
    var j = 0
    while j + 8 <= units {
      let i = VectorMath.sigmoid(VectorMath.load(projection, j) + VectorMath.load(recurrent, j))
      let f = VectorMath.sigmoid(
        VectorMath.load(projection, units + j) + VectorMath.load(recurrent, units + j))
      let g = VectorMath.tanh(
        VectorMath.load(projection, 2 * units + j) + VectorMath.load(recurrent, 2 * units + j))
      let o = VectorMath.sigmoid(
        VectorMath.load(projection, 3 * units + j) + VectorMath.load(recurrent, 3 * units + j))
      let c = f * VectorMath.load(previousCell, j) + i * g
      VectorMath.store(c, cell, j)
      VectorMath.store(o * VectorMath.tanh(c), hidden, j)
      VectorMath.store(i, gates, j)
      VectorMath.store(f, gates, units + j)
      VectorMath.store(g, gates, 2 * units + j)
      VectorMath.store(o, gates, 3 * units + j)
      j += 8
    }
    scalarStep(
      projection: projection, recurrent: recurrent, gates: gates, previousCell: previousCell,
      cell: cell, hidden: hidden, units: units, from: j)
  }
}
