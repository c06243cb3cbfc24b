import Foundation
import PlexusCore
import Testing

@Suite struct VectorMathTests {
  /// Values spread over `range`, including its ends, eight at a time.
  private func vectors(_ range: ClosedRange<Float>, count: Int = 4096) -> [SIMD8<Float>] {
    let values = (0..<count).map {
      range.lowerBound + (range.upperBound - range.lowerBound) * Float($0) / Float(count - 1)
    }
    return stride(from: 0, to: count, by: 8).map { start in
      SIMD8<Float>((0..<8).map { values[min(start + $0, count - 1)] })
    }
  }

  private func worstRelativeError(
    _ range: ClosedRange<Float>, _ vector: (SIMD8<Float>) -> SIMD8<Float>,
    _ reference: (Double) -> Double, floor: Double = 1e-30
  ) -> Double {
    var worst = 0.0
    for x in vectors(range) {
      let y = vector(x)
      for lane in 0..<8 {
        let expected = reference(Double(x[lane]))
        worst = max(worst, abs(Double(y[lane]) - expected) / max(abs(expected), floor))
      }
    }
    return worst
  }

  @Test func expMatchesTheLibraryOverItsRange() {
    #expect(worstRelativeError(-87...88, VectorMath.exp, Foundation.exp) < 5e-7)
    #expect(worstRelativeError(-1...1, VectorMath.exp, Foundation.exp) < 3e-7)
    // Beyond the range the result saturates instead of overflowing.
    let extreme = VectorMath.exp(SIMD8<Float>(-1000, -100, -88, 0, 89, 100, 1000, .infinity))
    for lane in 0..<8 { #expect(extreme[lane].isFinite, "lane \(lane): \(extreme[lane])") }
    #expect(extreme[0] < 1.3e-38 && extreme[6] > 2e38 && extreme[3] == 1)
  }

  @Test func logMatchesTheLibrary() {
    #expect(worstRelativeError(1e-30...1e30, VectorMath.log, Foundation.log, floor: 1e-6) < 5e-7)
    #expect(worstRelativeError(0.5...2, VectorMath.log, Foundation.log, floor: 1e-7) < 1e-6)
    let exact = VectorMath.log(SIMD8<Float>(1, 2, 4, 0.5, 0.25, 8, 16, 1024))
    for (lane, power) in [0, 1, 2, -1, -2, 3, 4, 10].enumerated() {
      #expect(abs(exact[lane] - Float(power) * 0.693_147_18) < 1e-6)
    }
  }

  @Test func sigmoidSoftplusAndTanhMatchTheirDefinitions() {
    func sigmoid(_ x: Double) -> Double { 1 / (1 + Foundation.exp(-x)) }
    func softplus(_ x: Double) -> Double { max(x, 0) + Foundation.log1p(Foundation.exp(-abs(x))) }
    #expect(worstRelativeError(-80...80, VectorMath.sigmoid, sigmoid, floor: 1e-30) < 1e-6)
    #expect(worstRelativeError(-80...80, VectorMath.softplus, softplus, floor: 1e-6) < 2e-6)
    #expect(worstRelativeError(-20...20, VectorMath.tanh, Foundation.tanh, floor: 1e-6) < 2e-6)
    let big = VectorMath.sigmoid(SIMD8<Float>(-1000, -100, 100, 1000, 0, 0, 0, 0))
    #expect(big[0] >= 0 && big[0] < 1e-30 && big[2] == 1 && big[3] == 1 && big[4] == 0.5)
  }

  @Test func bufferHelpersCoverTheTail() {
    for count in [0, 1, 7, 8, 9, 17] {
      var values = (0..<count).map { Float($0) * 0.25 - 1 }
      let expected = values.map { 1 / (1 + Foundation.exp(-$0)) }
      values.withUnsafeMutableBufferPointer { VectorMath.apply($0, VectorMath.sigmoid) }
      #expect(zip(values, expected).allSatisfy { abs($0 - $1) < 1e-6 }, "count \(count)")
      let total = values.withUnsafeBufferPointer { VectorMath.sum($0) { $0 * 2 } }
      #expect(abs(total - 2 * expected.reduce(0, +)) < 1e-4, "count \(count)")
    }
  }
}
