#!/usr/bin/env bash
# Sets up vidar-bench's peers: OpenVINO and ONNX Runtime from PyPI in a git-ignored venv (.peers/venv), and the
# ONNX models exported from torchvision (Debian's python3-torch) for them. PyTorch itself is Debian's.
#   bash Benchmarks/peers/setup.sh [FIXTURES] [MODEL…]
set -euo pipefail
cd "$(dirname "$0")/../.."
fixtures=${1:-.fixtures}; shift || true
models=("${@:-r3d_18}")
venv=.peers/venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import openvino, onnxruntime" 2>/dev/null; then
    echo "peers: installing OpenVINO and ONNX Runtime from PyPI into $venv"
    /usr/bin/python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "openvino==2026.4.1" "onnxruntime==1.32.0" \
        || { echo "peers: pip could not install openvino/onnxruntime (is PyPI reachable?)" >&2; exit 69; }
fi
for m in "${models[@]}"; do
    onnx=.peers/$m.onnx
    if [ ! -s "$onnx" ] || [ "$fixtures/$m.pth" -nt "$onnx" ]; then
        echo "peers: exporting $m to ONNX"
        /usr/bin/python3 Benchmarks/peers/torch_video_resnet.py --arch "$m" --checkpoint "$fixtures/$m.pth" \
            --input "$fixtures/${m}_1x16x112x112_input.npy" --export-onnx "$onnx.tmp" && mv "$onnx.tmp" "$onnx"
    fi
done
