import Dispatch

#if canImport(Accelerate)
  import Accelerate
#endif

/// Matrix products through the platform BLAS (OpenBLAS on Linux, Accelerate on Apple).
public enum BLAS {
  /// Products below this many multiply-adds run on one thread; larger ones are split into
  /// row (or column) blocks computed concurrently.
  public static let parallelThreshold = 1 << 22

  /// A description of the BLAS backend in use (library, kernels, threading).
  public static var backendDescription: String {
    #if canImport(Accelerate)
      return "Accelerate"
    #else
      return OpenBLASLibrary.shared.description
    #endif
  }

  /// Computes `C = alpha * op(A) * op(B) + beta * C` on raw row-major buffers.
  ///
  /// `op(A)` is `m x k`, `op(B)` is `k x n`, and `C` is `m x n`. `lda`, `ldb` and `ldc` are the
  /// row strides of the stored (untransposed) matrices. Large products are split into blocks
  /// of rows (or, for few rows, columns) of `C` that run on separate cores.
  public static func gemm(
    transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
    alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
  ) {
    guard m > 0, n > 0 else { return }
    guard k > 0 else {
      // An empty inner dimension gives alpha * 0: only the beta scaling remains.
      for row in 0..<m {
        for column in 0..<n { c[row * ldc + column] = beta == 0 ? 0 : beta * c[row * ldc + column] }
      }
      return
    }
    let work = m.multipliedReportingOverflow(by: n).partialValue.multipliedReportingOverflow(by: k)
    let threads = Parallel.maximumThreads
    guard threads > 1, work.overflow || work.partialValue >= parallelThreshold,
      Swift.max(m, n) >= 2 * threads
    else {
      kernel(transposeA, transposeB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
      return
    }
    let pointers = UncheckedSendable((a, b, c))
    let splitRows = m >= 2 * threads
    let extent = splitRows ? m : n
    let blockSize = (extent + threads - 1) / threads
    DispatchQueue.concurrentPerform(iterations: threads) { block in
      let start = block * blockSize
      let count = Swift.min(extent, start + blockSize) - start
      guard count > 0 else { return }
      let (a, b, c) = pointers.value
      if splitRows {
        // Rows of op(A): row offsets of A, or column offsets of a transposed A.
        let aBlock = transposeA ? a + start : a + start * lda
        kernel(
          transposeA, transposeB, count, n, k, alpha, aBlock, lda, b, ldb, beta, c + start * ldc,
          ldc)
      } else {
        // Columns of op(B): column offsets of B, or row offsets of a transposed B.
        let bBlock = transposeB ? b + start * ldb : b + start
        kernel(
          transposeA, transposeB, m, count, k, alpha, a, lda, bBlock, ldb, beta, c + start, ldc)
      }
    }
  }

  @inline(__always)
  static func kernel(
    _ transposeA: Bool, _ transposeB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
    _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int, _ beta: Float,
    _ c: UnsafeMutablePointer<Float>, _ ldc: Int
  ) {
    #if canImport(Accelerate)
      cblas_sgemm(
        CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans,
        transposeB ? CblasTrans : CblasNoTrans,
        Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    #else
      typealias Library = OpenBLASLibrary
      Library.shared.sgemm(
        Library.rowMajor, transposeA ? Library.transpose : Library.noTranspose,
        transposeB ? Library.transpose : Library.noTranspose,
        Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    #endif
  }

  /// Computes `y += alpha * x` for `count` elements.
  public static func axpy(
    count: Int, alpha: Float, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>
  ) {
    guard count > 0 else { return }
    #if canImport(Accelerate)
      cblas_saxpy(Int32(count), alpha, x, 1, y, 1)
    #else
      OpenBLASLibrary.shared.saxpy(Int32(count), alpha, x, 1, y, 1)
    #endif
  }
}

extension Tensor {
  /// Computes `c = alpha * op(a) * op(b) + beta * c` for rank-2 tensors.
  ///
  /// With `beta == 1` the product accumulates into `c`.
  ///
  /// - Precondition: the operands are rank 2 and their shapes agree (an internal invariant:
  ///   layers validate shapes at build time).
  public static func matmul(
    _ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false,
    into c: inout Tensor, alpha: Float = 1, beta: Float = 0
  ) {
    precondition(a.rank == 2 && b.rank == 2 && c.rank == 2, "matmul needs rank-2 tensors")
    let m = transposeA ? a.shape[1] : a.shape[0]
    let k = transposeA ? a.shape[0] : a.shape[1]
    let kB = transposeB ? b.shape[1] : b.shape[0]
    let n = transposeB ? b.shape[0] : b.shape[1]
    precondition(
      k == kB && c.shape == [m, n], "matmul shapes \(a.shape) x \(b.shape) -> \(c.shape) disagree")
    c.withUnsafeMutableBufferPointer { cBuffer in
      a.withUnsafeBufferPointer { aBuffer in
        b.withUnsafeBufferPointer { bBuffer in
          BLAS.gemm(
            transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
            a: aBuffer.baseAddress!, lda: a.shape[1], b: bBuffer.baseAddress!, ldb: b.shape[1],
            beta: beta, c: cBuffer.baseAddress!, ldc: n)
        }
      }
    }
  }

  /// Returns `op(a) * op(b)` for rank-2 tensors.
  public static func matmul(
    _ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false
  ) -> Tensor {
    let m = transposeA ? a.shape[1] : a.shape[0]
    let n = transposeB ? b.shape[0] : b.shape[1]
    var c = Tensor.zeros([m, n])
    matmul(a, b, transposeA: transposeA, transposeB: transposeB, into: &c)
    return c
  }

  /// The transpose of a rank-2 tensor.
  public func transposed() -> Tensor {
    precondition(rank == 2, "transposed() needs a rank-2 tensor, got \(shape)")
    let rows = shape[0]
    let columns = shape[1]
    return Tensor(shape: [columns, rows]) { destination in
      for row in 0..<rows {
        for column in 0..<columns {
          destination[column * rows + row] = storage.pointer[row * columns + column]
        }
      }
    }
  }
}
