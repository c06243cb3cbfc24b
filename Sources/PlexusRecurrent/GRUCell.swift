import PlexusCore

/// The elementwise part of one GRU step (reset after the recurrent product, Keras's default)
/// for one sample: `z` and `r` from the input projection, the recurrent product and the
/// recurrent bias; the candidate `hh = tanh(x_h + r * (U_h h + b_h))`; and
/// `h = z * h_prev + (1 - z) * hh`. Keeps `z`, `r`, `hh` and the bracketed product for
/// backpropagation. Release builds run eight units at a time through `VectorMath`, debug builds
/// the scalar loop; both agree within a few ulps.
enum GRUCell {
  @inline(__always)
  static func resetAfterStep(
    projection: UnsafePointer<Float>, recurrent: UnsafePointer<Float>,
    recurrentBias: UnsafePointer<Float>, gates: UnsafeMutablePointer<Float>,
    previousHidden: UnsafePointer<Float>, candidate: UnsafeMutablePointer<Float>,
    hidden: UnsafeMutablePointer<Float>, units: Int
  ) {
    #if DEBUG
      let start = 0
    #else
      let start = vectorPart(
        projection: projection, recurrent: recurrent, recurrentBias: recurrentBias, gates: gates,
        previousHidden: previousHidden, candidate: candidate, hidden: hidden, units: units)
    #endif
    scalarPart(
      projection: projection, recurrent: recurrent, recurrentBias: recurrentBias, gates: gates,
      previousHidden: previousHidden, candidate: candidate, hidden: hidden, units: units,
      from: start)
  }

  /// Units `start..<units`, one at a time.
  @inline(__always)
  static func scalarPart(
    projection: UnsafePointer<Float>, recurrent: UnsafePointer<Float>,
    recurrentBias: UnsafePointer<Float>, gates: UnsafeMutablePointer<Float>,
    previousHidden: UnsafePointer<Float>, candidate: UnsafeMutablePointer<Float>,
    hidden: UnsafeMutablePointer<Float>, units: Int, from start: Int
  ) {
    for j in start..<units {
      let z = RecurrentCore.sigmoid(projection[j] + recurrent[j] + recurrentBias[j])
      let r = RecurrentCore.sigmoid(
        projection[units + j] + recurrent[units + j] + recurrentBias[units + j])
      let product = recurrent[2 * units + j] + recurrentBias[2 * units + j]
      let hh = RecurrentCore.tanh(projection[2 * units + j] + r * product)
      hidden[j] = z * previousHidden[j] + (1 - z) * hh
      candidate[j] = product
      gates[j] = z
      gates[units + j] = r
      gates[2 * units + j] = hh
    }
  }

  /// The full groups of eight units; returns the first unit left for the scalar part.
  @inline(__always)
  static func vectorPart(
    projection: UnsafePointer<Float>, recurrent: UnsafePointer<Float>,
    recurrentBias: UnsafePointer<Float>, gates: UnsafeMutablePointer<Float>,
    previousHidden: UnsafePointer<Float>, candidate: UnsafeMutablePointer<Float>,
    hidden: UnsafeMutablePointer<Float>, units: Int
  ) -> Int {
    var j = 0
    while j + 8 <= units {
      let z = VectorMath.sigmoid(
        VectorMath.load(projection, j) + VectorMath.load(recurrent, j)
          + VectorMath.load(recurrentBias, j))
      let r = VectorMath.sigmoid(
        VectorMath.load(projection, units + j) + VectorMath.load(recurrent, units + j)
          + VectorMath.load(recurrentBias, units + j))
      let product =
        VectorMath.load(recurrent, 2 * units + j) + VectorMath.load(recurrentBias, 2 * units + j)
      let hh = VectorMath.tanh(VectorMath.load(projection, 2 * units + j) + r * product)
      VectorMath.store(z * VectorMath.load(previousHidden, j) + (1 - z) * hh, hidden, j)
      VectorMath.store(product, candidate, j)
      VectorMath.store(z, gates, j)
      VectorMath.store(r, gates, units + j)
      VectorMath.store(hh, gates, 2 * units + j)
      j += 8
    }
    return j
  }
}
