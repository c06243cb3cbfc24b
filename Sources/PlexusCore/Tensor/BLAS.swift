import Dispatch

#if canImport(Accelerate)
  import Accelerate
#endif

/// Matrix products through the platform BLAS (OpenBLAS on Linux, Accelerate on Apple).
public enum BLAS {
  /// The multiply-adds of one product from which `gemm` splits it into row (or column)
  /// blocks computed on up to `Parallel.maximumThreads` threads (default 2^22;
  /// `1...Int.max`); smaller products run on the calling thread.
  public static let minimumParallelWork = TuningKnob(
    name: "BLAS.minimumParallelWork", initialDefault: 1 << 22, validValues: 1...Int.max)

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
  /// row strides of the stored (untransposed) matrices. Products of at least
  /// `minimumParallelWork` multiply-adds are split into blocks of rows or columns of `C`
  /// (along its longer side) that run on separate cores.
  public static func gemm(
    transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
    alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
  ) {
    guard m > 0, n > 0 else { return }
    guard k > 0 else {
      // An empty inner dimension gives alpha * 0: only the beta scaling remains.
      gemmOnCallingThread(
        transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: 0, alpha: alpha, a: a,
        lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
      return
    }
    let work = m.multipliedReportingOverflow(by: n).partialValue.multipliedReportingOverflow(by: k)
    let threads = Parallel.maximumThreads.current
    guard threads > 1, work.overflow || work.partialValue >= minimumParallelWork.current,
      Swift.max(m, n) >= 2 * threads
    else {
      kernel(transposeA, transposeB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
      return
    }
    let pointers = UncheckedSendable((a, b, c))
    // Split the longer side of C: each block then packs a part of the larger operand and all
    // of the smaller one (splitting rows makes every thread pack all of B).
    let splitRows = m >= n ? m >= 2 * threads : n < 2 * threads
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

  /// Computes `C = alpha * op(A) * op(B) + beta * C` as `gemm` does, always on the calling
  /// thread: for callers that already split their work across threads (a recurrent layer's
  /// samples) or run many small products in sequence.
  public static func gemmOnCallingThread(
    transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
    alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
  ) {
    guard m > 0, n > 0 else { return }
    guard k > 0 else {
      for row in 0..<m {
        for column in 0..<n { c[row * ldc + column] = beta == 0 ? 0 : beta * c[row * ldc + column] }
      }
      return
    }
    kernel(transposeA, transposeB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
  }

  /// One product on the calling thread. A product with one row or one column of `C` goes to
  /// the matrix-vector routine: `sgemm` packs both operands on every call, which for a single
  /// row costs more than the arithmetic (a recurrent step at batch 1, a Dense layer's
  /// batch-1 inference).
  @inline(__always)
  static func kernel(
    _ transposeA: Bool, _ transposeB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
    _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int, _ beta: Float,
    _ c: UnsafeMutablePointer<Float>, _ ldc: Int
  ) {
    if m == 1 {
      // c[1 x n] = op(a)[1 x k] · op(b): op(b)^T times the vector a.
      let stride = transposeA ? lda : 1
      if transposeB {
        // b is stored n x k.
        matrixVector(
          transposed: false, rows: n, columns: k, alpha: alpha, matrix: b, ld: ldb, x: a,
          incx: stride, beta: beta, y: c, incy: 1)
      } else {
        // b is stored k x n.
        matrixVector(
          transposed: true, rows: k, columns: n, alpha: alpha, matrix: b, ld: ldb, x: a,
          incx: stride, beta: beta, y: c, incy: 1)
      }
      return
    }
    if n == 1 {
      // c[m x 1] = op(a)[m x k] · op(b)[k x 1].
      let stride = transposeB ? 1 : ldb
      if transposeA {
        // a is stored k x m.
        matrixVector(
          transposed: true, rows: k, columns: m, alpha: alpha, matrix: a, ld: lda, x: b,
          incx: stride, beta: beta, y: c, incy: ldc)
      } else {
        matrixVector(
          transposed: false, rows: m, columns: k, alpha: alpha, matrix: a, ld: lda, x: b,
          incx: stride, beta: beta, y: c, incy: ldc)
      }
      return
    }
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

  /// `y = alpha * op(M) · x + beta * y` for a row-major `rows x columns` matrix `M` with row
  /// stride `ld`; `op(M)` is `M^T` when `transposed`. With `beta == 0`, `y` is not read (it is
  /// zeroed first, so stale NaNs in an output buffer cannot leak through `0 * NaN`).
  @inline(__always)
  static func matrixVector(
    transposed: Bool, rows: Int, columns: Int, alpha: Float, matrix: UnsafePointer<Float>,
    ld: Int, x: UnsafePointer<Float>, incx: Int, beta: Float, y: UnsafeMutablePointer<Float>,
    incy: Int
  ) {
    if beta == 0 {
      let count = transposed ? columns : rows
      for index in 0..<count { y[index * incy] = 0 }
    }
    #if canImport(Accelerate)
      cblas_sgemv(
        CblasRowMajor, transposed ? CblasTrans : CblasNoTrans, Int32(rows), Int32(columns), alpha,
        matrix, Int32(ld), x, Int32(incx), beta, y, Int32(incy))
    #else
      typealias Library = OpenBLASLibrary
      Library.shared.sgemv(
        Library.rowMajor, transposed ? Library.transpose : Library.noTranspose, Int32(rows),
        Int32(columns), alpha, matrix, Int32(ld), x, Int32(incx), beta, y, Int32(incy))
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
  /// - Throws: `PlexusError.invalidShape` when an operand is not rank 2, the inner dimensions
  ///   of `op(a)` and `op(b)` differ, `c` is not `[rows of op(a), columns of op(b)]`, or a
  ///   dimension exceeds the BLAS limit of `Int32.max`.
  public static func matmul(
    _ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false,
    into c: inout Tensor, alpha: Float = 1, beta: Float = 0
  ) throws {
    let (m, n, k) = try productDimensions(a, b, transposeA: transposeA, transposeB: transposeB)
    guard c.shape == [m, n] else {
      throw PlexusError.invalidShape(
        "matmul: the product of \(a.shape)\(transposeA ? " (transposed)" : "") and "
          + "\(b.shape)\(transposeB ? " (transposed)" : "") has shape \([m, n]) but the result tensor has "
          + "shape \(c.shape)")
    }
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
  ///
  /// - Throws: `PlexusError.invalidShape` when an operand is not rank 2, the inner dimensions
  ///   differ, or a dimension exceeds the BLAS limit of `Int32.max`.
  public static func matmul(
    _ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false
  ) throws -> Tensor {
    let (m, n, _) = try productDimensions(a, b, transposeA: transposeA, transposeB: transposeB)
    var c = Tensor.zeros([m, n])
    try matmul(a, b, transposeA: transposeA, transposeB: transposeB, into: &c)
    return c
  }

  /// The dimensions `(m, n, k)` of `op(a) * op(b)`, validated for BLAS.
  static func productDimensions(
    _ a: Tensor, _ b: Tensor, transposeA: Bool, transposeB: Bool
  ) throws -> (m: Int, n: Int, k: Int) {
    // Written only when a check fails: formatting shapes costs more than a small product.
    var operands: String {
      "\(a.shape)\(transposeA ? " (transposed)" : "") x \(b.shape)\(transposeB ? " (transposed)" : "")"
    }
    guard a.rank == 2 && b.rank == 2 else {
      throw PlexusError.invalidShape("matmul needs rank-2 operands, got \(operands)")
    }
    let m = transposeA ? a.shape[1] : a.shape[0]
    let k = transposeA ? a.shape[0] : a.shape[1]
    let innerB = transposeB ? b.shape[1] : b.shape[0]
    let n = transposeB ? b.shape[0] : b.shape[1]
    guard k == innerB else {
      throw PlexusError.invalidShape(
        "matmul: the inner dimensions of \(operands) differ (\(k) vs \(innerB))")
    }
    let limit = Int(Int32.max)
    guard a.shape[0] <= limit, a.shape[1] <= limit, b.shape[0] <= limit, b.shape[1] <= limit
    else {
      throw PlexusError.invalidShape(
        "matmul: a dimension of \(operands) exceeds the BLAS limit of \(Int32.max)")
    }
    return (m, n, k)
  }
}
