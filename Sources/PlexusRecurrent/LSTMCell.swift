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
    typealias V = VectorMath.Vector
    func load(_ pointer: UnsafePointer<Float>, _ offset: Int) -> V {
      UnsafeRawPointer(pointer + offset).loadUnaligned(as: V.self)
    }
    func store(_ value: V, _ pointer: UnsafeMutablePointer<Float>, _ offset: Int) {
      UnsafeMutableRawPointer(pointer + offset).storeBytes(of: value, as: V.self)
    }
    var j = 0
    while j + 8 <= units {
      let i = VectorMath.sigmoid(load(projection, j) + load(recurrent, j))
      let f = VectorMath.sigmoid(load(projection, units + j) + load(recurrent, units + j))
      let g = VectorMath.tanh(load(projection, 2 * units + j) + load(recurrent, 2 * units + j))
      let o = VectorMath.sigmoid(load(projection, 3 * units + j) + load(recurrent, 3 * units + j))
      let c = f * load(previousCell, j) + i * g
      store(c, cell, j)
      store(o * VectorMath.tanh(c), hidden, j)
      store(i, gates, j)
      store(f, gates, units + j)
      store(g, gates, 2 * units + j)
      store(o, gates, 3 * units + j)
      j += 8
    }
    scalarStep(
      projection: projection, recurrent: recurrent, gates: gates, previousCell: previousCell,
      cell: cell, hidden: hidden, units: units, from: j)
  }
}
