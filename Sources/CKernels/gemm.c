// Matrix product kernels for the inference fast path. Contract in CKernels.h and
// docs/determinism.md: every C[i][j] is the sequential chain acc = fma(A[i][k], B[k][j], acc)
// for k = 0..K-1 from acc = +0, then Gemm's epilogue (t = acc; t = alpha*t when alpha != 1;
// t = t + beta*bias[j] with a bias). Vector lanes hold different outputs, never partial sums
// of one output, so the chain (and therefore every bit) is the same on every path.
//
// B is "panel-addressed": element (k, j) lives at B[(j / 16) * panel_stride + k * row_stride
// + j % 16]. A B packed by opg_sgemm_pack_b (panels of 16 columns, each K x 16 contiguous,
// zero past N) has row_stride 16 and panel_stride 16 * K; a plain row-major B has
// row_stride ldb and panel_stride 16. Lanes past N are computed but never stored, and in
// the last, partial panel they are loaded with masks, so nothing past B's end is read.
#include "CKernels.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#pragma clang fp contract(off)

// KC: the longest K block. A panel's K block (KC x 16 floats, 16 KB, half of L1) stays in L1
// while every 6-row tile of the row block runs over it, with room for the next block coming
// in (a 784-deep panel, 50 KB, was streamed from L2 again by each tile). GROUP: K blocks
// run panel by panel before the next group (see sgemm_panels_avx2).
enum { NR = 16, MR = 6, KC = 256, GROUP = 4 };

size_t opg_sgemm_packed_size(size_t K, size_t N) { return (N + NR - 1) / NR * NR * K; }

void opg_sgemm_pack_b(const float *B, size_t row_stride, size_t column_stride, size_t K, size_t N, float *packed) {
    for (size_t j0 = 0; j0 < N; j0 += NR) {
        size_t width = N - j0 < NR ? N - j0 : NR;
        float *panel = packed + j0 * K;
        for (size_t k = 0; k < K; k++) {
            const float *row = B + k * row_stride + j0 * column_stride;
            if (column_stride == 1) memcpy(panel + k * NR, row, width * sizeof(float));
            else for (size_t j = 0; j < width; j++) panel[k * NR + j] = row[j * column_stride];
            for (size_t j = width; j < NR; j++) panel[k * NR + j] = 0.0f;
        }
    }
}

static float epilogue(float acc, size_t j, const opg_gemm_epilogue *e) {
    if (e == NULL) return acc;
    float t = acc;
    if (e->alpha != 1.0f) t = e->alpha * t;
    if (e->bias != NULL) t = t + e->beta * e->bias[j];
    if (e->relu && !(t > 0.0f || t != t)) t = 0.0f;
    return t;
}

void opg_sgemm_panels_portable(const float *A, size_t lda, const float *B, size_t row_stride, size_t panel_stride,
                               float *C, size_t ldc, size_t M, size_t K, size_t j0, size_t j1,
                               const opg_gemm_epilogue *e) {
    for (size_t i = 0; i < M; i++) {
        for (size_t j = j0; j < j1; j++) {
            const float *b = B + (j / NR) * panel_stride + j % NR;
            float acc = 0.0f;
            for (size_t k = 0; k < K; k++) acc = fmaf(A[i * lda + k], b[k * row_stride], acc);
            C[i * ldc + j] = epilogue(acc, j, e);
        }
    }
}

#if defined(__x86_64__)
#include <immintrin.h>

// Relu per lane: x where x > 0 or x is a NaN, else +0 (−0 included).
__attribute__((target("avx2,fma"), always_inline))
static inline __m256 rectified8(__m256 x) { return _mm256_and_ps(x, _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_NLE_UQ)); }

// A rows x (16 G) tile: `rows` <= 6 rows of A (row stride lda) against G panels of B, for
// kc steps of k. One accumulator per output lane; the k loop is the fma chain. Always
// inlined with constant rows, G and `narrow`, so the accumulators live in registers. With
// `resume` the chains continue from the values already in C (a float stored and reloaded
// is exact, so splitting K into blocks changes no bit). With `e` (the last K block) the
// epilogue is applied before the store. `narrow` (G = 1 only) is a panel with only `cols`
// < 16 columns: NARROW_WIDE (9 to 15 columns) keeps the first 8 lanes whole and loads and
// stores the second 8 under a lane mask; NARROW_HALF (1 to 8) runs only the first 8 lanes,
// under a mask. Columns past `cols` are neither loaded from B or C nor stored, and only
// one mask register is live in the k loop (two spilled the 6-row tile's accumulators).
enum { WHOLE = 0, NARROW_WIDE = 1, NARROW_HALF = 2 };

__attribute__((target("avx2,fma"), always_inline))
static inline void tile(const int rows, const int G, const int narrow, const float *A, size_t lda, const float *B,
                        size_t bs, size_t ps, size_t kc, float *C, size_t ldc, int cols, int resume,
                        const opg_gemm_epilogue *e, size_t j) {
    const int vectors = narrow == NARROW_HALF ? 1 : 2 * G;
    // The one 8-lane vector that is partial: the second with NARROW_WIDE, the first with
    // NARROW_HALF, none otherwise.
    const int partial = narrow == NARROW_WIDE ? 1 : narrow == NARROW_HALF ? 0 : -1;
    __m256i mask = _mm256_setzero_si256();
    if (narrow != WHOLE) {
        const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(narrow == NARROW_WIDE ? cols - 8 : cols), lanes);
    }
#define LOAD(p, g) ((g) == partial ? _mm256_maskload_ps((p), mask) : _mm256_loadu_ps(p))
    __m256 acc[MR][8];
    for (int r = 0; r < rows; r++)
        for (int g = 0; g < vectors; g++) {
            const float *c = C + r * ldc + 8 * g;
            acc[r][g] = resume ? LOAD(c, g) : _mm256_setzero_ps();
        }
#pragma clang loop unroll_count(4)
    for (size_t k = 0; k < kc; k++) {
        __m256 b[8];
        for (int g = 0; g < vectors; g++) b[g] = LOAD(B + (g / 2) * ps + k * bs + 8 * (g % 2), g);
        for (int r = 0; r < rows; r++) {
            __m256 a = _mm256_broadcast_ss(A + r * lda + k);
            for (int g = 0; g < vectors; g++) acc[r][g] = _mm256_fmadd_ps(a, b[g], acc[r][g]);
        }
    }
    if (e != NULL) {
        const __m256 alpha = _mm256_set1_ps(e->alpha), beta = _mm256_set1_ps(e->beta);
        for (int g = 0; g < vectors; g++) {
            __m256 bias = _mm256_setzero_ps();
            if (e->bias != NULL) bias = _mm256_mul_ps(beta, LOAD(e->bias + j + 8 * g, g));
            for (int r = 0; r < rows; r++) {
                if (e->alpha != 1.0f) acc[r][g] = _mm256_mul_ps(alpha, acc[r][g]);
                if (e->bias != NULL) acc[r][g] = _mm256_add_ps(acc[r][g], bias);
                if (e->relu) acc[r][g] = rectified8(acc[r][g]);
            }
        }
    }
#undef LOAD
    for (int r = 0; r < rows; r++)
        for (int g = 0; g < vectors; g++) {
            float *c = C + r * ldc + 8 * g;
            if (g == partial) _mm256_maskstore_ps(c, mask, acc[r][g]);
            else _mm256_storeu_ps(c, acc[r][g]);
        }
}

// One 16-column panel for up to 6 rows; `cols` < 16 takes a narrow form.
__attribute__((target("avx2,fma"), noinline))
static void tile_panel(int rows, const float *A, size_t lda, const float *B, size_t bs, size_t kc, float *C,
                       size_t ldc, int cols, int resume, const opg_gemm_epilogue *e, size_t j) {
#define TILE_ROWS(narrow)                                                                          \
    switch (rows) {                                                                                \
    case 6: tile(6, 1, narrow, A, lda, B, bs, 0, kc, C, ldc, cols, resume, e, j); break;           \
    case 5: tile(5, 1, narrow, A, lda, B, bs, 0, kc, C, ldc, cols, resume, e, j); break;           \
    case 4: tile(4, 1, narrow, A, lda, B, bs, 0, kc, C, ldc, cols, resume, e, j); break;           \
    case 3: tile(3, 1, narrow, A, lda, B, bs, 0, kc, C, ldc, cols, resume, e, j); break;           \
    case 2: tile(2, 1, narrow, A, lda, B, bs, 0, kc, C, ldc, cols, resume, e, j); break;           \
    default: tile(1, 1, narrow, A, lda, B, bs, 0, kc, C, ldc, cols, resume, e, j); break;          \
    }
    if (cols <= 8) { TILE_ROWS(NARROW_HALF) } else if (cols < NR) { TILE_ROWS(NARROW_WIDE) } else { TILE_ROWS(WHOLE) }
#undef TILE_ROWS
}

// Rows of A whose A block (MC x GROUP x KC floats) stays in L2 while B's panels stream past.
enum { MC = 96 };

__attribute__((target("avx2,fma")))
static void sgemm_panels_avx2(const float *A, size_t lda, const float *B, size_t bs, size_t ps, float *C,
                              size_t ldc, size_t M, size_t K, size_t j0, size_t j1, const opg_gemm_epilogue *e) {
    if (M <= 2) {
        // A row or two: no reuse of B to block for, so the whole K at once, eight
        // independent chains per tile (one row by 64 columns, two by 32) to hide the fma
        // latency.
        size_t j = j0;
        if (M == 2) {
            for (; j + 2 * NR <= j1; j += 2 * NR) tile(2, 2, WHOLE, A, lda, B + j / NR * ps, bs, ps, K, C + j, ldc, NR, 0, e, j);
        } else {
            for (; j + 4 * NR <= j1; j += 4 * NR) tile(1, 4, WHOLE, A, lda, B + j / NR * ps, bs, ps, K, C + j, ldc, NR, 0, e, j);
        }
        for (; j < j1; j += NR) {
            int cols = j1 - j < NR ? (int)(j1 - j) : NR;
            tile_panel((int)M, A, lda, B + j / NR * ps, bs, K, C + j, ldc, cols, 0, e, j);
        }
        return;
    }
    // A block of rows, a group of up to GROUP K blocks (the rows' A for the group, at
    // most 96 x 1024 floats, stays in L2), then each panel, then each K block of the
    // group (KC x 16 floats of the panel, kept in L1) against every 6-row tile of the row
    // block. K is cut into equal blocks of at most KC (784: four of 196), later ones
    // resuming the chains from C (exact: see the top of this file; a panel's columns of C
    // stay in L1 between the blocks of a group), the last one applying the epilogue.
    // While a block's tiles run, each prefetches its share of the block after it (the
    // panel's next K block, or the next panel's first of the group), so that block is on
    // its way from L3 or memory (a model's weights do not fit in L2) before the first
    // tile needs it. With K up to GROUP x KC a thread's columns are finished one panel at
    // a time, so the cache line two threads' parts share (C not on a 64-byte boundary)
    // moves between them once, not once per K block.
    size_t blocks = K == 0 ? 1 : (K + KC - 1) / KC, block = K == 0 ? 0 : (K + blocks - 1) / blocks;
    for (size_t i0 = 0; i0 < M; i0 += MC) {
        size_t mc = M - i0 < MC ? M - i0 : MC;
        // The block's rows in as few tiles as 6-row tiles need, of nearly equal height
        // (37 rows: two of 6 and five of 5, not six of 6 and one of 1), so no tile is too
        // short to keep the two fma pipes busy (a 1-row tile's 2 chains wait on the fma
        // latency at every step).
        size_t tiles = (mc + MR - 1) / MR;
        for (size_t g0 = 0; g0 < blocks; g0 += GROUP) {
            size_t g1 = blocks - g0 < GROUP ? blocks : g0 + GROUP;
            for (size_t j = j0; j < j1; j += NR) {
                int cols = j1 - j < NR ? (int)(j1 - j) : NR;
                const float *panel = B + j / NR * ps;
                for (size_t kb = g0; kb < g1; kb++) {
                    size_t k0 = kb * block, kc = K - k0 < block ? K - k0 : block;
                    const float *next = NULL;
                    size_t next_rows = 0;
                    if (kb + 1 < g1) {
                        next = panel + (k0 + kc) * bs;
                        next_rows = K - k0 - kc < block ? K - k0 - kc : block;
                    } else if (j + NR < j1) {
                        next = panel + ps + g0 * block * bs;
                        next_rows = K - g0 * block < block ? K - g0 * block : block;
                    }
                    int resume = k0 > 0;
                    const opg_gemm_epilogue *last = k0 + kc == K ? e : NULL;
                    size_t i = i0;
                    for (size_t t = 0; t < tiles; t++) {
                        int rows = (int)(mc / tiles + (t < mc % tiles));
                        for (size_t k = t * next_rows / tiles; k < (t + 1) * next_rows / tiles; k++)
                            _mm_prefetch((const char *)(next + k * bs), _MM_HINT_T1);
                        tile_panel(rows, A + i * lda + k0, lda, panel + k0 * bs, bs, kc, C + i * ldc + j, ldc, cols,
                                   resume, last, j);
                        i += (size_t)rows;
                    }
                }
            }
        }
    }
}
#endif

void opg_sgemm_panels(const float *A, size_t lda, const float *B, size_t row_stride, size_t panel_stride, float *C,
                      size_t ldc, size_t M, size_t K, size_t j0, size_t j1, const opg_gemm_epilogue *e, int use_avx2) {
    if (M == 0 || j0 >= j1) return;
#if defined(__x86_64__)
    if (use_avx2) { sgemm_panels_avx2(A, lda, B, row_stride, panel_stride, C, ldc, M, K, j0, j1, e); return; }
#endif
    (void)use_avx2;
    opg_sgemm_panels_portable(A, lda, B, row_stride, panel_stride, C, ldc, M, K, j0, j1, e);
}
