#!/usr/bin/env bash
# Side by side: em-binned (histfit) against the numpy/scipy grouped-data EM probe
# (binned_em_probe.py, the headroom check of docs/histfit.md, "em-binned"; docs/design.md §9) on the same file and
# settings, whole process each. Prints CPU and wall seconds, the ratio, the final binned
# log-likelihood per unit of each and the largest relative difference between the two mixtures.
#
#   benches/histfit_binned_vs_probe.sh [HIST.csv] [y] [iterations] [U] [L]
# env: FLOWLAB_DATA_DIR, FLOWLAB_REFERENCE (defaults: beside the checkout, docs/design.md §9),
#      PROBE_VENV (venv with numpy + scipy; created from PyPI when missing), CARGO_TARGET_DIR,
#      REPEAT (histfit runs, default 5).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DATA=${FLOWLAB_DATA_DIR:-$ROOT/../shared/data}
REF=${FLOWLAB_REFERENCE:-${FLOWLAB_REFERENCE_DIR:?set FLOWLAB_REFERENCE_DIR to the reference scripts (docs/design.md §9)}}
HIST=${1:-$DATA/agh_2015/histograms/all/length.csv}
Y=${2:-flows}; IT=${3:-400}; U=${4:-6}; L=${5:-4}
VENV=${PROBE_VENV:-$ROOT/target/probe-venv}
REPEAT=${REPEAT:-5}
if ! "$VENV/bin/python" -c "import numpy, scipy" 2>/dev/null; then
  echo "installing numpy + scipy from PyPI into $VENV" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q numpy scipy
fi
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
cargo build -q --release -p flowlab-histfit --example histfit_fit_once
BIN=$CARGO_TARGET_DIR/release/examples/histfit_fit_once
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
PYTHONPATH="$REF" python3 "$ROOT/benches/rusage.py" "$OUT/py.time" "$VENV/bin/python" "$REF/binned_em_probe.py" \
  "$HIST" -y "$Y" -U "$U" -L "$L" -i "$IT" -o "$OUT/py.json" > "$OUT/py.log"
for t in 1 2; do
  for r in $(seq "$REPEAT"); do
    RAYON_NUM_THREADS=$t python3 "$ROOT/benches/rusage.py" "$OUT/hf$t.$r.time" "$BIN" "$HIST" "$Y" "$IT" "$U" "$L" binned trace > "$OUT/hf$t.json" 2> "$OUT/hf$t.log"
  done
done
PYTHONPATH="$ROOT/benches" python3 - "$OUT" "$REPEAT" <<'PY'
import re, statistics, sys
from bench_common import max_rel_diff, mixture, read_time as t
out, rep = sys.argv[1], int(sys.argv[2])
py = t(f'{out}/py.time')
py_ll = re.findall(r'll_per_unit (\S+)', open(f'{out}/py.log').read())[-1]
hf_ll = re.search(r"objective ([-0-9.e]+)", open(f'{out}/hf1.log').read()).group(1)
print(f'numpy probe   : CPU {py[0]:7.3f} s   wall {py[1]:7.3f} s   max RSS {py[2]:6.1f} MB   ll/unit {py_ll}')
for th in (1, 2):
    runs = [t(f'{out}/hf{th}.{r}.time') for r in range(1, rep + 1)]
    cpu = statistics.median(r[0] for r in runs); wall = statistics.median(r[1] for r in runs); rss = max(r[2] for r in runs)
    print(f'histfit {th} thr.: CPU {cpu:7.3f} s   wall {wall:7.3f} s   max RSS {rss:6.1f} MB   ll/unit {hf_ll}   '
          f'(median of {rep}; CPU ratio {py[0] / max(cpu, 1e-9):6.1f}x, wall ratio {py[1] / max(wall, 1e-9):6.1f}x)')
worst = max_rel_diff(mixture(f'{out}/py.json'), mixture(f'{out}/hf1.json'))
print(f'largest relative difference between the two mixtures: {worst:.2e}')
PY
