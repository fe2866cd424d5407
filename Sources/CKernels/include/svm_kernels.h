#ifndef OPG_SVM_KERNELS_H
#define OPG_SVM_KERNELS_H
#include <stddef.h>

/// The inner chains of an SVM's kernel for every sample against every support vector
/// (docs/determinism.md §3, SVMRegressor / SVMClassifier): out[r * stride + v] is, for
/// sample r (row r of X, n features) and vector v (column v of VT),
///   squared_distance = 0: s = fma(x_i, v_i, s), i = 0..n-1, from s = +0 (the dot product);
///   squared_distance = 1: s = fma(d, d, s) with d = x_i − v_i (the squared distance).
/// VT holds the vectors transposed, VT[i * stride + v], with stride ≥ vectors a multiple
/// of 8 and zeros past `vectors`; out has the same row stride (lanes past `vectors` are
/// written with the chains of those zero columns). Vector lanes hold different vectors,
/// so every path gives the same bits; use_avx2 picks the AVX2/FMA path.
void opg_svm_chains(const float *X, size_t rows, size_t n, const float *VT, size_t stride, int squared_distance,
                    float *out, int use_avx2);
#endif
