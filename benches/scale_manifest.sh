#!/bin/sh
# Writes a testplug `probe` manifest of VALUES sweep points x REPS replicates (BENCHMARKS.md:
# runner at scale). Usage: benches/scale_manifest.sh VALUES REPS NAME > NAME.toml
set -eu
n=$1; r=$2; name=$3
printf '[experiment]\nname = "%s"\nseed = 7\nreplicates = %s\n' "$name" "$r"
printf '[probe]\nplugin = "testplug"\ndraws = 1\n[sweep]\n"probe.value" = ['
seq -s, 1 "$n" | tr -d '\n'
echo "]"
