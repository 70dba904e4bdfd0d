#!/usr/bin/env python3
"""Derives the coefficients of `fast_exp` and `fast_exp2` (plugins/histfit/src/em.rs) and
checks their error.

fast_exp:  e^r = 1 + r + r^2 P(r) on |r| <= ln2/2, P of degree 9 interpolating
           g(r) = (e^r - 1 - r)/r^2 at the 10 Chebyshev nodes of [-ln2/2, ln2/2].
fast_exp2: 2^r = 1 + r ln2 + r^2 Q(r) on |r| <= 1/2, Q of degree 9 interpolating
           h(r) = (2^r - 1 - r ln2)/r^2 at the 10 Chebyshev nodes of [-1/2, 1/2]; ln2 in the
           linear term is the double nearest to it (evaluated as fma(fma(Q, r, ln2), r, 1)).
Both in 50-digit arithmetic (mpmath). Prints the coefficients (highest degree first, as the
Rust arrays) and the largest relative error of the double-precision evaluation (Horner with
fused multiply-adds, emulated exactly) over 20 000 random points, in units of eps = 2^-52.
Expected: about 0.50 and 0.61.

usage: python3 exp_poly.py        (needs mpmath: pip install mpmath)
"""
import random

import mpmath as mp

mp.mp.dps = 50
N = 10
LN2D = float(mp.log(2))


def derive(name, half, g, lin, exact):
    nodes = [half * mp.cos(mp.pi * (2 * k + 1) / (2 * N)) for k in range(N)]
    a = mp.matrix([[x**j for j in range(N)] for x in nodes])
    c = mp.lu_solve(a, mp.matrix([g(x) for x in nodes]))
    coef = [float(c[j]) for j in range(N)]

    def fma(x, y, z):
        return float(mp.mpf(x) * mp.mpf(y) + mp.mpf(z))

    def fast(r):
        p = coef[N - 1]
        for j in range(N - 2, -1, -1):
            p = fma(p, r, coef[j])
        return fma(fma(p, r, lin), r, 1.0)

    random.seed(1)
    worst = max(abs((mp.mpf(fast(r)) - exact(r)) / exact(r)) / mp.mpf(2) ** -52
                for r in (float(half) * (2 * random.random() - 1) for _ in range(20000)))
    print(f'{name}: coefficients, highest degree first')
    for v in reversed(coef):
        print(repr(v))
    print(f'{name}: largest relative error: {float(worst):.3f} eps')


def g_e(r):
    return mp.mpf(1) / 2 if abs(r) < mp.mpf('1e-30') else (mp.exp(r) - 1 - r) / r**2


def g_2(r):
    return mp.log(2) ** 2 / 2 if abs(r) < mp.mpf('1e-30') else (mp.power(2, r) - 1 - r * mp.log(2)) / r**2


derive('fast_exp', mp.log(2) / 2, g_e, 1.0, mp.exp)
derive('fast_exp2', mp.mpf(1) / 2, g_2, LN2D, lambda r: mp.power(2, r))
