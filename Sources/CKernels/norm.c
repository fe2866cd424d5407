// LayerNormalization (contract in norm_kernels.h).
#include "norm_kernels.h"
#include <math.h>

#pragma clang fp contract(off)

// Statistics of up to 8 rows with their chains interleaved, so that the adds and fmas of
// different rows overlap; each row's chain keeps its own order. `fma` is the library's
// fmaf in the portable build and the instruction under target("fma"): both correctly rounded.
#define ROW_STATISTICS_BODY(FMA)                                                    \
    float sum[8] = {0}, sq[8] = {0};                                                \
    for (size_t k = 0; k < n; k++)                                                  \
        for (size_t r = 0; r < R; r++) sum[r] = sum[r] + x[r * n + k];              \
    for (size_t r = 0; r < R; r++) mean[r] = sum[r] / (float)n;                     \
    for (size_t k = 0; k < n; k++)                                                  \
        for (size_t r = 0; r < R; r++) {                                            \
            float d = x[r * n + k] - mean[r];                                       \
            sq[r] = FMA(d, d, sq[r]);                                               \
        }                                                                           \
    for (size_t r = 0; r < R; r++) inv[r] = 1.0f / sqrtf(sq[r] / (float)n + eps);

static void statistics_portable(const float *x, size_t R, size_t n, float eps, float *mean, float *inv) {
    ROW_STATISTICS_BODY(fmaf)
}

static void normalize_portable(const float *x, size_t n, float mean, float inv, const float *scale, const float *bias,
                               float *out) {
    for (size_t k = 0; k < n; k++) {
        float y = ((x[k] - mean) * inv) * scale[k];
        out[k] = bias ? y + bias[k] : y;
    }
}

#if defined(__x86_64__)
#include <immintrin.h>

__attribute__((target("avx2,fma")))
static void statistics_avx2(const float *x, size_t R, size_t n, float eps, float *mean, float *inv) {
    ROW_STATISTICS_BODY(__builtin_fmaf)
}

__attribute__((target("avx2,fma")))
static void normalize_avx2(const float *x, size_t n, float mean, float inv, const float *scale, const float *bias,
                           float *out) {
    size_t k = 0;
    __m256 m = _mm256_set1_ps(mean), s = _mm256_set1_ps(inv);
    for (; k + 8 <= n; k += 8) {
        __m256 y = _mm256_mul_ps(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + k), m), s), _mm256_loadu_ps(scale + k));
        if (bias) y = _mm256_add_ps(y, _mm256_loadu_ps(bias + k));
        _mm256_storeu_ps(out + k, y);
    }
    normalize_portable(x + k, n - k, mean, inv, scale + k, bias ? bias + k : NULL, out + k);
}
#endif

void opg_layer_norm(const float *x, size_t rows, size_t n, const float *scale, const float *bias, float eps, float *out,
                    float *means, float *invs, int use_avx2) {
    for (size_t r0 = 0; r0 < rows; r0 += 8) {
        size_t R = rows - r0 < 8 ? rows - r0 : 8;
        const float *xr = x + r0 * n;
#if defined(__x86_64__)
        if (use_avx2) {
            statistics_avx2(xr, R, n, eps, means + r0, invs + r0);
            for (size_t r = 0; r < R; r++) normalize_avx2(xr + r * n, n, means[r0 + r], invs[r0 + r], scale, bias, out + (r0 + r) * n);
            continue;
        }
#endif
        statistics_portable(xr, R, n, eps, means + r0, invs + r0);
        for (size_t r = 0; r < R; r++) normalize_portable(xr + r * n, n, means[r0 + r], invs[r0 + r], scale, bias, out + (r0 + r) * n);
    }
    (void)use_avx2;
}
