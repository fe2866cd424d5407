// Softmax and the exact GELU over float32 (contract in elementary_kernels.h) and erf's
// polynomials, which the Swift reference (Kernels/DeterministicMath.swift) reads from here too.
#include "elementary_kernels.h"
#include <math.h>
#include <stdint.h>
#include <string.h>

#pragma clang fp contract(off)

// erf's polynomials, lowest degree first (tools/onnx/erf_coefficients.py prints them, with
// the measured error). P: erf(√t)/√t on [0, 1); Q_i: e^(a²)·erfc(a) around each centre.
static const double ERF_SMALL[] = {
    1.1283791670955126,
    -0.37612638903183543,
    0.11283791670945006,
    -0.02686617064323777,
    0.0052239776071164225,
    -0.0008548325975389692,
    0.00012055294904839707,
    -1.492473690741966e-05,
    1.6447424703317362e-06,
    -1.6208483801871705e-07,
    1.3720064546777686e-08,
    -7.795898827002142e-10,
};
// [1.0, 2.0), centre 1.5
static const double ERFC_TAIL1[] = {
    0.3215854164543175,
    -0.16362291773256005,
    0.0761510398554774,
    -0.03293090529956527,
    0.013377340953067394,
    -0.0051459575478377826,
    0.0018861348769919975,
    -0.0006619300701084315,
    0.0002233099453004411,
    -7.265887301589559e-05,
    2.2864299608127746e-05,
    -6.97536222785843e-06,
    2.0670657912156654e-06,
    -5.944961119917664e-07,
    1.6714292901928126e-07,
    -4.9545807838901603e-08,
    1.3242541506849584e-08,
};
// [2.0, 3.0), centre 2.5
static const double ERFC_TAIL2[] = {
    0.2108063640611436,
    -0.07434734678979472,
    0.024937997086656914,
    -0.008001569382093874,
    0.002467036815699688,
    -0.0007335909374729658,
    0.00021101982436023977,
    -5.8868958345706055e-05,
    1.5961851696601105e-05,
    -4.214357879841587e-06,
    1.0852366992052668e-06,
    -2.7262986241901926e-07,
    6.706690790495327e-08,
    -1.7022233265672403e-08,
    4.010268793982498e-09,
};
// [3.0, 4.0), centre 3.5
static const double ERFC_TAIL3[] = {
    0.1552936556088943,
    -0.041323577833252495,
    0.01066113319251011,
    -0.002673074439643561,
    0.0006526863269086787,
    -0.0001554689182328899,
    3.6181703647369664e-05,
    -8.237986419511217e-06,
    1.8371959965058951e-06,
    -4.017414059460916e-07,
    8.617207083202206e-08,
    -1.816709921028992e-08,
    3.904660027946148e-09,
    -7.952076959606247e-10,
};
// [4.0, 6.0), centre 5.0
static const double ERFC_TAIL4[] = {
    0.11070463773306863,
    -0.02133278976482631,
    0.0040406889089373834,
    -0.0007528968134273368,
    0.00013810242089385338,
    -2.4953883569275264e-05,
    4.444334401233983e-06,
    -7.806319572345831e-07,
    1.352934488442005e-07,
    -2.3147456116675594e-08,
    3.911671423997266e-09,
    -6.530260734491417e-10,
    1.0723886840405964e-10,
    -1.7498984106891532e-11,
    3.139638329414755e-12,
    -5.001865871242102e-13,
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

const double *opg_erf_polynomial(int piece, size_t *count) {
    switch (piece) {
    case 0: *count = COUNT(ERF_SMALL); return ERF_SMALL;
    case 1: *count = COUNT(ERFC_TAIL1); return ERFC_TAIL1;
    case 2: *count = COUNT(ERFC_TAIL2); return ERFC_TAIL2;
    case 3: *count = COUNT(ERFC_TAIL3); return ERFC_TAIL3;
    case 4: *count = COUNT(ERFC_TAIL4); return ERFC_TAIL4;
    default: *count = 0; return NULL;
    }
}

// Σ c_j u^j from the highest coefficient down: p ← p · u + c_j (DeterministicMath.horner).
static inline double horner(const double *c, size_t n, double u) {
    double p = c[n - 1];
    for (size_t j = n - 1; j-- > 0;) p = p * u + c[j];
    return p;
}

// 2^k for k in the binary64 normal range, from its bits (exact).
static inline double pow2(long k) {
    uint64_t bits = (uint64_t)(k + 1023) << 52;
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

// DeterministicMath.exp: the same operations in the same order.
static inline double exp_binary64(double x) {
    if (isnan(x)) return NAN;
    if (x > 709.78) return INFINITY;
    if (x < -745.2) return 0;
    double k = (x * 1.44269504088896338700e+00 + 6755399441055744.0) - 6755399441055744.0;
    double r = (x - k * 6.93147180369123816490e-01) - k * 1.90821492927058770002e-10;
    double p = 1.0 / 6227020800.0;
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    long ki = (long)k;
    long k1 = ki / 2, k2 = ki - k1;
    return p * pow2(k1) * pow2(k2);
}

// DeterministicMath.erfcOfMagnitude for a ≥ 1 (the only case GELU asks for).
static inline double erfc_from_one(double a) {
    if (a >= 6) return 0;
    double q;
    if (a < 2) q = horner(ERFC_TAIL1, COUNT(ERFC_TAIL1), a - 1.5);
    else if (a < 3) q = horner(ERFC_TAIL2, COUNT(ERFC_TAIL2), a - 2.5);
    else if (a < 4) q = horner(ERFC_TAIL3, COUNT(ERFC_TAIL3), a - 3.5);
    else q = horner(ERFC_TAIL4, COUNT(ERFC_TAIL4), a - 5);
    return exp_binary64(-(a * a)) * q;
}

static void gelu_erf_portable(const float *x, size_t n, float *out) {
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        if (isnan(v)) { out[i] = v; continue; }
        double d = (double)v;
        double z = d * 0.7071067811865476, a = fabs(z);
        double one_plus_erf;
        if (a < 1) {
            double r = a * horner(ERF_SMALL, COUNT(ERF_SMALL), a * a);
            one_plus_erf = z < 0 ? 1 - r : 1 + r;
        } else {
            double c = erfc_from_one(a);
            one_plus_erf = z < 0 ? c : 1 + (1 - c);
        }
        out[i] = (float)(0.5 * d * one_plus_erf);
    }
}

// The row's maximum, NaN-propagating, from −∞ in order (nanPropagatingMax).
static inline float row_max(const float *x, size_t n) {
    float m = -INFINITY;
    for (size_t k = 0; k < n; k++) m = isnan(m) || isnan(x[k]) ? NAN : (m >= x[k] ? m : x[k]);
    return m;
}

static void softmax_row_portable(const float *x, size_t n, float *y) {
    float m = row_max(x, n);
    float s = 0;
    for (size_t k = 0; k < n; k++) {
        float e = (float)exp_binary64((double)(x[k] - m));
        y[k] = e;
        s = s + e;
    }
    for (size_t k = 0; k < n; k++) y[k] = y[k] / s;
}

// DeterministicMath.sigmoid (float32): a NaN as it is, else 1 ÷ (1 + exp(−x)) in binary64,
// rounded once.
static void sigmoid_portable(const float *x, size_t n, float *out) {
    for (size_t i = 0; i < n; i++) out[i] = isnan(x[i]) ? x[i] : (float)(1 / (1 + exp_binary64(-(double)x[i])));
}

#if defined(__x86_64__)
#include <immintrin.h>

// Four lanes of exp_binary64 for −745.2 ≤ x ≤ 0 (GELU's erfc needs −36 ≤ x ≤ −1), where
// neither of its range tests applies: the same operations per lane, 2^k built from bits.
__attribute__((target("avx2,fma")))
static inline __m256d exp_lanes(__m256d x) {
    const __m256d shifter = _mm256_set1_pd(6755399441055744.0);
    __m256d k = _mm256_sub_pd(_mm256_add_pd(_mm256_mul_pd(x, _mm256_set1_pd(1.44269504088896338700e+00)), shifter), shifter);
    __m256d r = _mm256_sub_pd(_mm256_sub_pd(x, _mm256_mul_pd(k, _mm256_set1_pd(6.93147180369123816490e-01))),
                              _mm256_mul_pd(k, _mm256_set1_pd(1.90821492927058770002e-10)));
    static const double inverse_factorials[] = {1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0, 1.0 / 362880.0,
                                                1.0 / 40320.0, 1.0 / 5040.0, 1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0,
                                                1.0 / 6.0, 0.5, 1.0, 1.0};
    __m256d p = _mm256_set1_pd(1.0 / 6227020800.0);
    for (size_t j = 0; j < COUNT(inverse_factorials); j++)
        p = _mm256_add_pd(_mm256_mul_pd(p, r), _mm256_set1_pd(inverse_factorials[j]));
    __m128i ki = _mm256_cvtpd_epi32(k);  // exact: k is an integer
    __m128i k1 = _mm_srai_epi32(_mm_sub_epi32(ki, _mm_srai_epi32(ki, 31)), 1);  // ki / 2, toward zero
    __m128i k2 = _mm_sub_epi32(ki, k1);
    const __m256i bias = _mm256_set1_epi64x(1023);
    __m256d scale1 = _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_add_epi64(_mm256_cvtepi32_epi64(k1), bias), 52));
    __m256d scale2 = _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_add_epi64(_mm256_cvtepi32_epi64(k2), bias), 52));
    return _mm256_mul_pd(_mm256_mul_pd(p, scale1), scale2);
}

// Horner's rule on four lanes with one polynomial (the scalar `horner`'s chain per lane).
__attribute__((target("avx2,fma")))
static inline __m256d horner_lanes(const double *c, size_t n, __m256d u) {
    __m256d p = _mm256_set1_pd(c[n - 1]);
    for (size_t j = n - 1; j-- > 0;) p = _mm256_add_pd(_mm256_mul_pd(p, u), _mm256_set1_pd(c[j]));
    return p;
}

// Four values of the exact GELU whose |z| all select `piece` (0: |z| < 1; 1–4: the erfc
// intervals; 5: |z| ≥ 6), by the scalar code's operations for that piece.
__attribute__((target("avx2,fma"), always_inline))
static inline __m128 gelu_piece_lanes(int piece, __m128 v) {
    static const double *const tails[4] = {ERFC_TAIL1, ERFC_TAIL2, ERFC_TAIL3, ERFC_TAIL4};
    static const size_t tail_counts[4] = {COUNT(ERFC_TAIL1), COUNT(ERFC_TAIL2), COUNT(ERFC_TAIL3), COUNT(ERFC_TAIL4)};
    static const double centres[4] = {1.5, 2.5, 3.5, 5};
    const __m256d one = _mm256_set1_pd(1.0), sign = _mm256_set1_pd(-0.0);
    __m256d d = _mm256_cvtps_pd(v);
    __m256d z = _mm256_mul_pd(d, _mm256_set1_pd(0.7071067811865476));
    __m256d a = _mm256_andnot_pd(sign, z);
    __m256d t = _mm256_mul_pd(a, a);
    __m256d negative = _mm256_cmp_pd(z, _mm256_setzero_pd(), _CMP_LT_OQ);
    __m256d one_plus_erf;
    if (piece == 0) {  // r = a · P(a²); 1 − r or 1 + r
        __m256d r = _mm256_mul_pd(a, horner_lanes(ERF_SMALL, COUNT(ERF_SMALL), t));
        one_plus_erf = _mm256_blendv_pd(_mm256_add_pd(one, r), _mm256_sub_pd(one, r), negative);
    } else {  // c = erfc(a): exp(−(a·a)) · Q_i(a − m_i), 0 from 6 on; c or 1 + (1 − c)
        __m256d c = _mm256_setzero_pd();
        if (piece < 5)
            c = _mm256_mul_pd(exp_lanes(_mm256_xor_pd(t, sign)),
                              horner_lanes(tails[piece - 1], tail_counts[piece - 1], _mm256_sub_pd(a, _mm256_set1_pd(centres[piece - 1]))));
        one_plus_erf = _mm256_blendv_pd(_mm256_add_pd(one, _mm256_sub_pd(one, c)), c, negative);
    }
    return _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_mul_pd(_mm256_set1_pd(0.5), d), one_plus_erf));
}

// The exact GELU, its values grouped by the piece their |z| selects within runs of up to
// 256, so that each group of four lanes runs one piece (`gelu_piece_lanes`) instead of
// every piece that some lane of four neighbours needs; two groups at a time, so their
// Horner chains overlap. A NaN is returned as it is.
__attribute__((target("avx2,fma")))
static void gelu_erf_avx2(const float *x, size_t n, float *out) {
    enum { RUN = 256, PIECES = 6 };
    uint16_t m[RUN + 8];
    for (size_t base = 0; base < n; base += RUN) {
        const float *xs = x + base;
        float *ys = out + base;
        size_t length = n - base < RUN ? n - base : RUN;
        uint8_t pieces[RUN];
        unsigned present = 0;
        for (size_t i = 0; i < length; i++) {  // without branches; a NaN is piece 6, left as it is
            double a = fabs((double)xs[i] * 0.7071067811865476);
            pieces[i] = isnan(a) ? 6 : (a >= 1) + (a >= 2) + (a >= 3) + (a >= 4) + (a >= 6);
            present |= 1u << pieces[i];
        }
        if (present & 1u << 6)
            for (size_t i = 0; i < length; i++) if (pieces[i] == 6) ys[i] = xs[i];
        for (int piece = 0; piece < PIECES; piece++) {
            if (!(present & 1u << piece)) continue;
            size_t c = 0;
            for (size_t i = 0; i < length; i++) { m[c] = (uint16_t)i; c += pieces[i] == piece; }
            // A short last group repeats the last member (computed and stored more than once, the same value).
            for (size_t k = c; k % 8; k++) m[k] = m[c - 1];
            for (size_t g = 0; g < c; g += 8) {
                float y[8];
                __m128 v0 = _mm_setr_ps(xs[m[g]], xs[m[g + 1]], xs[m[g + 2]], xs[m[g + 3]]);
                __m128 v1 = _mm_setr_ps(xs[m[g + 4]], xs[m[g + 5]], xs[m[g + 6]], xs[m[g + 7]]);
                _mm_storeu_ps(y, gelu_piece_lanes(piece, v0));
                _mm_storeu_ps(y + 4, gelu_piece_lanes(piece, v1));
                for (int l = 0; l < 8; l++) ys[m[g + l]] = y[l];
            }
        }
    }
}
// Four lanes of exp_binary64 for any x: exp_lanes' operations where they apply (from
// −745.2 up; there k ≥ −1075, so both factors of 2^k are normal), else the scalar code's
// special values (NaN, +∞ above 709.78, 0 below −745.2).
__attribute__((target("avx2,fma")))
static inline __m256d exp_lanes_any(__m256d x) {
    __m256d e = exp_lanes(x);
    e = _mm256_blendv_pd(e, _mm256_setzero_pd(), _mm256_cmp_pd(x, _mm256_set1_pd(-745.2), _CMP_LT_OQ));
    e = _mm256_blendv_pd(e, _mm256_set1_pd(INFINITY), _mm256_cmp_pd(x, _mm256_set1_pd(709.78), _CMP_GT_OQ));
    return _mm256_blendv_pd(e, _mm256_set1_pd(NAN), _mm256_cmp_pd(x, x, _CMP_UNORD_Q));
}

// Softmax with 4 exponentials per instruction (lanes are different elements) and 8
// divisions; the max and the sum stay scalar chains in the row's order.
__attribute__((target("avx2,fma")))
static void softmax_row_avx2(const float *x, size_t n, float *y) {
    float m = row_max(x, n);
    size_t k = 0;
    for (; k + 4 <= n; k += 4) {
        __m128 d = _mm_sub_ps(_mm_loadu_ps(x + k), _mm_set1_ps(m));
        _mm_storeu_ps(y + k, _mm256_cvtpd_ps(exp_lanes_any(_mm256_cvtps_pd(d))));
    }
    for (; k < n; k++) y[k] = (float)exp_binary64((double)(x[k] - m));
    float s = 0;
    for (k = 0; k < n; k++) s = s + y[k];
    for (k = 0; k + 8 <= n; k += 8) _mm256_storeu_ps(y + k, _mm256_div_ps(_mm256_loadu_ps(y + k), _mm256_set1_ps(s)));
    for (; k < n; k++) y[k] = y[k] / s;
}
#endif

#if defined(__x86_64__)
// Sigmoid on 4 values per instruction: the scalar code's binary64 operations per lane (−x
// is exact), a NaN returned as it is.
__attribute__((target("avx2,fma")))
static void sigmoid_avx2(const float *x, size_t n, float *out) {
    const __m256d one = _mm256_set1_pd(1.0), sign = _mm256_set1_pd(-0.0);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        __m128 v = _mm_loadu_ps(x + i);
        __m256d e = exp_lanes_any(_mm256_xor_pd(_mm256_cvtps_pd(v), sign));
        __m128 y = _mm256_cvtpd_ps(_mm256_div_pd(one, _mm256_add_pd(one, e)));
        _mm_storeu_ps(out + i, _mm_blendv_ps(y, v, _mm_cmpunord_ps(v, v)));
    }
    sigmoid_portable(x + i, n - i, out + i);
}
#endif

void opg_sigmoid(const float *x, size_t n, float *out, int use_avx2) {
#if defined(__x86_64__)
    if (use_avx2) {
        sigmoid_avx2(x, n, out);
        return;
    }
#endif
    (void)use_avx2;
    sigmoid_portable(x, n, out);
}

void opg_softmax_rows(const float *x, size_t rows, size_t n, float *out, int use_avx2) {
    for (size_t row = 0; row < rows; row++) {
#if defined(__x86_64__)
        if (use_avx2) {
            softmax_row_avx2(x + row * n, n, out + row * n);
            continue;
        }
#endif
        softmax_row_portable(x + row * n, n, out + row * n);
    }
    (void)use_avx2;
}

void opg_gelu_erf(const float *x, size_t n, float *out, int use_avx2) {
#if defined(__x86_64__)
    if (use_avx2) {
        gelu_erf_avx2(x, n, out);
        return;
    }
#endif
    (void)use_avx2;
    gelu_erf_portable(x, n, out);
}
