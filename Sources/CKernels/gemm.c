// Matrix product kernels for the inference fast path. Contract in CKernels.h and
// docs/determinism.md: every C[i][j] is the sequential chain acc = fma(A[i][k], B[k][j], acc)
// for k = 0..K-1 from acc = +0. Vector lanes hold different outputs, never partial sums
// of one output, so the chain (and therefore every bit) is the same on every path.
#include "CKernels.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#pragma clang fp contract(off)

void opg_sgemm_portable(const float *A, const float *B, float *C, size_t M, size_t K, size_t N,
                        size_t lda, size_t ldb, size_t ldc, size_t j0, size_t j1) {
    (void)N;
    for (size_t i = 0; i < M; i++) {
        for (size_t j = j0; j < j1; j++) {
            float acc = 0.0f;
            for (size_t k = 0; k < K; k++) acc = fmaf(A[i * lda + k], B[k * ldb + j], acc);
            C[i * ldc + j] = acc;
        }
    }
}

#if defined(__x86_64__)
#include <immintrin.h>

#define MR 6
#define NR 16

// A rows × (16·G) tile: rows ≤ 6 rows of A against G 16-column groups of B, read with
// row stride `bs` (a packed panel, or B itself). One accumulator per output lane; the
// k loop is the fma chain. Always inlined with constant rows and G, so the accumulators
// live in registers. With `resume` the chains continue from the values already in C
// (a float stored and reloaded is exact, so splitting K into blocks changes no bit).
__attribute__((target("avx2,fma"), always_inline))
static inline void tile(const int rows, const int G, const float *A, size_t lda, const float *B, size_t bs, size_t K,
                        float *C, size_t ldc, int resume) {
    __m256 acc[6][8];
    for (int r = 0; r < rows; r++)
        for (int g = 0; g < 2 * G; g++) acc[r][g] = resume ? _mm256_loadu_ps(C + r * ldc + 8 * g) : _mm256_setzero_ps();
    for (size_t k = 0; k < K; k++) {
        __m256 b[8];
        for (int g = 0; g < 2 * G; g++) b[g] = _mm256_loadu_ps(B + k * bs + 8 * g);
        for (int r = 0; r < rows; r++) {
            __m256 a = _mm256_broadcast_ss(A + r * lda + k);
            for (int g = 0; g < 2 * G; g++) acc[r][g] = _mm256_fmadd_ps(a, b[g], acc[r][g]);
        }
    }
    for (int r = 0; r < rows; r++)
        for (int g = 0; g < 2 * G; g++) _mm256_storeu_ps(C + r * ldc + 8 * g, acc[r][g]);
}

__attribute__((target("avx2,fma")))
static void tile_rows(int rows, const float *A, size_t lda, const float *B, size_t bs, size_t K, float *C, size_t ldc, int resume) {
    switch (rows) {
    case 6: tile(6, 1, A, lda, B, bs, K, C, ldc, resume); break;
    case 5: tile(5, 1, A, lda, B, bs, K, C, ldc, resume); break;
    case 4: tile(4, 1, A, lda, B, bs, K, C, ldc, resume); break;
    case 3: tile(3, 1, A, lda, B, bs, K, C, ldc, resume); break;
    case 2: tile(2, 1, A, lda, B, bs, K, C, ldc, resume); break;
    default: tile(1, 1, A, lda, B, bs, K, C, ldc, resume); break;
    }
}

// All rows of A against one group of `width` ≤ 16 columns of B (starting at B), K in
// blocks of KC: the group is packed into a KC × 16 panel (zero-filled past `width`) that
// stays in L1 while A's rows sweep it; later blocks resume the chains from C. Lanes past
// `width` compute on zeros and are never stored to the caller's C.
enum { KC = 256 };

__attribute__((target("avx2,fma")))
static void panel_sweep(const float *A, size_t lda, const float *B, size_t ldb, size_t width, float *C, size_t ldc,
                        size_t M, size_t K, float *panel) {
    if (K == 0) {
        for (size_t i = 0; i < M; i++) for (size_t j = 0; j < width; j++) C[i * ldc + j] = 0.0f;
        return;
    }
    for (size_t k0 = 0; k0 < K; k0 += KC) {
        size_t kc = K - k0 < KC ? K - k0 : KC;
        int resume = k0 > 0;
        for (size_t k = 0; k < kc; k++) {
            memcpy(panel + k * NR, B + (k0 + k) * ldb, width * sizeof(float));
            for (size_t j = width; j < NR; j++) panel[k * NR + j] = 0.0f;
        }
        size_t i = 0;
        for (; i + MR <= M; i += MR) tile(6, 1, A + i * lda + k0, lda, panel, NR, kc, C + i * ldc, ldc, resume);
        if (i < M) tile_rows((int)(M - i), A + i * lda + k0, lda, panel, NR, kc, C + i * ldc, ldc, resume);
    }
}

__attribute__((target("avx2,fma")))
static void sgemm_avx2(const float *A, const float *B, float *C, size_t M, size_t K, size_t lda, size_t ldb,
                       size_t ldc, size_t j0, size_t j1) {
    size_t full = j0 + (j1 - j0) / NR * NR;
    float *panel = aligned_alloc(64, KC * NR * sizeof(float));
    float *edge = full < j1 ? aligned_alloc(64, ((M * NR * sizeof(float)) + 63) / 64 * 64) : NULL;
    if (panel == NULL || (full < j1 && edge == NULL)) {
        // Out of memory: the portable path computes the same chains.
        free(panel); free(edge);
        opg_sgemm_portable(A, B, C, M, K, 0, lda, ldb, ldc, j0, j1);
        return;
    }
    if (M <= 2) {
        // A row or two against B in place, 64 columns at a time: eight (or sixteen)
        // independent chains hide the fma latency without packing.
        size_t j = j0;
        for (; j + 64 <= full; j += 64) {
            if (M == 2) { tile(2, 4, A, lda, B + j, ldb, K, C + j, ldc, 0); }
            else { tile(1, 4, A, lda, B + j, ldb, K, C + j, ldc, 0); }
        }
        for (; j < full; j += NR) tile_rows((int)M, A, lda, B + j, ldb, K, C + j, ldc, 0);
    } else {
        for (size_t j = j0; j < full; j += NR) panel_sweep(A, lda, B + j, ldb, NR, C + j, ldc, M, K, panel);
    }
    if (full < j1) {
        // The last columns (fewer than 16) through a zero-padded panel into a scratch tile.
        size_t width = j1 - full;
        panel_sweep(A, lda, B + full, ldb, width, edge, NR, M, K, panel);
        for (size_t i = 0; i < M; i++) memcpy(C + i * ldc + full, edge + i * NR, width * sizeof(float));
    }
    free(panel);
    free(edge);
}
#endif

void opg_sgemm(const float *A, const float *B, float *C, size_t M, size_t K, size_t N,
               size_t lda, size_t ldb, size_t ldc, size_t j0, size_t j1, int use_avx2) {
#if defined(__x86_64__)
    if (use_avx2) { sgemm_avx2(A, B, C, M, K, lda, ldb, ldc, j0, j1); return; }
#endif
    (void)use_avx2;
    opg_sgemm_portable(A, B, C, M, K, N, lda, ldb, ldc, j0, j1);
}
