#!/usr/bin/env python3
"""Held-out parity of `flowlab fit` with flow-models 2.2's `fit` (docs/histfit.md, "Parity").

Each case derives a new csv_hist from one of the agh_2015 histograms (as is, 30 % of its bins
dropped, truncated at 60 % of its rows, or every count multiplied by 1-5), draws component counts
(U 0-4, P 0-1, L 1-4), `--mpw` (with a Pareto), the y column and 10-120 iterations from the seed,
fits it with both tools on the same file and prints the largest relative difference over every
number of the two mixture JSONs (their layouts must be equal). A case either tool refuses is
printed with both messages: flow-models returns NaN parameters where flowlab stops with an error.

With `--initial FAMILIES` (comma-separated scipy names, e.g.
`uniform,lognorm,genpareto,norm,gamma,weibull_min`) each case instead starts both tools from a
random mixture file of 1-5 components of those families (`--initial FILE`, 5-60 iterations): the
fitters' M-steps of every family and starts far in the data's tails.

Usage: histfit_parity_sweep.py SEED CASES [--initial FAMILIES]
env: FLOWLAB (the flowlab binary; default target/release/flowlab beside this script),
     FLOWLAB_PYTHON (a Python with flow-models 2.2 importable), FLOWLAB_DATA_DIR (holds
     agh_2015/histograms; docs/design.md §9).
"""
import json
import math
import os
import pathlib
import random
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
FLOWLAB = os.environ.get("FLOWLAB", str(ROOT / "target/release/flowlab"))
PY = os.environ.get("FLOWLAB_PYTHON", "python3")
HIST = pathlib.Path(os.environ["FLOWLAB_DATA_DIR"]) / "agh_2015/histograms"


def derive(rng, src, dst):
    """Writes a csv_hist derived from `src` to `dst`; returns how."""
    lines = src.read_text().splitlines()
    head, rows = lines[0], lines[1:]
    mode = rng.choice(["sub", "scale", "trunc", "same"])
    out = []
    for i, r in enumerate(rows):
        p = r.split(",")
        if mode == "sub" and i > 0 and rng.random() < 0.3:
            continue
        if mode == "trunc" and i > len(rows) * 0.6:
            break
        if mode == "scale":
            f = rng.randint(1, 5)
            p[2:] = [str(int(v) * f) for v in p[2:]]
        out.append(",".join(p))
    dst.write_text(head + "\n" + "\n".join(out) + "\n")
    return mode


def worst_rel(a, b, at="$"):
    """Largest relative difference of two JSON values of the same layout."""
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return abs(a - b) / max(abs(a), abs(b), 1e-300)
    if isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), at
        return max([worst_rel(x, y, f"{at}[{i}]") for i, (x, y) in enumerate(zip(a, b))], default=0.0)
    if isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), at
        return max([worst_rel(a[k], b[k], f"{at}.{k}") for k in a], default=0.0)
    assert a == b, (at, a, b)
    return 0.0


def random_component(rng, fam, xmax):
    """One [weight, family, args] of `fam` with random parameters over the data's range."""
    w = rng.uniform(0.05, 0.5)
    return {
        "uniform": lambda: [w, "uniform", [0, rng.randint(1, 6)]],
        "lognorm": lambda: [w, "lognorm", [rng.uniform(0.3, 2.5), 0, math.exp(rng.uniform(0, math.log(xmax)))]],
        "norm": lambda: [w, "norm", [rng.uniform(1, 1000), rng.uniform(1, 500)]],
        "gamma": lambda: [w, "gamma", [rng.uniform(0.3, 3), 0, rng.uniform(1, 1000)]],
        "weibull_min": lambda: [w, "weibull_min", [rng.uniform(0.3, 1.5), 0, rng.uniform(1, 1000)]],
        "genpareto": lambda: [w, "genpareto", [rng.uniform(0.5, 2), rng.randint(1, 8), rng.uniform(1, 20)]],
    }[fam]()


FM = """import pathlib
from flow_models.fit import fit
from flow_models.lib.mix import to_json
mix = fit(in_file={f!r}, y_value={y!r}, max_iter={it}, initial={init}, max_pareto_w={mpw!r})
pathlib.Path('fm.json').write_text(to_json(mix['mix'], mix['sum']) + '\\n')
"""


def main():
    seed, cases = int(sys.argv[1]), int(sys.argv[2])
    families = sys.argv[4].split(",") if len(sys.argv) > 4 and sys.argv[3] == "--initial" else None
    rng = random.Random(seed)
    worst = 0.0
    for c in range(cases):
        with tempfile.TemporaryDirectory() as d:
            d = pathlib.Path(d)
            src = HIST / rng.choice(["all", "tcp", "udp"]) / (rng.choice(["length", "size"]) + ".csv")
            f = d / "h.csv"
            mode = derive(rng, src, f)
            y = rng.choice(["flows", "packets", "octets"])
            args = [FLOWLAB, "fit", "-q", "-y", y, str(f), "--results", str(d / "res")]
            if families:
                it, mpw = rng.choice([5, 20, 60]), None
                xmax = float(f.read_text().splitlines()[-1].split(",")[0])
                mix = [random_component(rng, rng.choice(families), xmax) for _ in range(rng.randint(1, 5))]
                (d / "init.json").write_text(json.dumps(mix))
                args += ["--initial", str(d / "init.json")]
                init, what = repr(str(d / "init.json")), [m[1] for m in mix]
            else:
                it = rng.choice([10, 30, 60, 120])
                counts = [(k, n) for k, n in [("U", rng.randint(0, 4)), ("P", rng.choice([0, 0, 1])), ("L", rng.randint(1, 4))] if n]
                mpw = rng.choice([None, None, 0.05]) if any(k == "P" for k, _ in counts) else None
                for k, n in counts:
                    args += [f"-{k}", str(n)]
                if mpw:
                    args += ["--mpw", str(mpw)]
                init, what = "{" + ", ".join(f"'{k}': {n}" for k, n in counts) + "}", counts
            ours = subprocess.run(args + ["-i", str(it)], cwd=d, capture_output=True, text=True)
            theirs = subprocess.run([PY, "-c", FM.format(f=str(f), y=y, it=it, init=init, mpw=mpw)], cwd=d, capture_output=True, text=True)
            tag = f"case {c}: {src.parent.name}/{src.name} {mode} y={y} i={it} {what} mpw={mpw}"
            if ours.returncode != 0 or theirs.returncode != 0:
                fm = (d / "fm.json").read_text() if theirs.returncode == 0 else ""
                fm_says = "NaN parameters" if "NaN" in fm else f"exit {theirs.returncode}"
                why = ours.stderr.strip().splitlines()[:1]
                print(f"{tag}: flowlab exit {ours.returncode} {why}; flow-models: {fm_says}", flush=True)
                continue
            a = json.loads((d / f"{y}.json").read_text())
            b = json.loads((d / "fm.json").read_text())
            nan = [n for n, t in (("flowlab", json.dumps(a)), ("flow-models", json.dumps(b))) if "NaN" in t]
            if nan:
                print(f"{tag}: NaN parameters from {' and '.join(nan)}", flush=True)
                continue
            rel = worst_rel(a, b)
            worst = max(worst, rel)
            print(f"{tag}: max relative difference {rel:.2e}", flush=True)
    print(f"worst over the cases both finished: {worst:.2e}")


if __name__ == "__main__":
    main()
