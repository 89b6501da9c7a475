#!/usr/bin/env python3
"""PyTorch peer for vidar-bench: times a torchvision video ResNet per clip, eager and frozen TorchScript.

Usage: /usr/bin/python3 Benchmarks/peers/torch_video_resnet.py --checkpoint C --input X.npy --threads 2 --runs 10
Prints one JSON object: per-run seconds for each mode, and the max |logit| difference between the modes.
"""
import argparse
import json
import time

import numpy as np
import torch
from torchvision.models.video import resnet as tvr


def timed(fn, x, warmup, runs):
    with torch.no_grad():
        for _ in range(warmup):
            fn(x)
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            out = fn(x)
            times.append(time.perf_counter() - t0)
    return times, out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--arch", default="r3d_18")
    p.add_argument("--input", required=True)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    model = getattr(tvr, a.arch)()
    model.load_state_dict(torch.load(a.checkpoint, map_location="cpu"))
    model.eval()
    x = torch.from_numpy(np.load(a.input))
    eager, out_eager = timed(model, x, a.warmup, a.runs)
    with torch.no_grad():
        frozen = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.script(model)))
    script, out_frozen = timed(frozen, x, a.warmup, a.runs)
    print(json.dumps({
        "torch": torch.__version__, "threads": torch.get_num_threads(),
        "eager_seconds": eager, "frozen_seconds": script,
        "frozen_vs_eager_max_abs_diff": float((out_eager - out_frozen).abs().max()),
    }))


if __name__ == "__main__":
    main()
