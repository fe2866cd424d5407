// Direct convolution (contract in conv_kernels.h). The AVX2 kernel is the matrix
// kernel's shape without im2col: P output positions × V·8 output channels of
// accumulators (6 × 16 or 8 × 8); per (channel, kernel position) it broadcasts the P
// input values straight from the padded planes and loads V vectors of transposed weights.
#include "conv_kernels.h"
#include <math.h>
#include <string.h>

#pragma clang fp contract(off)

static void conv_portable(const float *xp, size_t cg, size_t plane, const int32_t *koff, size_t k_count,
                          const int32_t *ooff, size_t out_count, const float *wt, size_t mg, const float *bias, int relu,
                          float *out) {
    size_t mp = (mg + 7) / 8 * 8;
    for (size_t oc = 0; oc < mg; oc++) {
        for (size_t o = 0; o < out_count; o++) {
            float acc = 0.0f;
            for (size_t ic = 0; ic < cg; ic++) {
                const float *x = xp + ic * plane + ooff[o];
                for (size_t kp = 0; kp < k_count; kp++) acc = fmaf(x[koff[kp]], wt[(ic * k_count + kp) * mp + oc], acc);
            }
            float t = bias ? acc + bias[oc] : acc;
            out[oc * out_count + o] = relu && !(t > 0.0f || t != t) ? 0.0f : t;
        }
    }
}

#if defined(__x86_64__)
#include <immintrin.h>

// 8 rows of 8 floats transposed in registers: row r of the result is lane r of every input.
__attribute__((target("avx2,fma"), always_inline))
static inline void transpose8(__m256 r[8]) {
    __m256 t[8], u[8];
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 2; i++) {
        u[4 * i + 0] = _mm256_shuffle_ps(t[4 * i + 0], t[4 * i + 2], 0x44);
        u[4 * i + 1] = _mm256_shuffle_ps(t[4 * i + 0], t[4 * i + 2], 0xEE);
        u[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
        u[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
    }
    for (int i = 0; i < 4; i++) {
        r[i] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
        r[i + 4] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
    }
}

// P positions (from o0) × V vectors of channels (from oc0); lanes past mg or positions
// past P are never stored. The P input pointers are fixed for the tile, so the inner
// loop is a broadcast per position and an fma per accumulator.
__attribute__((target("avx2,fma"), always_inline))
static inline void conv_tile(const int P, const int V, const float *xp, size_t cg, size_t plane, const int32_t *koff,
                             size_t k_count, const int32_t *ooff, size_t o0, size_t out_count, const float *wt, size_t mp,
                             size_t oc0, size_t mg, const float *bias, int relu, float *out) {
    __m256 acc[8][2];
    const float *at[8];
    for (int p = 0; p < P; p++) {
        at[p] = xp + ooff[o0 + p];
        for (int v = 0; v < V; v++) acc[p][v] = _mm256_setzero_ps();
    }
    for (size_t ic = 0; ic < cg; ic++) {
        const float *w = wt + ic * k_count * mp + oc0;
        for (size_t kp = 0; kp < k_count; kp++) {
            __m256 wv[2];
            for (int v = 0; v < V; v++) wv[v] = _mm256_loadu_ps(w + kp * mp + 8 * v);
            size_t off = ic * plane + (size_t)koff[kp];
            for (int p = 0; p < P; p++) {
                __m256 a = _mm256_broadcast_ss(at[p] + off);
                for (int v = 0; v < V; v++) acc[p][v] = _mm256_fmadd_ps(a, wv[v], acc[p][v]);
            }
        }
    }
    for (int v = 0; v < V; v++) {
        size_t lanes = mg - (oc0 + 8 * v) < 8 ? mg - (oc0 + 8 * v) : 8;
        float bl[8] = {0};
        if (bias) for (size_t l = 0; l < lanes; l++) bl[l] = bias[oc0 + 8 * v + l];
        __m256 b = _mm256_loadu_ps(bl);
        __m256 r[8];
        for (int p = 0; p < P; p++) {
            r[p] = bias ? _mm256_add_ps(acc[p][v], b) : acc[p][v];
            // Relu: kept where > 0 or a NaN, else +0.
            if (relu) r[p] = _mm256_and_ps(r[p], _mm256_cmp_ps(r[p], _mm256_setzero_ps(), _CMP_NLE_UQ));
        }
        if (P == 8) {
            // Row l of the transposed block is channel oc0 + 8v + l at the 8 positions.
            transpose8(r);
            for (size_t l = 0; l < lanes; l++) _mm256_storeu_ps(out + (oc0 + 8 * v + l) * out_count + o0, r[l]);
            continue;
        }
        for (int p = 0; p < P; p++) {
            float lane[8];
            _mm256_storeu_ps(lane, r[p]);
            for (size_t l = 0; l < lanes; l++) out[(oc0 + 8 * v + l) * out_count + o0 + p] = lane[l];
        }
    }
}

#define CONV_TILE_CASES(V)                                                                                       \
    switch (P) {                                                                                                 \
    case 8: conv_tile(8, V, xp, cg, plane, koff, k_count, ooff, o0, out_count, wt, mp, oc0, mg, bias, relu, out); break; \
    case 7: conv_tile(7, V, xp, cg, plane, koff, k_count, ooff, o0, out_count, wt, mp, oc0, mg, bias, relu, out); break; \
    case 6: conv_tile(6, V, xp, cg, plane, koff, k_count, ooff, o0, out_count, wt, mp, oc0, mg, bias, relu, out); break; \
    case 5: conv_tile(5, V, xp, cg, plane, koff, k_count, ooff, o0, out_count, wt, mp, oc0, mg, bias, relu, out); break; \
    case 4: conv_tile(4, V, xp, cg, plane, koff, k_count, ooff, o0, out_count, wt, mp, oc0, mg, bias, relu, out); break; \
    case 3: conv_tile(3, V, xp, cg, plane, koff, k_count, ooff, o0, out_count, wt, mp, oc0, mg, bias, relu, out); break; \
    case 2: conv_tile(2, V, xp, cg, plane, koff, k_count, ooff, o0, out_count, wt, mp, oc0, mg, bias, relu, out); break; \
    default: conv_tile(1, V, xp, cg, plane, koff, k_count, ooff, o0, out_count, wt, mp, oc0, mg, bias, relu, out); break; \
    }

__attribute__((target("avx2,fma")))
static void conv_avx2(const float *xp, size_t cg, size_t plane, const int32_t *koff, size_t k_count, const int32_t *ooff,
                      size_t out_count, const float *wt, size_t mg, const float *bias, int relu, float *out) {
    size_t mp = (mg + 7) / 8 * 8;
    size_t oc0 = 0;
    // Two channel vectors × 6 positions (12 accumulators, enough independent chains to
    // keep both fma units busy), then one vector × 8 positions.
    for (; oc0 + 16 <= mp; oc0 += 16) {
        for (size_t o0 = 0; o0 < out_count; o0 += 6) {
            int P = out_count - o0 < 6 ? (int)(out_count - o0) : 6;
            CONV_TILE_CASES(2)
        }
    }
    for (; oc0 < mp; oc0 += 8) {
        for (size_t o0 = 0; o0 < out_count; o0 += 8) {
            int P = out_count - o0 < 8 ? (int)(out_count - o0) : 8;
            CONV_TILE_CASES(1)
        }
    }
}

// Rows with 8- and 4-float moves, then single floats (masked stores are slow on some CPUs).
__attribute__((target("avx2,fma")))
static void copy_rows_avx2(const float *src, size_t rows, size_t row_length, const int32_t *dst_offsets, float *dst) {
    for (size_t r = 0; r < rows; r++) {
        const float *s = src + r * row_length;
        float *d = dst + dst_offsets[r];
        size_t j = 0;
        for (; j + 8 <= row_length; j += 8) _mm256_storeu_ps(d + j, _mm256_loadu_ps(s + j));
        if (j + 4 <= row_length) { _mm_storeu_ps(d + j, _mm_loadu_ps(s + j)); j += 4; }
        for (; j < row_length; j++) d[j] = s[j];
    }
}
#endif

void opg_copy_rows(const float *src, size_t rows, size_t row_length, const int32_t *dst_offsets, float *dst, int use_avx2) {
#if defined(__x86_64__)
    if (use_avx2 && row_length <= INT32_MAX) { copy_rows_avx2(src, rows, row_length, dst_offsets, dst); return; }
#endif
    (void)use_avx2;
    for (size_t r = 0; r < rows; r++) memcpy(dst + dst_offsets[r], src + r * row_length, row_length * sizeof(float));
}

void opg_conv_direct(const float *xp, size_t cg, size_t plane, const int32_t *kernel_offsets, size_t k_count,
                     const int32_t *out_offsets, size_t out_count, const float *wt, size_t mg, const float *bias,
                     int relu, float *out, int use_avx2) {
#if defined(__x86_64__)
    if (use_avx2) { conv_avx2(xp, cg, plane, kernel_offsets, k_count, out_offsets, out_count, wt, mg, bias, relu, out); return; }
#endif
    (void)use_avx2;
    conv_portable(xp, cg, plane, kernel_offsets, k_count, out_offsets, out_count, wt, mg, bias, relu, out);
}
