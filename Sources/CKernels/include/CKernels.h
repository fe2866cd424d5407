#ifndef OPG_CKERNELS_H
#define OPG_CKERNELS_H
#include <stddef.h>
#include "allocator.h"
#include "conv_kernels.h"
#include "norm_kernels.h"
#include "pool_kernels.h"
#include "svm_kernels.h"

/// Returns 1 when the CPU supports AVX2 and FMA (the fast kernels' baseline), else 0.
int opg_cpu_has_avx2_fma(void);

/// C[i][j] = fma chain over k = 0..K-1 of A[i][k] * B[k][j], starting from +0, for all
/// rows i and the columns j in [j0, j1). Row-major with leading dimensions lda, ldb, ldc.
/// Each output is one sequential fused multiply-add chain (docs/determinism.md), so the
/// result is bit-identical however the columns are split between threads and whichever
/// path (AVX2/FMA or portable C) runs it.
void opg_sgemm(const float *A, const float *B, float *C, size_t M, size_t K, size_t N,
               size_t lda, size_t ldb, size_t ldc, size_t j0, size_t j1, int use_avx2);

/// The same contract with the portable C path only (fmaf, correctly rounded everywhere).
void opg_sgemm_portable(const float *A, const float *B, float *C, size_t M, size_t K, size_t N,
                        size_t lda, size_t ldb, size_t ldc, size_t j0, size_t j1);
#endif
