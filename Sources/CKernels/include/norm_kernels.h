#ifndef OPG_NORM_KERNELS_H
#define OPG_NORM_KERNELS_H
#include <stddef.h>

/// LayerNormalization over `rows` rows of n contiguous values (docs/determinism.md §3):
/// per row mean = (Σ x, left to right from +0) ÷ n; var = (Σ fma(d, d, ·) with d = x − mean)
/// ÷ n; inv = 1 ÷ sqrt(var + eps); out = ((x − mean) · inv) · scale[k], plus bias[k] when
/// bias is not NULL. means[r] and invs[r] receive the statistics. The chains of 8 rows are
/// interleaved (each still in its own order) and the normalisation runs 8 values per
/// instruction, so the AVX2/FMA path (use_avx2) and the portable one give the same bits.
void opg_layer_norm(const float *x, size_t rows, size_t n, const float *scale, const float *bias, float eps, float *out,
                    float *means, float *invs, int use_avx2);
#endif
