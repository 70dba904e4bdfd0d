#!/bin/bash
# Renders every plot mode of histfit's `plot` and of flow-models 2.2's `plot` on the tutorial
# model (all/length histogram + mixtures), side by side, one directory per mode set:
#   OUT/<modes>/flowlab/*.png   OUT/<modes>/flow-models/*.png
# with /usr/bin/time -v of each run in OUT/<modes>/*.time (docs/histfit.md, "Plot modes").
# Usage: scripts/plot_vs_flow_models.sh OUT   (env FLOWLAB_PYTHON: a Python with flow-models 2.2;
# FLOWLAB_DATA_DIR: the shared data; build first:
# cargo build --release -p flowlab-histfit --example plot_once)
set -euo pipefail
OUT=${1:?usage: plot_vs_flow_models.sh OUT}
PY=${FLOWLAB_PYTHON:-python3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DATA=${FLOWLAB_DATA_DIR:-$ROOT/../shared/data}
H=$DATA/agh_2015/histograms/all/length.csv
M=$DATA/agh_2015/mixtures/all/length
HERE=$(cd "$(dirname "$0")/.." && pwd)
PLOT=$HERE/target/release/examples/plot_once
SHIM=$HERE/scripts/fm_plot_shim.py
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
# name | flow-models flags | flowlab settings
while IFS='|' read -r name flags settings; do
  [ -z "$name" ] && continue
  d=$OUT/$name
  mkdir -p "$d/flowlab" "$d/flow-models"
  (cd "$d/flow-models" && /usr/bin/time -v -o ../flow-models.time "$PY" "$SHIM" $flags "$H" "$M" > log 2>&1) || echo "$name: flow-models failed (see $d/flow-models/log)"
  /usr/bin/time -v -o "$d/flowlab.time" "$PLOT" "$H" "$d/flowlab" "$M" "$settings" > /dev/null
  printf '%-14s flow-models %6.2f s CPU   flowlab %6.2f s CPU\n' "$name" \
    "$(awk -F': ' '/User time|System time/ {s += $2} END {print s}' "$d/flow-models.time")" \
    "$(awk -F': ' '/User time|System time/ {s += $2} END {print s}' "$d/flowlab.time")"
done <<'MODES'
default||{"format": "png"}
points|-P points|{"format": "png", "pdf_modes": ["points"]}
no-normalize|--no-normalize -P points|{"format": "png", "pdf_modes": ["points"], "normalize": false}
hist|-P hist|{"format": "png", "pdf_modes": ["hist"]}
kde|-P kde|{"format": "png", "pdf_modes": ["kde"]}
kde-fft|-P kde --fft|{"format": "png", "pdf_modes": ["kde"], "fft": true}
comp|-P comp -C comp|{"format": "png", "pdf_modes": ["comp"], "cdf_modes": ["comp"]}
comp-labels|-P comp -P comp_labels -C comp -C comp_labels|{"format": "png", "pdf_modes": ["comp", "comp_labels"], "cdf_modes": ["comp", "comp_labels"]}
comp-stack|-P comp_stack -P comp_labels -C comp_stack|{"format": "png", "pdf_modes": ["comp_stack", "comp_labels"], "cdf_modes": ["comp_stack"]}
single|--single -P comp|{"format": "png", "single": true, "pdf_modes": ["comp"]}
pdf|--format pdf|{"format": "pdf"}
MODES
