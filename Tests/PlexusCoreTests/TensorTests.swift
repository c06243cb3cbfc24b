import PlexusCore
import Testing

@Suite struct TensorTests {
  @Test func shapeAndScalarsMustAgree() {
    #expect(throws: PlexusError.self) { try Tensor(shape: [2, 3], scalars: [1, 2, 3]) }
    #expect(throws: PlexusError.self) { try Tensor(shape: [-1, 3], scalars: []) }
    #expect(throws: PlexusError.self) { try Tensor.elementCount(of: [Int.max, 2]) }
  }

  @Test func copyOnWriteKeepsValuesIndependent() throws {
    let a = try Tensor(shape: [2, 2], scalars: [1, 2, 3, 4])
    var b = a
    b[0, 1] = 9
    #expect(a.scalars == [1, 2, 3, 4])
    #expect(b.scalars == [1, 9, 3, 4])
  }

  @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
  func matmulMatchesNaiveProductForAllTransposes(transposeA: Bool, transposeB: Bool) throws {
    var generator = SeededGenerator(seed: 3)
    let (m, n, k) = (5, 4, 3)
    let a = Tensor.normal(transposeA ? [k, m] : [m, k], using: &generator)
    let b = Tensor.normal(transposeB ? [n, k] : [k, n], using: &generator)
    var c = Tensor.normal([m, n], using: &generator)
    let original = c
    try Tensor.matmul(
      a, b, transposeA: transposeA, transposeB: transposeB, into: &c, alpha: 2, beta: 1)
    for i in 0..<m {
      for j in 0..<n {
        var expected: Float = original[i, j]
        for p in 0..<k {
          let left = transposeA ? a[p, i] : a[i, p]
          let right = transposeB ? b[j, p] : b[p, j]
          expected += 2 * left * right
        }
        #expect(abs(c[i, j] - expected) < 1e-4)
      }
    }
  }

  /// Shapes above `BLAS.minimumParallelWork` are split into blocks across threads (three of
  /// them here, whatever the machine); odd sizes make the blocks uneven. Each case compares
  /// with a double-precision reference.
  @Test(arguments: [
    (false, false, 131, 257, 129), (true, false, 131, 257, 129), (false, true, 3, 1500, 1400),
    (true, true, 257, 3, 6000),
  ])
  func largeSplitProductsMatchReference(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int)
    throws
  {
    var generator = SeededGenerator(seed: 11)
    let a = Tensor.normal(transposeA ? [k, m] : [m, k], using: &generator)
    let b = Tensor.normal(transposeB ? [n, k] : [k, n], using: &generator)
    let c = try Parallel.maximumThreads.withValue(3) {
      try Tensor.matmul(a, b, transposeA: transposeA, transposeB: transposeB)
    }
    let aValues = a.scalars
    let bValues = b.scalars
    var worst: Double = 0
    for i in stride(from: 0, to: m, by: max(1, m / 7)) {
      for j in stride(from: 0, to: n, by: max(1, n / 7)) {
        var expected: Double = 0
        for p in 0..<k {
          let left = transposeA ? aValues[p * m + i] : aValues[i * k + p]
          let right = transposeB ? bValues[j * k + p] : bValues[p * n + j]
          expected += Double(left) * Double(right)
        }
        worst = max(worst, abs(Double(c[i, j]) - expected) / Double(k).squareRoot())
      }
    }
    #expect(worst < 1e-4)
    #expect(!BLAS.backendDescription.isEmpty)
  }

  @Test func seededGeneratorIsReproducible() {
    var first = SeededGenerator(seed: 42)
    var second = SeededGenerator(seed: 42)
    let a = Tensor.normal([100], using: &first)
    let b = Tensor.normal([100], using: &second)
    #expect(a == b)
    #expect(abs(a.mean()) < 0.3)
  }

  @Test func reductionsAndBatchHelpers() throws {
    let x = try Tensor(shape: [3, 2], scalars: [1, 5, 3, 2, -1, 0])
    #expect(try x.sumOverBatch().scalars == [3, 7])
    #expect(x.argmaxPerSample() == [1, 0, 1])
    #expect(x.gatherSamples([2, 0]).scalars == [-1, 0, 1, 5])
    #expect(x.samples(1..<3).shape == [2, 2])
    #expect(try Tensor.concatenateSamples([x, x]).shape == [6, 2])
    #expect(x.sum() == 10)
  }
}
