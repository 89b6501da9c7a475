#!/usr/bin/env python3
"""Generates vidar's reference fixtures with torchvision itself (Debian's python3-torch/python3-torchvision).

Run by `make fixtures` (and so by `make test`):  /usr/bin/python3 Tests/Fixtures/make_fixtures.py OUT_DIR
Everything is seeded, so the same torch version writes the same files. Nothing here is committed.
"""
import hashlib
import json
import os
import pickle
import shutil
import struct
import sys
import zipfile

import numpy as np
import torch
import torch.nn as nn
import torchvision
from torchvision.models.video import resnet as tvr
from torchvision.models import _meta

OUT = sys.argv[1] if len(sys.argv) > 1 else ".fixtures"
STAMP = "stamp-v2"  # bump when this script's outputs change

# (batch, clip length, height, width): batch 1 and 2, clip lengths 8 and 16, an odd crop, a one-frame clip.
CASES = [(1, 16, 112, 112), (2, 8, 112, 112), (2, 16, 112, 112), (1, 8, 97, 123), (1, 1, 64, 64)]


def randomise(model, seed):
    """Seeded weights with non-trivial BatchNorm statistics and affine terms, so folding is really exercised."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv3d):
                fan_in = m.weight[0].numel()
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * (2.0 / fan_in) ** 0.5)
            elif isinstance(m, nn.BatchNorm3d):
                c = m.num_features
                m.weight.copy_(torch.rand(c, generator=g) * 1.0 + 0.5)
                m.bias.copy_(torch.randn(c, generator=g) * 0.2)
                m.running_mean.copy_(torch.randn(c, generator=g) * 0.2)
                m.running_var.copy_(torch.rand(c, generator=g) * 1.5 + 0.5)
            elif isinstance(m, nn.Linear):
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * 0.05)
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
    return model.eval()


class TinyVideoResNet(tvr.VideoResNet):
    """A small member of torchvision's family: torchvision's own blocks and _make_layer, smaller widths."""

    def __init__(self, conv_makers, layers, widths, stem_width, num_classes):
        nn.Module.__init__(self)
        self.inplanes = stem_width
        self.stem = nn.Sequential(
            nn.Conv3d(3, stem_width, kernel_size=(3, 7, 7), stride=(1, 2, 2), padding=(1, 3, 3), bias=False),
            nn.BatchNorm3d(stem_width), nn.ReLU(inplace=True))
        for i, (maker, n, w) in enumerate(zip(conv_makers, layers, widths)):
            setattr(self, f"layer{i + 1}", self._make_layer(tvr.BasicBlock, maker, w, n, stride=1 if i == 0 else 2))
        self.avgpool = nn.AdaptiveAvgPool3d((1, 1, 1))
        self.fc = nn.Linear(widths[-1], num_classes)


def tiny():
    return TinyVideoResNet([tvr.Conv3DSimple, tvr.Conv3DNoTemporal, tvr.Conv2Plus1D, tvr.Conv3DSimple],
                           [1, 2, 1, 1], [8, 16, 16, 24], 8, 5)


ST_DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16"}


def save_safetensors(state_dict, path, metadata=None):
    """The safetensors layout, written directly: 8-byte header length, JSON header, raw little-endian data."""
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, t in state_dict.items():
        if name.endswith("num_batches_tracked"):
            continue
        t = t.contiguous()
        raw = t.view(torch.int16).numpy().tobytes() if t.dtype == torch.bfloat16 else t.numpy().tobytes()
        header[name] = {"dtype": ST_DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    js = json.dumps(header).encode()
    js += b" " * (-(8 + len(js)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(js)))
        f.write(js)
        for b in blobs:
            f.write(b)


def seeded_input(case, seed):
    n, t, h, w = case
    g = torch.Generator().manual_seed(seed)
    return torch.randn((n, 3, t, h, w), generator=g)


def write_cases(model, name, cases, seed):
    with torch.no_grad():
        for i, case in enumerate(cases):
            x = seeded_input(case, seed + i)
            tag = "x".join(map(str, case))
            np.save(f"{OUT}/{name}_{tag}_input.npy", x.numpy())
            np.save(f"{OUT}/{name}_{tag}_logits.npy", model(x).numpy())


def zip_pickle(path, payload):
    """A zip laid out like torch.save's, holding an arbitrary data.pkl."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", payload)
        z.writestr("archive/version", "3\n")


def zip64_copy(src, dst):
    """Rewrites a stored zip with zip64 records throughout (as torch.save does for files over 4 GiB):
    saturated 32-bit fields, zip64 extra fields in the central directory, zip64 end record and locator."""
    out, central = bytearray(), bytearray()
    with zipfile.ZipFile(src) as z:
        infos = z.infolist()
        for info in infos:
            data = z.read(info)
            name = info.filename.encode()
            offset = len(out)
            crc = zipfile.crc32(data)
            extra = struct.pack("<HHQQ", 1, 16, len(data), len(data))
            out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 0, 0, 0, crc, 0xFFFFFFFF, 0xFFFFFFFF, len(name), len(extra))
            out += name + extra + data
            cextra = struct.pack("<HHQQQ", 1, 24, len(data), len(data), offset)
            central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 0, 0, 0, crc, 0xFFFFFFFF, 0xFFFFFFFF,
                                   len(name), len(cextra), 0, 0, 0, 0, 0xFFFFFFFF)
            central += name + cextra
    cd_offset = len(out)
    out += central
    z64 = len(out)
    out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, len(infos), len(infos), len(central), cd_offset)
    out += struct.pack("<IIQI", 0x07064B50, 0, z64, 1)
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    open(dst, "wb").write(out)
    with zipfile.ZipFile(dst) as z:  # Python's own reader must agree it is a valid zip64 archive
        assert sorted(z.namelist()) == sorted(i.filename for i in infos)
        assert z.read(infos[0]) == zipfile.ZipFile(src).read(infos[0])


def bundled_model_fixture():
    """Logits of the committed bundled model (Sources/Vidar/Resources) from PyTorch, rewritten on every run so a
    retrained model is always checked against its own weights."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.path.insert(0, os.path.join(root, "tools", "actions"))
    from train import SmallVideoResNet, CONFIG, load_safetensors
    state = load_safetensors(os.path.join(root, "Sources", "Vidar", "Resources", "vidar-actions.safetensors"))
    model = SmallVideoResNet(CONFIG["widths"], CONFIG["blocks"], CONFIG["stemWidth"], CONFIG["numClasses"]).eval()
    missing = model.load_state_dict(state, strict=False)
    assert not missing.unexpected_keys and all(k.endswith("num_batches_tracked") for k in missing.missing_keys), missing
    x = seeded_input((2, 16, 112, 112), 4242)
    with torch.no_grad():
        np.save(f"{OUT}/vidar_actions_input.npy", x.numpy())
        np.save(f"{OUT}/vidar_actions_logits.npy", model(x).numpy())


def main():
    os.makedirs(OUT, exist_ok=True)
    bundled_model_fixture()
    if os.path.exists(f"{OUT}/{STAMP}.done"):
        print(f"fixtures in {OUT} are up to date")
        return
    torch.set_num_threads(2)
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}: writing fixtures to {OUT}", flush=True)

    # The three torchvision networks, fp32, in both file formats, with logits for every case.
    for seed, name in enumerate(["r3d_18", "mc3_18", "r2plus1d_18"]):
        model = randomise(getattr(tvr, name)(), 1000 + seed)
        sd = model.state_dict()
        torch.save(sd, f"{OUT}/{name}.pth")
        save_safetensors(sd, f"{OUT}/{name}.safetensors")
        write_cases(model, name, CASES, 2000 + 10 * seed)
        print(f"  {name}: {sum(p.numel() for p in model.parameters())} parameters", flush=True)

    # Half and bfloat16 checkpoints of mc3_18; the reference runs the same rounded weights in float32.
    base = randomise(tvr.mc3_18(), 1001).state_dict()
    for dtype, tag in [(torch.float16, "f16"), (torch.bfloat16, "bf16")]:
        low = {k: (v.to(dtype) if v.is_floating_point() else v) for k, v in base.items()}
        torch.save(low, f"{OUT}/mc3_18_{tag}.pth")
        save_safetensors(low, f"{OUT}/mc3_18_{tag}.safetensors")
        rounded = tvr.mc3_18().eval()
        rounded.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in low.items()})
        write_cases(rounded, f"mc3_18_{tag}", [CASES[0]], 2010)

    # A tiny custom member of the family (fast CLI tests) and damaged variants of it.
    model = randomise(tiny(), 7)
    sd = model.state_dict()
    torch.save(sd, f"{OUT}/tiny.pth")
    save_safetensors(sd, f"{OUT}/tiny.safetensors")
    write_cases(model, "tiny", [(2, 8, 32, 40)], 3000)
    torch.save(sd, f"{OUT}/tiny_legacy.pth", _use_new_zipfile_serialization=False)
    raw = open(f"{OUT}/tiny.pth", "rb").read()
    open(f"{OUT}/tiny_truncated.pth", "wb").write(raw[: len(raw) // 2])
    raw = open(f"{OUT}/tiny.safetensors", "rb").read()
    open(f"{OUT}/tiny_truncated.safetensors", "wb").write(raw[: len(raw) - 1000])
    bad = dict(sd)
    bad["layer3.0.downsample.0.weight"] = torch.zeros(16, 16, 3, 3, 3)
    torch.save(bad, f"{OUT}/tiny_wrong_shape.pth")
    bad = {k: v for k, v in sd.items() if k not in ("fc.bias", "layer1.0.conv2.1.running_var")}
    bad["extra.weight"] = torch.zeros(3)
    torch.save(bad, f"{OUT}/tiny_missing_keys.pth")
    bad = dict(sd)
    bad["fc.weight"] = sd["fc.weight"].t().contiguous().t()  # same values, column-major strides: must be honoured
    assert not bad["fc.weight"].is_contiguous()
    torch.save(bad, f"{OUT}/tiny_transposed_fc.pth")
    torch.save(model, f"{OUT}/tiny_whole_model.pth")  # a pickled nn.Module, not a state_dict

    zip64_copy(f"{OUT}/tiny.pth", f"{OUT}/tiny_zip64.pth")

    # Pickles that would run code if a loader executed them. The sentinel proves what they would do.
    sentinel = os.path.abspath(f"{OUT}/PWNED")
    for module, fn, arg in [("os", "system", f"touch {sentinel}"),
                            ("builtins", "eval", f"open({sentinel!r}, 'w').close()")]:
        payload = (b"\x80\x02c" + module.encode() + b"\n" + fn.encode() + b"\nq\x00X" +
                   struct.pack("<I", len(arg)) + arg.encode() + b"\x85R.")
        pickle.loads(payload)  # our own payload: check it really executes, then remove its trace
        assert os.path.exists(sentinel), f"{module}.{fn} payload did not run"
        os.remove(sentinel)
        zip_pickle(f"{OUT}/evil_{module}_{fn}.pth", payload)

    # Kinetics-400 names in torchvision's order, to check the labels that ship with vidar.
    open(f"{OUT}/kinetics400_labels.txt", "w").write("\n".join(_meta._KINETICS400_CATEGORIES) + "\n")

    # Files served by a loopback HTTP server in the `models fetch` tests.
    os.makedirs(f"{OUT}/serve", exist_ok=True)
    raw = open(f"{OUT}/tiny.pth", "rb").read()
    good = f"tiny-{hashlib.sha256(raw).hexdigest()[:8]}.pth"
    open(f"{OUT}/serve/{good}", "wb").write(raw)
    open(f"{OUT}/serve/r3d_18-b3b3357e.pth", "wb").write(raw)  # right name, wrong bytes: must be rejected
    json.dump({"good": good, "sha256": hashlib.sha256(raw).hexdigest()}, open(f"{OUT}/serve/manifest.json", "w"))

    open(f"{OUT}/{STAMP}.done", "w").write("ok\n")
    print("fixtures done", flush=True)


if __name__ == "__main__":
    main()
