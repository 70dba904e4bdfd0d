#!/usr/bin/env bash
# Acceptance check of the Slurm backend (docs/design.md §7, docs/scale-out.md "Slurm"): start a single-node Slurm cluster, run the
# 201-cell testplug experiment tests/manifests/scale.toml through `flowlab run --backend slurm`,
# and require every cell file (outside `timing`) and every artifact to be byte-identical to a
# local rayon run; then resubmit and require that nothing is rerun. Slurm is always stopped
# (trap), and every step is bounded in time.
#
# usage: scripts/slurm-check.sh [FLOWLAB_BINARY]   (default ./target/release/flowlab)
# env:   SLURM_SN_SCRIPT  the single-node script (default: the study's reference directory beside the checkout,
#                                 docs/design.md §9)
set -euo pipefail
cd "$(dirname "$0")/.."
FLOWLAB=${1:-./target/release/flowlab}
SN=${SLURM_SN_SCRIPT:-${FLOWLAB_REFERENCE_DIR:?set SLURM_SN_SCRIPT or FLOWLAB_REFERENCE_DIR (docs/design.md §9)}/slurm-single-node.sh}
MANIFEST=tests/manifests/scale.toml
[ -x "$FLOWLAB" ] || { echo "no flowlab binary at $FLOWLAB" >&2; exit 2; }
[ -f "$SN" ] || { echo "no single-node Slurm script at $SN" >&2; exit 2; }
work=$(mktemp -d)
cleanup() {
  local rc=$?
  timeout 60 bash "$SN" stop || echo "warning: slurm stop failed" >&2
  rm -rf "$work"
  exit $rc
}
trap cleanup EXIT
t0=$(date +%s)
timeout 120 bash "$SN" start
timeout 60 bash "$SN" selftest >/dev/null
echo "slurm up after $(( $(date +%s) - t0 ))s"

timeout 120 "$FLOWLAB" run "$MANIFEST" --results "$work/local" -q --no-env
s=$(date +%s)
timeout 300 "$FLOWLAB" run "$MANIFEST" --results "$work/slurm" --no-env --backend slurm --shards 8 --wait-timeout 240
echo "slurm run: $(( $(date +%s) - s ))s"

python3 - "$work/local/scale" "$work/slurm/scale" <<'PY'
import json, os, sys, hashlib
a, b = sys.argv[1], sys.argv[2]
def cells(d):
    out = {}
    for n in sorted(os.listdir(d)):
        if n.endswith(".json") and not n.startswith("."):
            with open(os.path.join(d, n), "rb") as f:
                v = json.load(f)
            v.pop("timing", None)
            out[n] = json.dumps(v, sort_keys=False)
    return out
def tree(d):
    out = {}
    for root, _, files in os.walk(d):
        for n in files:
            p = os.path.join(root, n)
            with open(p, "rb") as f:
                out[os.path.relpath(p, d)] = hashlib.sha256(f.read()).hexdigest()
    return out
ca, cb = cells(a), cells(b)
assert len(ca) >= 200, f"only {len(ca)} cells"
assert ca.keys() == cb.keys(), f"cell sets differ: {sorted(set(ca) ^ set(cb))[:5]}"
bad = [k for k in ca if ca[k] != cb[k]]
assert not bad, f"{len(bad)} cells differ, e.g. {bad[0]}"
ok = sum(1 for k in cb if json.loads(cb[k])["status"] == "ok")
assert ok == len(cb), f"{len(cb) - ok} cells not ok"
ta, tb = tree(os.path.join(a, "artifacts")), tree(os.path.join(b, "artifacts"))
assert ta == tb, "artifacts differ"
print(f"identical: {len(ca)} cells (outside timing) and {len(ta)} artifact files, local rayon vs Slurm")
PY

# resubmission: everything is done, so nothing is submitted and nothing changes
before=$(cd "$work/slurm/scale" && sha256sum ./*.json | sha256sum)
out=$(timeout 60 "$FLOWLAB" run "$MANIFEST" --results "$work/slurm" --no-env --backend slurm --shards 8 2>&1)
echo "$out" | grep -q "nothing to submit" || { echo "$out"; echo "resubmission ran something" >&2; exit 1; }
after=$(cd "$work/slurm/scale" && sha256sum ./*.json | sha256sum)
[ "$before" = "$after" ] || { echo "resubmission changed stored cells" >&2; exit 1; }
timeout 60 "$FLOWLAB" status "$MANIFEST" --results "$work/slurm" --no-env
echo "slurm check passed in $(( $(date +%s) - t0 ))s"
