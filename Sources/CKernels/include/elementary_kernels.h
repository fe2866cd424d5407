#ifndef OPG_ELEMENTARY_KERNELS_H
#define OPG_ELEMENTARY_KERNELS_H
#include <stddef.h>

/// Exact GELU over n float32 values (docs/determinism.md §4): the binary64 operations of
/// DeterministicMath.gelu (approximate = "none") and its erf and exp, in the same order,
/// rounded once to float32; a NaN is returned as it is. Same bits as the Swift reference.
/// use_avx2 runs 4 values per instruction in binary64 lanes (both branches per lane, each
/// lane keeping its own; the same IEEE operations), else one at a time.
void opg_gelu_erf(const float *x, size_t n, float *out, int use_avx2);

/// Sigmoid over n float32 values (docs/determinism.md §4): DeterministicMath.sigmoid's
/// binary64 operations (1 ÷ (1 + exp(−x)), exp as DeterministicMath.exp) in the same order,
/// rounded once to float32; a NaN is returned as it is. Same bits as the Swift reference.
/// use_avx2 runs 4 values per instruction in binary64 lanes.
void opg_sigmoid(const float *x, size_t n, float *out, int use_avx2);

/// Softmax over `rows` contiguous rows of n values (docs/determinism.md §3): m = the
/// NaN-propagating max of the row; e_k = exp(x_k − m) (DeterministicMath.exp in binary64,
/// rounded to float32); s = Σ e_k left to right from +0; y_k = e_k ÷ s. The reference's
/// float32 and binary64 operations in its order, so the same bits. use_avx2 computes 4
/// exponentials and 8 divisions per instruction (lanes are different elements).
void opg_softmax_rows(const float *x, size_t rows, size_t n, float *out, int use_avx2);

/// erf's polynomial `piece` (0: P on [0, 1); 1–4: Q_1…Q_4 of erfc's intervals), lowest
/// degree first, with its coefficient count; the Swift reference reads them from here.
const double *opg_erf_polynomial(int piece, size_t *count);
#endif
