// Instantiates KernelTemplate.h once per instruction-set level and dispatches each public
// kernel (PlexusKernels.h) to the best level the CPU has, chosen once.
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "PlexusKernels.h"

/// The column count of a packed GEMM panel (the same at every level, so packing does not
/// depend on the CPU).
#define PK_GEMM_PANEL 64

#define PK_CONCAT_(a, b) a##_##b
#define PK_CONCAT(a, b) PK_CONCAT_(a, b)

// The baseline: four lanes (SSE2 on x86-64, NEON on ARM64), no target attribute.
#define PK_NAME(name) PK_CONCAT(name, baseline)
#define PK_TARGET
#define PK_LANES 4
#include "KernelTemplate.h"
#undef PK_NAME
#undef PK_TARGET
#undef PK_LANES

#if defined(__x86_64__) && defined(__clang__)
#define PK_HAS_X86_LEVELS 1

#define PK_NAME(name) PK_CONCAT(name, avx2)
#define PK_TARGET __attribute__((target("avx2,fma,f16c")))
#define PK_LANES 8
#include "KernelTemplate.h"
#undef PK_NAME
#undef PK_TARGET
#undef PK_LANES

#define PK_NAME(name) PK_CONCAT(name, avx512)
#define PK_TARGET __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma,f16c")))
#define PK_LANES 16
#include "KernelTemplate.h"
#undef PK_NAME
#undef PK_TARGET
#undef PK_LANES
#endif

/// 0: baseline, 1: AVX2 with FMA and F16C, 2: AVX-512; -1 until first asked.
static _Atomic int pk_level = -1;
/// The calling thread's forced level (tests), -1 when none.
static _Thread_local int pk_thread_level = -1;

/// The best level this CPU supports.
static int pk_supported_level(void) {
  int level = 0;
#ifdef PK_HAS_X86_LEVELS
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")
      && __builtin_cpu_supports("f16c"))
    level = 1;
  if (level == 1 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq")
      && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
    level = 2;
#endif
  return level;
}

int plexus_kernels_level(void) {
  if (pk_thread_level >= 0) return pk_thread_level;
  int level = atomic_load_explicit(&pk_level, memory_order_relaxed);
  if (level >= 0) return level;
  level = pk_supported_level();
  atomic_store_explicit(&pk_level, level, memory_order_relaxed);
  return level;
}

int plexus_kernels_use_level(int level) {
  if (level < 0) {
    pk_thread_level = -1;
    return plexus_kernels_level();
  }
  int supported = pk_supported_level();
  pk_thread_level = level > supported ? supported : level;
  return pk_thread_level;
}

#ifdef PK_HAS_X86_LEVELS
#define PK_DISPATCH(name, ...)                             \
  switch (plexus_kernels_level()) {                        \
    case 2: PK_CONCAT(name, avx512)(__VA_ARGS__); return;  \
    case 1: PK_CONCAT(name, avx2)(__VA_ARGS__); return;    \
    default: PK_CONCAT(name, baseline)(__VA_ARGS__); return; \
  }
#else
#define PK_DISPATCH(name, ...) PK_CONCAT(name, baseline)(__VA_ARGS__);
#endif

void plexus_lstm_step_forward(
    int64_t rows, int64_t units, float *gates, int64_t gatesStride, const float *bias,
    const float *previousCell, float *cell, float *cellTanh, float *hidden) {
  PK_DISPATCH(lstm_step_forward, rows, units, gates, gatesStride, bias, previousCell, cell,
              cellTanh, hidden)
}

void plexus_lstm_step_backward(
    int64_t rows, int64_t units, const float *gates, int64_t gatesStride,
    const float *previousCell, const float *cellTanh, const float *hiddenGradient,
    float *cellGradient, float *gradient, int64_t gradientStride) {
  PK_DISPATCH(lstm_step_backward, rows, units, gates, gatesStride, previousCell, cellTanh,
              hiddenGradient, cellGradient, gradient, gradientStride)
}

void plexus_gru_reset_after_step_forward(
    int64_t rows, int64_t units, const float *projection, int64_t projectionStride,
    const float *recurrent, int64_t recurrentStride, const float *recurrentBias, float *gates,
    const float *previousHidden, float *candidate, float *hidden) {
  PK_DISPATCH(gru_reset_after_step_forward, rows, units, projection, projectionStride,
              recurrent, recurrentStride, recurrentBias, gates, previousHidden, candidate,
              hidden)
}

void plexus_gru_reset_after_step_backward(
    int64_t rows, int64_t units, const float *gates, const float *candidate,
    const float *previousHidden, const float *hiddenGradient, float *projectionGradient,
    int64_t projectionStride, float *recurrentGradient, float *previousHiddenGradient) {
  PK_DISPATCH(gru_reset_after_step_backward, rows, units, gates, candidate, previousHidden,
              hiddenGradient, projectionGradient, projectionStride, recurrentGradient,
              previousHiddenGradient)
}

void plexus_sigmoid(float *values, int64_t count) { PK_DISPATCH(sigmoid, values, count) }

void plexus_tanh(float *values, int64_t count) { PK_DISPATCH(tanh, values, count) }

void plexus_conv2d_single_channel(
    int64_t samples, int64_t inputHeight, int64_t inputWidth, const float *input,
    const float *kernel, int64_t kernelHeight, int64_t kernelWidth, int64_t filters,
    int64_t strideHeight, int64_t padTop, int64_t padLeft, int64_t outputHeight,
    int64_t outputWidth, const float *bias, float *output) {
  PK_DISPATCH(conv2d_single_channel, samples, inputHeight, inputWidth, input, kernel,
              kernelHeight, kernelWidth, filters, strideHeight, padTop, padLeft, outputHeight,
              outputWidth, bias, output)
}

void plexus_max_pool(
    int64_t samples, int64_t inputHeight, int64_t inputWidth, int64_t channels,
    int64_t kernelHeight, int64_t kernelWidth, int64_t strideHeight, int64_t strideWidth,
    int64_t padTop, int64_t padLeft, int64_t outputHeight, int64_t outputWidth,
    const float *input, float *output, int32_t *argmax) {
  PK_DISPATCH(max_pool, samples, inputHeight, inputWidth, channels, kernelHeight, kernelWidth,
              strideHeight, strideWidth, padTop, padLeft, outputHeight, outputWidth, input,
              output, argmax)
}

static int64_t pk_lanes_of_level(int level) { return level == 2 ? 16 : level == 1 ? 8 : 4; }

int64_t plexus_conv2d_packed_size(
    int64_t kernelHeight, int64_t kernelWidth, int64_t channels, int64_t filters) {
  // Room for the widest level's padding, so a buffer fits whichever level packs.
  return (filters + 15) / 16 * 16 * kernelHeight * kernelWidth * channels;
}

int64_t plexus_conv2d_pack(
    const float *kernel, int64_t kernelHeight, int64_t kernelWidth, int64_t channels,
    int64_t filters, float *packed) {
  int64_t lanes = pk_lanes_of_level(plexus_kernels_level());
  int64_t taps = kernelHeight * kernelWidth * channels;
  for (int64_t f0 = 0; f0 < filters; f0 += lanes) {
    float *block = packed + (f0 / lanes) * taps * lanes;
    for (int64_t t = 0; t < taps; t++) {
      for (int64_t lane = 0; lane < lanes; lane++) {
        int64_t f = f0 + lane;
        block[t * lanes + lane] = f < filters ? kernel[t * filters + f] : 0.0f;
      }
    }
  }
  return lanes;
}

void plexus_conv2d_direct(
    int64_t samples, int64_t inputHeight, int64_t inputWidth, int64_t channels,
    const float *input, const float *packed, int64_t packedLanes, int64_t kernelHeight,
    int64_t kernelWidth, int64_t filters, int64_t strideHeight, int64_t strideWidth,
    int64_t padTop, int64_t padLeft, int64_t outputHeight, int64_t outputWidth,
    const float *bias, float *output) {
  // The level that packed the kernel, whatever the calling thread's level is now.
#ifdef PK_HAS_X86_LEVELS
  if (packedLanes == 16) {
    conv2d_direct_avx512(samples, inputHeight, inputWidth, channels, input, packed,
                         kernelHeight, kernelWidth, filters, strideHeight, strideWidth, padTop,
                         padLeft, outputHeight, outputWidth, bias, output);
    return;
  }
  if (packedLanes == 8) {
    conv2d_direct_avx2(samples, inputHeight, inputWidth, channels, input, packed, kernelHeight,
                       kernelWidth, filters, strideHeight, strideWidth, padTop, padLeft,
                       outputHeight, outputWidth, bias, output);
    return;
  }
#endif
  (void)packedLanes;
  conv2d_direct_baseline(samples, inputHeight, inputWidth, channels, input, packed,
                         kernelHeight, kernelWidth, filters, strideHeight, strideWidth, padTop,
                         padLeft, outputHeight, outputWidth, bias, output);
}

void plexus_f16_to_f32(const uint16_t *source, float *destination, int64_t count) {
  PK_DISPATCH(f16_to_f32, source, destination, count)
}

void plexus_f32_to_f16(const float *source, uint16_t *destination, int64_t count) {
  PK_DISPATCH(f32_to_f16, source, destination, count)
}

#ifdef PK_HAS_X86_LEVELS
#include <immintrin.h>

// CRC-32 (ISO-HDLC, reflected, polynomial 0xEDB88320) by carry-less multiplication: four
// 128-bit lanes fold 64 bytes per step, then fold into one lane, reduce 128 to 64 bits and
// finish with a Barrett reduction (Intel's "Fast CRC Computation for Generic Polynomials Using
// PCLMULQDQ"). Takes and returns the inverted register; at least 64 bytes.
__attribute__((target("pclmul,sse4.1")))
static uint32_t pk_crc32_fold(uint32_t crc, const uint8_t *p, int64_t n) {
  const __m128i k1k2 = _mm_set_epi64x(0x1c6e41596, 0x154442bd4);
  const __m128i k3k4 = _mm_set_epi64x(0x0ccaa009e, 0x1751997d0);
  const __m128i k5k0 = _mm_set_epi64x(0, 0x163cd6124);
  const __m128i poly = _mm_set_epi64x(0x1f7011641, 0x1db710641);
  __m128i x0 = _mm_loadu_si128((const __m128i *)(p + 0));
  __m128i x1 = _mm_loadu_si128((const __m128i *)(p + 16));
  __m128i x2 = _mm_loadu_si128((const __m128i *)(p + 32));
  __m128i x3 = _mm_loadu_si128((const __m128i *)(p + 48));
  x0 = _mm_xor_si128(x0, _mm_cvtsi32_si128((int)crc));
  p += 64; n -= 64;
  while (n >= 64) {
    __m128i y0 = _mm_clmulepi64_si128(x0, k1k2, 0x00);
    __m128i y1 = _mm_clmulepi64_si128(x1, k1k2, 0x00);
    __m128i y2 = _mm_clmulepi64_si128(x2, k1k2, 0x00);
    __m128i y3 = _mm_clmulepi64_si128(x3, k1k2, 0x00);
    x0 = _mm_clmulepi64_si128(x0, k1k2, 0x11);
    x1 = _mm_clmulepi64_si128(x1, k1k2, 0x11);
    x2 = _mm_clmulepi64_si128(x2, k1k2, 0x11);
    x3 = _mm_clmulepi64_si128(x3, k1k2, 0x11);
    x0 = _mm_xor_si128(_mm_xor_si128(x0, y0), _mm_loadu_si128((const __m128i *)(p + 0)));
    x1 = _mm_xor_si128(_mm_xor_si128(x1, y1), _mm_loadu_si128((const __m128i *)(p + 16)));
    x2 = _mm_xor_si128(_mm_xor_si128(x2, y2), _mm_loadu_si128((const __m128i *)(p + 32)));
    x3 = _mm_xor_si128(_mm_xor_si128(x3, y3), _mm_loadu_si128((const __m128i *)(p + 48)));
    p += 64; n -= 64;
  }
  // Fold 4 into 1.
  __m128i y;
  y = _mm_clmulepi64_si128(x0, k3k4, 0x00);
  x0 = _mm_clmulepi64_si128(x0, k3k4, 0x11);
  x0 = _mm_xor_si128(_mm_xor_si128(x0, y), x1);
  y = _mm_clmulepi64_si128(x0, k3k4, 0x00);
  x0 = _mm_clmulepi64_si128(x0, k3k4, 0x11);
  x0 = _mm_xor_si128(_mm_xor_si128(x0, y), x2);
  y = _mm_clmulepi64_si128(x0, k3k4, 0x00);
  x0 = _mm_clmulepi64_si128(x0, k3k4, 0x11);
  x0 = _mm_xor_si128(_mm_xor_si128(x0, y), x3);
  while (n >= 16) {
    y = _mm_clmulepi64_si128(x0, k3k4, 0x00);
    x0 = _mm_clmulepi64_si128(x0, k3k4, 0x11);
    x0 = _mm_xor_si128(_mm_xor_si128(x0, y), _mm_loadu_si128((const __m128i *)p));
    p += 16; n -= 16;
  }
  // Reduce 128 -> 64 bits.
  const __m128i mask32 = _mm_set_epi32(0, 0, 0, -1);
  __m128i x = _mm_clmulepi64_si128(x0, k3k4, 0x10);
  x0 = _mm_xor_si128(_mm_srli_si128(x0, 8), x);
  x = _mm_srli_si128(x0, 4);
  x0 = _mm_and_si128(x0, mask32);
  x0 = _mm_clmulepi64_si128(x0, k5k0, 0x00);
  x0 = _mm_xor_si128(x0, x);
  // Barrett reduction 64 -> 32 bits.
  x = _mm_and_si128(x0, mask32);
  x = _mm_clmulepi64_si128(x, poly, 0x10);
  x = _mm_and_si128(x, mask32);
  x = _mm_clmulepi64_si128(x, poly, 0x00);
  x0 = _mm_xor_si128(x0, x);
  uint32_t result = (uint32_t)_mm_extract_epi32(x0, 1);
  // Remaining n < 16 bytes: bitwise.
  for (int64_t i = 0; i < n; i++) {
    result ^= p[i];
    for (int b = 0; b < 8; b++) result = (result >> 1) ^ (0xEDB88320u & (0u - (result & 1u)));
  }
  return result;
}


/// Whether this CPU has carry-less multiplication: -1 until first asked.
static _Atomic int pk_has_pclmul = -1;
#endif

int plexus_crc32_accelerated(void) {
#ifdef PK_HAS_X86_LEVELS
  int has = atomic_load_explicit(&pk_has_pclmul, memory_order_relaxed);
  if (has < 0) {
    __builtin_cpu_init();
    has = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1") ? 1 : 0;
    atomic_store_explicit(&pk_has_pclmul, has, memory_order_relaxed);
  }
  return has && plexus_kernels_level() >= 1;
#else
  return 0;
#endif
}

uint32_t plexus_crc32(uint32_t crc, const uint8_t *bytes, int64_t count) {
  crc = ~crc;
#ifdef PK_HAS_X86_LEVELS
  if (count >= 64 && plexus_crc32_accelerated()) return ~pk_crc32_fold(crc, bytes, count);
#endif
  for (int64_t i = 0; i < count; i++) {
    crc ^= bytes[i];
    for (int b = 0; b < 8; b++) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

void plexus_bf16_to_f32(const uint16_t *source, float *destination, int64_t count) {
  PK_DISPATCH(bf16_to_f32, source, destination, count)
}

void plexus_f32_to_bf16(const float *source, uint16_t *destination, int64_t count) {
  PK_DISPATCH(f32_to_bf16, source, destination, count)
}

int64_t plexus_gemm_packed_size(int64_t k, int64_t n) {
  return ((n + PK_GEMM_PANEL - 1) / PK_GEMM_PANEL) * k * PK_GEMM_PANEL;
}

void plexus_gemm_pack(
    int64_t k, int64_t n, const float *b, int64_t ldb, int transposed, float *packed) {
  for (int64_t panel = 0; panel * PK_GEMM_PANEL < n; panel++) {
    float *out = packed + panel * k * PK_GEMM_PANEL;
    int64_t first = panel * PK_GEMM_PANEL;
    int64_t columns = n - first < PK_GEMM_PANEL ? n - first : PK_GEMM_PANEL;
    for (int64_t kk = 0; kk < k; kk++) {
      float *row = out + kk * PK_GEMM_PANEL;
      if (transposed) {
        for (int64_t j = 0; j < columns; j++) row[j] = b[(first + j) * ldb + kk];
      } else {
        memcpy(row, b + kk * ldb + first, (size_t)columns * sizeof(float));
      }
      for (int64_t j = columns; j < PK_GEMM_PANEL; j++) row[j] = 0;
    }
  }
}

void plexus_gemm_packed(
    int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *packed,
    int accumulate, float *c, int64_t ldc) {
  PK_DISPATCH(gemm_packed, m, n, k, a, lda, packed, accumulate, c, ldc)
}
