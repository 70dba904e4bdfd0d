#!/usr/bin/env bash
# Side-by-side training-step throughput: flowlab's hand-written LSTM vs PyTorch on CPU
# (spec §8 workload). Installs torch from PyPI into a venv when needed (the PyPI wheel pulls
# its CUDA libraries, about 4 GB, but runs on the CPU here).
#   benches/lstm_vs_pytorch.sh [threads…]        (default: 1 2)
# Env: LSTM_BENCH_VENV (default ~/.cache/flowlab-torch-venv), CARGO_TARGET_DIR as usual.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
venv="${LSTM_BENCH_VENV:-$HOME/.cache/flowlab-torch-venv}"
threads=("${@:-1 2}")
if ! "$venv/bin/python" -c "import torch" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q torch numpy
fi
cd "$root"
cargo build -q -p flowlab-lstm --release --example step_throughput
bin="${CARGO_TARGET_DIR:-$root/target}/release/examples/step_throughput"
out="$(mktemp)"
# shellcheck disable=SC2068
"$bin" ${threads[@]} | tee -a "$out"
# shellcheck disable=SC2068
"$venv/bin/python" "$here/lstm_vs_pytorch.py" ${threads[@]} | tee -a "$out"
echo "ratio (rust / torch):"
awk '{ split($3, t, "="); split($NF, v, "="); key = $2 " threads=" t[2]; if ($1 == "rust") r[key] = v[2]; else p[key] = v[2] }
     END { for (k in r) if (k in p) printf "  %s  %.2f\n", k, r[k] / p[k] }' "$out" | sort
rm -f "$out"
