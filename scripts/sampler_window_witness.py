#!/usr/bin/env python3
"""Per-window witnesses for the window metric (docs/sampler.md, "Acceptance").

A window's deviation compares X_w / P with its reference share: X_w = the sum of the window
contributions of the selected biflows overlapping it (packets spread in proportion to overlap,
docs/sampler.md "Metrics"). The question "can integrality alone (which biflows exist in this
window) make this window miss 0.5 %?" is answered for each window by a witness: a subset of
its biflows whose contributions sum to within DEV of RATE times the window's total (P = RATE
times the profile's packets). A window with a witness cannot be proven infeasible by any
per-window bound; a window without one after the tries is reported (no proof either way).

The witness search: random subsets at RATE, each followed by up to 5 greedy single flips
towards the target. Usage: sampler_window_witness.py PROFILE [--first 0 --last 59]
[--rate 0.1 --dev 0.005 --window-s 5 --tries 20000 --seed 0]
"""
import argparse
import numpy as np
import pandas as pd


def contributions(path, window_s):
    d = pd.read_csv(path)
    pk = (d.PACKETS + d.PACKETS_REV).to_numpy(float)
    st = d.START_TIME.to_numpy(np.int64) * 1_000_000
    en = d.END_TIME.to_numpy(np.int64) * 1_000_000
    t0, length = st.min(), window_s * 1_000_000_000
    h = int(np.ceil(np.ceil((en.max() - t0) / 1e9) / window_s))
    out = [[] for _ in range(h)]
    for i in range(len(d)):
        s = int((st[i] - t0) // length)
        e = min(int((en[i] - t0) // length), h - 1)
        du = en[i] - st[i]
        if du == 0:
            out[s].append(pk[i])
            continue
        for k in range(s, e + 1):
            ws = t0 + k * length
            out[k].append((min(ws + length, en[i]) - max(ws, st[i])) / du * pk[i])
    return out


def witness(c, rate, dev, tries, rng):
    target = rate * c.sum()
    tol = dev * target
    for _ in range(tries):
        x = rng.random(len(c)) < rate
        s = c[x].sum()
        for _ in range(5):
            if abs(s - target) <= tol:
                break
            delta = np.where(x, -c, c)
            j = np.argmin(np.abs(s + delta - target))
            x[j] = ~x[j]
            s += delta[j]
        if abs(s - target) <= tol:
            return x, s, target
    return None, None, target


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("profile")
    ap.add_argument("--first", type=int, default=0)
    ap.add_argument("--last", type=int, default=59)
    ap.add_argument("--rate", type=float, default=0.1)
    ap.add_argument("--dev", type=float, default=0.005)
    ap.add_argument("--window-s", type=int, default=5)
    ap.add_argument("--tries", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    contrib = contributions(a.profile, a.window_s)
    found = 0
    last = min(a.last, len(contrib) - 1)
    for w in range(a.first, last + 1):
        c = np.array(contrib[w])
        x, s, target = witness(c, a.rate, a.dev, a.tries, rng) if len(c) else (None, None, 0.0)
        if x is None:
            print(f"window {w}: {len(c)} biflows, target {target:.3f}: no witness in {a.tries} tries")
        else:
            found += 1
            print(f"window {w}: {len(c)} biflows, target {target:.3f} +- {a.dev * target:.3f}: {int(x.sum())} biflows sum to {s:.3f}")
    print(f"witnesses: {found} of {last - a.first + 1} windows")


if __name__ == "__main__":
    main()
