#!/usr/bin/env bash
# Side by side: flow-models 2.2 (PyPI) against flowlab's histfit on the tutorial fit
# (400 iterations, U6 L4, -y flows, agh_2015 all/length.csv: 23 782 bins), whole process each.
# flow-models' 2.2 `fit` CLI crashes when it saves, so its fitting function is called from
# Python (benches/histfit_fm_fit.py). Prints CPU and wall seconds, max RSS, the ratios and the
# largest relative difference between the two fitted mixtures.
#
#   benches/histfit_vs_python.sh [HIST.csv] [y] [iterations] [U] [L]
# env: FLOWLAB_DATA_DIR (default ../shared/data), FM_VENV (venv for flow-models, created and
#      filled from PyPI when missing), CARGO_TARGET_DIR, REPEAT (flowlab runs, default 5).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DATA=${FLOWLAB_DATA_DIR:-$ROOT/../shared/data}
HIST=${1:-$DATA/agh_2015/histograms/all/length.csv}
Y=${2:-flows}; IT=${3:-400}; U=${4:-6}; L=${5:-4}
VENV=${FM_VENV:-$ROOT/target/fm-venv}
REPEAT=${REPEAT:-5}
if ! "$VENV/bin/python" -c "import flow_models.fit, scipy" 2>/dev/null; then
  echo "installing flow-models from PyPI into $VENV" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q flow-models numpy scipy pandas matplotlib
fi
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
cargo build -q --release -p flowlab-histfit --example histfit_fit_once
BIN=$CARGO_TARGET_DIR/release/examples/histfit_fit_once
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

/usr/bin/time -f "%U %S %e %M" -o "$OUT/fm.time" "$VENV/bin/python" "$ROOT/benches/histfit_fm_fit.py" "$HIST" "$Y" "$IT" "$U" "$L" "$OUT/fm.json" 2> "$OUT/fm.log"
grep '^flow-models:' "$OUT/fm.log" >&2 || true
for t in 1 2; do
  for r in $(seq "$REPEAT"); do
    RAYON_NUM_THREADS=$t /usr/bin/time -f "%U %S %e %M" -o "$OUT/hf$t.$r.time" "$BIN" "$HIST" "$Y" "$IT" "$U" "$L" > "$OUT/hf$t.json" 2> "$OUT/hf$t.log"
  done
done
grep -h '^read' "$OUT/hf1.log" >&2 || true

python3 - "$OUT" "$REPEAT" <<'PY'
import json, statistics, sys
out, rep = sys.argv[1], int(sys.argv[2])
def t(path):
    u, s, e, m = open(path).read().split()
    return float(u) + float(s), float(e), int(m) / 1024
fm = t(f'{out}/fm.time')
print(f'flow-models 2.2 : CPU {fm[0]:7.3f} s   wall {fm[1]:7.3f} s   max RSS {fm[2]:6.1f} MB')
for th in (1, 2):
    runs = [t(f'{out}/hf{th}.{r}.time') for r in range(1, rep + 1)]
    cpu = statistics.median(r[0] for r in runs); wall = statistics.median(r[1] for r in runs); rss = max(r[2] for r in runs)
    print(f'histfit {th} thr.  : CPU {cpu:7.3f} s   wall {wall:7.3f} s   max RSS {rss:6.1f} MB   '
          f'(median of {rep}; CPU ratio {fm[0] / max(cpu, 1e-9):6.1f}x, wall ratio {fm[1] / max(wall, 1e-9):6.1f}x)')
a = json.load(open(f'{out}/fm.json')); b = json.load(open(f'{out}/hf1.json'))
worst = 0.0
for ca, cb in zip(a['mix'], b['mix']):
    for x, y in zip([ca[0]] + list(ca[2]), [cb[0]] + list(cb[2])):
        if x != y:
            worst = max(worst, abs(x - y) / max(abs(x), 1e-300))
print(f'largest relative difference between the two mixtures: {worst:.2e}')
PY
