#!/usr/bin/env bash
# Side-by-side: the Rust sampler vs. the Python references on the same input.
#  1. profile generation: make_profile.py vs. `ft-profile-sampler-rs --generate` (byte-identical output);
#  2. metric evaluation of one sample: ft_sampler_metrics.py (numpy oracle) vs. the Rust run,
#     which loads, builds the model, runs the whole GA until acceptance and writes the outputs.
# The original C++ ft-profile-sampler is not on PyPI; its figures (docs/sampler.md, "Results of the original") are
# quoted in docs/sampler-benchmarks.md.
# Usage: benches/sampler_vs_python.sh [ROWS=1000000] [SEED=1]
set -euo pipefail
ROWS=${1:-1000000}
SEED=${2:-1}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
REF=${FLOWLAB_REFERENCE_DIR:?set FLOWLAB_REFERENCE_DIR to the reference scripts (docs/design.md §9)}
VENV=${SAMPLER_BENCH_VENV:-$ROOT/target/sampler-bench-venv}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
PY=${FLOWLAB_PYTHON:-}
if [ -z "$PY" ]; then
  if [ ! -x "$VENV/bin/python" ]; then python3 -m venv "$VENV" && "$VENV/bin/pip" install -q numpy; fi
  PY=$VENV/bin/python
fi
cargo build --release -q -p flowlab-sampler --bin ft-profile-sampler-rs
BIN=$CARGO_TARGET_DIR/release/ft-profile-sampler-rs
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
t() { local s e; s=$(date +%s.%N); "$@"; e=$(date +%s.%N); echo "$e - $s" | bc; }
echo "== generate $ROWS rows, seed $SEED"
tp=$(t "$PY" "$REF/make_profile.py" --rows "$ROWS" --seed "$SEED" -o "$W/py.csv")
tr=$(t "$BIN" --generate "$ROWS" -s "$SEED" -o "$W/rs.csv")
cmp -s "$W/py.csv" "$W/rs.csv" && same=identical || same=DIFFERENT
printf 'make_profile.py %.2f s, rust %.2f s, ratio %.1fx, files %s\n' "$tp" "$tr" "$(echo "$tp / $tr" | bc -l)" "$same"
echo "== sample 9-11 % (readme variant, seed $SEED) and score it"
/usr/bin/time -f 'rust sampler: %U s user, %e s wall, %M KB max RSS' "$BIN" -q -i "$W/rs.csv" -o "$W/sample.csv" -m "$W/metrics.txt" -l 0.09 -u 0.11 -s "$SEED" || true
grep FITNESS "$W/metrics.txt"
/usr/bin/time -f 'python oracle (one evaluation): %U s user, %e s wall, %M KB max RSS' "$PY" "$REF/ft_sampler_metrics.py" "$W/rs.csv" "$W/sample.csv" --no-windows | grep -E 'FITNESS|acceptable'
