"""The decode path users have, for training and evaluation: frames rendered at some frame rate are scaled to a
random size, encoded with a random codec and quality, decoded again by FFmpeg, sampled at the model's 15 fps the
way vidar's sampling grid does (the last frame at or before each sampling time), and resized back with
torchvision's antialiased resize (which vidar's preprocessing matches).
"""
import math
import os
import subprocess
import tempfile

import numpy as np
import torch
from torchvision.transforms import functional as TF

import actiongen

H, W, FPS = actiongen.H, actiongen.W, actiongen.FPS
# Weighted to the small: at 720p and above the round trip changes little at the model's 171×128 and costs most.
SIZES = [((176, 144), 0.26), ((320, 240), 0.24), ((480, 360), 0.15), ((640, 360), 0.14), ((854, 480), 0.14),
         ((1280, 720), 0.05), ((1920, 1080), 0.02)]


def random_encoding(rng, native_fps_share=0.2):
    """Size, frame rate, codec and quality of one round trip."""
    size = SIZES[rng.choice(len(SIZES), p=[p for _, p in SIZES])][0]
    fps = FPS if rng.uniform() < native_fps_share else round(float(rng.uniform(24, 60)), 3)
    codec = str(rng.choice(["h264", "vp9", "mjpeg"], p=[0.5, 0.25, 0.25]))
    quality = {"h264": int(rng.integers(18, 37)), "vp9": int(rng.integers(24, 56)), "mjpeg": int(rng.integers(2, 26))}[codec]
    return {"size": list(size), "fps": fps, "codec": codec, "quality": quality}


def codec_args(enc):
    q = str(enc["quality"])
    return {"h264": ["-c:v", "libx264", "-preset", "superfast", "-crf", q, "-pix_fmt", "yuv420p"],
            "vp9": ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "0", "-crf", q, "-pix_fmt", "yuv420p"],
            "mjpeg": ["-c:v", "mjpeg", "-q:v", q, "-pix_fmt", "yuvj420p"]}[enc["codec"]]


def extension(enc):
    return {"h264": "mp4", "vp9": "webm", "mjpeg": "avi"}[enc["codec"]]


def encode(frames, enc, path, gop=None):
    """Writes frames (rendered at enc["fps"], 171×128) scaled to enc["size"] with enc's codec; a keyframe every
    `gop` frames when given (clips joined into one file each start with one, as a file's first frame does)."""
    w, h = enc["size"]
    p = subprocess.Popen(["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{W}x{H}",
                          "-r", f"{enc['fps']:g}", "-i", "-", "-vf", f"scale={w}:{h}:flags=bicubic", *codec_args(enc),
                          *(["-g", str(gop), "-keyint_min", str(gop)] if gop else []), "-threads", "1", path], stdin=subprocess.PIPE)
    for f in frames:
        p.stdin.write(f.tobytes())
    p.stdin.close()
    if p.wait() != 0:
        raise RuntimeError(f"ffmpeg could not encode {enc}")


def sample_indices(count, fps, frames_at_fps):
    """Which rendered frame shows at each 15-fps sampling time (the last one at or before it)."""
    return [min(frames_at_fps - 1, int(math.floor(k / FPS * fps + 1e-6))) for k in range(count)]


def select_filter(fps, length, count):
    """FFmpeg's select keeping, in every `length` frames, those sample_indices picks (only they get converted to RGB):
    frame j is sampled when k = ceil(j·15/fps) < count maps back onto it."""
    r = fps / FPS
    j = f"mod(n,{length})"
    k = f"ceil({j}/{r!r}-1e-9)"
    return f"select='eq(floor({k}*{r!r}+1e-6),{j})*lt({k},{count})*lt({j},{length})'"


def round_trip(clips, enc, count=16):
    """Each clip (a list of frames at enc["fps"], all of one length) as vidar would see it after enc's round trip:
    `count` 15-fps frames (count × 128 × 171 × 3 uint8). The clips share one file, so one encoder start."""
    length = len(clips[0])
    idx = sample_indices(count, enc["fps"], length)
    wanted = sorted({c * length + i for c in range(len(clips)) for i in idx})
    w, h = enc["size"]
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "clips." + extension(enc))
        encode([f for clip in clips for f in clip], enc, path, gop=length)
        out = subprocess.run(["ffmpeg", "-v", "error", "-threads", "1", "-i", path, "-vf", select_filter(enc["fps"], length, count),
                              "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], check=True, capture_output=True).stdout
    decoded = np.frombuffer(out, np.uint8).reshape(-1, h, w, 3)
    if len(decoded) != len(wanted):
        raise RuntimeError(f"decoded {len(decoded)} of {len(wanted)} sampled frames ({enc})")
    position = {n: k for k, n in enumerate(wanted)}
    result = []
    for c in range(len(clips)):
        chosen = np.stack([decoded[position[c * length + i]] for i in idx])
        if (w, h) != (W, H):
            t = torch.from_numpy(chosen).permute(0, 3, 1, 2)
            chosen = TF.resize(t, [H, W], interpolation=TF.InterpolationMode.BILINEAR, antialias=True).permute(0, 2, 3, 1).numpy()
        result.append(chosen)
    return result
