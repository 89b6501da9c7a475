#!/usr/bin/env python3
"""Evaluates vidar's timelines against ground truth on freshly generated action videos (seeds never used for
training or clips/): frame-level accuracy and segment F1 (same label, temporal IoU ≥ 0.5, one-to-one), for the
raw per-clip argmax and for the smoothed aggregator output.

    /usr/bin/python3 Benchmarks/eval/evaluate_actions.py [--videos 6] [--seconds 60] [--vidar .build/release/vidar] [--json]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools", "actions"))
import actiongen  # noqa: E402

EVAL_SEED_BASE = 900_000   # training uses < 50,000,000 per class offsets from 0 and 50,000,000; clips/ uses 101–103


def label_at(segments, t):
    for s in segments:
        if s["start"] <= t < s["end"]:
            return s["label"]
    return None


def merge(segments):
    out = []
    for s in segments:
        if out and out[-1]["label"] == s["label"] and abs(out[-1]["end"] - s["start"]) < 1e-6:
            out[-1] = dict(out[-1], end=s["end"])
        else:
            out.append(dict(s))
    return out


def f1(pred, truth):
    pred = [p for p in merge(pred) if p["label"] != "no_action"]
    used, tp = set(), 0
    for p in pred:
        for i, t in enumerate(truth):
            if i in used or t["label"] != p["label"]:
                continue
            inter = max(0, min(p["end"], t["end"]) - max(p["start"], t["start"]))
            union = max(p["end"], t["end"]) - min(p["start"], t["start"])
            if union > 0 and inter / union >= 0.5:
                used.add(i)
                tp += 1
                break
    precision = tp / len(pred) if pred else 0
    recall = tp / len(truth) if truth else 0
    return 2 * precision * recall / (precision + recall) if tp else 0.0, len(pred)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--videos", type=int, default=6)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--vidar", default=".build/release/vidar")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--label-args", default="", help="extra `vidar label` options, e.g. '--smooth ema:0.5'")
    a = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(a.videos):
            seed = EVAL_SEED_BASE + k
            frames, segments = actiongen.long_video(seed, a.seconds)
            path = os.path.join(tmp, f"eval-{seed}.mp4")
            actiongen.write_video(frames, path)
            truth = [{"start": s, "end": e, "label": l} for s, e, l in segments]
            out = subprocess.run([a.vidar, "label", "--clips", "--topk", "1", "--quiet", *a.label_args.split(), path],
                                 check=True, capture_output=True, text=True).stdout
            timeline = json.loads(out)
            smoothed = timeline["segments"]
            clips = timeline["clips"]
            raw = [{"start": c["start"], "end": (clips[i + 1]["start"] if i + 1 < len(clips) else c["end"]), "label": c["top"][0]["label"]}
                   for i, c in enumerate(clips)]
            times = [i / actiongen.FPS for i in range(int(a.seconds * actiongen.FPS))]
            def accuracy(pred):
                return sum(label_at(pred, t) == label_at(truth, t) for t in times) / len(times)
            rf, rn = f1(raw, truth)
            sf, sn = f1(smoothed, truth)
            rows.append({"seed": seed, "true_segments": len(truth), "raw_segments": rn, "smoothed_segments": sn,
                         "raw_frame_accuracy": accuracy(raw), "smoothed_frame_accuracy": accuracy(smoothed),
                         "raw_segment_f1": rf, "smoothed_segment_f1": sf})
    mean = {k: sum(r[k] for r in rows) / len(rows) for k in rows[0] if k != "seed"}
    if a.json:
        print(json.dumps({"benchmark": "action-eval", "videos": a.videos, "seconds": a.seconds, "rows": rows, "mean": mean}))
        return
    print(f"evaluation: {a.videos} generated videos × {a.seconds:g} s (seeds {EVAL_SEED_BASE}+), bundled model, default settings")
    print("seed      true segs  raw segs  smoothed segs  raw frame acc  smoothed frame acc  raw seg F1  smoothed seg F1")
    for r in rows:
        print(f"{r['seed']:<9} {r['true_segments']:9d} {r['raw_segments']:9d} {r['smoothed_segments']:14d} {r['raw_frame_accuracy']:14.3f}"
              f" {r['smoothed_frame_accuracy']:19.3f} {r['raw_segment_f1']:11.3f} {r['smoothed_segment_f1']:16.3f}")
    print(f"{'mean':<9} {mean['true_segments']:9.1f} {mean['raw_segments']:9.1f} {mean['smoothed_segments']:14.1f} {mean['raw_frame_accuracy']:14.3f}"
          f" {mean['smoothed_frame_accuracy']:19.3f} {mean['raw_segment_f1']:11.3f} {mean['smoothed_segment_f1']:16.3f}")


if __name__ == "__main__":
    main()
