#!/usr/bin/env bash
# Side-by-side timing of the endhost plugin and its Python peer (endhost_ref.py, docs/design.md §9)
# on the same design: seconds per complete multi-restart fit at n = 10 000 (P: 1 start, EP: 5,
# EEP: 10), one process, one thread, plus one log-likelihood + gradient evaluation.
# Usage: benches/endhost_vs_python.sh [reps]   (needs cargo; installs numpy + scipy from PyPI into
# a venv under target/ when the given FLOWLAB_PYTHON cannot import them)
set -euo pipefail
cd "$(dirname "$0")/.."
REPS="${1:-6}"
REF="${FLOWLAB_REF:-${FLOWLAB_REFERENCE_DIR:?set FLOWLAB_REF or FLOWLAB_REFERENCE_DIR (docs/design.md §9)}/endhost_ref.py}"
PY="${FLOWLAB_PYTHON:-python3}"
if ! "$PY" -c "import numpy, scipy" 2>/dev/null; then
  VENV="${CARGO_TARGET_DIR:-target}/endhost-venv"
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet numpy scipy
  PY="$VENV/bin/python"
fi
OUT="$(mktemp -d)"
echo "python reference: $PY $REF timing --methods ipm --reps $REPS --workers 1" >&2
OMP_NUM_THREADS=1 "$PY" "$REF" timing --methods ipm --reps "$REPS" --workers 1 --out "$OUT/py.json" > /dev/null
echo "rust: cargo run --release -p flowlab-endhost --example timing -- $REPS 10000 ipm" >&2
cargo run --release -q -p flowlab-endhost --example timing -- "$REPS" 10000 ipm > "$OUT/rs.json"
"$PY" - "$OUT/py.json" "$OUT/rs.json" <<'PYEOF'
import json, sys
py, rs = (json.load(open(p)) for p in sys.argv[1:3])
print(f"{'data':>5} {'fit':>4} {'python s/fit':>13} {'rust s/fit':>12} {'speed-up':>9} {'py evals':>9} {'rs evals':>9}")
for k, v in py.items():
    if not isinstance(v, dict):
        continue
    r = rs.get(k)
    if r is None:
        continue
    _, dat, fit = k.split("|")
    print(f"{dat[5:]:>5} {fit[4:]:>4} {v['mean_cpu_s_per_fit']:13.6f} {r['mean_cpu_s_per_fit']:12.6f} "
          f"{v['mean_cpu_s_per_fit'] / r['mean_cpu_s_per_fit']:8.0f}x {v['mean_fn_evals_per_fit']:9.0f} {r['mean_fn_evals_per_fit']:9.0f}")
for k, v in py.items():
    if k.startswith("loglik"):
        m = k.split("|")[1]
        rk = next((x for x in rs if x.startswith(f"loglik+grad_cpu_us|{m}|")), None)
        if rk:
            ratio = f"{v / rs[rk]:.0f}x" if rs[rk] > 0 else "rust below the timer's resolution"
            print(f"loglik+grad {m}: python {v:.1f} us ({k.split('|')[2]}), rust {rs[rk]:.3f} us ({rk.split('|')[2]}), {ratio}")
PYEOF
