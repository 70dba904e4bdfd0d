#!/usr/bin/env bash
# Side by side: flow-models 2.2's `generate` CLI against `flowlab run` of a one-cell manifest
# with histfit `generate`, rng = "numpy" (the same flows, byte for byte: checked with cmp after
# every pair), whole process each, runs alternating so a noisy neighbour slows both alike.
# Prints user+system CPU, wall and max RSS (GNU /usr/bin/time -v) of every run and the medians.
#
#   benches/histfit_generate_vs_fm.sh [MIXTURE_DIR] [flows] [seed]
# env: FLOWLAB_DATA_DIR (default: beside the checkout, docs/design.md §9), FM_PYTHON (a python
#      with flow-models 2.2 from PyPI; default python3), REPEAT (pairs per format, default 3),
#      FORMATS (default "csv_flow binary"), CARGO_TARGET_DIR.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DATA=${FLOWLAB_DATA_DIR:-$ROOT/../shared/data}
MIX=${1:-$DATA/agh_2015/mixtures/all/length}
N=${2:-1000000}; SEED=${3:-42}
PY=${FM_PYTHON:-python3}
REPEAT=${REPEAT:-3}
FORMATS=${FORMATS:-csv_flow binary}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
cargo build -q --release -p flowlab-histfit
cargo build -q --release
FLOWLAB=$CARGO_TARGET_DIR/release/flowlab
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

# one /usr/bin/time -v run: prints "user+sys wall maxrss_kb"
timed() {
  local log=$1; shift
  /usr/bin/time -v "$@" > /dev/null 2> "$log"
  awk -F': ' '/User time/{u=$2} /System time/{s=$2} /Elapsed \(wall clock\)/{w=$2} /Maximum resident/{m=$2}
    END{n=split(w,a,":"); sec=(n==3)?a[1]*3600+a[2]*60+a[3]:a[1]*60+a[2]; printf "%.2f %.2f %d\n", u+s, sec, m}' "$log"
}

echo "# $N flows, seed $SEED, $MIX; $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# format tool run cpu_s wall_s maxrss_kb"
for fmt in $FORMATS; do
  for r in $(seq "$REPEAT"); do
    d=$OUT/$fmt.$r; mkdir -p "$d"
    ext=$([ "$fmt" = csv_flow ] && echo flows.csv || echo flows)
    echo "fm $fmt $r $(timed "$d/fm.log" "$PY" -m flow_models.generate -s "$N" --seed "$SEED" -o "$fmt" -O "$d/fm.$ext" "$MIX")"
    cat > "$d/m.toml" <<EOF
[experiment]
name = "genbench"
seed = 1

[[generate]]
id = "g"
plugin = "histfit"
flows = $N
rng = "numpy"
seed = $SEED
out_format = "$fmt"
mixture_dir = "$MIX"
EOF
    echo "flowlab $fmt $r $(cd "$d" && timed "$d/fl.log" "$FLOWLAB" run m.toml)"
    ours=$(find "$d/results" -path "*/artifacts/*" -name "$ext" | head -1)  # none: nothing
    case $fmt in
      csv_flow) cmp "$ours" "$d/fm.$ext" ;;
      binary) diff -r "$ours" "$d/fm.$ext" ;;
    esac
    rm -rf "$d/results" "$d/fm.$ext"
  done
done | tee "$OUT/rows"
echo "# medians (identical output checked after every pair)"
awk '!/^#/{k=$1" "$2; c[k]=c[k]" "$4; w[k]=w[k]" "$5; m[k]=m[k]" "$6}
  END{for(k in c) print k, c[k], "|", w[k], "|", m[k]}' "$OUT/rows" | while read -r tool fmt rest; do
  med() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
  cpu=$(echo "$rest" | cut -d'|' -f1 | med); wall=$(echo "$rest" | cut -d'|' -f2 | med); rss=$(echo "$rest" | cut -d'|' -f3 | med)
  echo "$fmt $tool cpu ${cpu}s wall ${wall}s maxrss ${rss}kB"
done
