#!/usr/bin/env bash
# The per-user study at the paper's scale (docs/endhost-benchmarks.md, "Per-user study from flow
# records at the paper's scale"): 270 users x 35 days of synthetic flow records (~1.4e8 records,
# 4.6 GB) binned at 8 sizes (4..512 s) and fitted (P, EP, EEP per user x bin size) by
# `flowlab run` of a `fit_traces` manifest, the whole process timed by GNU time, several runs.
#
# Usage: benches/endhost_scale.sh [runs]        (default 3)
#   ENDHOST_SCALE_DATA  directory of the traces (flows.csv, hosts.csv, activity.csv, truth.json);
#                       generated there by the `generate_traces` dataset when flows.csv is
#                       missing (about 160 s CPU, once). Default: target/endhost-scale/traces.
#   FLOWLAB             the binary (default target/release/flowlab; build it and the endhost
#                       plugin first: cargo build --release && cargo build --release -p flowlab-endhost)
# Prints one summary line per run: CPU user + sys, wall, peak RSS and the load average when it
# started (the target, docs/endhost.md: < 60 s wall on 2 cores; quote CPU on a loaded machine).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
RUNS="${1:-3}"
FLOWLAB="${FLOWLAB:-$ROOT/target/release/flowlab}"
DATA="${ENDHOST_SCALE_DATA:-$ROOT/target/endhost-scale/traces}"
[ -x "$FLOWLAB" ] || { echo "error: $FLOWLAB not found; run cargo build --release first" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "error: GNU time (/usr/bin/time) is needed for CPU and peak RSS" >&2; exit 2; }
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

if [ ! -f "$DATA/flows.csv" ]; then
  echo "generating 270 users x 35 days into $DATA (once) ..." >&2
  cat > "$WORK/gen.toml" <<'EOF'
[experiment]
name = "endhost-scale-gen"
description = "270 users x 5 weeks of synthetic flow records (the paper's scale)."
seed = 20130414

[[dataset]]
id = "big"
plugin = "endhost"
capability = "generate_traces"
format = "flow_records"
[dataset.settings]
users = 270
days = 35.0

# a task reading one bin size, so the manifest has a task (the traces are the product here)
[fit_traces]
plugin = "endhost"
bin_seconds = [64.0]
hist_bin_seconds = 64.0
composition_bin_seconds = 64.0
min_n = 1000000
EOF
  "$FLOWLAB" run --results "$WORK/gen" "$WORK/gen.toml" >&2
  src="$(find "$WORK/gen" -type d -name traces -path '*artifacts*' | head -n 1)"
  [ -n "$src" ] && [ -f "$src/flows.csv" ] || { echo "error: generate_traces wrote no traces under $WORK/gen" >&2; exit 1; }
  mkdir -p "$(dirname "$DATA")"
  rm -rf "$DATA"
  mv "$src" "$DATA"
fi

cat > "$WORK/fit.toml" <<EOF
[experiment]
name = "endhost-scale-fit"
description = "The paper's scale: 270 users x 5 weeks of flow records, binned at 4..512 s and fitted."
seed = 20130414

[run]
cell_threads = 2

[[dataset]]
id = "big"
path = "$DATA"
format = "flow_records"

# defaults: 8 bin sizes 4..512 s, P / EP / EEP per user x bin size, composition at 64 s
[fit_traces]
plugin = "endhost"
EOF

echo "data: $DATA ($(du -sh "$DATA" | cut -f1)); $RUNS runs of: /usr/bin/time -v $FLOWLAB run fit.toml" >&2
for i in $(seq 1 "$RUNS"); do
  load="$(cut -d' ' -f1 /proc/loadavg)"
  start="$(date -u +%T)"
  log="$WORK/run$i.log"
  # a fresh results root per run: nothing cached
  if ! /usr/bin/time -v "$FLOWLAB" run --results "$WORK/res$i" "$WORK/fit.toml" > "$log" 2>&1; then
    cat "$log" >&2
    echo "error: run $i failed" >&2
    exit 1
  fi
  awk -v i="$i" -v load="$load" -v t="$start" '
    /User time/ {u = $NF} /System time/ {s = $NF}
    /Elapsed \(wall clock\)/ {n = split($NF, p, ":"); w = 0; for (k = 1; k <= n; k++) w = w * 60 + p[k]}
    /Maximum resident/ {r = $NF}
    END {printf "run %d (%s UTC, load %s at start): cpu %.1f s (user %.1f + sys %.1f)  wall %.1f s  max rss %.0f MB\n", i, t, load, u + s, u, s, w, r / 1024}
  ' "$log"
  rm -rf "$WORK/res$i"
done
