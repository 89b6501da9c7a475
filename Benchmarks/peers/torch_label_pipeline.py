#!/usr/bin/env python3
"""Python peer for `vidar-bench label`: the same work as `vidar label` done the usual PyTorch way.

ffmpeg decodes to RGB24 (the same FFmpeg decoder), frames are resampled to 15 fps by timestamp (last frame at or
before each tick), grouped into 16-frame clips, transformed with torchvision's VideoClassification preset and
classified by torchvision's r3d_18 (eager, batch 1, same thread count). Prints one JSON object.
"""
import argparse
import json
import resource
import subprocess
import time

import numpy as np
import torch
from torchvision.models.video import resnet as tvr
from torchvision.transforms._presets import VideoClassification


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--video", required=True)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--fps", type=float, default=15)
    p.add_argument("--clip-len", type=int, default=16)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    started = time.perf_counter()
    model = tvr.r3d_18()
    model.load_state_dict(torch.load(a.checkpoint, map_location="cpu"))
    model.eval()
    transform = VideoClassification(crop_size=(112, 112), resize_size=(128, 171))
    probe = json.loads(subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                                       "stream=width,height,r_frame_rate", "-of", "json", a.video],
                                      check=True, capture_output=True, text=True).stdout)["streams"][0]
    w, h = probe["width"], probe["height"]
    num, den = map(int, probe["r_frame_rate"].split("/"))
    src_fps = num / den
    decoder = subprocess.Popen(["ffmpeg", "-v", "error", "-threads", "1", "-i", a.video, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                               stdout=subprocess.PIPE)
    frame_bytes = w * h * 3
    clip, clips, tick, previous, index = [], 0, 0, None, 0
    with torch.no_grad():
        while True:
            raw = decoder.stdout.read(frame_bytes)
            if len(raw) < frame_bytes:
                break
            frame = np.frombuffer(raw, dtype=np.uint8).reshape(h, w, 3)
            t = index / src_fps
            index += 1
            # Resample: every tick before this frame's time takes the previous frame.
            while previous is not None and tick / a.fps < t - 1e-6:
                clip.append(previous)
                tick += 1
                if len(clip) == a.clip_len:
                    x = transform(torch.from_numpy(np.stack(clip)).permute(0, 3, 1, 2)).unsqueeze(0)
                    torch.softmax(model(x), dim=1)
                    clips += 1
                    clip = []
            previous = frame
    decoder.wait()
    wall = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss + resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(json.dumps({"torch": torch.__version__, "frames": index, "clips": clips, "wall_seconds": wall,
                      "video_seconds": index / src_fps, "realtime_factor": index / src_fps / wall, "peak_rss_mb": peak_kb / 1024}))


if __name__ == "__main__":
    main()
