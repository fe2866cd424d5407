#ifndef OPG_CKERNELS_H
#define OPG_CKERNELS_H
#include <stddef.h>
#include "allocator.h"
#include "conv_kernels.h"
#include "elementary_kernels.h"
#include "parallel.h"
#include "norm_kernels.h"
#include "pool_kernels.h"
#include "svm_kernels.h"

/// Returns 1 when the CPU supports AVX2 and FMA (the fast kernels' baseline), else 0.
int opg_cpu_has_avx2_fma(void);

/// What Gemm does to each finished chain `acc` of column j, in this order:
/// t = acc; t = alpha * t when alpha != 1; t = t + beta * bias[j] when bias is not NULL;
/// with relu, t = t when t > 0 or t is a NaN, else +0 (a Relu node fused into the product).
typedef struct {
    float alpha;
    float beta;
    /// One value per output column (Gemm's C as a row vector), or NULL.
    const float *bias;
    /// Nonzero: the Relu step last.
    int relu;
} opg_gemm_epilogue;

/// Floats in B (K x N) packed by opg_sgemm_pack_b: N rounded up to 16, times K.
size_t opg_sgemm_packed_size(size_t K, size_t N);

/// Packs B (K x N, element (k, j) at B[k * row_stride + j * column_stride]) into panels of
/// 16 columns, each K x 16 contiguous and zero past column N: the layout opg_sgemm_panels
/// reads with row_stride 16 and panel_stride 16 * K.
void opg_sgemm_pack_b(const float *B, size_t row_stride, size_t column_stride, size_t K, size_t N, float *packed);

/// C[i][j] = the fma chain over k = 0..K-1 of A[i][k] * B(k, j), starting from +0, then
/// the epilogue `e` (NULL for none), for rows 0..M-1 and the columns j in [j0, j1), j0 a
/// multiple of 16. A and C are row-major with leading dimensions lda and ldc; B(k, j) is
/// B[(j / 16) * panel_stride + k * row_stride + j % 16] (a packed B, or a row-major B with
/// row_stride ldb and panel_stride 16). Each output is one sequential fused multiply-add
/// chain (docs/determinism.md), so the result is bit-identical however the columns are
/// split between threads and whichever path (AVX2/FMA or portable C) runs it.
void opg_sgemm_panels(const float *A, size_t lda, const float *B, size_t row_stride, size_t panel_stride, float *C,
                      size_t ldc, size_t M, size_t K, size_t j0, size_t j1, const opg_gemm_epilogue *e, int use_avx2);

/// The same contract with the portable C path only (fmaf, correctly rounded everywhere).
void opg_sgemm_panels_portable(const float *A, size_t lda, const float *B, size_t row_stride, size_t panel_stride,
                               float *C, size_t ldc, size_t M, size_t K, size_t j0, size_t j1,
                               const opg_gemm_epilogue *e);
#endif
