import Foundation
import PlexusCore
import PlexusKernels
import Testing

/// The C kernels at every instruction-set level this CPU has, against plain Double
/// arithmetic: the recurrent cells forward and backward (unit counts that leave partial
/// vectors, strided rows), sigmoid and tanh over the whole float range.
@Suite(.serialized) struct KernelTests {
  /// The levels to compare: 0 (baseline) up to the CPU's best.
  static var levels: [Int32] {
    let best = plexus_kernels_level()
    return Array(0...best)
  }

  /// Runs `body` at each level, then restores the best one.
  static func atEachLevel(_ body: (Int32) throws -> Void) rethrows {
    let best = plexus_kernels_level()
    defer { _ = plexus_kernels_use_level(-1) }
    for level in 0...best {
      #expect(plexus_kernels_use_level(level) == level)
      try body(level)
    }
  }

  static func sigmoid(_ x: Double) -> Double { 1 / (1 + Foundation.exp(-x)) }

  static func close(_ a: Float, _ b: Double, tolerance: Double = 3e-6) -> Bool {
    abs(Double(a) - b) <= tolerance * max(1, abs(b))
  }

  @Test(arguments: [5, 16, 37])
  func lstmStepMatchesTheFormulas(units: Int) {
    let rows = 3
    let width = 4 * units
    let stride = width + 7  // gate rows are strided; the gap must stay untouched
    var generator = SeededGenerator(seed: UInt64(units))
    let preactivations = Tensor.normal([rows * stride], standardDeviation: 3, using: &generator)
      .scalars
    let previousCell = Tensor.normal([rows * units], using: &generator).scalars
    let hiddenGradient = Tensor.normal([rows * units], using: &generator).scalars
    let cellGradientIn = Tensor.normal([rows * units], using: &generator).scalars
    let bias = Tensor.normal([width], using: &generator).scalars
    Self.atEachLevel { level in
      var gates = preactivations
      for r in 0..<rows {
        for gap in width..<stride { gates[r * stride + gap] = .nan }
      }
      var cell = [Float](repeating: 0, count: rows * units)
      var cellTanh = cell
      var hidden = cell
      plexus_lstm_step_forward(
        Int64(rows), Int64(units), &gates, Int64(stride), bias, previousCell, &cell,
        &cellTanh, &hidden)
      var cellGradient = cellGradientIn
      var gradient = [Float](repeating: .nan, count: rows * stride)
      plexus_lstm_step_backward(
        Int64(rows), Int64(units), gates, Int64(stride), previousCell, cellTanh, hiddenGradient,
        &cellGradient, &gradient, Int64(stride))
      for r in 0..<rows {
        for j in 0..<units {
          func z(_ block: Int) -> Double {
            Double(preactivations[r * stride + block * units + j]) + Double(bias[block * units + j])
          }
          let (i, f, g, o) = (
            Self.sigmoid(z(0)), Self.sigmoid(z(1)), tanh(z(2)), Self.sigmoid(z(3))
          )
          let k = r * units + j
          let c = f * Double(previousCell[k]) + i * g
          let h = o * tanh(c)
          #expect(Self.close(cell[k], c), "level \(level) cell \(k)")
          #expect(Self.close(hidden[k], h), "level \(level) hidden \(k)")
          for (block, value) in [i, f, g, o].enumerated() {
            #expect(Self.close(gates[r * stride + block * units + j], value))
          }
          let dh = Double(hiddenGradient[k])
          let total = Double(cellGradientIn[k]) + dh * o * (1 - tanh(c) * tanh(c))
          let expected = [
            total * g * i * (1 - i), total * Double(previousCell[k]) * f * (1 - f),
            total * i * (1 - g * g), dh * tanh(c) * o * (1 - o),
          ]
          for block in 0..<4 {
            #expect(Self.close(gradient[r * stride + block * units + j], expected[block]))
          }
          #expect(Self.close(cellGradient[k], total * f))
        }
        // The strides' gaps are not written.
        for gap in width..<stride {
          #expect(gradient[r * stride + gap].isNaN)
          #expect(gates[r * stride + gap].isNaN)
        }
      }
    }
  }

  /// The packed product against plain Double sums: shapes that leave partial tiles, partial
  /// panels and row remainders at every level, both packings, replacing and accumulating.
  @Test(arguments: [(1, 1, 1), (3, 17, 5), (7, 100, 37), (13, 64, 128), (32, 130, 9)])
  func packedProductMatchesTheSums(shape: (Int, Int, Int)) {
    let (m, n, k) = shape
    let (lda, ldb, ldc) = (k + 3, n + 2, n + 5)
    var generator = SeededGenerator(seed: UInt64(m * 1000 + n * 10 + k))
    let a = Tensor.normal([m * lda], using: &generator).scalars
    let b = Tensor.normal([k * ldb], using: &generator).scalars
    // The same B stored transposed: `n x k` with row stride k + 1.
    var bTransposed = [Float](repeating: 0, count: n * (k + 1))
    for kk in 0..<k { for j in 0..<n { bTransposed[j * (k + 1) + kk] = b[kk * ldb + j] } }
    let initial = Tensor.normal([m * ldc], using: &generator).scalars
    let size = Int(plexus_gemm_packed_size(Int64(k), Int64(n)))
    #expect(size == (n + 63) / 64 * 64 * k)
    Self.atEachLevel { level in
      for transposed in [false, true] {
        var packed = [Float](repeating: .nan, count: size)
        if transposed {
          plexus_gemm_pack(Int64(k), Int64(n), bTransposed, Int64(k + 1), 1, &packed)
        } else {
          plexus_gemm_pack(Int64(k), Int64(n), b, Int64(ldb), 0, &packed)
        }
        for accumulate in [false, true] {
          var c = initial
          plexus_gemm_packed(
            Int64(m), Int64(n), Int64(k), a, Int64(lda), packed, accumulate ? 1 : 0, &c,
            Int64(ldc))
          for i in 0..<m {
            for j in 0..<ldc {
              guard j < n else {
                #expect(c[i * ldc + j] == initial[i * ldc + j], "gap written at \(i), \(j)")
                continue
              }
              var sum = accumulate ? Double(initial[i * ldc + j]) : 0
              for kk in 0..<k { sum += Double(a[i * lda + kk]) * Double(b[kk * ldb + j]) }
              #expect(
                Self.close(c[i * ldc + j], sum, tolerance: 1e-5),
                "level \(level) transposed \(transposed) accumulate \(accumulate) at \(i), \(j)")
            }
          }
        }
      }
    }
  }

  @Test(arguments: [5, 16, 37])
  func gruStepMatchesTheFormulas(units: Int) {
    let rows = 2
    let width = 3 * units
    var generator = SeededGenerator(seed: UInt64(units) + 50)
    let projection = Tensor.normal([rows * width], standardDeviation: 2, using: &generator).scalars
    let recurrent = Tensor.normal([rows * width], using: &generator).scalars
    let recurrentBias = Tensor.normal([width], using: &generator).scalars
    let previous = Tensor.normal([rows * units], using: &generator).scalars
    let hiddenGradient = Tensor.normal([rows * units], using: &generator).scalars
    Self.atEachLevel { level in
      var gates = [Float](repeating: 0, count: rows * width)
      var candidate = [Float](repeating: 0, count: rows * units)
      var hidden = candidate
      plexus_gru_reset_after_step_forward(
        Int64(rows), Int64(units), projection, Int64(width), recurrent, Int64(width),
        recurrentBias, &gates, previous, &candidate, &hidden)
      var projectionGradient = [Float](repeating: 0, count: rows * width)
      var recurrentGradient = projectionGradient
      var previousGradient = [Float](repeating: 0, count: rows * units)
      plexus_gru_reset_after_step_backward(
        Int64(rows), Int64(units), gates, candidate, previous, hiddenGradient,
        &projectionGradient, Int64(width), &recurrentGradient, &previousGradient)
      for r in 0..<rows {
        for j in 0..<units {
          func part(_ values: [Float], _ block: Int) -> Double {
            Double(values[r * width + block * units + j])
          }
          let zGate = Self.sigmoid(
            part(projection, 0) + part(recurrent, 0) + Double(recurrentBias[j]))
          let rGate = Self.sigmoid(
            part(projection, 1) + part(recurrent, 1) + Double(recurrentBias[units + j]))
          let product = part(recurrent, 2) + Double(recurrentBias[2 * units + j])
          let hh = tanh(part(projection, 2) + rGate * product)
          let k = r * units + j
          let hPrev = Double(previous[k])
          #expect(Self.close(hidden[k], zGate * hPrev + (1 - zGate) * hh), "level \(level)")
          let d = Double(hiddenGradient[k])
          let dhh = d * (1 - zGate) * (1 - hh * hh)
          let dz = d * (hPrev - hh) * zGate * (1 - zGate)
          let dReset = dhh * product * rGate * (1 - rGate)
          #expect(Self.close(projectionGradient[r * width + j], dz))
          #expect(Self.close(projectionGradient[r * width + units + j], dReset))
          #expect(Self.close(projectionGradient[r * width + 2 * units + j], dhh))
          #expect(Self.close(recurrentGradient[r * width + 2 * units + j], dhh * rGate))
          #expect(Self.close(previousGradient[k], d * zGate))
        }
      }
    }
  }

  @Test func sigmoidAndTanhOverTheFloatRange() {
    var values: [Float] = [0, -0.0, 1e-30, -1e-30, 1e-7, 0.3, -0.3, 0.624, 0.626, 5, -5, 20, -20]
    values += [87, -87, 89, -89, 100, -100, 1e30, -1e30, .greatestFiniteMagnitude]
    values += (0..<203).map { Float($0 - 101) * 0.173 }
    Self.atEachLevel { level in
      var sigmoids = values
      var tanhs = values
      plexus_sigmoid(&sigmoids, Int64(values.count))
      plexus_tanh(&tanhs, Int64(values.count))
      for (index, x) in values.enumerated() {
        let s = Self.sigmoid(Double(x))
        let t = tanh(Double(x))
        #expect(
          abs(Double(sigmoids[index]) - s) <= 2e-7 + 4e-7 * s, "level \(level) sigmoid(\(x))")
        #expect(
          abs(Double(tanhs[index]) - t) <= 3e-7 * max(1e-30, abs(t)) + 1e-37,
          "level \(level) tanh(\(x)) = \(tanhs[index]), expected \(t)")
      }
    }
  }
}

/// The single-channel convolution kernel against a naive Double convolution, at every level:
/// widths below, at and above a vector, padding on every side, vertical strides, filter
/// counts that leave partial blocks.
@Suite(.serialized) struct SingleChannelConvolutionKernelTests {
  struct Case: CustomStringConvertible, Sendable {
    var height, width, kernelHeight, kernelWidth, filters, strideHeight, padTop, padLeft: Int
    var outputHeight, outputWidth: Int
    var description: String {
      "\(height)x\(width) k\(kernelHeight)x\(kernelWidth) f\(filters) s\(strideHeight) "
        + "p\(padTop),\(padLeft) -> \(outputHeight)x\(outputWidth)"
    }
  }

  static let cases: [Case] = [
    Case(
      height: 28, width: 28, kernelHeight: 5, kernelWidth: 5, filters: 6, strideHeight: 1,
      padTop: 0, padLeft: 0, outputHeight: 24, outputWidth: 24),
    Case(
      height: 7, width: 5, kernelHeight: 3, kernelWidth: 3, filters: 1, strideHeight: 1, padTop: 1,
      padLeft: 1, outputHeight: 7, outputWidth: 5),
    Case(
      height: 9, width: 40, kernelHeight: 2, kernelWidth: 4, filters: 13, strideHeight: 2,
      padTop: 1, padLeft: 2, outputHeight: 5, outputWidth: 39),
    Case(
      height: 4, width: 16, kernelHeight: 4, kernelWidth: 1, filters: 8, strideHeight: 3, padTop: 0,
      padLeft: 0, outputHeight: 1, outputWidth: 16),
    Case(
      height: 6, width: 17, kernelHeight: 3, kernelWidth: 5, filters: 17, strideHeight: 1,
      padTop: 2, padLeft: 2, outputHeight: 8, outputWidth: 17),
  ]

  @Test(arguments: cases)
  func matchesANaiveConvolution(_ c: Case) {
    let samples = 2
    var generator = SeededGenerator(seed: UInt64(c.width * 31 + c.filters))
    let input = Tensor.normal([samples * c.height * c.width], using: &generator).scalars
    let kernel = Tensor.normal(
      [c.kernelHeight * c.kernelWidth * c.filters], using: &generator
    ).scalars
    let bias = Tensor.normal([c.filters], using: &generator).scalars
    var expected = [Double](
      repeating: 0, count: samples * c.outputHeight * c.outputWidth * c.filters)
    for n in 0..<samples {
      for oy in 0..<c.outputHeight {
        for ox in 0..<c.outputWidth {
          for f in 0..<c.filters {
            var total = Double(bias[f])
            for ky in 0..<c.kernelHeight {
              for kx in 0..<c.kernelWidth {
                let (iy, ix) = (oy * c.strideHeight - c.padTop + ky, ox - c.padLeft + kx)
                guard iy >= 0, iy < c.height, ix >= 0, ix < c.width else { continue }
                total +=
                  Double(input[(n * c.height + iy) * c.width + ix])
                  * Double(kernel[(ky * c.kernelWidth + kx) * c.filters + f])
              }
            }
            expected[((n * c.outputHeight + oy) * c.outputWidth + ox) * c.filters + f] = total
          }
        }
      }
    }
    KernelTests.atEachLevel { level in
      var output = [Float](repeating: .nan, count: expected.count)
      plexus_conv2d_single_channel(
        Int64(samples), Int64(c.height), Int64(c.width), input, kernel, Int64(c.kernelHeight),
        Int64(c.kernelWidth), Int64(c.filters), Int64(c.strideHeight), Int64(c.padTop),
        Int64(c.padLeft), Int64(c.outputHeight), Int64(c.outputWidth), bias, &output)
      let worst = zip(output, expected).map { abs(Double($0) - $1) }.max() ?? .infinity
      #expect(worst < 1e-4, "level \(level) \(c): largest difference \(worst)")
    }
  }
}

/// The max-pooling kernel against a naive window scan, at every level: channel counts with a
/// specialized loop (6, 16) and without (5, 33), padding, overlapping windows, the winners'
/// offsets, first maximum on ties.
@Suite(.serialized) struct MaxPoolKernelTests {
  @Test(arguments: [5, 6, 16, 33])
  func matchesANaiveWindowScan(channels: Int) {
    let (samples, height, width) = (2, 7, 6)
    let (kernelHeight, kernelWidth, strideHeight, strideWidth, padTop, padLeft) = (3, 2, 2, 1, 1, 1)
    let outputHeight = (height + 2 * padTop - kernelHeight) / strideHeight + 1
    let outputWidth = (width + padLeft - kernelWidth) / strideWidth + 1
    var generator = SeededGenerator(seed: UInt64(channels))
    // Rounded values make ties common.
    let input = Tensor.normal([samples * height * width * channels], using: &generator).scalars
      .map { ($0 * 2).rounded() }
    let outputCount = samples * outputHeight * outputWidth * channels
    var expected = [Float](repeating: 0, count: outputCount)
    var expectedWinners = [Int32](repeating: 0, count: outputCount)
    for n in 0..<samples {
      for oy in 0..<outputHeight {
        for ox in 0..<outputWidth {
          for c in 0..<channels {
            var best = -Float.infinity
            var winner = -1
            for ky in 0..<kernelHeight {
              for kx in 0..<kernelWidth {
                let (iy, ix) = (oy * strideHeight - padTop + ky, ox * strideWidth - padLeft + kx)
                guard iy >= 0, iy < height, ix >= 0, ix < width else { continue }
                let offset = (iy * width + ix) * channels + c
                let value = input[n * height * width * channels + offset]
                if winner < 0 || value > best { (best, winner) = (value, offset) }
              }
            }
            let index = ((n * outputHeight + oy) * outputWidth + ox) * channels + c
            expected[index] = best
            expectedWinners[index] = Int32(winner)
          }
        }
      }
    }
    KernelTests.atEachLevel { level in
      var output = [Float](repeating: .nan, count: outputCount)
      var winners = [Int32](repeating: -1, count: outputCount)
      plexus_max_pool(
        Int64(samples), Int64(height), Int64(width), Int64(channels), Int64(kernelHeight),
        Int64(kernelWidth), Int64(strideHeight), Int64(strideWidth), Int64(padTop),
        Int64(padLeft), Int64(outputHeight), Int64(outputWidth), input, &output, &winners)
      #expect(output == expected, "level \(level), \(channels) channels")
      #expect(winners == expectedWinners, "level \(level), \(channels) channels")
      var plain = [Float](repeating: .nan, count: outputCount)
      plexus_max_pool(
        Int64(samples), Int64(height), Int64(width), Int64(channels), Int64(kernelHeight),
        Int64(kernelWidth), Int64(strideHeight), Int64(strideWidth), Int64(padTop),
        Int64(padLeft), Int64(outputHeight), Int64(outputWidth), input, &plain, nil)
      #expect(plain == expected)
    }
  }
}

/// The channels-last direct convolution kernel against a naive Double convolution, packed and
/// run at every level: strides on both axes, padding on every side, filter counts below, at
/// and above a vector, widths that leave partial pixel blocks.
@Suite(.serialized) struct DirectConvolutionKernelTests {
  struct Case: CustomStringConvertible, Sendable {
    var height, width, channels, kernelHeight, kernelWidth, filters: Int
    var strideHeight, strideWidth, padTop, padLeft, outputHeight, outputWidth: Int
    var description: String {
      "\(height)x\(width)x\(channels) k\(kernelHeight)x\(kernelWidth) f\(filters) "
        + "s\(strideHeight),\(strideWidth) p\(padTop),\(padLeft)"
    }
  }

  static let cases: [Case] = [
    Case(
      height: 12, width: 12, channels: 6, kernelHeight: 5, kernelWidth: 5, filters: 16,
      strideHeight: 1, strideWidth: 1, padTop: 0, padLeft: 0, outputHeight: 8, outputWidth: 8),
    Case(
      height: 7, width: 11, channels: 3, kernelHeight: 3, kernelWidth: 3, filters: 5,
      strideHeight: 1, strideWidth: 1, padTop: 1, padLeft: 1, outputHeight: 7, outputWidth: 11),
    Case(
      height: 9, width: 10, channels: 2, kernelHeight: 2, kernelWidth: 3, filters: 33,
      strideHeight: 2, strideWidth: 3, padTop: 1, padLeft: 2, outputHeight: 5, outputWidth: 4),
    Case(
      height: 5, width: 19, channels: 7, kernelHeight: 1, kernelWidth: 4, filters: 8,
      strideHeight: 1, strideWidth: 2, padTop: 0, padLeft: 1, outputHeight: 5, outputWidth: 9),
  ]

  @Test(arguments: cases)
  func matchesANaiveConvolution(_ c: Case) {
    let samples = 2
    var generator = SeededGenerator(seed: UInt64(c.width * 17 + c.filters))
    let input = Tensor.normal(
      [samples * c.height * c.width * c.channels], using: &generator
    ).scalars
    let taps = c.kernelHeight * c.kernelWidth * c.channels
    let kernel = Tensor.normal([taps * c.filters], using: &generator).scalars
    let bias = Tensor.normal([c.filters], using: &generator).scalars
    var expected = [Double](
      repeating: 0, count: samples * c.outputHeight * c.outputWidth * c.filters)
    for n in 0..<samples {
      for oy in 0..<c.outputHeight {
        for ox in 0..<c.outputWidth {
          for f in 0..<c.filters {
            var total = Double(bias[f])
            for ky in 0..<c.kernelHeight {
              for kx in 0..<c.kernelWidth {
                let iy = oy * c.strideHeight - c.padTop + ky
                let ix = ox * c.strideWidth - c.padLeft + kx
                guard iy >= 0, iy < c.height, ix >= 0, ix < c.width else { continue }
                for ch in 0..<c.channels {
                  total +=
                    Double(input[((n * c.height + iy) * c.width + ix) * c.channels + ch])
                    * Double(
                      kernel[((ky * c.kernelWidth + kx) * c.channels + ch) * c.filters + f])
                }
              }
            }
            expected[((n * c.outputHeight + oy) * c.outputWidth + ox) * c.filters + f] = total
          }
        }
      }
    }
    KernelTests.atEachLevel { level in
      var packed = [Float](
        repeating: .nan,
        count: Int(
          plexus_conv2d_packed_size(
            Int64(c.kernelHeight), Int64(c.kernelWidth), Int64(c.channels), Int64(c.filters))))
      let lanes = plexus_conv2d_pack(
        kernel, Int64(c.kernelHeight), Int64(c.kernelWidth), Int64(c.channels),
        Int64(c.filters), &packed)
      var output = [Float](repeating: .nan, count: expected.count)
      plexus_conv2d_direct(
        Int64(samples), Int64(c.height), Int64(c.width), Int64(c.channels), input, packed,
        lanes, Int64(c.kernelHeight), Int64(c.kernelWidth), Int64(c.filters),
        Int64(c.strideHeight), Int64(c.strideWidth), Int64(c.padTop), Int64(c.padLeft),
        Int64(c.outputHeight), Int64(c.outputWidth), bias, &output)
      let worst = zip(output, expected).map { abs(Double($0) - $1) }.max() ?? .infinity
      #expect(worst < 1e-4, "level \(level) \(c): largest difference \(worst)")
    }
  }
}

/// Half-precision conversion at every level against Swift's `Float16`: normal, subnormal,
/// rounding ties, overflow, infinities and NaN.
@Suite(.serialized) struct HalfPrecisionKernelTests {
  @Test func conversionsMatchFloat16() {
    var values: [Float] = [0, -0.0, 1, -1, 0.1, 65504, 65520, 65519.9, 1e6, -1e6, 6e-8, 3e-8, 1e-9]
    values += [.infinity, -.infinity, .nan, 5.960_464_5e-8, 2.980_232_2e-8, 1.000_488_3]
    var generator = SeededGenerator(seed: 12)
    values += Tensor.normal([300], standardDeviation: 100, using: &generator).scalars
    let halves = (0..<UInt16.max).map { $0 }
    KernelTests.atEachLevel { level in
      var encoded = [UInt16](repeating: 0, count: values.count)
      plexus_f32_to_f16(values, &encoded, Int64(values.count))
      for (value, bits) in zip(values, encoded) {
        let expected = Float16(value)
        if value.isNaN {
          #expect(Float16(bitPattern: bits).isNaN, "level \(level)")
        } else {
          #expect(bits == expected.bitPattern, "level \(level): \(value)")
        }
      }
      var decoded = [Float](repeating: 0, count: halves.count)
      plexus_f16_to_f32(halves, &decoded, Int64(halves.count))
      for (bits, value) in zip(halves, decoded) {
        let expected = Float(Float16(bitPattern: bits))
        #expect(
          expected.isNaN ? value.isNaN : value.bitPattern == expected.bitPattern,
          "level \(level): \(bits)")
      }
    }
  }
}

/// bfloat16 conversion at every level against `Float.bfloat16Bits` and the exact widening:
/// every bit pattern, rounding ties both ways, values that round up to infinity, NaN payloads
/// and lengths that leave a scalar tail.
@Suite(.serialized) struct BFloat16KernelTests {
  @Test func decodingEveryPatternIsExact() {
    let patterns = (0...UInt16.max).map { $0 }
    KernelTests.atEachLevel { level in
      for count in [patterns.count, 37, 1] {
        var decoded = [Float](repeating: 1, count: count)
        plexus_bf16_to_f32(patterns, &decoded, Int64(count))
        for (bits, value) in zip(patterns.prefix(count), decoded) {
          #expect(value.bitPattern == UInt32(bits) << 16, "level \(level): \(bits)")
        }
      }
    }
  }

  @Test func encodingMatchesTheScalarRounding() {
    var words: [UInt32] = [
      0, 0x8000_0000, 0x3F80_0000, 0x3F80_8000, 0x3F81_8000, 0x3F80_7FFF, 0x3F80_8001,
      0x7F7F_FFFF, 0xFF7F_FFFF, 0x7F7F_8000, 0x7F80_0000, 0xFF80_0000, 0x7F80_0001, 0xFFC0_0000,
      0x7FFF_FFFF, 0xFFFF_FFFF, 0x7FA0_0000, 0x0000_0001, 0x0000_8000, 0x0001_8000,
    ]
    var generator = SeededGenerator(seed: 31)
    for _ in 0..<5000 { words.append(UInt32.random(in: 0...UInt32.max, using: &generator)) }
    // Every exact tie between two bfloat16 values of one binade.
    for high in stride(from: UInt32(0x3F00), through: 0x3FFF, by: 1) {
      words.append(high << 16 | 0x8000)
    }
    let values = words.map { Float(bitPattern: $0) }
    KernelTests.atEachLevel { level in
      for count in [values.count, 23, 3] {
        var encoded = [UInt16](repeating: 0, count: count)
        plexus_f32_to_bf16(values, &encoded, Int64(count))
        for (value, bits) in zip(values.prefix(count), encoded) {
          #expect(
            bits == value.bfloat16Bits,
            "level \(level): \(String(value.bitPattern, radix: 16)) gave \(String(bits, radix: 16))"
          )
        }
      }
    }
  }
}

/// CRC-32 at every level (carry-less multiplication from level 1 where the CPU has it, bit by
/// bit at the baseline) against a table-driven reference: every length up to 700 at three
/// alignments, continued from a non-zero CRC, and long buffers.
@Suite(.serialized) struct CRC32KernelTests {
  static let table: [UInt32] = (0..<256).map { index in
    var value = UInt32(index)
    for _ in 0..<8 { value = value & 1 == 1 ? (value >> 1) ^ 0xEDB8_8320 : value >> 1 }
    return value
  }

  static func reference(_ crc: UInt32, _ bytes: ArraySlice<UInt8>) -> UInt32 {
    var value = ~crc
    for byte in bytes { value = table[Int((value ^ UInt32(byte)) & 0xFF)] ^ (value >> 8) }
    return ~value
  }

  @Test func matchesTheTableDrivenCRC() {
    var generator = SeededGenerator(seed: 5)
    let bytes = (0..<(1 << 20) + 77).map { _ in UInt8.random(in: 0...255, using: &generator) }
    #expect(Self.reference(0, Array("123456789".utf8)[...]) == 0xCBF4_3926)
    KernelTests.atEachLevel { level in
      bytes.withUnsafeBufferPointer { buffer in
        let base = buffer.baseAddress!
        for start in 0..<3 {
          for length in 0...700 {
            let slice = bytes[start..<(start + length)]
            for seed: UInt32 in [0, 0xDEAD_BEEF] {
              #expect(
                plexus_crc32(seed, base + start, Int64(length)) == Self.reference(seed, slice),
                "level \(level), start \(start), length \(length)")
            }
          }
        }
        for length in [4096, 65_536 + 13, bytes.count - 5] {
          #expect(
            plexus_crc32(7, base + 5, Int64(length))
              == Self.reference(7, bytes[5..<(5 + length)]), "level \(level), length \(length)")
        }
      }
      // Every CPU with AVX2 (level 1) has carry-less multiplication.
      #expect((plexus_crc32_accelerated() != 0) == (level >= 1), "level \(level)")
    }
  }
}
