#!/usr/bin/env python3
"""PyTorch peer for vidar-bench engine: a torchvision video ResNet, eager and frozen TorchScript, timed on request.

    /usr/bin/python3 Benchmarks/peers/torch_video_resnet.py --arch r3d_18 --checkpoint C.pth --input X.npy --threads 2
        then, one per line on stdin:  run BATCH RUNS   →   one JSON line: {"pytorch-eager": [s, …], "pytorch-frozen-torchscript": [s, …]}
    … --export-onnx M.onnx            writes the model as ONNX (dynamic batch) for the OpenVINO / ONNX Runtime peer and exits

A long-lived process, so that vidar-bench can interleave its rounds with vidar's in one run. Each batch is the
input clip repeated BATCH times; seconds are per call (the whole batch).
"""
import argparse

import numpy as np
import torch
from torchvision.models.video import resnet as tvr

import peer_rounds


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--arch", default="r3d_18")
    p.add_argument("--input", required=True)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--export-onnx")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    model = getattr(tvr, a.arch)()
    model.load_state_dict(torch.load(a.checkpoint, map_location="cpu"))
    model.eval()
    x = torch.from_numpy(np.load(a.input))
    if a.export_onnx:
        with torch.no_grad():
            torch.onnx.export(model, x, a.export_onnx, opset_version=13, input_names=["clips"], output_names=["logits"],
                              dynamic_axes={"clips": {0: "batch"}, "logits": {0: "batch"}})
        return
    with torch.no_grad():
        frozen = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.script(model)))
    engines = {"pytorch-eager": model, "pytorch-frozen-torchscript": frozen}
    with torch.no_grad():
        peer_rounds.serve(engines, lambda batch: x.repeat(batch, 1, 1, 1, 1), a.warmup,
                          {"torch": torch.__version__, "threads": torch.get_num_threads()})


if __name__ == "__main__":
    main()
