// Plexus's elementwise CPU kernels in C.
//
// Swift code in a package cannot be compiled for a CPU feature level without unsafe build
// flags (which packages that depend on Plexus are not allowed to carry), so its SIMD types use
// the baseline instruction set (SSE2 on x86-64). These kernels are written once with clang's
// vector extensions and compiled, on x86-64, for AVX-512, AVX2 and the baseline (function
// target attributes, no build flags); each call goes to the best level the CPU has, chosen
// once. Elsewhere they compile for the target's baseline (NEON on ARM64).
//
// Every function works on raw row-major buffers that the caller sized; none allocates.
#ifndef PLEXUS_KERNELS_H
#define PLEXUS_KERNELS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// The instruction-set level the kernels run at on this CPU: 0 baseline (SSE2 or NEON), 1
/// AVX2 with FMA and F16C, 2 AVX-512. Chosen once, on the first call.
int plexus_kernels_level(void);

/// Makes the kernels called from this thread run at `level`, or at the best level the CPU
/// has if that is lower, and returns the level in effect; a negative `level` removes the
/// override. For tests that compare the levels: other threads keep the CPU's level.
int plexus_kernels_use_level(int level);

/// The elementwise part of one LSTM step for `rows` samples of `units` units, gate blocks in
/// the order i, f, c, o, in place: row `r` of `gates` (at `gates + r * gatesStride`, 4 * units
/// values) holds the input projection and the recurrent product summed; with `bias` (4 * units
/// values) added, they are the pre-activations, and the row is replaced by the activated
/// gates. Writes the new cell, `tanh` of the new cell and the new output (`units` per row, rows
/// contiguous).
void plexus_lstm_step_forward(
    int64_t rows, int64_t units, float *gates, int64_t gatesStride, const float *bias,
    const float *previousCell, float *cell, float *cellTanh, float *hidden);

/// Backpropagation through one LSTM step for `rows` samples: from the kept gates (rows
/// `gatesStride` apart), the previous cell and `tanh` of the new cell, the output gradient
/// `hiddenGradient` and the cell gradient `cellGradient` (replaced by the gradient for the
/// previous cell), writes the pre-activation gradients (4 * units per row, the same for the
/// input projection and the recurrent product) to `gradient + r * gradientStride`.
void plexus_lstm_step_backward(
    int64_t rows, int64_t units, const float *gates, int64_t gatesStride,
    const float *previousCell, const float *cellTanh, const float *hiddenGradient,
    float *cellGradient, float *gradient, int64_t gradientStride);

/// The elementwise part of one GRU step with the reset gate after the recurrent product
/// (blocks z, r, h): `recurrentBias` (3 * units) is added to the recurrent product. Writes
/// the gates (3 * units per row), the bracketed candidate product `U_h h + c_h` (`candidate`,
/// units per row) and the new state.
void plexus_gru_reset_after_step_forward(
    int64_t rows, int64_t units, const float *projection, int64_t projectionStride,
    const float *recurrent, int64_t recurrentStride, const float *recurrentBias, float *gates,
    const float *previousHidden, float *candidate, float *hidden);

/// Backpropagation through one reset-after GRU step: writes the input pre-activation
/// gradients (z, r, h blocks) to `projectionGradient + r * projectionStride`, the recurrent
/// ones (z, r, and the candidate product's) to `recurrentGradient + r * 3 * units`, and the
/// direct part of the previous state's gradient, `dh * z`, to `previousHiddenGradient`.
void plexus_gru_reset_after_step_backward(
    int64_t rows, int64_t units, const float *gates, const float *candidate,
    const float *previousHidden, const float *hiddenGradient, float *projectionGradient,
    int64_t projectionStride, float *recurrentGradient, float *previousHiddenGradient);

/// A 2-D convolution of `samples` single-channel images (`[N, H, W]`, channels last with one
/// channel) with an HWIO kernel `[KH, KW, 1, filters]`, vertical stride `strideHeight`,
/// horizontal stride 1, no dilation, zero padding `padTop`/`padLeft` (the padding below and
/// right follows from the output size); adds `bias` (`filters` values, or NULL) and writes
/// `[N, OH, OW, filters]`. Padded positions contribute zero.
void plexus_conv2d_single_channel(
    int64_t samples, int64_t inputHeight, int64_t inputWidth, const float *input,
    const float *kernel, int64_t kernelHeight, int64_t kernelWidth, int64_t filters,
    int64_t strideHeight, int64_t padTop, int64_t padLeft, int64_t outputHeight,
    int64_t outputWidth, const float *bias, float *output);

/// The number of floats `plexus_conv2d_pack` writes for a kernel `[KH, KW, C, filters]`
/// (enough for any CPU level).
int64_t plexus_conv2d_packed_size(
    int64_t kernelHeight, int64_t kernelWidth, int64_t channels, int64_t filters);

/// Rearranges an HWIO kernel `[KH, KW, C, filters]` for `plexus_conv2d_direct` at the
/// calling thread's CPU level: blocks of one vector of filters, zero-padded. Returns the
/// vector width used, which `plexus_conv2d_direct` takes back.
int64_t plexus_conv2d_pack(
    const float *kernel, int64_t kernelHeight, int64_t kernelWidth, int64_t channels,
    int64_t filters, float *packed);

/// A 2-D convolution of `samples` channels-last images (`[H, W, C]`) without dilation,
/// vectorized along the filters, from a kernel packed by `plexus_conv2d_pack` with the
/// vector width it returned (`packedLanes`): strides, zero padding `padTop`/`padLeft` (the padding below and right follows
/// from the output size), `bias` (`filters` values or NULL); writes `[OH, OW, filters]` per
/// sample. For layers with few channels and filters, where the column matrix of im2col costs
/// more than the product.
void plexus_conv2d_direct(
    int64_t samples, int64_t inputHeight, int64_t inputWidth, int64_t channels,
    const float *input, const float *packed, int64_t packedLanes, int64_t kernelHeight,
    int64_t kernelWidth, int64_t filters, int64_t strideHeight, int64_t strideWidth,
    int64_t padTop, int64_t padLeft, int64_t outputHeight, int64_t outputWidth,
    const float *bias, float *output);

/// Max pooling of `samples` channels-last samples (`[H, W, C]` each) with a `KH x KW` window,
/// strides and zero-free padding `padTop`/`padLeft` (padded positions never take part; the
/// padding must be smaller than the window). Writes `[OH, OW, C]` per sample and, when
/// `argmax` is not NULL, per output element the offset within its sample of the input
/// element that won (the first maximum on ties).
void plexus_max_pool(
    int64_t samples, int64_t inputHeight, int64_t inputWidth, int64_t channels,
    int64_t kernelHeight, int64_t kernelWidth, int64_t strideHeight, int64_t strideWidth,
    int64_t padTop, int64_t padLeft, int64_t outputHeight, int64_t outputWidth,
    const float *input, float *output, int32_t *argmax);

/// IEEE half-precision bit patterns (host byte order) to floats, exactly; with F16C or
/// AVX-512, one conversion instruction per vector.
void plexus_f16_to_f32(const uint16_t *source, float *destination, int64_t count);

/// Floats to IEEE half-precision bit patterns (host byte order), rounded to nearest even;
/// values beyond the half range become infinities, NaN stays NaN.
void plexus_f32_to_f16(const float *source, uint16_t *destination, int64_t count);

/// Whether `plexus_crc32` runs with carry-less multiplication (x86 PCLMULQDQ) at the calling
/// thread's level (1 and above); otherwise callers should use a table-driven CRC such as zlib's.
int plexus_crc32_accelerated(void);

/// The CRC-32 (ISO-HDLC: zlib, PNG, gzip) of `count` bytes continuing from `crc` (0 to start),
/// as zlib's `crc32`. Folds 64 bytes per step with carry-less multiplication where
/// `plexus_crc32_accelerated()`, else (and for fewer than 64 bytes) bit by bit.
uint32_t plexus_crc32(uint32_t crc, const uint8_t *bytes, int64_t count);

/// bfloat16 bit patterns (host byte order) to floats, exactly (a shift into the high half),
/// vectorized at every level.
void plexus_bf16_to_f32(const uint16_t *source, float *destination, int64_t count);

/// Floats to bfloat16 bit patterns (host byte order), rounded to nearest even; NaN stays a
/// quiet NaN (the high half with bit 6 set), as Plexus's `Float.bfloat16Bits`.
void plexus_f32_to_bf16(const float *source, uint16_t *destination, int64_t count);

/// Replaces each of `count` values by its logistic sigmoid.
void plexus_sigmoid(float *values, int64_t count);

/// Replaces each of `count` values by its hyperbolic tangent.
void plexus_tanh(float *values, int64_t count);

#ifdef __cplusplus
}
#endif

/// The number of floats `plexus_gemm_pack` writes for a `k x n` right-hand matrix: panels
/// of 64 columns, each `k` rows of 64 floats, the last panel padded with zeros.
int64_t plexus_gemm_packed_size(int64_t k, int64_t n);

/// Packs the `k x n` matrix B (row-major with row stride `ldb`; when `transposed` is
/// non-zero, B is the transpose of the `n x k` matrix at `b`, `ldb` its row stride) for
/// `plexus_gemm_packed`, into `packed` (`plexus_gemm_packed_size(k, n)` floats).
void plexus_gemm_pack(
    int64_t k, int64_t n, const float *b, int64_t ldb, int transposed, float *packed);

/// `C = A B` (or `C += A B` when `accumulate` is non-zero) on the calling thread, with A
/// `m x k` (row stride `lda`), B packed by `plexus_gemm_pack` for the same `k` and `n`, and C
/// `m x n` (row stride `ldc`). For products whose right-hand matrix is reused many times (a
/// recurrent kernel at every step), where packing it once saves the per-call packing of a
/// BLAS.
void plexus_gemm_packed(
    int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *packed,
    int accumulate, float *c, int64_t ldc);

#endif
