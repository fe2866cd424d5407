#ifndef OPG_CKERNELS_H
#define OPG_CKERNELS_H
/// Returns 1 when the CPU supports AVX2 and FMA (the fast kernels' baseline), else 0.
int opg_cpu_has_avx2_fma(void);
#endif
