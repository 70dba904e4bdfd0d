#!/usr/bin/env bash
# Side-by-side training-step throughput: flowlab's hand-written LSTM vs PyTorch on CPU
# (docs/lstm.md, "Implementation choices" workload). Installs torch from PyPI into a venv when needed (the PyPI wheel pulls
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
echo "ratio rust / torch (cpu = per CPU-second, wall = median step):"
awk '{ key = $2 " " $3; for (i = 4; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "cpu_seq_per_s") c = kv[2]; if (kv[1] == "seq_per_s") w = kv[2] }
       if ($1 == "rust") { rc[key] = c; rw[key] = w } else { pc[key] = c; pw[key] = w } }
     END { for (k in rc) if (k in pc) printf "  %s  cpu %.2f  wall %.2f\n", k, rc[k] / pc[k], rw[k] / pw[k] }' "$out" | sort
rm -f "$out"
