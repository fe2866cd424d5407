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

// Rows [i0, i0+MR) × one packed 16-column panel (K × 16, contiguous).
__attribute__((target("avx2,fma")))
static void micro_6x16(const float *A, size_t lda, const float *panel, size_t K, float *C, size_t ldc) {
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
    __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
    __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
    __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
    __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
    __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
    const float *a0 = A, *a1 = A + lda, *a2 = A + 2 * lda, *a3 = A + 3 * lda, *a4 = A + 4 * lda, *a5 = A + 5 * lda;
    for (size_t k = 0; k < K; k++) {
        __m256 b0 = _mm256_loadu_ps(panel + k * NR), b1 = _mm256_loadu_ps(panel + k * NR + 8);
        __m256 a;
        a = _mm256_broadcast_ss(a0 + k); c00 = _mm256_fmadd_ps(a, b0, c00); c01 = _mm256_fmadd_ps(a, b1, c01);
        a = _mm256_broadcast_ss(a1 + k); c10 = _mm256_fmadd_ps(a, b0, c10); c11 = _mm256_fmadd_ps(a, b1, c11);
        a = _mm256_broadcast_ss(a2 + k); c20 = _mm256_fmadd_ps(a, b0, c20); c21 = _mm256_fmadd_ps(a, b1, c21);
        a = _mm256_broadcast_ss(a3 + k); c30 = _mm256_fmadd_ps(a, b0, c30); c31 = _mm256_fmadd_ps(a, b1, c31);
        a = _mm256_broadcast_ss(a4 + k); c40 = _mm256_fmadd_ps(a, b0, c40); c41 = _mm256_fmadd_ps(a, b1, c41);
        a = _mm256_broadcast_ss(a5 + k); c50 = _mm256_fmadd_ps(a, b0, c50); c51 = _mm256_fmadd_ps(a, b1, c51);
    }
    _mm256_storeu_ps(C, c00); _mm256_storeu_ps(C + 8, c01); C += ldc;
    _mm256_storeu_ps(C, c10); _mm256_storeu_ps(C + 8, c11); C += ldc;
    _mm256_storeu_ps(C, c20); _mm256_storeu_ps(C + 8, c21); C += ldc;
    _mm256_storeu_ps(C, c30); _mm256_storeu_ps(C + 8, c31); C += ldc;
    _mm256_storeu_ps(C, c40); _mm256_storeu_ps(C + 8, c41); C += ldc;
    _mm256_storeu_ps(C, c50); _mm256_storeu_ps(C + 8, c51);
}

// One row × one packed 16-column panel.
__attribute__((target("avx2,fma")))
static void micro_1x16(const float *A, const float *panel, size_t K, float *C) {
    __m256 c0 = _mm256_setzero_ps(), c1 = _mm256_setzero_ps();
    for (size_t k = 0; k < K; k++) {
        __m256 a = _mm256_broadcast_ss(A + k);
        c0 = _mm256_fmadd_ps(a, _mm256_loadu_ps(panel + k * NR), c0);
        c1 = _mm256_fmadd_ps(a, _mm256_loadu_ps(panel + k * NR + 8), c1);
    }
    _mm256_storeu_ps(C, c0);
    _mm256_storeu_ps(C + 8, c1);
}

// Columns that do not fill a panel: scalar fma chains (vfmadd*ss under this target).
__attribute__((target("avx2,fma")))
static void edge_columns(const float *A, const float *B, float *C, size_t M, size_t K, size_t lda, size_t ldb,
                         size_t ldc, size_t j0, size_t j1) {
    for (size_t i = 0; i < M; i++) {
        for (size_t j = j0; j < j1; j++) {
            float acc = 0.0f;
            for (size_t k = 0; k < K; k++) acc = fmaf(A[i * lda + k], B[k * ldb + j], acc);
            C[i * ldc + j] = acc;
        }
    }
}

__attribute__((target("avx2,fma")))
static void sgemm_avx2(const float *A, const float *B, float *C, size_t M, size_t K, size_t lda, size_t ldb,
                       size_t ldc, size_t j0, size_t j1) {
    size_t full = j0 + (j1 - j0) / NR * NR;
    float *panel = NULL;
    if (full > j0 && K > 0) {
        panel = aligned_alloc(64, ((K * NR * sizeof(float)) + 63) / 64 * 64);
        if (panel == NULL) { full = j0; }  // out of memory: fall back to the edge path for everything
    }
    for (size_t j = j0; j < full; j += NR) {
        for (size_t k = 0; k < K; k++) memcpy(panel + k * NR, B + k * ldb + j, NR * sizeof(float));
        size_t i = 0;
        for (; i + MR <= M; i += MR) micro_6x16(A + i * lda, lda, panel, K, C + i * ldc + j, ldc);
        for (; i < M; i++) micro_1x16(A + i * lda, panel, K, C + i * ldc + j);
    }
    free(panel);
    if (full < j1) edge_columns(A, B, C, M, K, lda, ldb, ldc, full, j1);
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
