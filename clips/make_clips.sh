#!/usr/bin/env bash
# Regenerates the demo clips and their ground-truth timelines (deterministic: same seeds, same videos).
set -euo pipefail
cd "$(dirname "$0")/.."
for seed in 101 102 103; do
  /usr/bin/python3 tools/actions/actiongen.py video "clips/actions-$seed.mp4" --seed "$seed" --seconds 40
done
