#!/usr/bin/env bash
# The demo: label the bundled clips with the bundled action model, print each timeline beside its ground truth,
# and write the JSON timelines to demo-output/.
set -euo pipefail
cd "$(dirname "$0")/.."
VIDAR=.build/release/vidar
mkdir -p demo-output
"$VIDAR" models inspect vidar-actions | sed -n '1,4p;6,7p'
echo
for clip in clips/*.mp4; do
  "$VIDAR" label -o demo-output/ "$clip"
  echo "  ground truth ($(basename "${clip%.mp4}").truth.json):"
  /usr/bin/python3 - "${clip%.mp4}.truth.json" <<'PY'
import json, sys
for s in json.load(open(sys.argv[1]))["segments"]:
    print(f"  {s['start']:7.2f} – {s['end']:7.2f} s  {s['label']}")
PY
  echo
done
echo "timelines written to demo-output/ (schema docs/timeline.schema.json)"
