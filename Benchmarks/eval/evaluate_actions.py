#!/usr/bin/env python3
"""Evaluates the bundled model as a new user meets it: `vidar label` (default settings) on long generated action
videos with stretches of nobody, half of them rendered at another frame rate and re-encoded at another size and
codec (as training's round trip, tools/actions/transcode.py), and on at least 10 minutes of content with no actor
(scenes without a figure, textures, ffmpeg patterns training never saw, real footage training never saw).
Every seed comes from the evaluation range (tools/actions/seeds.py), disjoint from training's by construction.
`--purpose tune` renders the same kind of set from the aggregator-tuning range instead (with training's footage and
patterns, never the evaluation's), and `--keep DIR` keeps every timeline with its clips' full probabilities, for
Benchmarks/eval/tune_aggregator.py to re-aggregate.

Reports per video and overall: segment F1 (same label, temporal IoU ≥ 0.5, one-to-one; no_action excluded) and
frame accuracy (no_action included), for the raw per-clip argmax and for the aggregator's segments; mean and worst
video; and the share of no-actor time labelled no_action, raw and after the aggregator. And how many of the true
action segments were hidden (behind the occluder or outside the model's centre crop: actiongen.shows_its_action)
and how many of each kind the aggregator found, so that a low score tells a weak model from an unseeable action.

    /usr/bin/python3 Benchmarks/eval/evaluate_actions.py [--videos 40] [--seconds 45] [--no-actor-pieces 21]
        [--vidar .build/release/vidar] [--model CKPT] [--label-args '--precision bf16'] [--json OUT.json]
        [--purpose eval|tune] [--first K] [--keep DIR]
"""
import argparse
import hashlib
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools", "actions"))
import actiongen  # noqa: E402
import backgrounds  # noqa: E402
import seeds  # noqa: E402
import transcode  # noqa: E402

VIDEOS = 40                       # long videos by default: eval seeds from 0
NO_ACTOR_SEED_OFFSET = 10_000     # no-actor pieces: eval seeds from here
NO_ACTOR_KINDS = ["scene"] * 6 + ["texture"] * 6 + ["pattern"] * 7 + ["footage"] * 2
PIECE_SECONDS = 30.0


def label_at(segments, t):
    for s in segments:
        if s["start"] <= t < s["end"]:
            return s["label"]
    return actiongen.NO_ACTION


def merge(segments):
    out = []
    for s in segments:
        if out and out[-1]["label"] == s["label"] and abs(out[-1]["end"] - s["start"]) < 1e-6:
            out[-1] = dict(out[-1], end=s["end"])
        else:
            out.append(dict(s))
    return out


def matches(pred, truth):
    """The indices of truth's action segments that predicted segments find (same label, temporal IoU ≥ 0.5, one to
    one, in pred's order), and both lists' action segments (pred's runs of one label merged; no_action left out)."""
    pred = [p for p in merge(pred) if p["label"] != actiongen.NO_ACTION]
    truth = [t for t in truth if t["label"] != actiongen.NO_ACTION]
    used = set()
    for p in pred:
        for i, t in enumerate(truth):
            if i in used or t["label"] != p["label"]:
                continue
            inter = max(0, min(p["end"], t["end"]) - max(p["start"], t["start"]))
            union = max(p["end"], t["end"]) - min(p["start"], t["start"])
            if union > 0 and inter / union >= 0.5:
                used.add(i)
                break
    return used, pred, truth


def f1(pred, truth):
    used, pred, truth = matches(pred, truth)
    tp = len(used)
    if not truth:
        return (1.0 if not pred else 0.0), len(pred)
    precision = tp / len(pred) if pred else 0
    recall = tp / len(truth)
    return (2 * precision * recall / (precision + recall) if tp else 0.0), len(pred)


MODEL = []   # `--model M` and --label-args for vidar label when given
KEEP = None  # `--keep DIR`: where each timeline is kept
PURPOSE = "eval"


def long_video_seed(k, purpose="eval"):
    return seeds.seed(purpose, k)


def no_actor_seed(k, purpose="eval"):
    return seeds.seed(purpose, NO_ACTOR_SEED_OFFSET + k)


def label(vidar, path):
    # A part from 0 (`--start 0`) records every clip's full probabilities; its segments are a single pass's.
    keep = ["--start", "0"] if KEEP else []
    out = subprocess.run([vidar, "label", "--clips", "--topk", "1", "--quiet", *keep, *MODEL, path], check=True, capture_output=True, text=True).stdout
    if KEEP:
        with open(os.path.join(KEEP, os.path.basename(path).rsplit(".", 1)[0] + ".json"), "w") as f:
            f.write(out)
    timeline = json.loads(out)
    clips = timeline["clips"]
    raw = [{"start": c["start"], "end": (clips[i + 1]["start"] if i + 1 < len(clips) else c["end"]), "label": c["top"][0]["label"]}
           for i, c in enumerate(clips)]
    return raw, timeline["segments"]


def label_frames(frames, seed, encoding, name, vidar, tmp):
    """Writes frames (at encoding's frame rate, else 15 fps, as the generator's own H.264) and labels the file:
    (raw per-clip segments, the aggregator's segments, the sha256 of its video packets)."""
    path = os.path.join(tmp, f"{name}-{seed}." + (transcode.extension(encoding) if encoding else "mp4"))
    if encoding is None:
        actiongen.write_video(frames, path)
    else:
        transcode.encode(frames, encoding, path)
    try:
        return (*label(vidar, path), packets_digest(path))
    finally:
        os.remove(path)


def random_encoding(seed, k):
    """Odd items are re-encoded (a random size, 24–60 fps, codec and quality); even ones stay as generated."""
    return transcode.random_encoding(np.random.default_rng([seed, 2]), native_fps_share=0) if k % 2 else None


def score(truth, raw, smoothed, seconds):
    times = [i / actiongen.FPS for i in range(int(seconds * actiongen.FPS))]
    def agreement(pred, only=None):
        ts = [t for t in times if only is None or label_at(truth, t) == only]
        return (sum(label_at(pred, t) == label_at(truth, t) for t in ts) / len(ts)) if ts else None, len(ts) / actiongen.FPS
    rf, rn = f1(raw, truth)
    sf, sn = f1(smoothed, truth)
    (ra, _), (sa, _) = agreement(raw), agreement(smoothed)
    (rna, empty), (sna, _) = agreement(raw, actiongen.NO_ACTION), agreement(smoothed, actiongen.NO_ACTION)
    return {"true_segments": sum(t["label"] != actiongen.NO_ACTION for t in truth), "raw_segments": rn, "smoothed_segments": sn,
            "raw_frame_accuracy": ra, "smoothed_frame_accuracy": sa, "raw_segment_f1": rf, "smoothed_segment_f1": sf,
            "empty_seconds": empty, "raw_empty_no_action": rna, "smoothed_empty_no_action": sna}


def long_video_job(args):
    k, seconds, vidar, tmp = args
    seed = long_video_seed(k, PURPOSE)
    encoding = random_encoding(seed, k)
    frames, segments = actiongen.long_video(seed, seconds, fps=encoding["fps"] if encoding else actiongen.FPS)
    truth = [{"start": s, "end": e, "label": l} for s, e, l in segments]
    raw, smoothed, digest = label_frames(frames, seed, encoding, "eval", vidar, tmp)
    return {"seed": seed, "encoding": encoding, "sha256": digest, **score(truth, raw, smoothed, seconds),
            "segments": segments_in_view(seed, seconds, encoding["fps"] if encoding else actiongen.FPS, truth, smoothed)}


def segments_in_view(seed, seconds, fps, truth, smoothed):
    """Per true action segment: how much of the figure and of its motion was in the model's view (the centre crop,
    not behind the occluder), whether that shows the action (as training's clips must), and whether the aggregator
    found it. What stands between a video and a perfect score: the model, or an action nobody could see."""
    found, _, actions = matches(smoothed, truth)
    views = actiongen.long_video_visibility(seed, seconds, actiongen.MODEL_VIEW, fps)
    assert [(s, e, a) for s, e, a, _, _ in views] == [(t["start"], t["end"], t["label"]) for t in actions], seed
    return [{"start": s, "end": e, "label": a, "figure_in_view": float(fig), "motion_in_view": float(motion),
             "shows": bool(actiongen.shows_its_action(a, fig, motion)), "found": i in found}
            for i, (s, e, a, fig, motion) in enumerate(views)]


def no_actor_job(args):
    k, vidar, tmp = args
    seed = no_actor_seed(k, PURPOSE)
    kind = NO_ACTOR_KINDS[k % len(NO_ACTOR_KINDS)]
    encoding = random_encoding(seed, k)
    fps = encoding["fps"] if encoding else actiongen.FPS
    frames = backgrounds.frames(kind, seed, PIECE_SECONDS, fps)[:int(PIECE_SECONDS * fps)]
    raw, smoothed, digest = label_frames(frames, seed, encoding, "no-actor", vidar, tmp)
    times = [i / actiongen.FPS for i in range(int(PIECE_SECONDS * actiongen.FPS))]
    share = lambda pred: sum(label_at(pred, t) == actiongen.NO_ACTION for t in times) / len(times)
    actions = sorted({s["label"] for s in smoothed if s["label"] != actiongen.NO_ACTION})
    return {"seed": seed, "kind": kind, "encoding": encoding, "sha256": digest, "seconds": PIECE_SECONDS, "raw_no_action": share(raw),
            "smoothed_no_action": share(smoothed), "smoothed_action_segments": sum(s["label"] != actiongen.NO_ACTION for s in smoothed),
            "labels_given": actions}


def packets_digest(path):
    """The sha256 of a file's video packets with their timestamps (FFmpeg's framehash), not of its bytes: the WebM
    muxer writes a random segment UID, so two runs' identical VP9 videos were different files."""
    hashes = subprocess.run(["ffmpeg", "-v", "error", "-i", path, "-map", "0:v", "-c", "copy", "-fflags", "+bitexact",
                             "-f", "framehash", "-hash", "sha256", "-"], check=True, capture_output=True).stdout
    return hashlib.sha256(hashes).hexdigest()


def inputs_digest(items):
    """One sha256 over the videos labelled, in order: two runs with the same digest scored the same packets, so
    that their tables differ only by vidar (its version, model or arithmetic)."""
    return hashlib.sha256("".join(x["sha256"] for x in items).encode()).hexdigest()


def segments_by_view(rows):
    """The videos' true action segments: those that show their action, those hidden or out of the model's view."""
    every = [x for r in rows for x in r["segments"]]
    return {"in view": [x for x in every if x["shows"]], "hidden": [x for x in every if not x["shows"]]}


def describe(enc):
    return "original 171×128 15 fps" if enc is None else f"{enc['size'][0]}×{enc['size'][1]} {enc['fps']:.1f} fps {enc['codec']} q{enc['quality']}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--videos", type=int, default=VIDEOS)
    ap.add_argument("--seconds", type=float, default=45)
    ap.add_argument("--no-actor-pieces", type=int, default=len(NO_ACTOR_KINDS))
    ap.add_argument("--vidar", default=".build/release/vidar")
    ap.add_argument("--model", help="another model than the bundled one (e.g. an earlier vidar-actions.safetensors)")
    ap.add_argument("--label-args", default="", help="extra `vidar label` options, e.g. '--precision bf16'")
    ap.add_argument("--json", help="also write every row and the summary to this file")
    ap.add_argument("--purpose", choices=["eval", "tune"], default="eval", help="the seed range: the evaluation's, or aggregator tuning's")
    ap.add_argument("--keep", metavar="DIR", help="keep every timeline here, with its clips' full probabilities")
    ap.add_argument("--first", type=int, default=0, help="start at this offset in the range (another set of the same kind)")
    a = ap.parse_args()
    if a.videos < 1 or a.no_actor_pieces < 0:
        ap.error("--videos must be at least 1 and --no-actor-pieces at least 0")
    global KEEP, PURPOSE
    KEEP, PURPOSE = a.keep, a.purpose
    if KEEP:
        os.makedirs(KEEP, exist_ok=True)
    if a.model:
        MODEL.extend(["--model", os.path.abspath(a.model)])
    MODEL.extend(a.label_args.split())
    vidar = os.path.abspath(a.vidar)
    for name in seeds.EVAL_FOOTAGE if PURPOSE == "eval" else seeds.TRAIN_FOOTAGE:
        backgrounds.footage_file(name)   # fetch once, before the workers start
    with tempfile.TemporaryDirectory() as tmp, multiprocessing.get_context("fork").Pool(2) as pool:
        rows = pool.map(long_video_job, [(a.first + k, a.seconds, vidar, tmp) for k in range(a.videos)], chunksize=1)
        pieces = pool.map(no_actor_job, [(a.first + k, vidar, tmp) for k in range(a.no_actor_pieces)], chunksize=1)
    keys = ["raw_frame_accuracy", "smoothed_frame_accuracy", "raw_segment_f1", "smoothed_segment_f1"]
    def summary(rs):   # None for no videos (`--videos 1` has no re-encoded one)
        return {**{k: sum(r[k] for r in rs) / len(rs) for k in keys}, **{"worst_" + k: min(r[k] for r in rs) for k in keys}} if rs else None
    empty = sum(r["empty_seconds"] for r in rows)
    no_actor_seconds = sum(p["seconds"] for p in pieces)
    result = {
        "benchmark": "action-eval", "videos": a.videos, "seconds": a.seconds, "seeds": [rows[0]["seed"], rows[-1]["seed"]],
        "inputs_sha256": inputs_digest(rows + pieces),
        "all": summary(rows), "original": summary([r for r in rows if r["encoding"] is None]), "reencoded": summary([r for r in rows if r["encoding"]]),
        "empty_stretches": {"seconds": empty,
                            "raw_no_action": sum(r["raw_empty_no_action"] * r["empty_seconds"] for r in rows if r["empty_seconds"]) / empty if empty else None,
                            "smoothed_no_action": sum(r["smoothed_empty_no_action"] * r["empty_seconds"] for r in rows if r["empty_seconds"]) / empty if empty else None},
        "no_actor": {"seconds": no_actor_seconds,   # shares None without no-actor content (`--no-actor-pieces 0`)
                     "raw_no_action": sum(p["raw_no_action"] * p["seconds"] for p in pieces) / no_actor_seconds if pieces else None,
                     "smoothed_no_action": sum(p["smoothed_no_action"] * p["seconds"] for p in pieces) / no_actor_seconds if pieces else None,
                     "action_segments": sum(p["smoothed_action_segments"] for p in pieces)},
        "segments": {kind: {"count": len(ss), "found": sum(x["found"] for x in ss) / len(ss) if ss else None}
                     for kind, ss in segments_by_view(rows).items()},
        "rows": rows, "no_actor_pieces": pieces,
    }
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=1)
    print(f"{'evaluation' if PURPOSE == 'eval' else 'aggregator tuning set'}: {a.videos} generated videos × {a.seconds:g} s (seeds {rows[0]['seed']}–{rows[-1]['seed']}, odd ones re-encoded),"
          f" {no_actor_seconds / 60:.1f} min of no-actor content; {a.model or 'bundled model'}, `vidar label` defaults")
    print(f"inputs sha256 {result['inputs_sha256']} (the video packets labelled, in order: the same digest, the same inputs)")
    print(f"{'seed':<9} {'encoding':<32} {'segs':>4} {'raw F1':>7} {'F1':>6} {'raw acc':>8} {'acc':>6} {'empty s':>8} {'empty ok':>9} {'hidden':>7}")
    for r in rows:
        ok = "-" if r["smoothed_empty_no_action"] is None else f"{r['smoothed_empty_no_action']:.3f}"
        hidden = sum(not x["shows"] for x in r["segments"])
        print(f"{r['seed']:<9} {describe(r['encoding']):<32} {r['true_segments']:4d} {r['raw_segment_f1']:7.3f} {r['smoothed_segment_f1']:6.3f}"
              f" {r['raw_frame_accuracy']:8.3f} {r['smoothed_frame_accuracy']:6.3f} {r['empty_seconds']:8.1f} {ok:>9} {hidden or '':>7}".rstrip())
    print()
    print(f"{'videos':<22} {'mean F1':>8} {'worst F1':>9} {'mean acc':>9} {'worst acc':>10}   (raw per-clip argmax in brackets)")
    for name in ("all", "original", "reencoded"):
        s = result[name]
        if s is None:
            continue
        print(f"{name:<22} {s['smoothed_segment_f1']:8.3f} {s['worst_smoothed_segment_f1']:9.3f} {s['smoothed_frame_accuracy']:9.3f}"
              f" {s['worst_smoothed_frame_accuracy']:10.3f}   ({s['raw_segment_f1']:.3f} {s['worst_raw_segment_f1']:.3f}"
              f" {s['raw_frame_accuracy']:.3f} {s['worst_raw_frame_accuracy']:.3f})")
    print()
    print(f"{'true action segments':<22} {'count':>8} {'found':>9}   (hidden: less than {actiongen.IN_VIEW:g} of the figure, or of its motion,"
          f" in the model's view)")
    for kind, x in result["segments"].items():
        found = "-" if x["found"] is None else f"{x['found']:.3f}"
        print(f"{kind:<22} {x['count']:8d} {found:>9}")
    print()
    print(f"{'no-actor content':<22} {'seconds':>8} {'no_action raw':>14} {'after aggregator':>17} {'action segments':>16}")
    for kind in dict.fromkeys(NO_ACTOR_KINDS):
        ps = [p for p in pieces if p["kind"] == kind]
        if not ps:
            continue
        sec = sum(p["seconds"] for p in ps)
        print(f"{kind:<22} {sec:8.0f} {sum(p['raw_no_action'] * p['seconds'] for p in ps) / sec:14.3f}"
              f" {sum(p['smoothed_no_action'] * p['seconds'] for p in ps) / sec:17.3f} {sum(p['smoothed_action_segments'] for p in ps):16d}")
    n = result["no_actor"]
    if pieces:
        print(f"{'all no-actor content':<22} {n['seconds']:8.0f} {n['raw_no_action']:14.3f} {n['smoothed_no_action']:17.3f} {n['action_segments']:16d}")
    e = result["empty_stretches"]
    if e["seconds"]:
        print(f"{'empty stretches':<22} {e['seconds']:8.0f} {e['raw_no_action']:14.3f} {e['smoothed_no_action']:17.3f}")


if __name__ == "__main__":
    main()
