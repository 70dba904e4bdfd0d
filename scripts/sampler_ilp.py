#!/usr/bin/env python3
"""Acceptance of the sampler as a 0/1 integer program, solved by HiGHS (scipy.optimize.milp).

Every acceptance condition of the sampler (docs/sampler.md) is a ratio a·x / b·x of two linear
functions of the selection x ∈ {0,1}^N held within ±δ of its reference r, which is linear:
a·x − r(1+δ)·b·x ≤ 0 ≤ a·x − r(1−δ)·b·x (windows: a = the window's packet contributions,
b = packets, through one continuous variable y = P·x so the rows stay sparse). So a sample is
acceptable iff this ILP is feasible. Its LP relaxation is always feasible (x = rate gives every
ratio exactly), which is why no LP bound can prove a profile infeasible; this script looks for
an integer point instead (an independent check of the search: any sample it finds is written
and can be re-scored by ft_sampler_metrics.py).

Usage: sampler_ilp.py PROFILE RESULT_JSON TIME_LIMIT_S [--delta 0.0049] [--out SAMPLE.csv]
                      [--fix SAMPLE.csv --free-share 0.05] [--lp] [--fix-largest K --fix-value 0|1]
RESULT_JSON is a sampler run's result.json on PROFILE (reference values, keys, gene bounds).
With --fix, every biflow is fixed to SAMPLE.csv's selection except those starting before time
zero and a random --free-share of the others (a smaller problem around a search's result).
"""
import argparse, json, time
import numpy as np, pandas as pd, scipy.sparse as sp
from scipy.optimize import milp, LinearConstraint, Bounds

ap = argparse.ArgumentParser()
ap.add_argument("profile"); ap.add_argument("result"); ap.add_argument("time_limit", type=float)
ap.add_argument("--delta", type=float, default=0.0049, help="a margin under the task's 0.005 for float rounding")
ap.add_argument("--out"); ap.add_argument("--fix"); ap.add_argument("--free-share", type=float, default=0.05)
ap.add_argument("--window-s", type=int, default=5)
ap.add_argument("--lp", action="store_true", help="solve the LP relaxation (0 <= x <= 1) instead of the ILP")
ap.add_argument("--fix-largest", type=int, default=0, help="fix the K biflows with the most packets to --fix-value")
ap.add_argument("--fix-value", type=float, default=0.0)
a = ap.parse_args()
d = pd.read_csv(a.profile); N = len(d); delta = a.delta
r = json.load(open(a.result)); devs = r["data"]["deviations"]; lo, hi = r["data"]["gene_bounds"]
P = (d.PACKETS + d.PACKETS_REV).values.astype(float); B = (d.BYTES + d.BYTES_REV).values.astype(float)
one = np.ones(N); v6 = (d.L3_PROTO.values == 6).astype(float); v4 = 1 - v6
avg = np.floor(B / np.maximum(P, 1))
rows = []
def band(num, den, ref):
    rows.append((num - ref * (1 + delta) * den, -np.inf, 0.0))
    rows.append((num - ref * (1 - delta) * den, 0.0, np.inf))
for x in devs:
    m, k, ref = x["metric"], x["key"], x["reference"]
    if m == "pkts_bts": band(P, B, ref)
    elif m == "bfls_pkts": band(one, P, ref)
    elif m == "bfls_bts": band(one, B, ref)
    elif m == "ipv4": band(v4, one, ref)
    elif m == "ipv6": band(v6, one, ref)
    elif m == "l4_protos": band((d.L4_PROTO.values == int(k)).astype(float), one, ref)
    elif m == "ports": band((d.SRC_PORT.values == int(k)).astype(float) + (d.DST_PORT.values == int(k)).astype(float), 2 * one, ref)
    elif m == "pkt_size":
        e0, e1 = k.strip("(]").strip("()").split(", ")
        e0 = float(e0); e1 = np.inf if e1.startswith("inf") else float(e1)
        band(((avg > e0) & (avg <= e1)).astype(float), one, ref)
    elif m != "windows": raise SystemExit(f"metric {m} not modelled")
win = [x for x in devs if x["metric"] == "windows"]
G = sp.hstack([sp.csr_matrix(np.array([row for row, _, _ in rows])), sp.csr_matrix((len(rows), 1))])
blocks, lb, ub = [G], [l for _, l, _ in rows], [u for _, _, u in rows]
if win:
    H = len(win); L = a.window_s * 10**9
    st = d.START_TIME.values.astype(np.int64) * 10**6; en = d.END_TIME.values.astype(np.int64) * 10**6
    t0 = st.min(); s = (st - t0) // L; e = np.minimum((en - t0) // L, H - 1)
    I, J, V = [], [], []
    for i in range(N):  # docs/sampler.md: packets spread over the windows by time overlap
        dd = en[i] - st[i]
        if dd == 0:
            I.append(s[i]); J.append(i); V.append(P[i]); continue
        for kk in range(s[i], e[i] + 1):
            ws = t0 + kk * L
            I.append(kk); J.append(i); V.append((min(ws + L, en[i]) - max(ws, st[i])) / dd * P[i])
    Wm = sp.csr_matrix((V, (I, J)), shape=(H, N))
    refs = np.array([x["reference"] for x in win])
    blocks += [sp.hstack([Wm, sp.csr_matrix((-refs * (1 + delta))[:, None])]),
               sp.hstack([Wm, sp.csr_matrix((-refs * (1 - delta))[:, None])]),
               sp.csr_matrix(np.append(P, -1.0)[None, :])]
    lb += [-np.inf] * H + [0.0] * H + [0.0]; ub += [0.0] * H + [np.inf] * H + [0.0]
A = sp.csc_matrix(sp.vstack(blocks)); lb = np.array(lb); ub = np.array(ub)
free = np.ones(N, bool); x0 = np.zeros(N)
if a.fix:
    smp = pd.read_csv(a.fix); av, bv = d.values, smp.values; j = 0
    for i in range(N):  # a sample keeps the profile's row order
        if j < len(bv) and (av[i] == bv[j]).all():
            x0[i] = 1; j += 1
    assert j == len(bv), "the sample is not an ordered subset of the profile"
    free &= (d.START_TIME.values < 0) | (np.random.default_rng(1).random(N) < a.free_share)
if a.fix_largest:  # e.g. an elephant biflow in or out: two LPs that are both infeasible prove the ILP infeasible
    top = np.argsort(-P, kind="stable")[:a.fix_largest]; free[top] = False; x0[top] = a.fix_value
keep = np.append(free, True)
shift = A[:, np.where(~keep)[0]] @ x0[~free]
A = sp.csr_matrix(A[:, np.where(keep)[0]]); lb, ub = lb - shift, ub - shift
nf = int(free.sum()); fixed_ones = x0[~free].sum()
sc = 1 / np.maximum(abs(A).max(axis=1).toarray().ravel(), 1e-300)
A = sp.diags(sc) @ A
cons = [LinearConstraint(A, lb * sc, ub * sc), LinearConstraint(np.append(np.ones(nf), 0.0)[None, :], lo - fixed_ones, hi - fixed_ones)]
t = time.time()
res = milp(np.zeros(nf + 1), constraints=cons, integrality=np.zeros(nf + 1) if a.lp else np.append(np.ones(nf), 0),
           bounds=Bounds(np.zeros(nf + 1), np.append(np.ones(nf), np.inf)), options={"time_limit": a.time_limit})
print(f"free biflows {nf} of {N}; HiGHS status {res.status}: {res.message} ({time.time() - t:.1f} s)")
if res.x is not None:
    x = x0.copy(); x[free] = np.round(res.x[:nf]); x = x.astype(bool)
    print(f"feasible sample of {x.sum()} biflows")
    if a.out:
        d[x].to_csv(a.out, index=False)
