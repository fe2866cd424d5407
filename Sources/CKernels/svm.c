// SVM kernel chains (contract in svm_kernels.h): one sequential fma chain per
// (sample, support vector) over the features in order; SIMD lanes are different vectors.
#include "svm_kernels.h"
#include <math.h>

#pragma clang fp contract(off)

static void chains_portable(const float *X, size_t rows, size_t n, const float *VT, size_t stride, int squared_distance,
                            float *out) {
    for (size_t r = 0; r < rows; r++) {
        const float *x = X + r * n;
        for (size_t v = 0; v < stride; v++) {
            float s = 0.0f;
            if (squared_distance) {
                for (size_t i = 0; i < n; i++) { float d = x[i] - VT[i * stride + v]; s = fmaf(d, d, s); }
            } else {
                for (size_t i = 0; i < n; i++) s = fmaf(x[i], VT[i * stride + v], s);
            }
            out[r * stride + v] = s;
        }
    }
}

#if defined(__x86_64__)
#include <immintrin.h>

// G groups of 8 vectors for one sample: G independent accumulators hide the fma latency.
__attribute__((target("avx2,fma"), always_inline))
static inline void chains_block(const int G, const float *x, size_t n, const float *VT, size_t stride, int squared_distance,
                                float *out) {
    __m256 acc[4];
    for (int g = 0; g < G; g++) acc[g] = _mm256_setzero_ps();
    if (squared_distance) {
        for (size_t i = 0; i < n; i++) {
            __m256 xi = _mm256_broadcast_ss(x + i);
            for (int g = 0; g < G; g++) {
                __m256 d = _mm256_sub_ps(xi, _mm256_loadu_ps(VT + i * stride + 8 * g));
                acc[g] = _mm256_fmadd_ps(d, d, acc[g]);
            }
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            __m256 xi = _mm256_broadcast_ss(x + i);
            for (int g = 0; g < G; g++) acc[g] = _mm256_fmadd_ps(xi, _mm256_loadu_ps(VT + i * stride + 8 * g), acc[g]);
        }
    }
    for (int g = 0; g < G; g++) _mm256_storeu_ps(out + 8 * g, acc[g]);
}

__attribute__((target("avx2,fma")))
static void chains_avx2(const float *X, size_t rows, size_t n, const float *VT, size_t stride, int squared_distance,
                        float *out) {
    for (size_t r = 0; r < rows; r++) {
        size_t v = 0;
        for (; v + 32 <= stride; v += 32) chains_block(4, X + r * n, n, VT + v, stride, squared_distance, out + r * stride + v);
        for (; v < stride; v += 8) chains_block(1, X + r * n, n, VT + v, stride, squared_distance, out + r * stride + v);
    }
}
#endif

void opg_svm_chains(const float *X, size_t rows, size_t n, const float *VT, size_t stride, int squared_distance,
                    float *out, int use_avx2) {
#if defined(__x86_64__)
    if (use_avx2) { chains_avx2(X, rows, n, VT, stride, squared_distance, out); return; }
#endif
    (void)use_avx2;
    chains_portable(X, rows, n, VT, stride, squared_distance, out);
}
