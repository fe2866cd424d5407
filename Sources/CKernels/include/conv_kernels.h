#ifndef OPG_CONV_KERNELS_H
#define OPG_CONV_KERNELS_H
#include <stddef.h>
#include <stdint.h>

/// Direct convolution of one sample and one group (docs/determinism.md §3, Conv): for
/// output channel oc < mg and output position o < out_count,
///   acc = +0; for ic in 0..<cg, for kp in 0..<k_count (row-major kernel positions):
///     acc = fma(xp[ic * plane + out_offsets[o] + kernel_offsets[kp]], W[oc][ic][kp], acc)
///   t = bias ? acc + bias[oc] : acc
///   out[oc * out_count + o] = relu && !(t > 0 || t is a NaN) ? +0 : t   (a fused Relu node)
/// xp holds the cg input planes already zero-padded (so a padded position contributes
/// fma(0, w, acc), as the spec says); the offsets are positions within one padded plane.
/// wt is W transposed: wt[(ic * k_count + kp) * mp + oc] with mp = mg rounded up to 8 and
/// zeros past mg. SIMD lanes hold different output channels, never parts of one chain,
/// so the AVX2/FMA and portable paths (use_avx2) give the same bits.
void opg_conv_direct(const float *xp, size_t cg, size_t plane, const int32_t *kernel_offsets, size_t k_count,
                     const int32_t *out_offsets, size_t out_count, const float *wt, size_t mg, const float *bias,
                     int relu, float *out, int use_avx2);

/// Copies `rows` consecutive rows of `row_length` floats from src to dst + dst_offsets[r]
/// (a sample's input rows into its zero-padded planes).
void opg_copy_rows(const float *src, size_t rows, size_t row_length, const int32_t *dst_offsets, float *dst, int use_avx2);
#endif
