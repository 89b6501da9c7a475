#!/usr/bin/env python3
"""Trains vidar's bundled action model: a small member of torchvision's VideoResNet family (torchvision's own
blocks and _make_layer, reduced widths), on clips from actiongen.py, on the CPU with Debian's python3-torch.

    /usr/bin/python3 tools/actions/train.py Sources/Vidar/Resources/vidar-actions.safetensors

Deterministic: fixed seeds for weights, data order and every rendered clip; validation clips use other seeds.
Writes the weights as safetensors with metadata (architecture, labels, preprocessing, sampling, version) and a
report (accuracy, time) beside them.
"""
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
from torchvision.models.video import resnet as tvr

sys.path.insert(0, os.path.dirname(__file__))
import actiongen  # noqa: E402

OUT = sys.argv[1] if len(sys.argv) > 1 else "Sources/Vidar/Resources/vidar-actions.safetensors"
VERSION = "1"
TRAIN_PER_CLASS, VAL_PER_CLASS, EPOCHS, BATCH = 220, 40, 16, 16
MEAN = np.array([0.43216, 0.394666, 0.37645], np.float32)
STD = np.array([0.22803, 0.22145, 0.216989], np.float32)
CONFIG = {"stem": "basic", "stemWidth": 8, "stemMidWidth": 45, "convKinds": ["conv3d"] * 4, "blocks": [1, 1, 1, 1],
          "widths": [8, 16, 32, 64], "numClasses": len(actiongen.ACTIONS), "inputChannels": 3}


class SmallVideoResNet(tvr.VideoResNet):
    """torchvision's VideoResNet with a narrower stem and stages (the same keys and blocks)."""

    def __init__(self, widths, blocks, stem_width, num_classes):
        nn.Module.__init__(self)
        self.inplanes = stem_width
        self.stem = nn.Sequential(
            nn.Conv3d(3, stem_width, kernel_size=(3, 7, 7), stride=(1, 2, 2), padding=(1, 3, 3), bias=False),
            nn.BatchNorm3d(stem_width), nn.ReLU(inplace=True))
        for i, (w, n) in enumerate(zip(widths, blocks)):
            setattr(self, f"layer{i + 1}", self._make_layer(tvr.BasicBlock, tvr.Conv3DSimple, w, n, stride=1 if i == 0 else 2))
        self.avgpool = nn.AdaptiveAvgPool3d((1, 1, 1))
        self.fc = nn.Linear(widths[-1], num_classes)


def preprocess(frames):
    """(T, 128, 171, 3) uint8 → (3, T, 112, 112): the R3D-18 preset (resize to 128×171 is the identity here)."""
    top, left = 8, 30
    x = frames[:, top:top + 112, left:left + 112].astype(np.float32) / 255
    return ((x - MEAN) / STD).transpose(3, 0, 1, 2)


def dataset(per_class, seed_base):
    xs, ys = [], []
    for c, action in enumerate(actiongen.ACTIONS):
        for k in range(per_class):
            xs.append(preprocess(actiongen.clip(seed_base + c * 100_000 + k, action)))
            ys.append(c)
    return torch.from_numpy(np.stack(xs)), torch.tensor(ys)


def save_safetensors(model, path, metadata):
    import struct
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for name, t in model.state_dict().items():
        if name.endswith("num_batches_tracked"):
            continue
        raw = t.contiguous().float().numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    js = json.dumps(header).encode()
    js += b" " * (-(8 + len(js)) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(js)) + js + b"".join(blobs))
    os.replace(path + ".tmp", path)


def main():
    torch.manual_seed(0)
    torch.set_num_threads(2)
    t0 = time.time()
    xtr, ytr = dataset(TRAIN_PER_CLASS, 0)
    xva, yva = dataset(VAL_PER_CLASS, 50_000_000)
    render = time.time() - t0
    print(f"rendered {len(ytr)} train / {len(yva)} validation clips in {render:.0f} s", flush=True)
    model = SmallVideoResNet(CONFIG["widths"], CONFIG["blocks"], CONFIG["stemWidth"], CONFIG["numClasses"])
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    steps = EPOCHS * math.ceil(len(ytr) / BATCH)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    g = torch.Generator().manual_seed(1)
    history = []
    for epoch in range(EPOCHS):
        model.train()
        order = torch.randperm(len(ytr), generator=g)
        total, correct, loss_sum = 0, 0, 0.0
        for i in range(0, len(order), BATCH):
            idx = order[i:i + BATCH]
            x, y = xtr[idx], ytr[idx]
            if torch.rand(1, generator=g).item() < 0.5:   # mirror: walking directions swap with it
                x = x.flip(-1)
                y = y.clone()
                wl, wr = actiongen.ACTIONS.index("walking_left"), actiongen.ACTIONS.index("walking_right")
                y[ytr[idx] == wl], y[ytr[idx] == wr] = wr, wl
            out = model(x)
            loss = nn.functional.cross_entropy(out, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += loss.item() * len(y)
            correct += (out.argmax(1) == y).sum().item()
            total += len(y)
        model.eval()
        with torch.no_grad():
            val = sum((model(xva[i:i + 64]).argmax(1) == yva[i:i + 64]).sum().item() for i in range(0, len(yva), 64)) / len(yva)
        history.append({"epoch": epoch + 1, "train_loss": loss_sum / total, "train_accuracy": correct / total, "val_accuracy": val})
        print(json.dumps(history[-1]), flush=True)
    metadata = {
        "vidar.config": json.dumps(CONFIG),
        "vidar.labels": json.dumps(actiongen.ACTIONS),
        "vidar.preprocessing": json.dumps({"transform": {"resize": [128, 171], "crop": [112, 112], "mean": MEAN.tolist(), "std": STD.tolist()},
                                           "sampling": {"fps": 15, "clipLength": 16, "stride": 8}}),
        "vidar.version": VERSION,
        "vidar.training": json.dumps({"train_clips": len(ytr), "val_clips": len(yva), "epochs": EPOCHS, "history": history,
                                      "seconds": time.time() - t0, "threads": 2, "torch": torch.__version__}),
    }
    save_safetensors(model, OUT, metadata)
    report = {"val_accuracy": history[-1]["val_accuracy"], "seconds": time.time() - t0, "history": history,
              "parameters": sum(p.numel() for p in model.parameters())}
    json.dump(report, open(OUT.rsplit(".", 1)[0] + ".report.json", "w"), indent=1)
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
