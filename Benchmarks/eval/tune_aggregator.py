#!/usr/bin/env python3
"""Tunes the bundled model's aggregator settings on videos of their own, never on make eval's: the tuning set is
evaluate_actions.py's kind of set drawn from the seed range "tune" (tools/actions/seeds.py, disjoint from training's
and the evaluation's), with training's footage and patterns, so that no evaluated input has been seen by the model
or by its settings.

1. labels the tuning set once (`evaluate_actions.py --purpose tune --keep DIR`: each timeline keeps its clips'
   full probabilities), unless DIR already holds its timelines from this model (or from one that differs from it
   only in its aggregator recommendation, as the model does once the choice is written into it);
2. re-aggregates every timeline with each setting of GRID through `vidar merge` (vidar's own aggregator, rerun
   over the recorded clips, so no inference is repeated; every setting a model may recommend is replaced, the
   exit threshold by vidar's default);
3. prints every setting's mean and worst segment F1, frame accuracy and no-actor time labelled no_action, best
   first, and the choice: the highest frame accuracy among the settings that score at least vidar's defaults'
   mean segment F1 and keep at least NO_ACTOR_FLOOR of the no-actor time no_action with no false segment (ties:
   the higher mean F1, then the earlier in GRID).

Why frame accuracy decides and segment F1 only bars: over the grid, the settings' frame accuracy on one set of 40
videos ranks them much as on another (rank correlation 0.78 between the tuning set and make eval's), their mean
segment F1 hardly (0.22): a few segments more or less move it by 0.01. Choosing by F1 chose smoothing that delays
every boundary (ema:0.5), which lost frame accuracy on every set it was measured on (README).

The choice goes into train.py's AGGREGATOR, which writes it into the model's metadata (`vidar.aggregator`); vidar
uses it wherever the user sets nothing else.

    /usr/bin/python3 Benchmarks/eval/tune_aggregator.py [--timelines DIR] [--vidar .build/release/vidar] [--model CKPT]
        [--purpose tune|eval] [--first K] [--only SETTING_JSON ...] [--json OUT]
"""
import argparse
import hashlib
import itertools
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
import evaluate_actions as ea  # noqa: E402
from evaluate_actions import actiongen, seeds  # noqa: E402

GRID = {
    "smooth": ["none", "ma:2", "ma:3", "ema:0.5"],
    "patience": [2, 3, 4],
    "margin": [0.1, 0.2, 0.3],
    "threshold": [0.35, 0.4, 0.5],
    "min_duration": [1.0, 2.0],
}
NO_ACTOR_FLOOR = 0.99
DEFAULTS = {"smooth": "none", "patience": 2, "margin": 0.1, "threshold": 0.4, "min_duration": 1.0}   # vidar's own
EXIT_THRESHOLD = 0.25   # vidar's default, not tuned: train.AGGREGATOR holds only GRID's keys (test_seeds checks it)


def smoothing_json(text):
    """`none`, `ma:K`, `ema:A` → the timeline's JSON of AggregatorOptions.Smoothing."""
    if text == "none":
        return {"none": {}}
    kind, value = text.split(":")
    return {"moving_average": {"clips": int(value)}} if kind == "ma" else {"exponential": {"alpha": float(value)}}


def reaggregate(vidar, timeline, setting):
    """The timeline's segments with `setting`: its aggregator options replaced and `vidar merge` rerun over it."""
    t = dict(timeline, aggregator=dict(timeline["aggregator"], **{
        "smoothing": smoothing_json(setting["smooth"]), "patience": setting["patience"], "margin": setting["margin"],
        "enter_threshold": setting["threshold"], "exit_threshold": EXIT_THRESHOLD, "min_duration": setting["min_duration"]}))
    with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
        json.dump(t, f)
        f.flush()
        out = subprocess.run([vidar, "merge", f.name], check=True, capture_output=True, text=True).stdout
    return json.loads(out)["segments"]


BUNDLED = os.path.join(os.path.dirname(__file__), "..", "..", "Sources", "Vidar", "Resources", "vidar-actions.safetensors")


def inference_digest(model):
    """sha256 of what a model file's clip probabilities depend on: its tensors and its metadata but the aggregator's
    recommendation, which reaggregate() replaces whole (so setting one, as train.py's AGGREGATOR does after tuning,
    needs no relabelling)."""
    with open(model, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
        tensors = f.read()
    header.get("__metadata__", {}).pop("vidar.aggregator", None)
    return hashlib.sha256(json.dumps(header, sort_keys=True).encode() + tensors).hexdigest()


MARKER = "labelled-by.json"   # beside the timelines: the model file that labelled them, and its inference digest


def labelled(directory, model, videos, pieces, purpose="tune", first=0):
    """Whether `directory` holds every input's timeline, labelled by this model file or by one that differs from it
    only in its aggregator recommendation."""
    accepted = {hashlib.sha256(open(model, "rb").read()).hexdigest()}
    marker = os.path.join(directory, MARKER)
    recorded = json.load(open(marker)) if os.path.exists(marker) else None
    if recorded and recorded["inference_sha256"] == inference_digest(model):
        accepted.add(recorded["file_sha256"])
    names = [f"eval-{ea.long_video_seed(k, purpose)}.json" for k in range(first, first + videos)]
    names += [f"no-actor-{ea.no_actor_seed(k, purpose)}.json" for k in range(first, first + pieces)]
    paths = [os.path.join(directory, n) for n in names]
    return all(os.path.exists(p) and json.load(open(p))["provenance"]["model_sha256"] in accepted for p in paths)


def truth(seed, k, seconds):
    encoding = ea.random_encoding(seed, k)
    _, _, segments, _ = actiongen.long_video_steps(seed, seconds, encoding["fps"] if encoding else actiongen.FPS)
    return [{"start": s, "end": e, "label": l} for s, e, l in segments]


def load_set(directory, videos, pieces, seconds, purpose="tune", first=0):
    """(name, timeline, truth or None for no-actor content) for every input of the set."""
    items = []
    for k in range(first, first + videos):
        seed = ea.long_video_seed(k, purpose)
        items.append((f"eval-{seed}", json.load(open(os.path.join(directory, f"eval-{seed}.json"))), truth(seed, k, seconds)))
    for k in range(first, first + pieces):
        seed = ea.no_actor_seed(k, purpose)
        items.append((f"no-actor-{seed}", json.load(open(os.path.join(directory, f"no-actor-{seed}.json"))), None))
    return items


def score_one(args):
    vidar, (name, timeline, true), setting = args
    segments = reaggregate(vidar, timeline, setting)
    if true is not None:
        times = [i / actiongen.FPS for i in range(int(true[-1]["end"] * actiongen.FPS))]
        accuracy = sum(ea.label_at(segments, t) == ea.label_at(true, t) for t in times) / len(times)
        return "video", (ea.f1(segments, true)[0], accuracy)
    times = [i / actiongen.FPS for i in range(int(ea.PIECE_SECONDS * actiongen.FPS))]
    share = sum(ea.label_at(segments, t) == actiongen.NO_ACTION for t in times) / len(times)
    return "no-actor", (share, sum(s["label"] != actiongen.NO_ACTION for s in segments))


def score(pool, vidar, items, setting):
    results = pool.map(score_one, [(vidar, item, setting) for item in items], chunksize=4)
    f1s = [f for kind, (f, _) in results if kind == "video"]
    accuracies = [a for kind, (_, a) in results if kind == "video"]
    no_actor = [v for kind, v in results if kind == "no-actor"]
    return {"setting": setting, "mean_f1": sum(f1s) / len(f1s), "worst_f1": min(f1s), "perfect": sum(f == 1 for f in f1s),
            "frame_accuracy": sum(accuracies) / len(accuracies),
            "no_actor": sum(s for s, _ in no_actor) / len(no_actor), "false_segments": sum(n for _, n in no_actor)}


def choose(rows):
    floor = next(r["mean_f1"] for r in rows if r["setting"] == DEFAULTS)
    ok = [r for r in rows if r["mean_f1"] >= floor and r["no_actor"] >= NO_ACTOR_FLOOR and r["false_segments"] == 0]
    return max(ok, key=lambda r: (round(r["frame_accuracy"], 6), round(r["mean_f1"], 6), -rows.index(r)), default=None)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--timelines", default=".cache/tune-timelines",
                    help="where the tuning set's timelines are (labelled first when missing or from another model file)")
    ap.add_argument("--vidar", default=".build/release/vidar")
    ap.add_argument("--model", help="another model than the bundled one")
    ap.add_argument("--json", help="also write every setting's scores to this file")
    ap.add_argument("--purpose", choices=["tune", "eval"], default="tune",
                    help="the set the grid is scored on: tune (to choose), or eval (only to measure how well a choice made on the "
                         "tuning set carries over; a setting chosen on it would flatter make eval)")
    ap.add_argument("--first", type=int, default=0,
                    help="the set's first seed offset in its range (--first 40: the confirmation set, 40 more videos no choice saw)")
    ap.add_argument("--only", action="append", metavar="JSON", help="score only this setting (repeatable), e.g. "
                    "'{\"smooth\": \"ma:2\", \"patience\": 3, \"margin\": 0.1, \"threshold\": 0.35, \"min_duration\": 1.0}'")
    a = ap.parse_args()
    videos, pieces, seconds = ea.VIDEOS, len(ea.NO_ACTOR_KINDS), 45.0
    if not labelled(a.timelines, a.model or BUNDLED, videos, pieces, a.purpose, a.first):
        command = [sys.executable, os.path.join(os.path.dirname(__file__), "evaluate_actions.py"), "--purpose", a.purpose,
                   "--keep", a.timelines, "--first", str(a.first), "--vidar", a.vidar] + (["--model", a.model] if a.model else [])
        print("labelling the tuning set:", " ".join(command), flush=True)
        subprocess.run(command, check=True)
        model = a.model or BUNDLED
        with open(os.path.join(a.timelines, MARKER), "w") as f:
            json.dump({"file_sha256": hashlib.sha256(open(model, "rb").read()).hexdigest(), "inference_sha256": inference_digest(model)}, f)
    items = load_set(a.timelines, videos, pieces, seconds, a.purpose, a.first)
    settings = [dict(zip(GRID, values)) for values in itertools.product(*GRID.values())]
    if a.only:
        settings = [DEFAULTS] + [json.loads(x) for x in a.only]
    rows = []
    with multiprocessing.get_context("fork").Pool(2) as pool:
        for n, setting in enumerate(settings, 1):
            rows.append(score(pool, os.path.abspath(a.vidar), items, setting))
            print(f"{n}/{len(settings)} {json.dumps(setting)} mean F1 {rows[-1]['mean_f1']:.4f}", file=sys.stderr, flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)
    print(f"{'tuning' if a.purpose == 'tune' else 'evaluation'} set: {videos} videos × {seconds:g} s"
          f" (seeds {ea.long_video_seed(a.first, a.purpose)}–{ea.long_video_seed(a.first + videos - 1, a.purpose)}),"
          f" {pieces} no-actor pieces; {len(settings)} settings")
    print(f"{'setting':<92} {'mean F1':>8} {'worst':>6} {'perfect':>8} {'frame acc':>10} {'no-actor':>9} {'false':>6}")
    defaults = next(r for r in rows if r["setting"] == DEFAULTS)
    for r in [defaults] + sorted((r for r in rows if r is not defaults), key=lambda r: -r["frame_accuracy"])[:20]:
        print(f"{json.dumps(r['setting']):<92} {r['mean_f1']:8.4f} {r['worst_f1']:6.3f} {r['perfect']:8d} {r['frame_accuracy']:10.4f}"
              f" {r['no_actor']:9.4f} {r['false_segments']:6d}" + ("   (vidar's defaults)" if r["setting"] == DEFAULTS else ""))
    if a.purpose != "tune" or a.first or a.only:
        return print("(scored to measure how a choice carries over: not a choice)")
    best = choose(rows)
    print("choice:", json.dumps(best["setting"]) if best else f"none keeps {NO_ACTOR_FLOOR:.0%} of the no-actor time no_action")


if __name__ == "__main__":
    main()
