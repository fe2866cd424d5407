// Pooling kernels (contract in pool_kernels.h). The AVX2 paths put 8 outputs in the lanes
// and gather each window element with a mask for padding (global pooling: 8 planes, read
// with plain loads and a transpose); the selections and the sums are the portable loops'
// own, lane by lane.
#include "pool_kernels.h"
#include <string.h>

#pragma clang fp contract(off)

static float quiet_nan(void) {
    uint32_t bits = 0x7FC00000u;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static void max_pool_outputs(const float *x, const int32_t *offsets, size_t k_count, size_t out_count, size_t o_begin,
                             size_t o_end, float *out, int32_t *best) {
    for (size_t o = o_begin; o < o_end; o++) {
        float b = -__builtin_inff();
        int32_t at = -1;
        for (size_t kp = 0; kp < k_count; kp++) {
            int32_t off = offsets[kp * out_count + o];
            if (off < 0) continue;
            float v = x[off];
            if (at < 0 || v > b || v != v) {
                b = v;
                at = off;
                if (v != v) break;
            }
        }
        out[o] = b;
        best[o] = at;
    }
}

static void average_pool_outputs(const float *x, const int32_t *offsets, size_t k_count, size_t out_count,
                                 size_t o_begin, size_t o_end, const int32_t *divisors, float *out) {
    for (size_t o = o_begin; o < o_end; o++) {
        float acc = 0.0f;
        int32_t count = 0;
        for (size_t kp = 0; kp < k_count; kp++) {
            int32_t off = offsets[kp * out_count + o];
            if (off < 0) continue;
            acc = acc + x[off];
            count++;
        }
        out[o] = acc / (float)(divisors ? divisors[o] : count);
    }
}

static void global_pool_planes(const float *x, size_t p_begin, size_t p_end, size_t plane, int max, float *out) {
    for (size_t p = p_begin; p < p_end; p++) {
        const float *v = x + p * plane;
        float acc = max ? -__builtin_inff() : 0.0f;
        for (size_t k = 0; k < plane; k++) {
            if (max) acc = (acc != acc || v[k] != v[k]) ? quiet_nan() : (acc >= v[k] ? acc : v[k]);
            else acc = acc + v[k];
        }
        out[p] = max ? acc : acc / (float)plane;
    }
}

// The window fold of max_pool_outputs as a binary step: b stays once it is a NaN, else v
// replaces it when greater or a NaN. The fold keeps the first NaN, or failing one the first
// of the maxima, of the elements in order, so it is associative: reducing a 2 × 2 window
// as (x00 · x01) · (x10 · x11) gives what the left-to-right fold gives.
static inline float first_max(float b, float v) { return b != b ? b : ((v > b || v != v) ? v : b); }

static void max_pool_2x2_rows(const float *x, size_t w, size_t out_rows, float *out) {
    size_t half = w / 2;
    for (size_t r = 0; r < out_rows; r++) {
        const float *top = x + 2 * r * w, *bottom = top + w;
        for (size_t j = 0; j < half; j++)
            out[r * half + j] = first_max(first_max(top[2 * j], top[2 * j + 1]), first_max(bottom[2 * j], bottom[2 * j + 1]));
    }
}

#if defined(__x86_64__)
#include <immintrin.h>

__attribute__((target("avx2,fma")))
static void max_pool_avx2(const float *x, const int32_t *offsets, size_t k_count, size_t out_count, float *out,
                          int32_t *best) {
    size_t o = 0;
    const __m256i none = _mm256_set1_epi32(-1);
    for (; o + 8 <= out_count; o += 8) {
        __m256 b = _mm256_set1_ps(-__builtin_inff());
        __m256i at = none;
        __m256 done = _mm256_setzero_ps();
        for (size_t kp = 0; kp < k_count; kp++) {
            __m256i off = _mm256_loadu_si256((const __m256i *)(offsets + kp * out_count + o));
            __m256 valid = _mm256_castsi256_ps(_mm256_cmpgt_epi32(off, none));
            __m256 v = _mm256_mask_i32gather_ps(_mm256_setzero_ps(), x, off, valid, 4);
            __m256 first = _mm256_castsi256_ps(_mm256_cmpeq_epi32(at, none));
            __m256 isnan = _mm256_cmp_ps(v, v, _CMP_UNORD_Q);
            __m256 take = _mm256_or_ps(_mm256_or_ps(first, _mm256_cmp_ps(v, b, _CMP_GT_OQ)), isnan);
            take = _mm256_andnot_ps(done, _mm256_and_ps(valid, take));
            b = _mm256_blendv_ps(b, v, take);
            at = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(at), _mm256_castsi256_ps(off), take));
            done = _mm256_or_ps(done, _mm256_and_ps(take, isnan));
        }
        _mm256_storeu_ps(out + o, b);
        _mm256_storeu_si256((__m256i *)(best + o), at);
    }
    max_pool_outputs(x, offsets, k_count, out_count, o, out_count, out, best);
}

__attribute__((target("avx2,fma")))
static void average_pool_avx2(const float *x, const int32_t *offsets, size_t k_count, size_t out_count,
                              const int32_t *divisors, float *out) {
    size_t o = 0;
    const __m256i none = _mm256_set1_epi32(-1);
    for (; o + 8 <= out_count; o += 8) {
        __m256 acc = _mm256_setzero_ps();
        __m256i count = _mm256_setzero_si256();
        for (size_t kp = 0; kp < k_count; kp++) {
            __m256i off = _mm256_loadu_si256((const __m256i *)(offsets + kp * out_count + o));
            __m256i inside = _mm256_cmpgt_epi32(off, none);
            __m256 valid = _mm256_castsi256_ps(inside);
            __m256 v = _mm256_mask_i32gather_ps(_mm256_setzero_ps(), x, off, valid, 4);
            acc = _mm256_blendv_ps(acc, _mm256_add_ps(acc, v), valid);
            count = _mm256_sub_epi32(count, inside);  // inside lanes are −1
        }
        __m256i d = divisors ? _mm256_loadu_si256((const __m256i *)(divisors + o)) : count;
        _mm256_storeu_ps(out + o, _mm256_div_ps(acc, _mm256_cvtepi32_ps(d)));
    }
    average_pool_outputs(x, offsets, k_count, out_count, o, out_count, divisors, out);
}

// One step of a global pool's lane-wise fold: the running value `acc` of 8 planes and
// their next elements v (the portable loop's step, lane by lane).
__attribute__((target("avx2,fma"), always_inline))
static inline __m256 global_step8(__m256 acc, __m256 v, int max) {
    if (!max) return _mm256_add_ps(acc, v);
    const __m256 qnan = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FC00000));
    __m256 nan = _mm256_or_ps(_mm256_cmp_ps(acc, acc, _CMP_UNORD_Q), _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    __m256 keep = _mm256_cmp_ps(acc, v, _CMP_GE_OQ);
    return _mm256_blendv_ps(_mm256_blendv_ps(v, acc, keep), qnan, nan);
}

// 8 planes in the lanes. Each block of 8 elements is read as 8 contiguous rows (one per
// plane) and transposed in registers, so lane i gets plane i's elements in order with
// plain loads instead of a gather per element; the elements past the last whole block
// are gathered.
__attribute__((target("avx2,fma")))
static void global_pool_avx2(const float *x, size_t planes, size_t plane, int max, float *out) {
    size_t p = 0;
    const __m256i lane = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32((int)plane));
    if (plane <= (size_t)INT32_MAX / 8) {
        for (; p + 8 <= planes; p += 8) {
            const float *base = x + p * plane;
            __m256 acc = max ? _mm256_set1_ps(-__builtin_inff()) : _mm256_setzero_ps();
            size_t k = 0;
            for (; k + 8 <= plane; k += 8) {
                __m256 r[8], t[8], u[8];
                for (int i = 0; i < 8; i++) r[i] = _mm256_loadu_ps(base + i * plane + k);
                for (int i = 0; i < 8; i += 2) {
                    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
                    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
                }
                for (int i = 0; i < 8; i += 4) {
                    u[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
                    u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
                    u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
                    u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
                }
                // u[0..3] hold elements k+0..3 (planes 0,1 | 4,5 interleaved per half) for
                // planes 0-3 in the low halves and k+4..7 in the high halves; u[4..7] the
                // same for planes 4-7. Element k+j of all 8 planes: halves recombined.
                __m256 column[8];
                for (int j = 0; j < 4; j++) {
                    column[j] = _mm256_permute2f128_ps(u[j], u[j + 4], 0x20);
                    column[j + 4] = _mm256_permute2f128_ps(u[j], u[j + 4], 0x31);
                }
                for (int j = 0; j < 8; j++) acc = global_step8(acc, column[j], max);
            }
            for (; k < plane; k++) acc = global_step8(acc, _mm256_i32gather_ps(base + k, lane, 4), max);
            _mm256_storeu_ps(out + p, max ? acc : _mm256_div_ps(acc, _mm256_set1_ps((float)plane)));
        }
    }
    global_pool_planes(x, p, planes, plane, max, out);
}

__attribute__((target("avx2,fma"), always_inline))
static inline __m256 first_max8(__m256 b, __m256 v) {
    __m256 take = _mm256_or_ps(_mm256_cmp_ps(v, b, _CMP_GT_OQ), _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    return _mm256_blendv_ps(b, v, _mm256_andnot_ps(_mm256_cmp_ps(b, b, _CMP_UNORD_Q), take));
}

// first_max of the pairs (p[2i], p[2i + 1]) for i = 0..7, in order.
__attribute__((target("avx2,fma"), always_inline))
static inline __m256 first_max_pairs8(const float *p) {
    __m256 lo = _mm256_loadu_ps(p), hi = _mm256_loadu_ps(p + 8);
    __m256 even = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0)), odd = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1));
    // Lanes hold pairs 0 1 4 5 | 2 3 6 7; the 64-bit permute puts them in order.
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(first_max8(even, odd)), _MM_SHUFFLE(3, 1, 2, 0)));
}

// The same windows as max_pool_2x2_rows without gathers: the pairs of each input row
// first (contiguous over every row of the block: w is even, so no pair crosses a row),
// into t, then each output row from two rows of t.
__attribute__((target("avx2,fma")))
static void max_pool_2x2_avx2(const float *x, size_t w, size_t out_rows, float *out) {
    enum { BLOCK = 1024 };  // floats of t: 4 KiB, in L1 with the rows it comes from
    float t[BLOCK];
    size_t half = w / 2, block_rows = BLOCK / w;
    for (size_t r0 = 0; r0 < out_rows; r0 += block_rows) {
        size_t rows = out_rows - r0 < block_rows ? out_rows - r0 : block_rows;
        const float *in = x + 2 * r0 * w;
        float *o = out + r0 * half;
        size_t pairs = rows * w, i = 0;  // rows × 2 input rows × half pairs
        for (; i + 8 <= pairs; i += 8) _mm256_storeu_ps(t + i, first_max_pairs8(in + 2 * i));
        for (; i < pairs; i++) t[i] = first_max(in[2 * i], in[2 * i + 1]);
        size_t r = 0;
        if (half == 4) {
            // Two output rows per vector: t holds top, bottom, top, bottom … in 4-float rows.
            for (; r + 2 <= rows; r += 2) {
                __m256 a = _mm256_loadu_ps(t + 4 * r * 2), b = _mm256_loadu_ps(t + 4 * r * 2 + 8);
                _mm256_storeu_ps(o + 4 * r, first_max8(_mm256_permute2f128_ps(a, b, 0x20), _mm256_permute2f128_ps(a, b, 0x31)));
            }
        }
        for (; r < rows; r++) {
            const float *top = t + 2 * r * half, *bottom = top + half;
            size_t j = 0;
            for (; j + 8 <= half; j += 8) _mm256_storeu_ps(o + r * half + j, first_max8(_mm256_loadu_ps(top + j), _mm256_loadu_ps(bottom + j)));
            for (; j < half; j++) o[r * half + j] = first_max(top[j], bottom[j]);
        }
    }
}
#endif

void opg_max_pool(const float *x, size_t planes, size_t plane, const int32_t *offsets, size_t k_count, size_t out_count,
                  float *out, int32_t *best, int use_avx2) {
    for (size_t p = 0; p < planes; p++) {
#if defined(__x86_64__)
        if (use_avx2) { max_pool_avx2(x + p * plane, offsets, k_count, out_count, out + p * out_count, best + p * out_count); continue; }
#endif
        max_pool_outputs(x + p * plane, offsets, k_count, out_count, 0, out_count, out + p * out_count, best + p * out_count);
    }
    (void)use_avx2;
}

void opg_average_pool(const float *x, size_t planes, size_t plane, const int32_t *offsets, size_t k_count,
                      size_t out_count, const int32_t *divisors, float *out, int use_avx2) {
    for (size_t p = 0; p < planes; p++) {
#if defined(__x86_64__)
        if (use_avx2) { average_pool_avx2(x + p * plane, offsets, k_count, out_count, divisors, out + p * out_count); continue; }
#endif
        average_pool_outputs(x + p * plane, offsets, k_count, out_count, 0, out_count, divisors, out + p * out_count);
    }
    (void)use_avx2;
}

void opg_global_pool(const float *x, size_t planes, size_t plane, int max, float *out, int use_avx2) {
#if defined(__x86_64__)
    if (use_avx2) { global_pool_avx2(x, planes, plane, max, out); return; }
#endif
    (void)use_avx2;
    global_pool_planes(x, 0, planes, plane, max, out);
}

void opg_max_pool_2x2(const float *x, size_t planes, size_t h, size_t w, float *out, int use_avx2) {
    size_t out_rows = planes * (h / 2);
#if defined(__x86_64__)
    if (use_avx2 && w <= 1024) { max_pool_2x2_avx2(x, w, out_rows, out); return; }
#endif
    (void)use_avx2;
    max_pool_2x2_rows(x, w, out_rows, out);
}
