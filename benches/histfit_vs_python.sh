#!/usr/bin/env bash
# Side by side: flow-models 2.2 (PyPI) against flowlab's histfit on the tutorial fit
# (400 iterations, U6 L4, -y flows, agh_2015 all/length.csv: 23 782 bins), whole process each.
# flow-models' 2.2 `fit` CLI crashes when it saves, so its fitting function is called from
# Python (benches/histfit_fm_fit.py). Both sides do the same work: read the csv_hist, run the
# EM for exactly N iterations, write the mixture JSON (flow-models computes no likelihood and no
# goodness of fit). The `flowlab fit` row is the whole one-line command a user runs
# (`flowlab fit -i 400 -U 6 -L 4 -y flows FILE`: manifest, plan, plugin load, cell, store, and
# `flows.json` + `flows.mode` written in the current directory; `--force` so every run fits;
# a single cell gets every core, so it spends more CPU for less wall). The `flowlab run` row runs
# the same command's manifest (`flowlab fit … --print-manifest`) as `flowlab run MANIFEST`
# (`[run] cell_threads` defaults to 1, as flow-models' EM runs on one core).
# A third histfit row adds what a flowlab `fit` cell can also do: the objective
# after every iteration (`trace = true`) and the goodness of fit (docs/histfit.md, "Goodness of fit"). Prints CPU and wall
# seconds, max RSS, the ratios and the largest relative difference between the fitted mixtures.
#
#   benches/histfit_vs_python.sh [HIST.csv] [y] [iterations] [U] [L]
# env: FLOWLAB_DATA_DIR (default: beside the checkout, docs/design.md §9), FM_VENV (venv for flow-models, created and
#      filled from PyPI when missing), CARGO_TARGET_DIR, REPEAT (histfit runs of each kind,
#      default 7), FM_REPEAT (flow-models runs, default 3; each takes ~6 s).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DATA=${FLOWLAB_DATA_DIR:-$ROOT/../shared/data}
HIST=$(realpath "${1:-$DATA/agh_2015/histograms/all/length.csv}")
Y=${2:-flows}; IT=${3:-400}; U=${4:-6}; L=${5:-4}
VENV=${FM_VENV:-$ROOT/target/fm-venv}
REPEAT=${REPEAT:-7}
FM_REPEAT=${FM_REPEAT:-3}
if ! "$VENV/bin/python" -c "import flow_models.fit, scipy" 2>/dev/null; then
  echo "installing flow-models from PyPI into $VENV" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q flow-models numpy scipy pandas matplotlib
fi
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
cargo build -q --release -p flowlab-histfit --example histfit_fit_once
cargo build -q --release -p flowlab-histfit
cargo build -q --release
BIN=$CARGO_TARGET_DIR/release/examples/histfit_fit_once
FLOWLAB=$CARGO_TARGET_DIR/release/flowlab
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
"$FLOWLAB" fit --print-manifest -i "$IT" -U "$U" -L "$L" -y "$Y" "$HIST" > "$OUT/tutorial.toml"

# the runs alternate (flow-models, histfit 1 thread, 2 threads, with trace and GoF) so that a
# noisy neighbour slows both sides alike; ratios are of medians. histfit's timed runs are
# spawned directly (rusage.py --direct: its CPU alone, not /usr/bin/time's ~1.5 ms of exec and
# fork); its max RSS comes from one more run of each kind under /usr/bin/time. flow-models runs
# under /usr/bin/time every time (its RSS; the wrapper's CPU is 0.03 % of its 5 s).
hf() { # hf KIND THREADS RUSAGE-OPTS... -- FIT-FLAGS...
  local kind=$1 th=$2; shift 2
  local opts=(); while [ "$1" != -- ]; do opts+=("$1"); shift; done; shift
  RAYON_NUM_THREADS=$th python3 "$ROOT/benches/rusage.py" "${opts[@]}" "$BIN" "$HIST" "$Y" "$IT" "$U" "$L" "$@" > "$OUT/hf$kind.json" 2> "$OUT/hf$kind.log"
}
for r in $(seq "$REPEAT"); do
  if [ "$r" -le "$FM_REPEAT" ]; then
    python3 "$ROOT/benches/rusage.py" "$OUT/fm.$r.time" "$VENV/bin/python" "$ROOT/benches/histfit_fm_fit.py" "$HIST" "$Y" "$IT" "$U" "$L" "$OUT/fm.json" 2> "$OUT/fm.log"
    grep '^flow-models:' "$OUT/fm.log" >&2 || true
  fi
  hf 1 1 --direct "$OUT/hf1.$r.time" --
  hf 2 2 --direct "$OUT/hf2.$r.time" --
  hf x 1 --direct "$OUT/hfx.$r.time" -- compat trace gof
  mkdir -p "$OUT/fl" && (cd "$OUT/fl" && python3 "$ROOT/benches/rusage.py" --direct "$OUT/fl.$r.time" "$FLOWLAB" fit -q --force --results "$OUT/fl/results" -i "$IT" -U "$U" -L "$L" -y "$Y" "$HIST")
  python3 "$ROOT/benches/rusage.py" --direct "$OUT/run.$r.time" "$FLOWLAB" run -q --force --results "$OUT/run" "$OUT/tutorial.toml"
done
python3 "$ROOT/benches/rusage.py" "$OUT/run.rss.time" "$FLOWLAB" run -q --force --results "$OUT/run" "$OUT/tutorial.toml"
(cd "$OUT/fl" && python3 "$ROOT/benches/rusage.py" "$OUT/fl.rss.time" "$FLOWLAB" fit -q --force --results "$OUT/fl/results" -i "$IT" -U "$U" -L "$L" -y "$Y" "$HIST")
hf 1 1 "$OUT/hf1.rss.time" --
hf 2 2 "$OUT/hf2.rss.time" --
hf x 1 "$OUT/hfx.rss.time" -- compat trace gof
grep -h '^read' "$OUT/hf1.log" "$OUT/hfx.log" >&2 || true

PYTHONPATH="$ROOT/benches" python3 - "$OUT" "$REPEAT" "$FM_REPEAT" "$Y" <<'PY'
import statistics, sys
from bench_common import max_rel_diff, mixture, read_time as t
out, rep, fm_rep = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
fm_runs = [t(f'{out}/fm.{r}.time') for r in range(1, min(fm_rep, rep) + 1)]
fm = (statistics.median(r[0] for r in fm_runs), statistics.median(r[1] for r in fm_runs), max(r[2] for r in fm_runs))
print(f'flow-models 2.2       : CPU {fm[0]:7.4f} s   wall {fm[1]:7.4f} s   max RSS {fm[2]:6.1f} MB   (median of {len(fm_runs)})')
print('    CPU s of each run: ' + ' '.join(f'{r[0]:.3f}' for r in fm_runs))
for th, label in (('1', 'histfit 1 thr.        '), ('2', 'histfit 2 thr.        '), ('x', 'histfit 1 thr.+tr.+GoF'), ('fl', 'flowlab fit (one-line)'), ('run', 'flowlab run MANIFEST  ')):
    pre = 'hf' if th not in ('fl', 'run') else ''
    runs = [t(f'{out}/{pre}{th}.{r}.time') for r in range(1, rep + 1)]
    cpu = statistics.median(r[0] for r in runs); wall = statistics.median(r[1] for r in runs); rss = t(f'{out}/{pre}{th}.rss.time')[2]
    print(f'{label}: CPU {cpu:7.4f} s   wall {wall:7.4f} s   max RSS {rss:6.1f} MB   '
          f'(median of {rep}; CPU ratio {fm[0] / max(cpu, 1e-9):6.1f}x, wall ratio {fm[1] / max(wall, 1e-9):6.1f}x)')
    print('    CPU s of each run: ' + ' '.join(f'{r[0]:.4f}' for r in runs) + '   wall: ' + ' '.join(f'{r[1]:.4f}' for r in runs))
worst = max_rel_diff(mixture(f'{out}/fm.json'), mixture(f'{out}/hf1.json'))
print(f'largest relative difference between the two mixtures: {worst:.2e}')
worst = max_rel_diff(mixture(f'{out}/fm.json'), mixture(f'{out}/fl/{sys.argv[4]}.json'))
print(f'largest relative difference, flow-models vs flowlab fit: {worst:.2e}')
import glob
run_json = glob.glob(f'{out}/run/*/artifacts/*/{sys.argv[4]}.json')
worst = max_rel_diff(mixture(f'{out}/fm.json'), mixture(run_json[0]))
print(f'largest relative difference, flow-models vs flowlab run: {worst:.2e}')
PY
