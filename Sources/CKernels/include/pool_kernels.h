#ifndef OPG_POOL_KERNELS_H
#define OPG_POOL_KERNELS_H
#include <stddef.h>
#include <stdint.h>

/// Pooling over `planes` planes of `plane` elements (docs/determinism.md §3, Pooling).
/// offsets[kp * out_count + o] is the position in the plane of window element kp of
/// output o, or −1 where the window reads padding (skipped).
///
/// Max: the first maximum in window order, a NaN being the maximum and ending the
/// window; out = −∞ and best = −1 when the window reads only padding. best[p·out_count + o]
/// is the winning position within the plane.
void opg_max_pool(const float *x, size_t planes, size_t plane, const int32_t *offsets, size_t k_count, size_t out_count,
                  float *out, int32_t *best, int use_avx2);

/// MaxPool's values for a 2 × 2 window with strides 2, no padding and no dilation, over
/// `planes` planes of h × w, h and w even: out[p][i][j] is the first maximum in window
/// order (0,0), (0,1), (1,0), (1,1) of x[p][2i…2i+1][2j…2j+1], a NaN being the maximum and
/// ending the window — what opg_max_pool gives, read with plain loads instead of gathers.
void opg_max_pool_2x2(const float *x, size_t planes, size_t h, size_t w, float *out, int use_avx2);

/// Average: the window's elements inside the input summed in window order from +0, then
/// divided by divisors[o] when divisors is not NULL (count_include_pad), else by the number
/// of elements summed.
void opg_average_pool(const float *x, size_t planes, size_t plane, const int32_t *offsets, size_t k_count,
                      size_t out_count, const int32_t *divisors, float *out, int use_avx2);

/// Global pooling: out[p] is the sum of plane p from +0 left to right divided by `plane`
/// (average), or its first maximum with NaN propagating (max). Lanes are planes.
void opg_global_pool(const float *x, size_t planes, size_t plane, int max, float *out, int use_avx2);
#endif
