#!/usr/bin/env python3
"""Trains vidar's bundled action model: a small member of torchvision's VideoResNet family (torchvision's own
blocks and _make_layer, reduced widths), on clips from actiongen.py, on the CPU with Debian's python3-torch.

    /usr/bin/python3 tools/actions/train.py Sources/Vidar/Resources/vidar-actions.safetensors

Eight classes: the seven actions and a background class, `no_action`, learnt from content without anybody
(backgrounds.py) and mapped by vidar's aggregator to no segment. Every clip reaches the model the way a user's
video does (transcode.py): rendered at a random frame rate, scaled to a random size, encoded with a random codec
and quality, decoded, sampled at 15 fps and resized back.

The convolutions train in bf16 on the CPU's bf16 units (AVX512_BF16 or AMX; elsewhere `--fp32`, other weights).
Deterministic: fixed seeds for weights, data order and every rendered clip and encoding (seeds.py: training and
validation use their own ranges). Rendering uses two processes; results do not depend on their scheduling.
Writes the weights as safetensors with metadata (architecture, labels, preprocessing, sampling, the aggregator
settings tuned for them, version) and a report (accuracy, time) beside them.
"""
import hashlib
import json
import math
import multiprocessing
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
from torchvision.models.video import resnet as tvr

sys.path.insert(0, os.path.dirname(__file__))
import actiongen  # noqa: E402
import backgrounds  # noqa: E402
import seeds  # noqa: E402
import transcode  # noqa: E402
import widen  # noqa: E402

OUT = sys.argv[1] if len(sys.argv) > 1 else "Sources/Vidar/Resources/vidar-actions.safetensors"
VERSION = "5"
TRAIN_PER_CLASS, VAL_PER_CLASS, EPOCHS, BATCH = 260, 40, 24, 16
# Training starts from version 1 of this model (7 actions, easy clips; tools/actions/init, made by this script's
# version 1 at commit ea76940 in 19 minutes). From random weights the network stays at chance on this harder data
# for 4+ epochs (measured: loss ln 8 after 4 epochs, also with a warm-up on the easy clips alone); from version 1
# it starts from figures it already finds. The background class's weights start at zero.
INIT = os.path.join(os.path.dirname(__file__), "init", "vidar-actions-v1.safetensors")
BACKGROUND_SHARE = {"scene": 0.35, "texture": 0.2, "pattern": 0.15, "footage": 0.3}   # of the background class's clips
BACKGROUND_FACTOR = 2.0   # the background class has more clips than an action: it covers more kinds of content
CACHE = os.path.join(os.path.dirname(__file__), "..", "..", ".cache", "actions-data")
CACHE_KEEP = 2   # rendered sets kept per purpose, the most recently used (a training set is 2.4 GB)
MEAN = np.array([0.43216, 0.394666, 0.37645], np.float32)
STD = np.array([0.22803, 0.22145, 0.216989], np.float32)
CONFIG = {"stem": "basic", "stemWidth": 8, "stemMidWidth": 45, "convKinds": ["conv3d"] * 4, "blocks": [1, 1, 1, 1],
          "widths": [8, 16, 32, 64], "numClasses": len(actiongen.LABELS), "inputChannels": 3}
# The aggregator settings vidar uses with this model unless told otherwise (metadata `vidar.aggregator`): chosen for
# this version's weights by Benchmarks/eval/tune_aggregator.py on its own tuning set (seed range "tune", never make
# eval's); a retrained model is tuned again. Keys as serve's settings; the ones left out take vidar's defaults.
AGGREGATOR = {"smooth": "ma:2", "patience": 3, "margin": 0.1, "threshold": 0.35, "min_duration": 1.0}


def option(name):
    """The value after `name` on the command line, or None: experiments only; the shipped model uses no options."""
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv[2:-1] else None


def flag(name):
    """Whether `name` is on the command line after OUT (an experiment's switch)."""
    return name in sys.argv[2:]


# `train.py OUT --widths 12,24,48,96`: wider stages (the stem takes layer1's width), started from version 1 widened
# (widen.py). `--epochs N`: a longer or shorter schedule.
if option("--widths"):
    CONFIG["widths"] = [int(w) for w in option("--widths").split(",")]
    CONFIG["stemWidth"] = CONFIG["widths"][0]
EPOCHS = int(option("--epochs") or EPOCHS)
# `--hard`: training clips draw the generator's hard appearances more often (validation keeps the evaluation's mix).
HARD_APPEARANCE = {"colours": {"random": 0.35, "low": 0.45, "dark": 0.2}, "occluded": 0.35, "occluded_empty": 0.0}
TRAIN_APPEARANCE = HARD_APPEARANCE if flag("--hard") else actiongen.APPEARANCE


def with_empty_occluders(mix):
    """`mix`, but that a scene with nobody has an occluder as often as one with a figure. In the evaluation's long
    videos a post stays through the empty stretches; trained on boxes only in front of figures, version 5 labelled
    such a stretch an action (the README's model card has the measurements)."""
    return {**mix, "occluded_empty": mix["occluded"]}


# `--occluded-empty`: training's empty scenes get occluders too (an experiment; not in the shipped version 5).
if flag("--occluded-empty"):
    TRAIN_APPEARANCE = with_empty_occluders(TRAIN_APPEARANCE)
# `--visible`: training keeps only action clips that show what they are labelled (clip_visibility): at least
# actiongen.IN_VIEW (0.3) of the figure's pixels and, but for standing still, of the pixels its motion sweeps, inside
# the crop and not behind the occluder. Below that version 5 got fewer than half of its own training clips right:
# an action behind a box or outside the crop looks like standing or nobody. Validation keeps all.
VISIBLE_ONLY = flag("--visible")
# A stride-1 convolution's input gradient is computed as a forward convolution (below; on since version 5).
INPUT_GRAD_AS_CONV = True
# Training's convolutions run in bfloat16 (CPU autocast; the weights, optimizer and BatchNorm statistics stay fp32):
# oneDNN runs them on the CPU's bf16 units (AVX512_BF16, AMX) in about half the time of fp32. On since version 5;
# `--fp32` trains without (other weights, and about twice the time).
BF16 = not flag("--fp32")


def cpuinfo(field):
    """The first value of `field` in /proc/cpuinfo ("model name", "flags"), or None."""
    return next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith(field)), None)


def cpu_has_bf16():
    """Whether the CPU has bf16 arithmetic (without it oneDNN emulates bf16, slower than fp32, or refuses)."""
    flags = (cpuinfo("flags") or "").split()
    return "avx512_bf16" in flags or "amx_bf16" in flags


def folded_weight_grad(x, g, weight_shape, stride, padding):
    """The gradient of a conv3d's weight, computed as a conv2d's: the kernel's time taps folded into the input
    channels (X'[n·t, (kt, i)] = x[n, i, stride·t + kt − padding]). The same sums as conv3d's own weight gradient,
    grouped differently; PyTorch's oneDNN takes 3.5× as long for this network's 8-channel 3D layers, where most
    of a training step went (a step: 1.42 → about 1.05 s). Both operands are built channels-last (oneDNN's fast
    layout) in one copy each."""
    n, cin, t_in, h, w = x.shape
    cout, _, kt, kh, kw = weight_shape
    t_out, st, pt = g.shape[2], stride[0], padding[0]
    xl = x.permute(0, 2, 3, 4, 1)                                          # N, T, H, W, C (a view)
    folded = x.new_empty(n, t_out, h, w, kt, cin)
    for k in range(kt):
        lo = max(0, -((k - pt) // st))                                     # first t' with st·t' + k − pt ≥ 0
        hi = min(t_out, (t_in - 1 - k + pt) // st + 1)                     # one past the last inside the clip
        folded[:, :lo, :, :, k].zero_()
        folded[:, hi:, :, :, k].zero_()
        if hi > lo:
            folded[:, lo:hi, :, :, k] = xl[:, st * lo + k - pt:st * (hi - 1) + k - pt + 1:st]
    xf = folded.view(n * t_out, h, w, kt * cin).permute(0, 3, 1, 2)      # channels-last (N·T', kt·C, H, W)
    gf = g.permute(0, 2, 3, 4, 1).reshape(n * t_out, *g.shape[3:], cout).permute(0, 3, 1, 2)
    w2 = torch.empty(cout, kh, kw, kt * cin).permute(0, 3, 1, 2)
    gw = torch.ops.aten.convolution_backward(gf, xf, w2, None, list(stride[1:]), list(padding[1:]), [1, 1], False, [0, 0], 1,
                                             [False, True, False])[1]
    return gw.reshape(cout, kt, cin, kh, kw).transpose(1, 2).contiguous()


class _FoldedConv3dFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, stride, padding):
        ctx.save_for_backward(x, weight)
        ctx.stride, ctx.padding = stride, padding
        return nn.functional.conv3d(x, weight, None, stride, padding)

    @staticmethod
    def backward(ctx, g):
        x, weight = ctx.saved_tensors
        g = g.contiguous()
        # Folded where it is faster (measured: layer1's 8→8 233 → 67 ms, layer2's first 60 → 33 ms a batch of 16;
        # in bf16 the stem too, 210 → 65 ms, but not in fp32, 160 → 218 ms); not the 1×1×1 downsamples (no time
        # taps; oneDNN's channels-last conv2d crashes on their strided weight gradient).
        fold = weight.shape[2] > 1 and (weight.shape[1] >= 8 or weight.dtype == torch.bfloat16)
        # A stride-1 "same" convolution's input gradient is the output gradient convolved with the kernel flipped in
        # space and time, its input and output channels swapped: oneDNN's forward pass does that in about half the
        # time of its backward-data pass (layer1's 8→8: 101 → 53 ms a batch of 16).
        as_conv = (INPUT_GRAD_AS_CONV and ctx.needs_input_grad[0] and all(s == 1 for s in ctx.stride)
                   and list(ctx.padding) == [k // 2 for k in weight.shape[2:]])
        gi, gw = torch.ops.aten.convolution_backward(g, x, weight, None, list(ctx.stride), list(ctx.padding), [1, 1, 1], False,
                                                     [0, 0, 0], 1, [ctx.needs_input_grad[0] and not as_conv,
                                                                    ctx.needs_input_grad[1] and not fold, False])[:2]
        if as_conv:
            gi = nn.functional.conv3d(g, weight.flip(2, 3, 4).transpose(0, 1), None, 1, ctx.padding)
        if ctx.needs_input_grad[1] and fold:
            gw = folded_weight_grad(x, g, weight.shape, ctx.stride, ctx.padding)
        return gi, gw, None, None


class FoldedConv3d(nn.Conv3d):
    """nn.Conv3d (no bias, no groups, no dilation, as every convolution here) whose weight gradient is
    `folded_weight_grad`'s: the same module, keys and forward; only training's backward pass is faster."""

    def forward(self, x):
        weight = self.weight
        if torch.is_autocast_cpu_enabled():   # autocast does not reach into a custom Function: cast as it would
            dtype = torch.get_autocast_cpu_dtype()
            x, weight = x.to(dtype), weight.to(dtype)
        return _FoldedConv3dFunction.apply(x, weight, self.stride, self.padding)


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
        for m in self.modules():
            if type(m) is nn.Conv3d or type(m) is tvr.Conv3DSimple:
                assert m.bias is None and m.groups == 1 and m.dilation == (1, 1, 1), m
                m.__class__ = FoldedConv3d


def network():
    """The configured network (CONFIG's widths and blocks), as training builds it."""
    return SmallVideoResNet(CONFIG["widths"], CONFIG["blocks"], CONFIG["stemWidth"], CONFIG["numClasses"])


CROP = tuple(s.start for s in actiongen.MODEL_VIEW)   # the centre 112×112 crop of a 128×171 frame (top, left)
CROP_JITTER = (8, 16)     # training crops move up to this far from the centre (rows, columns)
LOW_CONTRAST = (0.25, 0.5)   # share of training clips whose contrast shrinks towards their mean, and the least factor
DARKEN = (0.15, 0.3)         # share of training clips made darker, and the least gain
# On since version 4 (validation 90.3 %; version 3, without: 87.8 %). Version 3 left it out when training with
# it took 63 minutes; the folded weight gradient brought it under the hour — see the README's model card.
AUGMENT = True


def to_input(frames, g=None):
    """(B, T, 128, 171, 3) uint8 → (B, 3, T, 112, 112) normalised, as vidar's transform does (the resize to
    128×171 is the identity here). With a generator (training, when AUGMENT is on): augmentation drawn from it — a
    crop off the centre, and per clip a lower contrast or a darker exposure, so that the generator's hard cases (a
    figure close to its background's colour, dark on dark) come in more variants than the renders alone give."""
    top, left = CROP
    if g is None or not AUGMENT:
        # Channels first while still uint8 (a quarter of the bytes to move), then the same float steps as ever.
        x = frames[:, :, top:top + 112, left:left + 112].permute(0, 4, 1, 2, 3).contiguous().float().div_(255)
        return x.sub_(torch.from_numpy(MEAN).view(3, 1, 1, 1)).div_(torch.from_numpy(STD).view(3, 1, 1, 1))
    n = len(frames)
    dy = torch.randint(-CROP_JITTER[0], CROP_JITTER[0] + 1, (n,), generator=g)
    dx = torch.randint(-CROP_JITTER[1], CROP_JITTER[1] + 1, (n,), generator=g)
    x = torch.stack([f[:, top + a:top + a + 112, left + b:left + b + 112] for f, a, b in zip(frames, dy.tolist(), dx.tolist())])
    r = torch.rand(n, 4, generator=g)
    contrast = torch.where(r[:, 0] < LOW_CONTRAST[0], LOW_CONTRAST[1] + (1 - LOW_CONTRAST[1]) * r[:, 1], torch.ones(n)).view(n, 1)
    gain = torch.where(r[:, 2] < DARKEN[0], DARKEN[1] + (1 - DARKEN[1]) * r[:, 3], torch.ones(n)).view(n, 1)
    # Contrast and gain fold into one affine map per clip and channel, applied once to the uint8 values: done as
    # separate element-wise passes they cost 87 s an epoch; this way 8 ms a batch over the plain path.
    channel_mean = x[:, ::2, ::4, ::4].float().mean(dim=(1, 2, 3)) / 255          # (n, 3), from a subsample
    mean, std = torch.from_numpy(MEAN), torch.from_numpy(STD)
    scale = contrast * gain / (255 * std)
    shift = (channel_mean * gain * (1 - contrast) - mean) / std
    x = x.permute(0, 4, 1, 2, 3).contiguous().float()
    return x.mul_(scale.view(n, 3, 1, 1, 1)).add_(shift.view(n, 3, 1, 1, 1))


def shows_its_action(job):
    seed, action, appearance = job
    return actiongen.shows_its_action(action, *actiongen.clip_visibility(seed, action, CLIP_SECONDS, actiongen.MODEL_VIEW,
                                                                         appearance=appearance))


def action_seeds(purpose, c, per_class, appearance, visible_only):
    """The first `per_class` seeds of class c's range (with `visible_only`, of those whose clip shows its action)."""
    if not visible_only:
        return [seeds.seed(purpose, c * 100_000 + k) for k in range(per_class)]
    out, k = [], 0
    with multiprocessing.get_context("fork").Pool(2) as pool:
        while len(out) < per_class:
            batch = [seeds.seed(purpose, c * 100_000 + k + i) for i in range(per_class // 4)]
            ok = pool.map(shows_its_action, [(s, actiongen.LABELS[c], appearance) for s in batch], chunksize=8)
            out += [s for s, keep in zip(batch, ok) if keep]
            k += len(batch)
    return out[:per_class]


def jobs(per_class, purpose, appearance=actiongen.APPEARANCE, visible_only=False):
    """(seed, class, kind) of every clip: actions by class, the background class split over its kinds."""
    out = []
    for c, label in enumerate(actiongen.LABELS):
        if label != actiongen.NO_ACTION:
            out += [(s, c, "action") for s in action_seeds(purpose, c, per_class, appearance, visible_only)]
            continue
        k = 0
        for kind, share in BACKGROUND_SHARE.items():
            for _ in range(int(round(per_class * BACKGROUND_FACTOR * share))):
                out.append((seeds.seed(purpose, c * 100_000 + k), c, kind))
                k += 1
    return out


ROUND_TRIP_CLIPS = 8   # clips sharing one encoding (one file, one encoder start; a keyframe at each clip)
CLIP_SECONDS = 16 / actiongen.FPS + 0.1   # a clip's 16 frames, with room for resampling from another frame rate


def clip_encoding(first_seed):
    """The random round trip of the clips rendered together, picked by the first one's seed."""
    return transcode.random_encoding(np.random.default_rng([first_seed, 1]))


def render(job):
    """Clips through one random round trip (the first clip's seed picks it; each clip's seed its content)."""
    appearance, batch = job
    enc = clip_encoding(batch[0][0])
    clips = []
    for seed, c, kind in batch:
        if kind in ("action", "scene"):   # a scene is the generator's with nobody (the background class's label)
            clips.append(actiongen.clip_frames(seed, actiongen.LABELS[c], CLIP_SECONDS, enc["fps"], appearance))
        else:
            clips.append(backgrounds.frames(kind, seed, CLIP_SECONDS, enc["fps"]))
    return transcode.round_trip(clips, enc)


def dataset(per_class, purpose):
    appearance = TRAIN_APPEARANCE if purpose == "train" else actiongen.APPEARANCE
    todo = jobs(per_class, purpose, appearance, VISIBLE_ONLY and purpose == "train")
    # Rendered clips are cached by what decides them: the generator's code and footage list, the clips' seeds, kinds
    # and appearance mix.
    sources = [os.path.join(os.path.dirname(__file__), f) for f in ("actiongen.py", "backgrounds.py", "seeds.py", "transcode.py")]
    key = hashlib.sha256(b"".join(open(f, "rb").read() for f in sources) + repr((todo, ROUND_TRIP_CLIPS, appearance)).encode()).hexdigest()[:16]
    cached = os.path.join(CACHE, f"{purpose}-{key}.npz")
    if os.path.exists(cached):
        z = np.load(cached)
        frames, ys = z["frames"], z["labels"]
        os.utime(cached)   # used now: pruning keeps it
    else:
        for name in seeds.TRAIN_FOOTAGE:                         # fetch once, before the workers start
            backgrounds.footage_file(name)
        batches = [(appearance, todo[i:i + ROUND_TRIP_CLIPS]) for i in range(0, len(todo), ROUND_TRIP_CLIPS)]
        with multiprocessing.get_context("fork").Pool(2) as pool:
            frames = np.stack([clip for rendered in pool.map(render, batches, chunksize=1) for clip in rendered])
        ys = np.array([c for _, c, _ in todo])
        os.makedirs(CACHE, exist_ok=True)
        np.savez(cached + ".tmp.npz", frames=frames, labels=ys)
        os.replace(cached + ".tmp.npz", cached)
    prune_cache(purpose)
    return torch.from_numpy(frames), torch.from_numpy(ys).long()


def prune_cache(purpose, keep=CACHE_KEEP):
    """Deletes the cached sets of a purpose but the `keep` most recently used: every change to the generator or the
    mix renders a new set, and nothing else removes the old ones. Sets still being written are left alone."""
    names = [n for n in os.listdir(CACHE) if n.startswith(f"{purpose}-") and n.endswith(".npz") and not n.endswith(".tmp.npz")]
    paths = sorted((os.path.join(CACHE, n) for n in names), key=os.path.getmtime, reverse=True)
    for path in paths[keep:]:
        os.remove(path)


def _safetensors_header(f):
    """The header of the safetensors file open as `f` (read from its start) and its length in bytes."""
    import struct
    n = struct.unpack("<Q", f.read(8))[0]
    return json.loads(f.read(n)), n


def safetensors_metadata(path):
    """A safetensors file's metadata (string to string)."""
    with open(path, "rb") as f:
        return _safetensors_header(f)[0].get("__metadata__", {})


def load_safetensors(path):
    with open(path, "rb") as f:
        header, n = _safetensors_header(f)
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(data[a:b], np.float32).copy()).reshape(info["shape"])
    return out


def _digest(labelled):
    """sha256 of (label, tensor) pairs in order: each label, the tensor's shape and its bytes."""
    h = hashlib.sha256()
    for label, t in labelled:
        h.update(f"{label}{list(t.shape)}:".encode() + t.numpy().tobytes())
    return h.hexdigest()


def tensors_digest(tensors):
    """sha256 of named tensors (names, shapes, bytes): equal digests are the same weights."""
    return _digest((f"{name}:", t) for name, t in sorted(tensors.items()))


def data_digest(*tensors):
    """sha256 of the rendered clips and labels (shapes and bytes, in order): a retraining on another machine that
    gets other weights can tell whether its data or its arithmetic differed."""
    return _digest(("", t) for t in tensors)


def machine():
    """The CPU and PyTorch's kernel choice, which decide the order of the floating-point sums (and so the last bits)."""
    cpu = cpuinfo("model name") or "unknown"
    capability = next((line.split(":", 1)[1].strip() for line in torch.__config__.show().splitlines()
                       if "CPU capability usage" in line), "unknown")
    return {"cpu": cpu, "torch_cpu_capability": capability}


def weights_digest(path):
    """The digest of a safetensors file's tensors, not its metadata (which records times), so a retraining can be
    checked against the shipped file."""
    return tensors_digest(load_safetensors(path))


def start_from(model, path):
    """Loads version 1's weights; its classifier has one row per action, the background row starts at zero. A wider
    network starts from them widened: it computes what version 1 computes (widen.py)."""
    state = model.state_dict()
    init = load_safetensors(path)
    blocks = [len(getattr(model, f"layer{i}")) for i in range(1, 5)]
    have, want = widen.widths_of(init, blocks), widen.widths_of(state, blocks)
    if have != want:
        init = widen.widen(init, *have, *want, blocks, torch.Generator().manual_seed(2))
    for name, t in init.items():
        if name.startswith("fc."):
            state[name].zero_()
            state[name][:t.shape[0]] = t
        else:
            state[name].copy_(t)
    model.load_state_dict(state)


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


def optimizer(model, steps):
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    return opt, torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps)


def train_epoch(model, opt, sched, xtr, ytr, g):
    """One pass over the training clips (uint8 frames) in an order and with augmentations drawn from `g`;
    → (summed loss, correct, clips)."""
    model.train()
    order = torch.randperm(len(ytr), generator=g)
    total, correct, loss_sum = 0, 0, 0.0
    for i in range(0, len(order), BATCH):
        idx = order[i:i + BATCH]
        x, y = to_input(xtr[idx], g), ytr[idx]
        if torch.rand(1, generator=g).item() < 0.5:   # mirror: walking directions swap with it
            x = x.flip(-1)
            y = y.clone()
            wl, wr = actiongen.ACTIONS.index("walking_left"), actiongen.ACTIONS.index("walking_right")
            y[ytr[idx] == wl], y[ytr[idx] == wr] = wr, wl
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=BF16):
            out = model(x).float()
        loss = nn.functional.cross_entropy(out, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        loss_sum += loss.item() * len(y)
        correct += (out.argmax(1) == y).sum().item()
        total += len(y)
    return loss_sum, correct, total


def main():
    if BF16 and not cpu_has_bf16():
        sys.exit("train.py: training in bf16 needs a CPU with AVX512_BF16 or AMX-BF16 (this one has neither); "
                 "`train.py OUT --fp32` trains in fp32 instead (other weights than the shipped model's, about twice the time)")
    torch.manual_seed(0)
    torch.set_num_threads(2)
    t0 = time.time()
    xtr, ytr = dataset(TRAIN_PER_CLASS, "train")
    xva, yva = dataset(VAL_PER_CLASS, "validation")
    data = data_digest(xtr, ytr, xva, yva)
    xva = to_input(xva)   # validation clips never change: prepared once, not every epoch
    render = time.time() - t0
    print(f"{len(ytr)} train / {len(yva)} validation clips ready in {render:.0f} s (rendered, or loaded from {CACHE}); "
          f"data sha256 {data}", flush=True)
    model = network()
    start_from(model, INIT)
    opt, sched = optimizer(model, EPOCHS * math.ceil(len(ytr) / BATCH))
    g = torch.Generator().manual_seed(1)
    history = []
    for epoch in range(EPOCHS):
        loss_sum, correct, total = train_epoch(model, opt, sched, xtr, ytr, g)
        model.eval()
        with torch.no_grad():
            predicted = torch.cat([model(xva[i:i + 64]).argmax(1) for i in range(0, len(yva), 64)])
        val = (predicted == yva).float().mean().item()
        history.append({"epoch": epoch + 1, "clips": len(ytr), "train_loss": loss_sum / total, "train_accuracy": correct / total, "val_accuracy": val,
                        "seconds": round(time.time() - t0)})
        print(json.dumps(history[-1]), flush=True)
    per_class = {label: (predicted[yva == c] == c).float().mean().item() for c, label in enumerate(actiongen.LABELS)}
    metadata = {
        "vidar.config": json.dumps(CONFIG),
        "vidar.labels": json.dumps(actiongen.LABELS),
        "vidar.preprocessing": json.dumps({"transform": {"resize": [128, 171], "crop": [112, 112], "mean": MEAN.tolist(), "std": STD.tolist()},
                                           "sampling": {"fps": 15, "clipLength": 16, "stride": 8}}),
        "vidar.aggregator": json.dumps(AGGREGATOR),
        "vidar.version": VERSION,
        "vidar.training": json.dumps({"train_clips": len(ytr), "val_clips": len(yva), "epochs": EPOCHS,
                                      "augment": {"crop_jitter": CROP_JITTER, "low_contrast": LOW_CONTRAST, "darken": DARKEN} if AUGMENT else None,
                                      "init": {"path": os.path.relpath(INIT, os.path.join(os.path.dirname(__file__), "..", "..")),
                                               "sha256": hashlib.sha256(open(INIT, "rb").read()).hexdigest()}, "history": history,
                                      "seconds": time.time() - t0, "threads": 2, "torch": torch.__version__, "input_grad_as_conv": INPUT_GRAD_AS_CONV, "bf16": BF16,
                                      "data": {"seeds": {k: [r.start, r.stop] for k, r in seeds.RANGES.items()},
                                               "background": BACKGROUND_SHARE, "appearance": TRAIN_APPEARANCE, "footage": seeds.TRAIN_FOOTAGE,
                                               "visible": actiongen.IN_VIEW if VISIBLE_ONLY else None,
                                               "patterns": seeds.TRAIN_PATTERNS,
                                               "round_trip": {"sizes": [s for s, _ in transcode.SIZES], "fps": [24, 60],
                                                              "codecs": ["h264", "vp9", "mjpeg"]}}}),
    }
    previous = weights_digest(OUT) if os.path.exists(OUT) else None
    save_safetensors(model, OUT, metadata)
    digest = weights_digest(OUT)
    print(f"weights sha256 {digest}: " + ("no earlier file" if previous is None else
          "identical to the file it replaced" if previous == digest else f"the file it replaced had {previous}"), flush=True)
    report = {"val_accuracy": history[-1]["val_accuracy"], "val_accuracy_per_class": per_class, "render_seconds": render,
              "seconds": time.time() - t0, "history": history,
              "parameters": sum(p.numel() for p in model.parameters()), "weights_sha256": digest, "data_sha256": data,
              "machine": machine()}
    json.dump(report, open(OUT.rsplit(".", 1)[0] + ".report.json", "w"), indent=1)
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
