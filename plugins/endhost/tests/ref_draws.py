#!/usr/bin/env python3
"""Held-out draws for the "never worse than the reference" property test (docs/endhost.md,
"Starts"): random (model, theta, n) drawn and sampled by the Python reference
(endhost_ref.py, docs/design.md §9: its own sampler and numpy generators), each dataset fitted by
the reference (method ipm, its default starts) with P, EP and EEP. Writes JSON:
{"draws": [{"i", "model", "theta", "n", "values", "counts", "ref": {"P": {"loglik", "theta"}, ...}}]}.

usage: ref_draws.py REFERENCE_SCRIPT OUT.json --seed S --count C [--first F] [--workers W] [--law wide]
       ref_draws.py REFERENCE_SCRIPT OUT.json --case MODEL THETA N SEED [--count C]
           (a fixed truth: draws i = first .. first + C - 1 of it)

Truth law per draw (seeded by numpy SeedSequence [seed, 20, i]): model P / EP / EEP with equal
probability; alpha ~ U(1.3, 3.5); EP: pi ~ U(0.05, 0.95), lam ~ logU(0.02, 3); EEP: pi ~ U(0.05, 0.8),
rho ~ U(0.1, 0.9), lam1 ~ logU(0.1, 3), lam2 = lam1 * logU(0.01, 0.5); n ~ logU(500, 20000).
With --law wide (seeded by [seed, 22, i]): alpha ~ U(1.05, 6); EP: pi ~ U(0.01, 0.99),
lam ~ logU(1e-4, 8); EEP: pi ~ U(0.01, 0.95), rho ~ U(0.02, 0.98), lam1 ~ logU(1e-3, 8),
lam2 = lam1 * logU(1e-3, 0.5); n ~ logU(50, 100000): faces of the box, tiny and large samples.
The reference's fit of draw i uses the generator [seed, 21, i, model code].
"""
import argparse
import importlib.util
import json
import math
import sys

import numpy as np


def load(path):
    spec = importlib.util.spec_from_file_location("endhost_ref", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def logu(rng, lo, hi):
    return math.exp(rng.uniform(math.log(lo), math.log(hi)))


def truth(rng):
    model = ("P", "EP", "EEP")[int(rng.integers(3))]
    alpha = rng.uniform(1.3, 3.5)
    if model == "P":
        th = [alpha]
    elif model == "EP":
        th = [rng.uniform(0.05, 0.95), logu(rng, 0.02, 3.0), alpha]
    else:
        l1 = logu(rng, 0.1, 3.0)
        th = [rng.uniform(0.05, 0.8), rng.uniform(0.1, 0.9), l1, l1 * logu(rng, 0.01, 0.5), alpha]
    n = int(round(logu(rng, 500, 20000)))
    return model, th, n


def truth_wide(rng):
    model = ("P", "EP", "EEP")[int(rng.integers(3))]
    alpha = rng.uniform(1.05, 6.0)
    if model == "P":
        th = [alpha]
    elif model == "EP":
        th = [rng.uniform(0.01, 0.99), logu(rng, 1e-4, 8.0), alpha]
    else:
        l1 = logu(rng, 1e-3, 8.0)
        th = [rng.uniform(0.01, 0.95), rng.uniform(0.02, 0.98), l1, l1 * logu(rng, 1e-3, 0.5), alpha]
    n = int(round(logu(rng, 50, 100000)))
    return model, th, n


REF = None


def one(args):
    seed, i, model, th, n = args
    ref = REF
    rng = np.random.default_rng([seed, 20, i, 1])
    x = ref.sample_model(model, th, n, rng)
    d = ref.Data(samples=x)
    out = {"i": i, "model": model, "theta": [float(v) for v in th], "n": n,
           "values": [int(v) for v in d.k], "counts": [int(v) for v in d.c], "ref": {}}
    for m in ("P", "EP", "EEP"):
        f = ref.fit_model(m, d, rng=np.random.default_rng([seed, 21, i, ref.MODEL_CODE[m]]))
        out["ref"][m] = {"loglik": f["loglik"], "theta": f["theta"], "cpu_seconds": f["cpu_seconds"]}
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("reference")
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--count", type=int, default=10)
    ap.add_argument("--first", type=int, default=0)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--case", nargs=4, metavar=("MODEL", "THETA", "N", "SEED"))
    ap.add_argument("--law", choices=("paper", "wide"), default="paper")
    a = ap.parse_args()
    global REF
    REF = ref = load(a.reference)
    if a.case:
        model, th, n, s = a.case
        th = [float(v) for v in th.split(",")]
        tasks = [(int(s), i, model, th, int(n)) for i in range(a.first, a.first + a.count)]
    else:
        tasks = []
        for i in range(a.first, a.first + a.count):
            if a.law == "wide":
                model, th, n = truth_wide(np.random.default_rng([a.seed, 22, i]))
            else:
                model, th, n = truth(np.random.default_rng([a.seed, 20, i]))
            tasks.append((a.seed, i, model, th, n))
    if a.workers > 1:
        import multiprocessing as mp
        with mp.get_context("fork").Pool(a.workers) as pool:
            res = pool.map(one, tasks, chunksize=1)
    else:
        res = [one(t) for t in tasks]
    with open(a.out, "w") as fh:
        json.dump({"seed": a.seed, "draws": res}, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
