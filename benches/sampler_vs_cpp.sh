#!/usr/bin/env bash
# Side by side, alternating: `flowlab run` (the sampler plugin, default search, readme and
# windows fitness) vs. the C++ ft-profile-sampler (2023 variant, readme fitness — the current
# C++ never accepts the window fitness) on the same profile, 9-11 %, deviation 0.005.
# The C++ tool is not distributed as a package: build it outside this repository, e.g.
#   git clone https://github.com/CESNET/FlowTest && cd FlowTest && git checkout 7d38e21 &&
#   g++ -O2 -std=c++17 -pthread -o ft-profile-sampler-2023 tools/ft-profile-sampler/src/*.cpp
# Usage: benches/sampler_vs_cpp.sh CPP_BINARY [ROWS=1000000] [PROFILE_SEED=2001] [ROUNDS=2]
set -euo pipefail
CPP=${1:?usage: sampler_vs_cpp.sh CPP_BINARY [ROWS] [PROFILE_SEED] [ROUNDS]}
ROWS=${2:-1000000}
PSEED=${3:-2001}
ROUNDS=${4:-2}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
cargo build --release -q
BIN=$CARGO_TARGET_DIR/release
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
"$BIN/ft-profile-sampler-rs" --generate "$ROWS" -s "$PSEED" -o "$W/p.csv"
for fit in readme windows; do
  cat > "$W/$fit.toml" <<TOML
[experiment]
name = "sampler-vs-cpp-$fit"
seed = 1
[[dataset]]
id = "profile"
path = "$W/p.csv"
format = "flowtest_profile"
[[sample]]
id = "s"
plugin = "sampler"
rate = 0.1
fitness = "$fit"
seed = 1
TOML
done
for ((r = 1; r <= ROUNDS; r++)); do
  for fit in readme windows; do
    rm -rf "$W/res"
    /usr/bin/time -f "round $r flowlab $fit: %U s user, %S s sys, %e s wall, %M KB max RSS" "$BIN/flowlab" run "$W/$fit.toml" --results "$W/res" > /dev/null
    grep -h -o '"accepted": [a-z]*' "$W"/res/*/artifacts/*/result.json | head -1
  done
  /usr/bin/time -f "round $r C++ 2023 readme: %U s user, %S s sys, %e s wall, %M KB max RSS" "$CPP" -i "$W/p.csv" -o "$W/cpp.csv" -m "$W/cpp.txt" -l 0.09 -u 0.11 -d 0.005 -s 1 > "$W/cpp.log"
  echo "C++ generations run: $(grep -c '^Generation:' "$W/cpp.log"), acceptable: $(grep -c Acceptable "$W/cpp.log")"
done
