#!/usr/bin/env bash
# Side by side: flow-models 2.2's `hist` against flowlab's histfit `hist` dataset on 10^7
# csv_flow records (flow-models' generate, agh_2015 all/length mixture, seed 2015), the whole
# process each: `python -m flow_models.hist -i csv_flow -x X -b B -O out.csv FLOWS` and
# `flowlab run` of a manifest with one `hist` dataset (plus a `summary` so the dataset is
# made; the summary reads the few-hundred-row csv_hist). Runs alternate so a noisy neighbour
# slows both alike; prints CPU (user+sys), wall and max RSS of each run (/usr/bin/time -v),
# the median CPU ratios — flowlab's first run on the file (empty hash cache: the 645 MB and the
# plugin are hashed; and with the plugin known from a run on another file, only the 645 MB)
# and a rerun (the hash from the stat-keyed cache) — and checks
# that both outputs are byte-identical.
#
#   benches/histfit_hist_vs_fm.sh [X] [B]                 (default: length 12)
# env: FLOWLAB_DATA_DIR (default: beside the checkout, docs/design.md §9; the mixture), FM_VENV (venv with
#      flow-models 2.2; default target/fm-venv, created from PyPI when missing),
#      HIST_BENCH_DIR (where the 10^7-record file is generated once; default target/hist-bench),
#      CARGO_TARGET_DIR, REPEAT (flowlab runs, default 3), FM_REPEAT (flow-models runs, default 2).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DATA=${FLOWLAB_DATA_DIR:-$ROOT/../shared/data}
X=${1:-length}; B=${2:-12}
VENV=${FM_VENV:-$ROOT/target/fm-venv}
REPEAT=${REPEAT:-3}
FM_REPEAT=${FM_REPEAT:-2}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
BENCH=${HIST_BENCH_DIR:-$CARGO_TARGET_DIR/hist-bench}
if ! "$VENV/bin/python" -c "import flow_models.hist" 2>/dev/null; then
  echo "installing flow-models from PyPI into $VENV" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q flow-models==2.2 numpy scipy pandas
fi
cargo build -q --release
cargo build -q --release -p flowlab-histfit
mkdir -p "$BENCH"
FLOWS=$BENCH/flows1e7.csv
if [ ! -s "$FLOWS" ]; then
  echo "generating 10^7 csv_flow records into $FLOWS (flow-models generate, once)" >&2
  "$VENV/bin/python" -c "
from flow_models.generate import generate
generate('$DATA/agh_2015/mixtures/all/length', '$FLOWS.tmp', 'csv_flow', 10**7, 'length', 2015)" 2>/dev/null
  mv "$FLOWS.tmp" "$FLOWS"
fi
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
cat > "$OUT/hist.toml" <<EOF
[experiment]
name = "hist-bench"
seed = 1

[[dataset]]
id = "flows"
plugin = "histfit"
capability = "hist"
format = "csv_hist"
[dataset.settings]
inputs = ["$FLOWS"]
in_format = "csv_flow"
x = "$X"
bin_exp = $B

[[summary]]
plugin = "histfit"
datasets = ["flows"]
style = "flowmodels"
EOF
# a small other file, for a run that makes flowlab know the plugin (its hash cached) before
# the first run on the big file: a user's first hist of a new file, flowlab used before
head -n 1000 "$FLOWS" > "$OUT/small.csv"
sed -e "s|$FLOWS|$OUT/small.csv|" -e 's/name = "hist-bench"/name = "hist-warm"/' "$OUT/hist.toml" > "$OUT/warm.toml"
echo "$(wc -c < "$FLOWS") bytes, x = $X, b = $B, $(nproc) cores, load: $(cut -d' ' -f1-3 /proc/loadavg)"
tv() { # tv NAME CMD...: one run under /usr/bin/time -v, "cpu wall rss" into $OUT/NAME
  local name=$1; shift
  /usr/bin/time -v -o "$OUT/$name.tv" "$@" > "$OUT/$name.log" 2>&1 || { cat "$OUT/$name.log"; exit 1; }
  awk -F': ' '/User time/{u=$2} /System time/{s=$2} /Elapsed \(wall/{w=$2} /Maximum resident/{m=$2}
    END{n=split(w,a,":"); ws=(n==3)?a[1]*3600+a[2]*60+a[3]:a[1]*60+a[2]; printf "%.2f %.2f %d\n", u+s, ws, m}' "$OUT/$name.tv" > "$OUT/$name"
  echo "$name: $(awk '{printf "%.2f s CPU, %.2f s wall, max RSS %d KB", $1, $2, $3}' "$OUT/$name")"
}
for r in $(seq "$REPEAT"); do
  if [ "$r" -le "$FM_REPEAT" ]; then
    tv "fm.$r" "$VENV/bin/python" -m flow_models.hist -i csv_flow -x "$X" -b "$B" -O "$OUT/fm.csv" "$FLOWS"
  fi
  # a first run on the file: an empty hash cache, so the input (and the plugin) are hashed
  tv "fl.$r" env FLOWLAB_CACHE_DIR="$OUT/cache.$r" "$CARGO_TARGET_DIR/release/flowlab" run "$OUT/hist.toml" --results "$OUT/results" -j 1 --force --no-env
  # a first run on the file by a flowlab that has run the plugin before (on another file):
  # the input is hashed, the plugin's hash comes from the cache
  env FLOWLAB_CACHE_DIR="$OUT/known.$r" "$CARGO_TARGET_DIR/release/flowlab" run "$OUT/warm.toml" --results "$OUT/results" -j 1 --force --no-env -q > /dev/null
  tv "flk.$r" env FLOWLAB_CACHE_DIR="$OUT/known.$r" "$CARGO_TARGET_DIR/release/flowlab" run "$OUT/hist.toml" --results "$OUT/results" -j 1 --force --no-env
  # a rerun: the same cache again, so the input's hash comes from its stat key
  tv "flw.$r" env FLOWLAB_CACHE_DIR="$OUT/cache.$r" "$CARGO_TARGET_DIR/release/flowlab" run "$OUT/hist.toml" --results "$OUT/results" -j 1 --force --no-env
done
HF=$(find "$OUT/results/hist-bench" -name dataset.csv | head -1)
cmp "$HF" "$OUT/fm.csv" && echo "outputs byte-identical ($(wc -l < "$HF") lines)"
med() { sort -n | awk '{a[NR]=$1} END{print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}'; }
FM=$(cat "$OUT"/fm.[0-9] | awk '{print $1}' | med)
FL=$(cat "$OUT"/fl.[0-9] | awk '{print $1}' | med)
FLW=$(cat "$OUT"/flw.[0-9] | awk '{print $1}' | med)
FLK=$(cat "$OUT"/flk.[0-9] | awk '{print $1}' | med)
ratio() { awk -v a="$FM" -v b="$1" 'BEGIN{printf "%.0f", a/b}'; }
echo "median CPU: flow-models $FM s; flowlab first run on the file $FL s with nothing cached (ratio $(ratio "$FL")x), $FLK s with the plugin known (ratio $(ratio "$FLK")x); rerun $FLW s (ratio $(ratio "$FLW")x)"
