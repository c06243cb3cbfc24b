#if !canImport(Accelerate)
  import Foundation
  #if canImport(Glibc)
    import Glibc
  #elseif canImport(Musl)
    import Musl
  #endif

  /// OpenBLAS, loaded at run time.
  ///
  /// Plexus opens OpenBLAS itself (instead of linking it) for two reasons:
  /// - OpenBLAS picks its kernels when it is loaded, from the CPU model. On CPUs it does not
  ///   know (virtual machines often report a generic model) it falls back to SSE3 kernels that
  ///   run 3-8x slower than the AVX2/AVX-512 kernels the CPU supports. Unless
  ///   `OPENBLAS_CORETYPE` is already set, Plexus sets it from the CPU's feature flags before
  ///   loading the library (`SkylakeX` with AVX-512, `Haswell` with AVX2 and FMA).
  ///   `PLEXUS_BLAS_CORETYPE=auto` (the default) or `=library` (keep OpenBLAS's choice) controls this.
  /// - OpenBLAS's own threads spin-wait and help only large products; Plexus runs OpenBLAS on
  ///   one thread and splits large products across cores itself (`BLAS.gemm`).
  struct OpenBLASLibrary: @unchecked Sendable {
    /// CBLAS enumeration values (cblas.h): row-major order, no transpose, transpose.
    static let rowMajor: Int32 = 101
    static let noTranspose: Int32 = 111
    static let transpose: Int32 = 112

    typealias Sgemm =
      @convention(c) (
        Int32, Int32, Int32, Int32, Int32, Int32, Float,
        UnsafePointer<Float>?, Int32, UnsafePointer<Float>?, Int32, Float,
        UnsafeMutablePointer<Float>?,
        Int32
      ) -> Void
    typealias Sgemv =
      @convention(c) (
        Int32, Int32, Int32, Int32, Float, UnsafePointer<Float>?, Int32, UnsafePointer<Float>?,
        Int32, Float, UnsafeMutablePointer<Float>?, Int32
      ) -> Void
    typealias Saxpy =
      @convention(c) (
        Int32, Float, UnsafePointer<Float>?, Int32, UnsafeMutablePointer<Float>?, Int32
      ) -> Void
    typealias SetThreads = @convention(c) (Int32) -> Void
    typealias GetString = @convention(c) () -> UnsafeMutablePointer<CChar>?

    let sgemm: Sgemm
    let sgemv: Sgemv
    let saxpy: Saxpy
    let description: String

    static let shared: OpenBLASLibrary = load()

    /// The library names tried in order.
    static let candidateNames = ["libopenblas.so.0", "libopenblas.so", "libblas.so.3"]

    private static func load() -> OpenBLASLibrary {
      let selectedCore = selectCoreType()
      var handle: UnsafeMutableRawPointer?
      var loadedName = ""
      for name in candidateNames {
        handle = dlopen(name, RTLD_NOW | RTLD_LOCAL)
        if handle != nil {
          loadedName = name
          break
        }
      }
      guard let handle,
        let sgemmSymbol = dlsym(handle, "cblas_sgemm"),
        let sgemvSymbol = dlsym(handle, "cblas_sgemv"),
        let saxpySymbol = dlsym(handle, "cblas_saxpy")
      else {
        // The BLAS library is part of the installation, like the Swift runtime itself.
        preconditionFailure(
          "Plexus needs OpenBLAS (\(candidateNames.joined(separator: ", "))) and could not load it: "
            + "install it with `apt-get install libopenblas0` (or libopenblas-dev)")
      }
      if let setThreads = dlsym(handle, "openblas_set_num_threads") {
        unsafeBitCast(setThreads, to: SetThreads.self)(1)
      }
      var core = "unknown kernels"
      if let getCore = dlsym(handle, "openblas_get_corename"),
        let name = unsafeBitCast(getCore, to: GetString.self)()
      {
        core = String(cString: name) + " kernels"
      }
      let origin =
        selectedCore.map { ", kernel type chosen by Plexus from CPU flags (\($0))" } ?? ""
      return OpenBLASLibrary(
        sgemm: unsafeBitCast(sgemmSymbol, to: Sgemm.self),
        sgemv: unsafeBitCast(sgemvSymbol, to: Sgemv.self),
        saxpy: unsafeBitCast(saxpySymbol, to: Saxpy.self),
        description: "OpenBLAS (\(loadedName), \(core)\(origin), 1 thread per call)")
    }

    /// Sets `OPENBLAS_CORETYPE` from the CPU flags unless the user has chosen one; returns the
    /// chosen type, or `nil` when Plexus left the choice to OpenBLAS.
    private static func selectCoreType() -> String? {
      let environment = ProcessInfo.processInfo.environment
      guard environment["OPENBLAS_CORETYPE"] == nil,
        (environment["PLEXUS_BLAS_CORETYPE"] ?? "auto") == "auto",
        let cpuInfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
        let flagsLine = cpuInfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") })
      else { return nil }
      let flags = Set(flagsLine.split(separator: " ").map(String.init))
      let choice: String
      if ["avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512cd"].allSatisfy(flags.contains) {
        choice = "SkylakeX"
      } else if ["avx2", "fma"].allSatisfy(flags.contains) {
        choice = "Haswell"
      } else {
        return nil
      }
      setenv("OPENBLAS_CORETYPE", choice, 0)
      return choice
    }
  }
#endif
