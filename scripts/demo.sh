#!/usr/bin/env bash
# The demo until the bundled action model and clips land (issue 6): inspect a seeded r3d_18 checkpoint in
# torchvision's format and run it through `vidar infer`, side by side with torchvision's own logits.
set -euo pipefail
FIXTURES=${1:-.fixtures}
VIDAR=.build/release/vidar
echo "== vidar models inspect (a seeded-random r3d_18 saved by torch.save, as torchvision publishes it)"
"$VIDAR" models inspect "$FIXTURES/r3d_18.pth"
echo
echo "== vidar infer on two 16-frame 112×112 clips (random weights: the labels are meaningless, the numbers are not)"
"$VIDAR" infer --model "$FIXTURES/r3d_18.pth" --input "$FIXTURES/r3d_18_2x16x112x112_input.npy" --output /tmp/vidar-demo-logits.npy
echo
echo "== the same logits from torchvision"
/usr/bin/python3 - "$FIXTURES" <<'PY'
import sys, numpy as np
f = sys.argv[1]
ours = np.load("/tmp/vidar-demo-logits.npy")
ref = np.load(f"{f}/r3d_18_2x16x112x112_logits.npy")
print(f"max |vidar - torchvision| = {np.abs(ours - ref).max():.2e}   (max |logit| = {np.abs(ref).max():.2f})")
print("top-5 equal:", all((np.argsort(-ours[i])[:5] == np.argsort(-ref[i])[:5]).all() for i in range(len(ref))))
PY
