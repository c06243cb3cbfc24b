// The kernels' bodies, included once per instruction-set level by Kernels.c with
// PK_NAME(name) (a suffixed name), PK_TARGET (a target attribute or nothing) and PK_LANES (the
// vector width) defined. The vector math is the Cephes single-precision polynomials, as
// Plexus's Swift `VectorMath` (range reduction by powers of two, then a minimax polynomial):
// relative error within a few units in the last place; arguments beyond exp's range saturate
// instead of giving zero or infinity.

typedef float PK_NAME(vector) __attribute__((ext_vector_type(PK_LANES)));
typedef int32_t PK_NAME(ints) __attribute__((ext_vector_type(PK_LANES)));
#define PK_VECTOR PK_NAME(vector)
#define PK_INTS PK_NAME(ints)
#define PK_HELPER PK_TARGET static inline __attribute__((always_inline))

/// `count` (at most PK_LANES) floats from `p`; the other lanes are zero.
PK_HELPER PK_VECTOR PK_NAME(pk_load)(const float *p, int64_t count) {
  PK_VECTOR v = 0;
  if (count == PK_LANES) {
    memcpy(&v, p, sizeof v);
  } else {
    for (int64_t lane = 0; lane < count; lane++) v[lane] = p[lane];
  }
  return v;
}

/// Stores the first `count` (at most PK_LANES) lanes of `v` at `p`.
PK_HELPER void PK_NAME(pk_store)(float *p, PK_VECTOR v, int64_t count) {
  if (count == PK_LANES) {
    memcpy(p, &v, sizeof v);
  } else {
    for (int64_t lane = 0; lane < count; lane++) p[lane] = v[lane];
  }
}

/// Lanes of `a` where `mask` is set (all ones), of `b` elsewhere.
PK_HELPER PK_VECTOR PK_NAME(pk_select)(PK_INTS mask, PK_VECTOR a, PK_VECTOR b) {
  return (PK_VECTOR)((mask & (PK_INTS)a) | (~mask & (PK_INTS)b));
}

PK_HELPER PK_VECTOR PK_NAME(pk_exp)(PK_VECTOR x) {
  const PK_VECTOR low = -87.336544f, high = 88.37626f;
  x = PK_NAME(pk_select)(x < low, low, x);
  x = PK_NAME(pk_select)(x > high, high, x);
  // n = round(x / ln 2) through the 1.5 * 2^23 rounding constant; r = x - n ln 2.
  const float magic = 12582912.0f;
  PK_VECTOR shifted = x * 1.44269504f + magic;
  PK_VECTOR n = shifted - magic;
  PK_INTS exponent = (PK_INTS)shifted - 0x4B400000;
  x = x - n * 0.693359375f + n * 2.12194440e-4f;
  PK_VECTOR z = x * x;
  PK_VECTOR y = 1.9875691500e-4f;
  y = y * x + 1.3981999507e-3f;
  y = y * x + 8.3334519073e-3f;
  y = y * x + 4.1665795894e-2f;
  y = y * x + 1.6666665459e-1f;
  y = y * x + 5.0000001201e-1f;
  y = y * z + x + 1.0f;
  return y * (PK_VECTOR)((exponent + 127) << 23);
}

PK_HELPER PK_VECTOR PK_NAME(pk_sigmoid)(PK_VECTOR x) {
  return 1.0f / (1.0f + PK_NAME(pk_exp)(-x));
}

PK_HELPER PK_VECTOR PK_NAME(pk_tanh)(PK_VECTOR x) {
  PK_VECTOR magnitude = PK_NAME(pk_select)(x < 0, -x, x);
  PK_VECTOR z = x * x;
  PK_VECTOR y = -5.70498872745e-3f;
  y = y * z + 2.06390887954e-2f;
  y = y * z - 5.37397155531e-2f;
  y = y * z + 1.33314422036e-1f;
  y = y * z - 3.33332819422e-1f;
  PK_VECTOR small = y * z * x + x;
  PK_VECTOR large = 1.0f - 2.0f / (PK_NAME(pk_exp)(x + x) + 1.0f);
  return PK_NAME(pk_select)(magnitude < 0.625f, small, large);
}

PK_TARGET static void PK_NAME(lstm_step_forward)(
    int64_t rows, int64_t units, float *gates, int64_t gatesStride, const float *bias,
    const float *previousCell, float *cell, float *cellTanh, float *hidden) {
  for (int64_t row = 0; row < rows; row++) {
    float *g = gates + row * gatesStride;
    const float *cp = previousCell + row * units;
    float *c = cell + row * units, *tc = cellTanh + row * units, *h = hidden + row * units;
    for (int64_t j = 0; j < units; j += PK_LANES) {
      int64_t n = units - j < PK_LANES ? units - j : PK_LANES;
      PK_VECTOR i = PK_NAME(pk_sigmoid)(PK_NAME(pk_load)(g + j, n) + PK_NAME(pk_load)(bias + j, n));
      PK_VECTOR f = PK_NAME(pk_sigmoid)(
          PK_NAME(pk_load)(g + units + j, n) + PK_NAME(pk_load)(bias + units + j, n));
      PK_VECTOR cc = PK_NAME(pk_tanh)(
          PK_NAME(pk_load)(g + 2 * units + j, n) + PK_NAME(pk_load)(bias + 2 * units + j, n));
      PK_VECTOR o = PK_NAME(pk_sigmoid)(
          PK_NAME(pk_load)(g + 3 * units + j, n) + PK_NAME(pk_load)(bias + 3 * units + j, n));
      PK_VECTOR next = f * PK_NAME(pk_load)(cp + j, n) + i * cc;
      PK_VECTOR t = PK_NAME(pk_tanh)(next);
      PK_NAME(pk_store)(c + j, next, n);
      PK_NAME(pk_store)(tc + j, t, n);
      PK_NAME(pk_store)(h + j, o * t, n);
      PK_NAME(pk_store)(g + j, i, n);
      PK_NAME(pk_store)(g + units + j, f, n);
      PK_NAME(pk_store)(g + 2 * units + j, cc, n);
      PK_NAME(pk_store)(g + 3 * units + j, o, n);
    }
  }
}

PK_TARGET static void PK_NAME(lstm_step_backward)(
    int64_t rows, int64_t units, const float *gates, int64_t gatesStride,
    const float *previousCell, const float *cellTanh, const float *hiddenGradient,
    float *cellGradient, float *gradient, int64_t gradientStride) {
  for (int64_t row = 0; row < rows; row++) {
    const float *g = gates + row * gatesStride;
    const float *cp = previousCell + row * units, *tc = cellTanh + row * units;
    const float *dh = hiddenGradient + row * units;
    float *dc = cellGradient + row * units;
    float *dz = gradient + row * gradientStride;
    for (int64_t j = 0; j < units; j += PK_LANES) {
      int64_t n = units - j < PK_LANES ? units - j : PK_LANES;
      PK_VECTOR i = PK_NAME(pk_load)(g + j, n), f = PK_NAME(pk_load)(g + units + j, n);
      PK_VECTOR cc = PK_NAME(pk_load)(g + 2 * units + j, n), o = PK_NAME(pk_load)(g + 3 * units + j, n);
      PK_VECTOR t = PK_NAME(pk_load)(tc + j, n), h = PK_NAME(pk_load)(dh + j, n);
      PK_VECTOR total = PK_NAME(pk_load)(dc + j, n) + h * o * (1.0f - t * t);
      PK_NAME(pk_store)(dc + j, total * f, n);
      PK_NAME(pk_store)(dz + j, total * cc * i * (1.0f - i), n);
      PK_NAME(pk_store)(dz + units + j, total * PK_NAME(pk_load)(cp + j, n) * f * (1.0f - f), n);
      PK_NAME(pk_store)(dz + 2 * units + j, total * i * (1.0f - cc * cc), n);
      PK_NAME(pk_store)(dz + 3 * units + j, h * t * o * (1.0f - o), n);
    }
  }
}

PK_TARGET static void PK_NAME(gru_reset_after_step_forward)(
    int64_t rows, int64_t units, const float *projection, int64_t projectionStride,
    const float *recurrent, int64_t recurrentStride, const float *recurrentBias, float *gates,
    const float *previousHidden, float *candidate, float *hidden) {
  for (int64_t row = 0; row < rows; row++) {
    const float *p = projection + row * projectionStride;
    const float *q = recurrent + row * recurrentStride;
    float *g = gates + row * 3 * units;
    const float *hp = previousHidden + row * units;
    float *cand = candidate + row * units, *h = hidden + row * units;
    for (int64_t j = 0; j < units; j += PK_LANES) {
      int64_t n = units - j < PK_LANES ? units - j : PK_LANES;
      PK_VECTOR z = PK_NAME(pk_sigmoid)(
          PK_NAME(pk_load)(p + j, n) + PK_NAME(pk_load)(q + j, n) + PK_NAME(pk_load)(recurrentBias + j, n));
      PK_VECTOR r = PK_NAME(pk_sigmoid)(
          PK_NAME(pk_load)(p + units + j, n) + PK_NAME(pk_load)(q + units + j, n)
          + PK_NAME(pk_load)(recurrentBias + units + j, n));
      PK_VECTOR product =
          PK_NAME(pk_load)(q + 2 * units + j, n) + PK_NAME(pk_load)(recurrentBias + 2 * units + j, n);
      PK_VECTOR hh = PK_NAME(pk_tanh)(PK_NAME(pk_load)(p + 2 * units + j, n) + r * product);
      PK_NAME(pk_store)(h + j, z * PK_NAME(pk_load)(hp + j, n) + (1.0f - z) * hh, n);
      PK_NAME(pk_store)(cand + j, product, n);
      PK_NAME(pk_store)(g + j, z, n);
      PK_NAME(pk_store)(g + units + j, r, n);
      PK_NAME(pk_store)(g + 2 * units + j, hh, n);
    }
  }
}

PK_TARGET static void PK_NAME(gru_reset_after_step_backward)(
    int64_t rows, int64_t units, const float *gates, const float *candidate,
    const float *previousHidden, const float *hiddenGradient, float *projectionGradient,
    int64_t projectionStride, float *recurrentGradient, float *previousHiddenGradient) {
  for (int64_t row = 0; row < rows; row++) {
    const float *g = gates + row * 3 * units;
    const float *cand = candidate + row * units, *hp = previousHidden + row * units;
    const float *dh = hiddenGradient + row * units;
    float *dx = projectionGradient + row * projectionStride;
    float *dr = recurrentGradient + row * 3 * units;
    float *dp = previousHiddenGradient + row * units;
    for (int64_t j = 0; j < units; j += PK_LANES) {
      int64_t n = units - j < PK_LANES ? units - j : PK_LANES;
      PK_VECTOR z = PK_NAME(pk_load)(g + j, n), r = PK_NAME(pk_load)(g + units + j, n);
      PK_VECTOR hh = PK_NAME(pk_load)(g + 2 * units + j, n), d = PK_NAME(pk_load)(dh + j, n);
      PK_VECTOR dhh = d * (1.0f - z) * (1.0f - hh * hh);
      PK_VECTOR dz = d * (PK_NAME(pk_load)(hp + j, n) - hh) * z * (1.0f - z);
      PK_VECTOR dReset = dhh * PK_NAME(pk_load)(cand + j, n) * r * (1.0f - r);
      PK_NAME(pk_store)(dx + j, dz, n);
      PK_NAME(pk_store)(dx + units + j, dReset, n);
      PK_NAME(pk_store)(dx + 2 * units + j, dhh, n);
      PK_NAME(pk_store)(dr + j, dz, n);
      PK_NAME(pk_store)(dr + units + j, dReset, n);
      PK_NAME(pk_store)(dr + 2 * units + j, dhh * r, n);
      PK_NAME(pk_store)(dp + j, d * z, n);
    }
  }
}

PK_TARGET static void PK_NAME(sigmoid)(float *values, int64_t count) {
  for (int64_t j = 0; j < count; j += PK_LANES) {
    int64_t n = count - j < PK_LANES ? count - j : PK_LANES;
    PK_NAME(pk_store)(values + j, PK_NAME(pk_sigmoid)(PK_NAME(pk_load)(values + j, n)), n);
  }
}

PK_TARGET static void PK_NAME(tanh)(float *values, int64_t count) {
  for (int64_t j = 0; j < count; j += PK_LANES) {
    int64_t n = count - j < PK_LANES ? count - j : PK_LANES;
    PK_NAME(pk_store)(values + j, PK_NAME(pk_tanh)(PK_NAME(pk_load)(values + j, n)), n);
  }
}

/// One block of `count` (a constant after inlining, at most 8) filters of a single-channel
/// convolution for output row `oy` and the PK_LANES output columns from `ox`.
PK_HELPER void PK_NAME(conv_single_block)(
    const float *image, int64_t inputHeight, int64_t inputWidth, const float *kernel,
    int64_t kernelHeight, int64_t kernelWidth, int64_t filters, int64_t top, int64_t padLeft,
    int64_t ox, int64_t lanes, int64_t f0, const float *bias, float *destination,
    const int count) {
  PK_VECTOR acc[8];
  for (int f = 0; f < count; f++) acc[f] = bias ? bias[f0 + f] : 0.0f;
  int64_t kyStart = top < 0 ? -top : 0;
  int64_t kyEnd = inputHeight - top < kernelHeight ? inputHeight - top : kernelHeight;
  for (int64_t ky = kyStart; ky < kyEnd; ky++) {
    const float *row = image + (top + ky) * inputWidth;
    const float *w = kernel + ky * kernelWidth * filters + f0;
    for (int64_t kx = 0; kx < kernelWidth; kx++, w += filters) {
      int64_t start = ox - padLeft + kx;
      PK_VECTOR x = 0;
      if (start >= 0 && start + PK_LANES <= inputWidth) {
        memcpy(&x, row + start, sizeof x);
      } else {
        for (int64_t lane = 0; lane < lanes; lane++) {
          int64_t column = start + lane;
          if (column >= 0 && column < inputWidth) x[lane] = row[column];
        }
      }
      for (int f = 0; f < count; f++) acc[f] += x * w[f];
    }
  }
  float values[8][PK_LANES];
  for (int f = 0; f < count; f++) memcpy(values[f], &acc[f], sizeof acc[f]);
  for (int64_t lane = 0; lane < lanes; lane++) {
    for (int f = 0; f < count; f++) destination[lane * filters + f] = values[f][lane];
  }
}

/// A convolution of single-channel images (the first layer of an image model), vectorized
/// along the output width: each tap is one contiguous load of the input row times up to
/// eight filters' weights, so no column matrix is built and no lane is wasted on a narrow
/// filter count. Horizontal stride and dilation 1.
PK_TARGET static void PK_NAME(conv2d_single_channel)(
    int64_t samples, int64_t inputHeight, int64_t inputWidth, const float *input,
    const float *kernel, int64_t kernelHeight, int64_t kernelWidth, int64_t filters,
    int64_t strideHeight, int64_t padTop, int64_t padLeft, int64_t outputHeight,
    int64_t outputWidth, const float *bias, float *output) {
  for (int64_t n = 0; n < samples; n++) {
    const float *image = input + n * inputHeight * inputWidth;
    float *out = output + n * outputHeight * outputWidth * filters;
    for (int64_t oy = 0; oy < outputHeight; oy++) {
      int64_t top = oy * strideHeight - padTop;
      for (int64_t next = 0; next < outputWidth;) {
        // A last partial block moves back to end at the row's end: it recomputes a few
        // outputs but loads whole vectors.
        int64_t ox = next + PK_LANES > outputWidth && outputWidth >= PK_LANES
                         ? outputWidth - PK_LANES : next;
        int64_t lanes = outputWidth - ox < PK_LANES ? outputWidth - ox : PK_LANES;
        next = ox + lanes;
        for (int64_t f0 = 0; f0 < filters; f0 += 8) {
          float *destination = out + (oy * outputWidth + ox) * filters + f0;
#define PK_BLOCK(count)                                                                    \
  PK_NAME(conv_single_block)(                                                              \
      image, inputHeight, inputWidth, kernel, kernelHeight, kernelWidth, filters, top,      \
      padLeft, ox, lanes, f0, bias, destination, count)
          switch (filters - f0 < 8 ? filters - f0 : 8) {
            case 1: PK_BLOCK(1); break;
            case 2: PK_BLOCK(2); break;
            case 3: PK_BLOCK(3); break;
            case 4: PK_BLOCK(4); break;
            case 5: PK_BLOCK(5); break;
            case 6: PK_BLOCK(6); break;
            case 7: PK_BLOCK(7); break;
            default: PK_BLOCK(8); break;
          }
#undef PK_BLOCK
        }
      }
    }
  }
}

/// Max pooling of one sample with `count` channels (a constant after inlining, or 0 for a
/// runtime `channels`). See plexus_max_pool.
PK_HELPER void PK_NAME(max_pool_sample)(
    const float *input, int64_t inputHeight, int64_t inputWidth, int64_t channels,
    int64_t kernelHeight, int64_t kernelWidth, int64_t strideHeight, int64_t strideWidth,
    int64_t padTop, int64_t padLeft, int64_t outputHeight, int64_t outputWidth, float *output,
    int32_t *argmax, const int count) {
  const int64_t c = count > 0 ? count : channels;
  for (int64_t oy = 0; oy < outputHeight; oy++) {
    int64_t top = oy * strideHeight - padTop;
    int64_t kyStart = top < 0 ? -top : 0;
    int64_t kyEnd = inputHeight - top < kernelHeight ? inputHeight - top : kernelHeight;
    for (int64_t ox = 0; ox < outputWidth; ox++) {
      int64_t left = ox * strideWidth - padLeft;
      int64_t kxStart = left < 0 ? -left : 0;
      int64_t kxEnd = inputWidth - left < kernelWidth ? inputWidth - left : kernelWidth;
      float *out = output + (oy * outputWidth + ox) * c;
      int32_t *winners = argmax ? argmax + (oy * outputWidth + ox) * c : 0;
      // The window's maxima in registers when the channel count is a constant (at most 32),
      // else in the output itself.
      float local[32];
      int32_t localWinners[32];
      float *best = count > 0 ? local : out;
      int32_t *bestWinners = count > 0 ? localWinners : winners;
      // Padding is smaller than the window: every window holds at least one input.
      int64_t first = ((top + kyStart) * inputWidth + left + kxStart) * c;
      for (int64_t k = 0; k < c; k++) best[k] = input[first + k];
      if (winners) {
        for (int64_t k = 0; k < c; k++) bestWinners[k] = (int32_t)(first + k);
      }
      for (int64_t ky = kyStart; ky < kyEnd; ky++) {
        for (int64_t kx = kxStart; kx < kxEnd; kx++) {
          if (ky == kyStart && kx == kxStart) continue;
          int64_t offset = ((top + ky) * inputWidth + left + kx) * c;
          const float *v = input + offset;
          if (winners) {
            for (int64_t k = 0; k < c; k++) {
              int better = v[k] > best[k];
              best[k] = better ? v[k] : best[k];
              bestWinners[k] = better ? (int32_t)(offset + k) : bestWinners[k];
            }
          } else {
            for (int64_t k = 0; k < c; k++) best[k] = v[k] > best[k] ? v[k] : best[k];
          }
        }
      }
      if (count > 0) {
        for (int64_t k = 0; k < c; k++) out[k] = best[k];
        if (winners) {
          for (int64_t k = 0; k < c; k++) winners[k] = bestWinners[k];
        }
      }
    }
  }
}

PK_TARGET static void PK_NAME(max_pool)(
    int64_t samples, int64_t inputHeight, int64_t inputWidth, int64_t channels,
    int64_t kernelHeight, int64_t kernelWidth, int64_t strideHeight, int64_t strideWidth,
    int64_t padTop, int64_t padLeft, int64_t outputHeight, int64_t outputWidth,
    const float *input, float *output, int32_t *argmax) {
  int64_t inputStride = inputHeight * inputWidth * channels;
  int64_t outputStride = outputHeight * outputWidth * channels;
  for (int64_t n = 0; n < samples; n++) {
    const float *x = input + n * inputStride;
    float *y = output + n * outputStride;
    int32_t *a = argmax ? argmax + n * outputStride : 0;
#define PK_POOL(count)                                                                     \
  PK_NAME(max_pool_sample)(                                                                \
      x, inputHeight, inputWidth, channels, kernelHeight, kernelWidth, strideHeight,        \
      strideWidth, padTop, padLeft, outputHeight, outputWidth, y, a, count)
    switch (channels) {
      case 1: PK_POOL(1); break;
      case 2: PK_POOL(2); break;
      case 3: PK_POOL(3); break;
      case 4: PK_POOL(4); break;
      case 6: PK_POOL(6); break;
      case 8: PK_POOL(8); break;
      case 16: PK_POOL(16); break;
      case 32: PK_POOL(32); break;
      default: PK_POOL(0); break;
    }
#undef PK_POOL
  }
}

/// The pixels of one register block of the channels-last direct convolution.
#define PK_CONV_PIXELS (PK_LANES == 16 ? 8 : 4)

/// One block of `pixels` (at most PK_CONV_PIXELS) output pixels of row `oy` from column `ox`
/// and one vector of filters of the channels-last direct convolution. `weights` is the packed
/// kernel of that filter block, `[KH, KW, C, PK_LANES]`.
PK_HELPER void PK_NAME(conv_pixels)(
    const float *image, int64_t inputHeight, int64_t inputWidth, int64_t channels,
    const float *weights, int64_t kernelHeight, int64_t kernelWidth, int64_t top,
    int64_t strideWidth, int64_t padLeft, int64_t ox, int64_t pixels, PK_VECTOR initial,
    PK_VECTOR *out) {
  PK_VECTOR acc[PK_CONV_PIXELS];
  for (int p = 0; p < PK_CONV_PIXELS; p++) acc[p] = initial;
  int64_t kyStart = top < 0 ? -top : 0;
  int64_t kyEnd = inputHeight - top < kernelHeight ? inputHeight - top : kernelHeight;
  for (int64_t ky = kyStart; ky < kyEnd; ky++) {
    const float *row = image + (top + ky) * inputWidth * channels;
    for (int64_t kx = 0; kx < kernelWidth; kx++) {
      const float *w = weights + (ky * kernelWidth + kx) * channels * PK_LANES;
      int64_t first = ox * strideWidth - padLeft + kx;
      int64_t last = (ox + pixels - 1) * strideWidth - padLeft + kx;
      if (pixels == PK_CONV_PIXELS && first >= 0 && last < inputWidth) {
        const float *x = row + first * channels;
        int64_t step = strideWidth * channels;
        for (int64_t c = 0; c < channels; c++) {
          PK_VECTOR wv;
          memcpy(&wv, w + c * PK_LANES, sizeof wv);
          for (int p = 0; p < PK_CONV_PIXELS; p++) acc[p] += x[p * step + c] * wv;
        }
      } else {
        for (int p = 0; p < PK_CONV_PIXELS; p++) {
          int64_t column = (ox + p) * strideWidth - padLeft + kx;
          if (p >= pixels || column < 0 || column >= inputWidth) continue;
          const float *x = row + column * channels;
          for (int64_t c = 0; c < channels; c++) {
            PK_VECTOR wv;
            memcpy(&wv, w + c * PK_LANES, sizeof wv);
            acc[p] += x[c] * wv;
          }
        }
      }
    }
  }
  for (int p = 0; p < PK_CONV_PIXELS; p++) out[p] = acc[p];
}

/// A direct convolution of channels-last images for layers with few channels and filters,
/// vectorized along the filters: each input value is broadcast once per tap and multiplied
/// by a vector of filters for several output pixels at once, with no column matrix. `packed`
/// holds the kernel rearranged by plexus_conv2d_pack.
PK_TARGET static void PK_NAME(conv2d_direct)(
    int64_t samples, int64_t inputHeight, int64_t inputWidth, int64_t channels,
    const float *input, const float *packed, int64_t kernelHeight, int64_t kernelWidth,
    int64_t filters, int64_t strideHeight, int64_t strideWidth, int64_t padTop,
    int64_t padLeft, int64_t outputHeight, int64_t outputWidth, const float *bias,
    float *output) {
  int64_t blockSize = kernelHeight * kernelWidth * channels * PK_LANES;
  for (int64_t n = 0; n < samples; n++) {
    const float *image = input + n * inputHeight * inputWidth * channels;
    float *out = output + n * outputHeight * outputWidth * filters;
    for (int64_t f0 = 0; f0 < filters; f0 += PK_LANES) {
      int64_t count = filters - f0 < PK_LANES ? filters - f0 : PK_LANES;
      PK_VECTOR initial = bias ? PK_NAME(pk_load)(bias + f0, count) : 0;
      const float *weights = packed + (f0 / PK_LANES) * blockSize;
      for (int64_t oy = 0; oy < outputHeight; oy++) {
        int64_t top = oy * strideHeight - padTop;
        for (int64_t ox = 0; ox < outputWidth; ox += PK_CONV_PIXELS) {
          int64_t pixels =
              outputWidth - ox < PK_CONV_PIXELS ? outputWidth - ox : PK_CONV_PIXELS;
          PK_VECTOR values[PK_CONV_PIXELS];
          PK_NAME(conv_pixels)(
              image, inputHeight, inputWidth, channels, weights, kernelHeight, kernelWidth,
              top, strideWidth, padLeft, ox, pixels, initial, values);
          for (int64_t p = 0; p < pixels; p++) {
            PK_NAME(pk_store)(out + (oy * outputWidth + ox + p) * filters + f0, values[p], count);
          }
        }
      }
    }
  }
}


typedef _Float16 PK_NAME(halves) __attribute__((ext_vector_type(PK_LANES)));
typedef uint16_t PK_NAME(shorts) __attribute__((ext_vector_type(PK_LANES)));

/// IEEE half-precision bits to floats (exact); with F16C or AVX-512 one instruction per
/// vector.
PK_TARGET static void PK_NAME(f16_to_f32)(const uint16_t *source, float *destination,
                                           int64_t count) {
  int64_t index = 0;
  for (; index + PK_LANES <= count; index += PK_LANES) {
    PK_NAME(halves) h;
    memcpy(&h, source + index, sizeof h);
    PK_VECTOR v = __builtin_convertvector(h, PK_VECTOR);
    memcpy(destination + index, &v, sizeof v);
  }
  for (; index < count; index++) {
    _Float16 h;
    memcpy(&h, source + index, sizeof h);
    destination[index] = (float)h;
  }
}

/// Floats to IEEE half-precision bits, rounded to nearest even (overflow to infinity).
PK_TARGET static void PK_NAME(f32_to_f16)(const float *source, uint16_t *destination,
                                           int64_t count) {
  int64_t index = 0;
  for (; index + PK_LANES <= count; index += PK_LANES) {
    PK_VECTOR v;
    memcpy(&v, source + index, sizeof v);
    PK_NAME(halves) h = __builtin_convertvector(v, PK_NAME(halves));
    memcpy(destination + index, &h, sizeof h);
  }
  for (; index < count; index++) {
    _Float16 h = (_Float16)source[index];
    memcpy(destination + index, &h, sizeof h);
  }
}


typedef uint32_t PK_NAME(words) __attribute__((ext_vector_type(PK_LANES)));

/// bfloat16 bits to floats (exact): each becomes the high half of a binary32, one widening and
/// one shift per vector.
PK_TARGET static void PK_NAME(bf16_to_f32)(const uint16_t *source, float *destination,
                                            int64_t count) {
  int64_t index = 0;
  for (; index + PK_LANES <= count; index += PK_LANES) {
    PK_NAME(shorts) b;
    memcpy(&b, source + index, sizeof b);
    PK_NAME(words) w = __builtin_convertvector(b, PK_NAME(words)) << 16;
    memcpy(destination + index, &w, sizeof w);
  }
  for (; index < count; index++) {
    uint32_t w = (uint32_t)source[index] << 16;
    memcpy(destination + index, &w, sizeof w);
  }
}

/// Floats to bfloat16 bits, rounded to nearest even; NaN stays a quiet NaN (the high half with
/// the quiet bit set), as `Float.bfloat16Bits`.
PK_TARGET static void PK_NAME(f32_to_bf16)(const float *source, uint16_t *destination,
                                            int64_t count) {
  int64_t index = 0;
  for (; index + PK_LANES <= count; index += PK_LANES) {
    PK_NAME(words) w;
    memcpy(&w, source + index, sizeof w);
    PK_NAME(words) rounded = (w + 0x7FFFu + ((w >> 16) & 1u)) >> 16;
    PK_NAME(words) quiet = (w >> 16) | 0x0040u;
    PK_NAME(words) nan = (PK_NAME(words))((w & 0x7FFFFFFFu) > 0x7F800000u);
    PK_NAME(words) chosen = (nan & quiet) | (~nan & rounded);
    PK_NAME(shorts) b = __builtin_convertvector(chosen, PK_NAME(shorts));
    memcpy(destination + index, &b, sizeof b);
  }
  for (; index < count; index++) {
    uint32_t w;
    memcpy(&w, source + index, sizeof w);
    destination[index] = (w & 0x7FFFFFFFu) > 0x7F800000u
                             ? (uint16_t)((w >> 16) | 0x0040u)
                             : (uint16_t)((w + 0x7FFFu + ((w >> 16) & 1u)) >> 16);
  }
}

// A matrix product with the right-hand matrix packed once and reused: B in panels of
// PK_GEMM_PANEL columns, each `k` rows of PK_GEMM_PANEL contiguous floats (the last panel
// padded with zeros). A tile of PK_GEMM_ROWS rows by PK_GEMM_VECTORS vectors of C stays in
// registers through the whole `k` loop; A is read in place (one broadcast per row and k).
#if PK_LANES == 16
#define PK_GEMM_ROWS 4
#define PK_GEMM_VECTORS 4
#elif PK_LANES == 8
#define PK_GEMM_ROWS 6
#define PK_GEMM_VECTORS 2
#else
#define PK_GEMM_ROWS 4
#define PK_GEMM_VECTORS 2
#endif
#define PK_GEMM_TILE_COLUMNS (PK_GEMM_VECTORS * PK_LANES)

/// `rows` (at most PK_GEMM_ROWS, a constant after inlining) rows of C, `columns` (at most
/// PK_GEMM_TILE_COLUMNS) of its columns, from A's rows and a packed panel's columns at `b`.
PK_HELPER void PK_NAME(gemm_tile)(
    const int rows, int64_t k, const float *a, int64_t lda, const float *b, int accumulate,
    float *c, int64_t ldc, int64_t columns) {
  PK_VECTOR sum[PK_GEMM_ROWS][PK_GEMM_VECTORS];
  for (int r = 0; r < PK_GEMM_ROWS; r++)
    for (int v = 0; v < PK_GEMM_VECTORS; v++) sum[r][v] = 0;
  for (int64_t kk = 0; kk < k; kk++) {
    const float *row = b + kk * PK_GEMM_PANEL;
    PK_VECTOR bv[PK_GEMM_VECTORS];
    for (int v = 0; v < PK_GEMM_VECTORS; v++) memcpy(&bv[v], row + v * PK_LANES, sizeof bv[v]);
    for (int r = 0; r < rows; r++) {
      PK_VECTOR av = a[r * lda + kk];
      for (int v = 0; v < PK_GEMM_VECTORS; v++) sum[r][v] += av * bv[v];
    }
  }
  for (int r = 0; r < rows; r++) {
    float *out = c + r * ldc;
    for (int v = 0; v < PK_GEMM_VECTORS; v++) {
      int64_t first = v * PK_LANES;
      if (first >= columns) break;
      int64_t count = columns - first < PK_LANES ? columns - first : PK_LANES;
      PK_VECTOR value = sum[r][v];
      if (accumulate) value += PK_NAME(pk_load)(out + first, count);
      PK_NAME(pk_store)(out + first, value, count);
    }
  }
}

PK_TARGET static void PK_NAME(gemm_packed)(
    int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *packed,
    int accumulate, float *c, int64_t ldc) {
  for (int64_t panel = 0; panel * PK_GEMM_PANEL < n; panel++) {
    const float *panelStart = packed + panel * k * PK_GEMM_PANEL;
    for (int64_t tile = 0; tile < PK_GEMM_PANEL; tile += PK_GEMM_TILE_COLUMNS) {
      int64_t column = panel * PK_GEMM_PANEL + tile;
      if (column >= n) break;
      int64_t columns = n - column < PK_GEMM_TILE_COLUMNS ? n - column : PK_GEMM_TILE_COLUMNS;
#define PK_GEMM_ROW_TILE(count)                                                          \
  PK_NAME(gemm_tile)(count, k, a + row * lda, lda, panelStart + tile, accumulate,          \
                     c + row * ldc + column, ldc, columns)
      int64_t row = 0;
      for (; row + PK_GEMM_ROWS <= m; row += PK_GEMM_ROWS) PK_GEMM_ROW_TILE(PK_GEMM_ROWS);
      // The last rows, with the tile's row count a constant in each case.
      switch (m - row) {
        case 1: PK_GEMM_ROW_TILE(1); break;
        case 2: PK_GEMM_ROW_TILE(2); break;
        case 3: PK_GEMM_ROW_TILE(3); break;
#if PK_GEMM_ROWS > 4
        case 4: PK_GEMM_ROW_TILE(4); break;
        case 5: PK_GEMM_ROW_TILE(5); break;
#endif
        default: break;
      }
#undef PK_GEMM_ROW_TILE
    }
  }
}

#undef PK_GEMM_ROWS
#undef PK_GEMM_VECTORS
#undef PK_GEMM_TILE_COLUMNS

#undef PK_VECTOR
#undef PK_INTS
#undef PK_HELPER
