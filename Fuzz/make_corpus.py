#!/usr/bin/env python3
"""Writes the fuzz harnesses' seed corpus into Fuzz/corpus/HARNESS/ (committed; rerun to regenerate):
real files in each format, small, plus the hostile shapes the tests build. Uses Debian's python3-torch and numpy.
Usage: /usr/bin/python3 Fuzz/make_corpus.py"""
import io, json, os, pathlib, struct, zipfile
import numpy as np
import torch

root = pathlib.Path(__file__).resolve().parent / "corpus"

def put(harness, name, data):
    d = root / harness
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())

torch.manual_seed(0)
# A small conv + BatchNorm state_dict, as torch.save writes it (zip), in three dtypes.
sd = {"stem.0.weight": torch.randn(2, 3, 1, 3, 3), "stem.1.weight": torch.rand(2), "stem.1.bias": torch.rand(2),
      "stem.1.running_mean": torch.rand(2), "stem.1.running_var": torch.rand(2),
      "stem.1.num_batches_tracked": torch.tensor(3), "fc.weight": torch.randn(4, 2).t(), "fc.bias": torch.rand(4)}
for dtype in (torch.float32, torch.float16, torch.bfloat16):
    b = io.BytesIO()
    torch.save({k: (v.to(dtype) if v.is_floating_point() else v) for k, v in sd.items()}, b)
    put("zip", f"state_dict_{str(dtype)[6:]}.pth", b.getvalue())
    with zipfile.ZipFile(io.BytesIO(b.getvalue())) as z:
        pkl = next(n for n in z.namelist() if n.endswith("data.pkl"))
        put("pickle", f"state_dict_{str(dtype)[6:]}.pkl", z.read(pkl))
put("pickle", "nested_tuples.pkl", b"\x80\x02)" + b"\x85" * 40 + b".")
put("pickle", "list_in_itself.pkl", b"\x80\x02]q\x00h\x00a.")

def safetensors(tensors, metadata=None):
    header, body = {}, b""
    if metadata:
        header["__metadata__"] = metadata
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(body), len(body) + len(raw)]}
        body += raw
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + body

put("safetensors", "two_tensors.safetensors", safetensors(
    {"a": ("F32", [2, 2], np.arange(4, dtype="<f4").tobytes()), "b": ("F16", [3], np.ones(3, dtype="<f2").tobytes())},
    {"vidar.labels": '["x", "y"]'}))
put("safetensors", "bf16.safetensors", safetensors({"w": ("BF16", [2], b"\x80\x3f\x00\x40")}))
put("safetensors", "overflowing_shape.safetensors", safetensors({"a": ("F32", [2305843009213693952], b"\0" * 8)}))

for name, arr in [("f32_2x3.npy", np.arange(6, dtype="<f4").reshape(2, 3)), ("f32_clip.npy", np.zeros((1, 3, 2, 4, 4), "<f4")),
                  ("f64.npy", np.zeros(2)), ("scalar.npy", np.float32(1.5))]:
    b = io.BytesIO()
    np.save(b, arr)
    put("npy", name, b.getvalue())

config = {"stem": "basic", "stemWidth": 8, "stemMidWidth": 8, "convKinds": ["conv3d", "conv3d_no_temporal", "conv2plus1d", "conv3d"],
          "blocks": [1, 1, 1, 1], "widths": [8, 16, 32, 64], "numClasses": 7, "inputChannels": 3}
put("metadata", "config.json", json.dumps(config))
put("metadata", "preprocessing.json", json.dumps({"transform": {"resize": [128, 171], "crop": [112, 112],
    "mean": [0.43216, 0.394666, 0.37645], "std": [0.22803, 0.22145, 0.216989]}, "sampling": {"fps": 15, "clipLength": 16, "stride": 8}}))
put("metadata", "calibration.json", json.dumps({"version": 1, "method": "max", "clips": 24,
    "ranges": {"stem.0": 6.5, "layer1.0.conv1.0": 3.25}}))
put("metadata", "aggregator.json", json.dumps({"smooth": "ma:2", "threshold": 0.4, "exit_threshold": 0.25, "margin": 0.2,
    "patience": 3, "min_duration": 1.0}))
put("metadata", "labels.json", json.dumps(["standing_still", "waving", "clapping", "jumping_jacks", "squatting", "walking_left", "walking_right"]))

repo = root.parent.parent
put("serve-config", "deploy.yaml", (repo / "deploy/vidar.yaml").read_text())
put("serve-config", "small.yaml", "model: vidar-actions\nlisten: 127.0.0.1:8710\nevents: [stdout, {file: /tmp/e.jsonl}]\n"
    "threshold: 0.4\nstreams:\n  cam_1:\n    url: rtsp://u:p@127.0.0.1/s\n    input_options: {rtsp_transport: tcp}\n    smooth: ma:3\n")
put("serve-config", "anchors.yaml", "defaults: &d {threshold: 0.5}\nstreams:\n  a: {url: x, <<: *d}\n")
put("api-stream", "add.json", json.dumps({"name": "porch", "url": "rtsp://127.0.0.1/s", "threshold": 0.5, "input_options": {"rtsp_transport": "tcp"}}))
put("api-stream", "bad.json", '{"name": 3}')

segment = {"start": 0, "end": 2.5, "label": "waving", "class_index": 1, "score": 0.9, "peak": 0.95, "clips": 3,
           "alternatives": [{"label": "clapping", "score": 0.05}]}
timeline = {"schema": "vidar.timeline/1", "complete": True, "segments": [segment], "warnings": [], "notes": {},
            "source": {"path": "a.mp4", "container": "mp4", "codec": "h264", "duration": 2.5, "frame_rate": 25, "width": 171,
                       "height": 128, "rotation": 0},
            "stats": {"clips": 3, "corrupt_frames_skipped": 0, "frames_decoded": 62, "padded_clip": False, "wall_seconds": 0.1,
                      "realtime_factor": 25}}
put("timeline", "minimal.json", json.dumps(timeline))
put("event-record", "segment_start.json", json.dumps({"event": "segment_start", "id": "r1-seg-1", "label": "waving", "schema": "vidar.events/1",
    "score": 0.56, "start": 1.02, "start_utc": "2026-11-25T10:41:43.464Z", "stream": "cam", "seq": 4, "event_id": "r1-cam-4"}))
put("event-record", "stats.json", json.dumps({"event": "stats", "clips": 7, "clips_per_second": 1, "connected": True, "decoded_fps": 25,
    "dropped_clips": 0, "frames_decoded": 149, "latency_ms": {"max": 18.9, "p50": 18.9, "p90": 18.9, "p99": 18.9}, "reconnects": 2,
    "schema": "vidar.events/1", "uptime": 16.0, "utc": "2026-11-25T10:41:58.949Z", "stream": "cam", "seq": 9, "event_id": "r1-cam-9"}))
