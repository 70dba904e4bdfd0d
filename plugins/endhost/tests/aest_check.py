#!/usr/bin/env python3
"""Second implementation of the scaling estimator (docs/endhost.md, "aest") in numpy, for
tests/aest_python.rs: reads samples (one value per line, one file each) and prints a JSON list of
{"tail_index", "scaling_points", "pairs"}, one per file.

usage: aest_check.py LEVELS MIN_BLOCKS TAIL POINTS TOL CENTER(0|1) SAMPLE.txt...

Same definition as plugins/endhost/src/aest.rs, written from the formulas: block sums of m = 1, 2,
4, ... (at least MIN_BLOCKS blocks, at most LEVELS levels), positive ones sorted descending, the
r-th largest at CCDF r/b, interpolation linear in (ln r, ln y) with numpy.interp; for each pair
(m, 2m) levels p log-spaced from TAIL down to 5/b_2m; scaling point when delta > 0 and
|tau - ln 2| <= TOL ln 2; tail index = median of ln 2 / delta.
"""
import json
import math
import sys

import numpy as np


def curve(x, m, center):
    n = (x.size // m) * m
    s = x[:n].reshape(-1, m).sum(axis=1)
    if center:
        s = s - m * x.mean()
    s = np.sort(s[s > 0])[::-1]
    return s, x.size // m


def ln_quantile(desc, b, p):
    r = p * b
    if not (1.0 <= r <= desc.size):
        return None
    ranks = np.arange(1, desc.size + 1, dtype=float)
    return float(np.interp(math.log(r), np.log(ranks), np.log(desc)))


def ln_ccdf(desc, b, lx):
    ly = np.log(desc)
    # ranks whose value is >= x: interpolate ln r against ln y between the bracketing ranks
    k = int(np.sum(ly >= lx))
    if k == 0 or k == desc.size:
        return None
    y0, y1 = ly[k - 1], ly[k]
    t = (y0 - lx) / (y0 - y1) if y0 > y1 else 0.0
    return math.log(k) + t * (math.log(k + 1) - math.log(k)) - math.log(b)


def estimate(x, levels, min_blocks, tail, points, tol, center):
    curves = []
    m = 1
    while len(curves) < levels and x.size // m >= min_blocks:
        curves.append(curve(x, m, center))
        m *= 2
    est = []
    for (s1, b1), (s2, b2) in zip(curves, curves[1:]):
        p_lo = 5.0 / b2
        if not p_lo < tail:
            continue
        for p in np.exp(np.linspace(math.log(tail), math.log(p_lo), points)):
            q1, q2 = ln_quantile(s1, b1, p), ln_quantile(s2, b2, p)
            if q1 is None or q2 is None:
                continue
            v2 = ln_ccdf(s2, b2, q1)
            if v2 is None:
                continue
            delta, tau = q2 - q1, v2 - math.log(p)
            if delta > 0 and abs(tau - math.log(2)) <= tol * math.log(2):
                est.append(math.log(2) / delta)
    return {"tail_index": float(np.median(est)) if est else None, "scaling_points": len(est),
            "pairs": max(len(curves) - 1, 0)}


def main():
    levels, min_blocks, tail, points, tol, center = sys.argv[1:7]
    args = (int(levels), int(min_blocks), float(tail), int(points), float(tol), center == "1")
    json.dump([estimate(np.loadtxt(f, dtype=float, ndmin=1), *args) for f in sys.argv[7:]], sys.stdout)


if __name__ == "__main__":
    main()
