#!/usr/bin/env python3
"""Derives the polynomial coefficients of the kernel's erf (docs/determinism.md §4) and
measures the algorithm's error, using only Python's standard library.

The reference is erf computed with 130-digit decimals (its positive-term series,
2/√π·e^(−a²)·Σ 2^n a^(2n+1)/(1·3·…·(2n+1))). Each polynomial interpolates its function
at the Chebyshev points of its interval (close to the minimax polynomial), solved in
130-digit arithmetic and rounded to binary64:

  |x| < 1:      erf(a)  = a · P(a²),                P(t) = erf(√t)/√t on t ∈ [0, 1]
  1 ≤ |x| < 6:  erfc(a) = e^(−a²) · Q_i(a − m_i),   Q = e^(a²)·erfc(a), on [1,2) [2,3) [3,4) [4,6)

Python's float arithmetic is IEEE binary64 with the same rounding as the kernel, and
the kernel's exp is re-stated below, so the measured error is that of the kernel itself.

  erf_coefficients.py           # prints the coefficient tables (C, for Sources/CKernels/elementary.c) and the error
"""
import math
import struct
from decimal import Decimal, getcontext

getcontext().prec = 130
DEGREE_SMALL = 11
TAIL_INTERVALS = [(1.0, 2.0, 16), (2.0, 3.0, 14), (3.0, 4.0, 13), (4.0, 6.0, 15)]


def decimal_pi() -> Decimal:
    def arctan_inverse(n: int) -> Decimal:  # arctan(1/n) by its series
        x = Decimal(1) / n
        term, total, k = x, x, 1
        while abs(term) > Decimal(10) ** -140:
            term = -term * x * x
            k += 2
            total += term / k
        return total
    return 4 * (4 * arctan_inverse(5) - arctan_inverse(239))


SQRT_PI = decimal_pi().sqrt()


def erf_exact(a: Decimal) -> Decimal:
    a = Decimal(a)
    if a == 0:
        return Decimal(0)
    a2 = a * a
    term, total, n = a, a, 0
    while term > total * Decimal(10) ** -128:
        term = term * 2 * a2 / (2 * n + 3)
        total += term
        n += 1
    return 2 / SQRT_PI * (-a2).exp() * total


def power(x: Decimal, j: int) -> Decimal:
    r = Decimal(1)
    for _ in range(j):
        r *= x
    return r


def interpolate(f, lo: float, hi: float, degree: int, center: float) -> list[float]:
    """Coefficients c_j of Σ c_j (x − center)^j through f at the Chebyshev points of [lo, hi]."""
    n = degree + 1
    xs = [Decimal((lo + hi) / 2 + (hi - lo) / 2 * math.cos(math.pi * (k + 0.5) / n)) for k in range(n)]
    rows = [[power(x - Decimal(center), j) for j in range(n)] + [f(x)] for x in xs]
    for c in range(n):  # Gaussian elimination with partial pivoting
        p = max(range(c, n), key=lambda r: abs(rows[r][c]))
        rows[c], rows[p] = rows[p], rows[c]
        for r in range(c + 1, n):
            factor = rows[r][c] / rows[c][c]
            for k in range(c, n + 1):
                rows[r][k] -= factor * rows[c][k]
    coefficients = [Decimal(0)] * n
    for r in range(n - 1, -1, -1):
        coefficients[r] = (rows[r][n] - sum(rows[r][k] * coefficients[k] for k in range(r + 1, n))) / rows[r][r]
    return [float(c) for c in coefficients]


def small_series(t: Decimal) -> Decimal:
    return 2 / SQRT_PI if t == 0 else erf_exact(t.sqrt()) / t.sqrt()


def scaled_erfc(a: Decimal) -> Decimal:
    return (1 - erf_exact(a)) * (a * a).exp()


SMALL = interpolate(small_series, 0.0, 1.0, DEGREE_SMALL, 0.0)
TAIL = [(lo, hi, (lo + hi) / 2, interpolate(scaled_erfc, lo, hi, d, (lo + hi) / 2)) for lo, hi, d in TAIL_INTERVALS]


def horner(c: list[float], u: float) -> float:
    p = c[-1]
    for k in range(len(c) - 2, -1, -1):
        p = p * u + c[k]
    return p


def kernel_exp(x: float) -> float:
    """DeterministicMath.exp, operation for operation."""
    if x > 709.78:
        return math.inf
    if x < -745.2:
        return 0.0
    k = (x * 1.44269504088896338700e+00 + 6755399441055744.0) - 6755399441055744.0
    r = (x - k * 6.93147180369123816490e-01) - k * 1.90821492927058770002e-10
    p = 1.0 / 6227020800.0
    for d in (479001600.0, 39916800.0, 3628800.0, 362880.0, 40320.0, 5040.0, 720.0, 120.0, 24.0, 6.0):
        p = p * r + 1.0 / d
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    k1 = int(k) // 2 if k >= 0 else -((-int(k)) // 2)
    return p * 2.0 ** k1 * 2.0 ** (int(k) - k1)


def kernel_erfc_of_magnitude(a: float) -> float:
    if a < 1:
        return 1 - a * horner(SMALL, a * a)
    for lo, hi, center, c in TAIL:
        if a < hi:
            return kernel_exp(-(a * a)) * horner(c, a - center)
    return 0.0


def kernel_erf(a: float) -> float:
    return a * horner(SMALL, a * a) if a < 1 else 1 - kernel_erfc_of_magnitude(a)


def c_table(name: str, values: list[float]) -> str:
    return f"static const double {name}[] = {{\n" + "".join(f"    {v!r},\n" for v in values) + "};"


def main() -> None:
    print(c_table("ERF_SMALL", SMALL))
    for lo, hi, center, c in TAIL:
        print(f"    // [{lo}, {hi}), centre {center}")
        print(c_table(f"ERFC_TAIL{int(lo)}", c))
    worst_erf = worst_erfc = worst_f32 = 0.0
    for i in range(1, 3000):
        a = 6.0 * i / 3000 + 1e-7 * (i % 7)
        exact = erf_exact(Decimal(a))
        worst_erf = max(worst_erf, abs(float((Decimal(kernel_erf(a)) - exact) / exact)) / 2**-53)
        exact_c = 1 - exact
        worst_erfc = max(worst_erfc, abs(float((Decimal(kernel_erfc_of_magnitude(a)) - exact_c) / exact_c)) / 2**-53)
        f = struct.unpack("<f", struct.pack("<f", kernel_erf(a)))[0]
        worst_f32 = max(worst_f32, abs(f - float(exact)))
    print(f"# erf: {worst_erf:.2f} binary64 ulps (relative), erfc: {worst_erfc:.2f}, float32 abs error {worst_f32:.3g}")


if __name__ == "__main__":
    main()
