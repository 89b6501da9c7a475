#!/usr/bin/env python3
"""bf16 in other engines on the clips of vidar-bench precision's videos: how often PyTorch (CPU autocast to
bfloat16) and OpenVINO (INFERENCE_PRECISION_HINT bf16) keep fp32's top-1 class, beside vidar's own rows. Each
engine is compared with its own fp32 answers on the same clips. The clips are cut by ffmpeg's fps and scale
filters (15 fps, 171×128, centre crop 112): close to vidar's sampling and resize, not byte-identical to them.

    /usr/bin/python3 precision_peers.py torch --arch r3d_18 --checkpoint C.pth --video V.mp4 --stride 2 --save DIR
        → one JSON line: clips, PyTorch bf16 agreement and max |Δlogit|, fp32's top-2 logit gaps; DIR/clips.npy, DIR/logits.npy
    .peers/venv/bin/python precision_peers.py openvino --onnx M.onnx --save DIR
        → one JSON line: OpenVINO bf16 agreement and max |Δlogit| against the fp32 logits in DIR
"""
import argparse
import json
import os
import subprocess

import numpy as np

MEAN = np.array([0.43216, 0.394666, 0.37645], np.float32)
STD = np.array([0.22803, 0.22145, 0.216989], np.float32)


def clips(video, stride, length=16):
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", video, "-vf", "fps=15,scale=171:128", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         capture_output=True, check=True).stdout
    frames = np.frombuffer(raw, np.uint8).reshape(-1, 128, 171, 3)[:, 8:120, 29:141]
    x = (frames.astype(np.float32) / 255 - MEAN) / STD
    return np.ascontiguousarray(np.stack([x[s:s + length] for s in range(0, len(x) - length + 1, stride)]).transpose(0, 4, 1, 2, 3))


def agreement(reference, other):
    return {"top1_agreement": float((reference.argmax(1) == other.argmax(1)).mean()), "max_abs_logit_change": float(np.abs(reference - other).max())}


def run_torch(a):
    import torch
    from torchvision.models.video import resnet
    torch.set_num_threads(a.threads)
    model = getattr(resnet, a.arch)(num_classes=400)
    model.load_state_dict(torch.load(a.checkpoint))
    model.eval()
    x = torch.from_numpy(clips(a.video, a.stride))
    with torch.no_grad():
        fp32 = torch.cat([model(x[i:i + 4]) for i in range(0, len(x), 4)]).numpy()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            bf16 = torch.cat([model(x[i:i + 4]).float() for i in range(0, len(x), 4)]).numpy()
    os.makedirs(a.save, exist_ok=True)
    np.save(os.path.join(a.save, "clips.npy"), x.numpy())
    np.save(os.path.join(a.save, "logits.npy"), fp32)
    top = np.sort(fp32, 1)
    gap = (top[:, -1] - top[:, -2]) / np.abs(fp32).max(1)
    # One rounding to bfloat16 moves a value by up to 2^-9 of it: fp32 top-2 gaps below that are ties at bf16.
    print(json.dumps({"clips": len(x), "pytorch-bf16": agreement(fp32, bf16), "median_max_abs_logit": float(np.median(np.abs(fp32).max(1))),
                      "share_top2_gap_below_bf16_rounding": float((gap < 2.0 ** -9).mean()),
                      "share_top2_gap_below_4_roundings": float((gap < 4 * 2.0 ** -9).mean())}), flush=True)


def run_openvino(a):
    import openvino as ov
    x = np.load(os.path.join(a.save, "clips.npy"))
    fp32 = np.load(os.path.join(a.save, "logits.npy"))
    core = ov.Core()
    result = {}
    for name, hint in (("openvino-f32", "f32"), ("openvino-bf16", "bf16")):
        compiled = core.compile_model(core.read_model(a.onnx), "CPU", {"INFERENCE_NUM_THREADS": a.threads, "INFERENCE_PRECISION_HINT": hint})
        request = compiled.create_infer_request()
        result[name] = agreement(fp32, np.concatenate([request.infer({0: x[i:i + 1]})[0] for i in range(len(x))]))
    print(json.dumps(result), flush=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("engine", choices=["torch", "openvino"])
    p.add_argument("--arch", default="r3d_18")
    p.add_argument("--checkpoint")
    p.add_argument("--video")
    p.add_argument("--stride", type=int, default=2)
    p.add_argument("--onnx")
    p.add_argument("--save", required=True)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    run_torch(a) if a.engine == "torch" else run_openvino(a)


if __name__ == "__main__":
    main()
