#!/usr/bin/env python3
"""The bundled model's data never overlaps its evaluation: seed ranges, footage and patterns are disjoint, and
every seed train.py, make_clips.sh and evaluate_actions.py actually use lies in its own range. And a seed decides
its clip: every no-actor source renders the same frames twice, and training the same clips twice gives the same
weights, so `make model` and `make eval` can be reproduced. A wider network started from version 1 (widen.py)
computes what version 1 computes.

    /usr/bin/python3 tools/actions/test_seeds.py      (run by the Swift test BundledModelDataTests)
"""
import itertools
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest
from unittest import mock

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "Benchmarks", "eval"))
import actiongen  # noqa: E402
import evaluate_actions  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import backgrounds  # noqa: E402
import seeds  # noqa: E402
import train  # noqa: E402
import transcode  # noqa: E402


def _seed_choosing(name, names):
    """The first seed whose generator's first draw from `names` is `name` (to render each source once)."""
    return next(k for k in itertools.count() if str(np.random.default_rng(k).choice(names)) == name)


def _gradients(model, convolutions, cls, x, y, bf16=False):
    """Every parameter's gradient of the loss on (x, y), with `convolutions` made `cls` (FoldedConv3d or
    nn.Conv3d) and the forward pass under bf16 autocast when asked."""
    for m in convolutions:
        m.__class__ = cls
    model.zero_grad()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        out = model(x).float()
    torch.nn.functional.cross_entropy(out, y).backward()
    return {k: p.grad.clone() for k, p in model.named_parameters()}


class SeedTests(unittest.TestCase):
    def test_ranges_are_disjoint(self):
        for (a, ra), (b, rb) in itertools.combinations(seeds.RANGES.items(), 2):
            self.assertTrue(ra.stop <= rb.start or rb.stop <= ra.start, f"{a} {ra} overlaps {b} {rb}")

    def test_training_uses_only_its_ranges(self):
        for purpose, per_class in (("train", train.TRAIN_PER_CLASS), ("validation", train.VAL_PER_CLASS)):
            used = [s for s, _, _ in train.jobs(per_class, purpose)]
            self.assertEqual(len(used), len(set(used)), f"{purpose}: a seed used twice")
            self.assertTrue(all(seeds.purpose_of(s) == purpose for s in used), purpose)

    def test_evaluation_and_tuning_use_only_their_ranges(self):
        for purpose in ("eval", "tune"):
            used = [evaluate_actions.long_video_seed(k, purpose) for k in range(evaluate_actions.VIDEOS)]
            used += [evaluate_actions.no_actor_seed(k, purpose) for k in range(len(evaluate_actions.NO_ACTOR_KINDS))]
            self.assertEqual(len(used), len(set(used)), purpose)
            self.assertTrue(all(seeds.purpose_of(s) == purpose for s in used), purpose)
        # The tuning set plays training's footage and patterns, the evaluation its own.
        for purpose, footage, patterns in (("tune", seeds.TRAIN_FOOTAGE, seeds.TRAIN_PATTERNS), ("eval", seeds.EVAL_FOOTAGE, seeds.EVAL_PATTERNS)):
            seed = evaluate_actions.no_actor_seed(0, purpose)
            with mock.patch.object(backgrounds, "footage") as f, mock.patch.object(backgrounds, "pattern") as p:
                backgrounds.frames("footage", seed, 1.0)
                backgrounds.frames("pattern", seed, 1.0)
            self.assertEqual((f.call_args.args[3], p.call_args.args[3]), (footage, patterns), purpose)

    def test_the_shipped_model_is_what_train_py_writes_by_default(self):
        # make model runs train.py without options: the shipped file's version, network, training settings and
        # aggregator are its defaults' (the weights themselves: the README's model card records two trainings' digest).
        import tune_aggregator
        header = train.safetensors_metadata(os.path.join(HERE, "..", "..", "Sources", "Vidar", "Resources", "vidar-actions.safetensors"))
        self.assertEqual(header["vidar.version"], train.VERSION)
        self.assertEqual(json.loads(header["vidar.config"]), train.CONFIG)
        training = json.loads(header["vidar.training"])
        self.assertEqual((training["epochs"], training["bf16"], training["input_grad_as_conv"]), (train.EPOCHS, train.BF16, train.INPUT_GRAD_AS_CONV))
        data = training["data"]
        # Keys added after a version was trained are absent from its metadata: none then meant no empty occluders,
        # all clips kept.
        self.assertEqual({"occluded_empty": 0.0, **data["appearance"]}, train.TRAIN_APPEARANCE)
        self.assertEqual(data.get("visible"), actiongen.IN_VIEW if train.VISIBLE_ONLY else None)
        self.assertEqual(json.loads(header["vidar.aggregator"]), train.AGGREGATOR)
        self.assertTrue(set(train.AGGREGATOR) <= set(tune_aggregator.GRID), train.AGGREGATOR)
        self.assertTrue(all(train.AGGREGATOR[k] in tune_aggregator.GRID[k] for k in train.AGGREGATOR), "a setting the grid holds")

    def test_tuning_reuses_timelines_whose_model_differs_only_in_its_aggregator(self):
        # make tune labels once; writing the chosen settings into the model (metadata only) must not force a second
        # labelling, while other weights must. Re-aggregation replaces every aggregator setting a model may recommend.
        import hashlib
        import tune_aggregator
        with tempfile.TemporaryDirectory() as d:
            def model(name, smooth, bias):
                header = json.dumps({"__metadata__": {"vidar.version": "t", "vidar.aggregator": json.dumps({"smooth": smooth})},
                                     "fc.bias": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}).encode()
                path = os.path.join(d, name + ".safetensors")
                with open(path, "wb") as f:
                    f.write(len(header).to_bytes(8, "little") + header + np.array([bias], np.float32).tobytes())
                return path, hashlib.sha256(open(path, "rb").read()).hexdigest()
            (first, first_sha), (tuned, _), (other, _) = model("a", "none", 0.0), model("b", "ma:2", 0.0), model("c", "none", 1.0)
            timelines = os.path.join(d, "timelines")
            os.mkdir(timelines)
            def label(sha, k=0):
                name = f"eval-{evaluate_actions.long_video_seed(k, 'tune')}.json" if k < 2 else f"no-actor-{evaluate_actions.no_actor_seed(0, 'tune')}.json"
                with open(os.path.join(timelines, name), "w") as f:
                    json.dump({"provenance": {"model_sha256": sha}}, f)
            for k in range(3):
                label(first_sha, k)
            self.assertTrue(tune_aggregator.labelled(timelines, first, 2, 1))
            self.assertFalse(tune_aggregator.labelled(timelines, tuned, 2, 1), "no record of what labelled them")
            with open(os.path.join(timelines, tune_aggregator.MARKER), "w") as f:
                json.dump({"file_sha256": first_sha, "inference_sha256": tune_aggregator.inference_digest(first)}, f)
            self.assertTrue(tune_aggregator.labelled(timelines, tuned, 2, 1))
            self.assertFalse(tune_aggregator.labelled(timelines, other, 2, 1), "other weights")
            self.assertFalse(tune_aggregator.labelled(timelines, tuned, 3, 1), "a timeline missing")
            label("0" * 64, 1)
            self.assertFalse(tune_aggregator.labelled(timelines, tuned, 2, 1), "a timeline from another model")

        written = []
        def merge(command, **kwargs):
            written.append(json.load(open(command[-1])))
            return subprocess.CompletedProcess(command, 0, stdout='{"segments": []}')
        recommended = {"smoothing": {"moving_average": {"clips": 3}}, "patience": 5, "margin": 0.3, "enter_threshold": 0.6,
                       "exit_threshold": 0.45, "min_duration": 3.0, "top_k": 1}
        with mock.patch.object(tune_aggregator.subprocess, "run", merge):
            tune_aggregator.reaggregate("vidar", {"aggregator": recommended}, tune_aggregator.DEFAULTS)
        got = written[0]["aggregator"]
        self.assertEqual({k: got[k] for k in recommended if k != "top_k"},
                         {"smoothing": {"none": {}}, "patience": 2, "margin": 0.1, "enter_threshold": 0.4, "exit_threshold": 0.25,
                          "min_duration": 1.0}, "every recommendable setting replaced")

    def test_the_evaluation_refuses_an_empty_set_before_labelling(self):
        script = os.path.join(HERE, "..", "..", "Benchmarks", "eval", "evaluate_actions.py")
        for args in (["--videos", "0"], ["--no-actor-pieces", "-1"]):
            run = subprocess.run([sys.executable, script, *args], capture_output=True, text=True, timeout=120)
            self.assertEqual(run.returncode, 2, run.stderr)
            self.assertIn("--videos must be at least 1 and --no-actor-pieces at least 0", run.stderr)
            self.assertEqual(run.stdout, "", "nothing labelled")

    def test_tuning_chooses_the_best_boundaries_that_keep_segments_and_empty_time(self):
        import tune_aggregator
        table = [(0.97, 0.90, 1.0, 0),                         # vidar's defaults: mean F1, frame accuracy, no-actor share, false segments
                 (0.99, 0.95, 0.98, 0), (0.98, 0.95, 1.0, 1), (0.965, 0.95, 1.0, 0),   # each fails one bar
                 (0.975, 0.92, 0.995, 0), (0.98, 0.92, 0.995, 0), (0.98, 0.92, 1.0, 0), (0.97, 0.91, 1.0, 0)]
        rows = [{"setting": tune_aggregator.DEFAULTS if n == 0 else {"n": n}, "mean_f1": f1, "worst_f1": 0.5, "frame_accuracy": acc,
                 "no_actor": na, "false_segments": false} for n, (f1, acc, na, false) in enumerate(table)]
        # The best frame accuracy allowed, then the higher mean F1, then the earlier.
        self.assertEqual(tune_aggregator.choose(rows)["setting"], {"n": 5})
        self.assertEqual(tune_aggregator.choose(rows[:4])["setting"], tune_aggregator.DEFAULTS)
        self.assertIn(tune_aggregator.DEFAULTS, [dict(zip(tune_aggregator.GRID, v)) for v in itertools.product(*tune_aggregator.GRID.values())])

    def test_demo_clips_use_the_demo_range(self):
        script = open(os.path.join(HERE, "..", "..", "clips", "make_clips.sh")).read()
        demo = [int(s) for s in re.search(r"for seed in ([0-9 ]+);", script).group(1).split()]
        self.assertTrue(demo and all(seeds.purpose_of(s) == "demo" for s in demo), demo)

    def test_seed_refuses_to_leave_its_range(self):
        with self.assertRaises(ValueError):
            seeds.seed("eval", len(seeds.RANGES["eval"]))

    def test_footage_and_patterns_are_held_out(self):
        self.assertFalse(set(seeds.TRAIN_FOOTAGE) & set(seeds.EVAL_FOOTAGE))
        self.assertFalse(set(seeds.TRAIN_PATTERNS) & set(seeds.EVAL_PATTERNS))


class RenderTests(unittest.TestCase):
    def test_every_pattern_renders_the_same_twice(self):
        # ffmpeg's life, gradients, cellauto and sierpinski fill themselves from the clock unless seeded.
        for names in (seeds.TRAIN_PATTERNS, seeds.EVAL_PATTERNS):
            for name in names:
                seed = _seed_choosing(name, names)
                a, b = (np.stack(backgrounds.pattern(np.random.default_rng(seed), 0.5, 15, names)) for _ in range(2))
                self.assertTrue(np.array_equal(a, b), f"ffmpeg pattern {name} (seed {seed}) rendered differently twice")

    def test_every_training_footage_file_is_the_pinned_one(self):
        for name in seeds.TRAIN_FOOTAGE:
            path = backgrounds.footage_file(name)
            if name in backgrounds.DEBIAN_FOOTAGE:
                self.assertEqual(backgrounds._sha256(path), backgrounds.DEBIAN_FOOTAGE[name][2], f"{name} differs from the pinned file")
            self.assertGreater(backgrounds.duration(path), 0.5, name)

    def test_every_footage_file_renders_the_same_from_a_seek(self):
        # Frame-threaded H.264 decoding that starts at a seek is not deterministic on cockatoo.mp4: three renders of
        # one training clip gave three different sets of frames, and two renderings of the training data differed in
        # 20 clips (10 of cockatoo's 12, and clips sharing an encoding with them). Footage decodes on one thread.
        for names, whole in ((seeds.TRAIN_FOOTAGE, False), (seeds.EVAL_FOOTAGE, True)):
            for name in names:
                seed = _seed_choosing(name, names)
                a, b, c = (np.stack(backgrounds.footage(np.random.default_rng(seed), 1.0, 15, names, whole)) for _ in range(3))
                self.assertTrue(np.array_equal(a, b) and np.array_equal(a, c), f"footage {name} (seed {seed}) rendered differently")

    def test_every_kind_of_background_renders_the_same_twice(self):
        for kind in ("scene", "texture", "footage"):
            for purpose in ("train", "eval"):
                seed = seeds.seed(purpose, 7)
                a, b = (np.stack(backgrounds.frames(kind, seed, 0.5)) for _ in range(2))
                self.assertTrue(np.array_equal(a, b), f"{kind} ({purpose} seed {seed}) rendered differently twice")

    def test_a_figure_covers_the_pixels_a_test_of_the_whole_frame_finds(self):
        # figure_mask tests each limb only in the rows and columns near it; the same test over the whole frame must
        # find no other pixel (zooming and panning cameras, figures partly outside the frame included).
        everything = lambda *_: (slice(None), slice(None))  # noqa: E731
        drawn = zoomed = 0
        for k in range(60):
            seed = seeds.seed("train", k)
            action = actiongen.ACTIONS[k % len(actiongen.ACTIONS)]
            rng, fig, scene, t0 = actiongen.clip_setup(seed, action)
            for i in range(0, 16, 5):
                t = t0 + i / actiongen.FPS
                X, Y, zoom = scene.camera.world(scene.xx, scene.yy, t, rng)
                parts = (*fig.joints(action, t, actiongen.walk_offset(action, i / actiongen.FPS, fig)), fig.thick)
                mask = actiongen.figure_mask(X, Y, *parts)
                self.assertTrue(np.array_equal(mask, actiongen.figure_mask(X, Y, *parts, box=everything)), (seed, t))
                drawn += bool(mask.any())
                zoomed += zoom != 1
        self.assertGreater(drawn, 200, "figures in the frame")
        self.assertGreater(zoomed, 50, "frames from a zooming camera")

    def test_the_figure_in_view_is_what_a_frame_shows(self):
        # clip_visibility counts the pixels figure_in_view finds; they must be the pixels a frame draws the figure
        # on: the figure drawn black and drawn white (no jitter, no noise), compared.
        behind = 0
        for k in range(40):
            seed = seeds.seed("train", k)
            action = actiongen.ACTIONS[k % len(actiongen.ACTIONS)]
            _, fig, scene, t0 = actiongen.clip_setup(seed, action)
            scene.camera.jitter, scene.noise = 0.0, 0.0
            for i in (0, 9):
                t, walk = t0 + i / actiongen.FPS, actiongen.walk_offset(action, i / actiongen.FPS, fig)
                mask, seen = scene.figure_in_view(fig, action, t, walk)
                frames = []
                for colour in ((0, 0, 0), (1, 1, 1)):
                    fig.color = np.array(colour, float)
                    frames.append(scene.render(fig, action, t, walk).astype(int))
                drawn = np.abs(frames[0] - frames[1]).sum(-1) > 0
                self.assertTrue(np.array_equal(drawn, mask & seen), (seed, action, i))
                behind += int((mask & ~seen).any())
        self.assertGreater(behind, 5, "frames with part of the figure behind an occluder")

    def test_a_clip_shows_its_figure_only_inside_the_crop(self):
        seed = next(seeds.seed("train", k) for k in itertools.count()
                    if actiongen.clip_setup(seeds.seed("train", k), "waving")[2].occluder is None)
        everything, nothing = (slice(None), slice(None)), (slice(0, 0), slice(0, 0))
        self.assertEqual(actiongen.clip_visibility(seed, "waving", 1.0, everything), (1.0, 1.0))
        self.assertEqual(actiongen.clip_visibility(seed, "waving", 1.0, nothing), (0.0, 0.0))

    def test_the_demo_clip_is_the_file_the_generator_writes_here(self):
        # make_clips.sh on this machine writes the committed bytes: the generator's frames and its H.264 (x264 in C
        # on one thread) are the same on every x86-64 CPU, so the demo clips, and the evaluation's original videos
        # written the same way, are the same inputs wherever `make eval` runs.
        committed = os.path.join(HERE, "..", "..", "clips", "actions-101.mp4")
        frames, _ = actiongen.long_video(101, 40)
        with tempfile.TemporaryDirectory() as d:
            actiongen.write_video(frames, os.path.join(d, "clip.mp4"))
            with open(os.path.join(d, "clip.mp4"), "rb") as a, open(committed, "rb") as b:
                self.assertTrue(a.read() == b.read(), "clips/actions-101.mp4 is not what the generator writes on this machine: "
                                "its rendering or its H.264 changed (bash clips/make_clips.sh remakes the clips), or depends on the CPU")

    def test_a_long_videos_visibility_is_counted_on_the_figure_its_frames_draw(self):
        # long_video and long_video_visibility walk the same steps: the figure in view at each step is the figure a
        # frame draws there (black against white, no jitter, no noise), through walks, stops and empty stretches,
        # and each segment's shares are counted over those pixels.
        seed = next(seeds.seed("eval", k) for k in itertools.count() if actiongen.long_video_steps(seeds.seed("eval", k), 1)[1].occluder)
        fig, scene, segments, steps = actiongen.long_video_steps(seed, 45)
        scene.camera.jitter, scene.noise = 0.0, 0.0
        views = {}
        for t, segment, walk in steps:
            action = segment[2]
            if action == actiongen.NO_ACTION:
                continue
            mask, seen = scene.figure_in_view(fig, action, t, walk)
            frames = []
            for colour in ((0, 0, 0), (1, 1, 1)):
                fig.color = np.array(colour, float)
                frames.append(scene.render(fig, action, t, walk).astype(int))
            self.assertTrue(np.array_equal(np.abs(frames[0] - frames[1]).sum(-1) > 0, mask & seen), (seed, t, action))
            views.setdefault(segment, []).append((mask, seen))
        self.assertGreater(len(views), 3, "several segments checked")
        measured = actiongen.long_video_visibility(seed, 45, actiongen.MODEL_VIEW)
        self.assertEqual(measured, [(*k, *actiongen.shares_in_view(v, actiongen.MODEL_VIEW)) for k, v in views.items()])
        # Its segments are the true action segments; the whole frame shows each, an empty crop none.
        everything, nothing = (slice(None), slice(None)), (slice(0, 0), slice(0, 0))
        whole = actiongen.long_video_visibility(seed, 45, everything)
        self.assertEqual([v[:3] for v in whole], [s for s in segments if s[2] != actiongen.NO_ACTION])
        self.assertTrue(any(0 < v[3] < 1 for v in whole), "the occluder hides part of the figure")
        self.assertEqual({v[3:] for v in actiongen.long_video_visibility(seed, 45, nothing)}, {(0.0, 0.0)})

    def test_the_evaluation_tells_hidden_segments_from_missed_ones(self):
        # The first evaluation video with an action segment that does not show its action: labelled as the truth,
        # as nothing, and as the truth's segments in view only, each segment is counted found or not, hidden or not.
        for k in range(evaluate_actions.VIDEOS):
            seed = seeds.seed("eval", k)
            shows = [actiongen.shows_its_action(*v[2:]) for v in actiongen.long_video_visibility(seed, 45, actiongen.MODEL_VIEW)]
            if not all(shows):
                break
        else:
            self.fail("no evaluation video has a hidden action segment: nothing to tell apart")
        segments = actiongen.long_video_steps(seed, 45)[2]   # the true timeline, without rendering the frames
        truth = [{"start": s, "end": e, "label": a} for s, e, a in segments]
        actions = [t for t in truth if t["label"] != actiongen.NO_ACTION]
        for name, smoothed, found in (("every one", truth, [True] * len(shows)), ("none", [], [False] * len(shows)),
                                      ("those in view", [t for t, v in zip(actions, shows) if v], shows)):
            rows = [{"segments": evaluate_actions.segments_in_view(seed, 45, actiongen.FPS, truth, smoothed)}]
            self.assertEqual([x["found"] for x in rows[0]["segments"]], found, name)
            self.assertEqual([x["shows"] for x in rows[0]["segments"]], shows)
            kinds = evaluate_actions.segments_by_view(rows)
            self.assertEqual((len(kinds["in view"]), len(kinds["hidden"])), (sum(shows), len(shows) - sum(shows)))


class TrainingTests(unittest.TestCase):
    def test_training_twice_gives_the_same_weights(self):
        # train.py's own steps (start from version 1, AdamW, one-cycle, mirror, and the crop and photometric
        # augmentation when it is on) on 32 seeded random clips of uint8 frames, twice each way.
        # In fp32 (`train.py --fp32`) and in bf16, as the shipped model is trained.
        for augment, bf16 in ((False, False), (True, False), (True, True)):
            with self.subTest(augment=augment, bf16=bf16):
                if not bf16 or self._cpu_runs_bf16():
                    self._train_twice(augment, bf16)

    def _cpu_runs_bf16(self):
        """True on a CPU with bf16 arithmetic; elsewhere asserts that train.py refuses with a clear line."""
        if train.cpu_has_bf16():
            return True
        run = subprocess.run([sys.executable, os.path.join(HERE, "train.py"), os.devnull], capture_output=True, text=True)
        self.assertNotEqual(run.returncode, 0)
        self.assertIn("training in bf16 needs a CPU with AVX512_BF16", run.stderr)
        return False

    def test_training_in_bf16_refuses_a_cpu_without_it(self):
        # The refusal's one line and exit code, on any machine: train.py's main with cpu_has_bf16 answering no.
        code = ("import os, sys; sys.argv = ['train.py', os.devnull]; sys.path.insert(0, %r); import train; "
                "train.cpu_has_bf16 = lambda: False; train.main()" % HERE)
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)   # else it would train
        self.assertEqual(run.returncode, 1, run.stderr)
        self.assertEqual(run.stderr.count("\n"), 1, run.stderr)
        self.assertIn("training in bf16 needs a CPU with AVX512_BF16 or AMX-BF16", run.stderr)
        self.assertIn("--fp32", run.stderr)

    def _set_augment(self, on):
        self.addCleanup(setattr, train, "AUGMENT", train.AUGMENT)
        train.AUGMENT = on

    def _train_twice(self, augment, bf16):
        torch.set_num_threads(2)
        self._set_augment(augment)
        self.addCleanup(setattr, train, "BF16", train.BF16)
        train.BF16 = bf16
        digests = []
        for _ in range(2):
            torch.manual_seed(0)
            data = torch.Generator().manual_seed(5)
            x = torch.randint(0, 256, (32, 16, 128, 171, 3), dtype=torch.uint8, generator=data)
            y = torch.randint(0, len(train.actiongen.LABELS), (32,), generator=data)
            model = train.network()
            train.start_from(model, train.INIT)
            opt, sched = train.optimizer(model, 4)
            g = torch.Generator().manual_seed(1)
            for _ in range(2):
                train.train_epoch(model, opt, sched, x, y, g)
            state = model.state_dict()
            digests.append(train.tensors_digest(state))
        self.assertTrue(digests[0] == digests[1], f"two trainings on the same clips gave different weights (augment={augment}, bf16={bf16})")
        initial = train.load_safetensors(train.INIT)
        self.assertFalse(np.array_equal(initial["layer1.0.conv1.0.weight"].numpy(), state["layer1.0.conv1.0.weight"].numpy()),
                         "the training steps did not change the weights")

    def test_the_data_digest_changes_with_one_pixel_and_only_then(self):
        # The report's data_sha256 separates a retraining's data from its arithmetic: equal clips give equal digests,
        # one changed pixel or label another.
        frames = torch.randint(0, 256, (2, 16, 8, 8, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(4))
        labels = torch.tensor([1, 2])
        digest = train.data_digest(frames, labels)
        self.assertEqual(digest, train.data_digest(frames.clone(), labels.clone()))
        changed = frames.clone()
        changed[1, 7, 3, 3, 0] ^= 1
        self.assertNotEqual(digest, train.data_digest(changed, labels))
        self.assertNotEqual(digest, train.data_digest(frames, torch.tensor([1, 3])))

    def test_the_folded_weight_gradient_is_conv3ds(self):
        # train.py's convolutions compute their weight gradient as a conv2d's (time taps folded into channels):
        # every parameter's gradient must be PyTorch's own conv3d's, to fp32 summation order.
        torch.set_num_threads(2)
        torch.manual_seed(3)
        model = train.network()
        folded = [m for m in model.modules() if type(m) is train.FoldedConv3d]
        self.assertEqual(len(folded), 12, "every convolution (stem, 8 in the blocks, 3 downsamples) is a FoldedConv3d")
        x, y = torch.randn(4, 3, 16, 112, 112), torch.randint(0, 8, (4,))
        grads = []
        self.addCleanup(setattr, train, "INPUT_GRAD_AS_CONV", train.INPUT_GRAD_AS_CONV)
        # The folded weight gradient, then with the input gradients as forward convolutions (INPUT_GRAD_AS_CONV),
        # then PyTorch's own.
        for cls, as_conv in ((train.FoldedConv3d, False), (train.FoldedConv3d, True), (torch.nn.Conv3d, False)):
            train.INPUT_GRAD_AS_CONV = as_conv
            grads.append(_gradients(model, folded, cls, x, y))
        for k, ref in grads[2].items():
            for name, got in (("folded", grads[0][k]), ("folded, input gradients as convolutions", grads[1][k])):
                err = (got - ref).abs().max().item() / max(ref.abs().max().item(), 1e-12)
                self.assertLess(err, 1e-4, f"{k}: the {name} gradient differs from conv3d's by {err:.2e} of its largest")
        self.assertFalse(all(torch.equal(grads[0][k], grads[1][k]) for k in grads[0]), "INPUT_GRAD_AS_CONV changed nothing")

    def test_bf16_gradients_are_as_close_to_fp32_as_pytorchs_own_autocast(self):
        # Training in bf16 goes through train.py's own backward (folded weight gradients, the stem's too, and input
        # gradients as convolutions) on bf16 tensors. Its gradients must be as near fp32's as PyTorch's own conv3d under
        # the same autocast (measured: within 1 % of its error, which is 0.5–11 % of a gradient's norm, set by the
        # forward pass's rounding); a wrong kernel flip or fold is off by its whole size.
        if not self._cpu_runs_bf16():
            return
        torch.set_num_threads(2)
        torch.manual_seed(3)
        model = train.network()
        train.start_from(model, train.INIT)
        folded = [m for m in model.modules() if type(m) is train.FoldedConv3d]
        x, y = torch.randn(4, 3, 16, 112, 112), torch.randint(0, 8, (4,))
        self.addCleanup(setattr, train, "INPUT_GRAD_AS_CONV", train.INPUT_GRAD_AS_CONV)
        train.INPUT_GRAD_AS_CONV = True
        grads = [_gradients(model, folded, cls, x, y, bf16)
                 for cls, bf16 in ((torch.nn.Conv3d, False), (train.FoldedConv3d, True), (torch.nn.Conv3d, True))]
        for k, ref in grads[0].items():
            ours, pytorchs = ((g[k] - ref).norm().item() / ref.norm().item() for g in grads[1:])
            self.assertLess(ours, 1.1 * pytorchs + 1e-3, f"{k}: bf16 gradient {ours:.3e} of fp32's norm away, PyTorch's autocast {pytorchs:.3e}")

    def test_the_input_transform_is_torchvisions_preset_without_augmentation(self):
        # to_input must match the R3D-18 preset vidar applies (centre 112×112 crop of 128×171, ImageNet-Kinetics
        # mean/std, channels first) exactly; with augmentation it must stay the same shape and differ.
        frames = torch.randint(0, 256, (3, 16, 128, 171, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(2))
        crop = frames[:, :, 8:120, 30:142].numpy().astype(np.float32) / 255
        expected = ((crop - train.MEAN) / train.STD).transpose(0, 4, 1, 2, 3)
        self.assertTrue(np.array_equal(train.to_input(frames).numpy(), expected), "to_input differs from the preset")
        self._set_augment(True)
        augmented = train.to_input(frames, torch.Generator().manual_seed(4))
        self.assertEqual(tuple(augmented.shape), expected.shape)
        self.assertFalse(np.array_equal(augmented.numpy(), expected), "augmentation changed nothing")

    def test_the_hard_mix_draws_more_hard_cases_and_leaves_other_draws_alone(self):
        # train.py --hard draws occluders and dark figures more often; a seed whose draws agree under both mixes
        # renders the same clip (the evaluation's videos keep the default mix).
        agree = occluded = dark = 0
        for k in range(400):
            seed = seeds.seed("train", k)
            _, fa, sa, ta = actiongen.clip_setup(seed, "waving")
            _, fb, sb, tb = actiongen.clip_setup(seed, "waving", train.HARD_APPEARANCE)
            occluded += (sb.occluder is not None) - (sa.occluder is not None)
            dark += int(fb.color.max() < 0.18) - int(fa.color.max() < 0.18)
            if (sa.occluder is None) == (sb.occluder is None) and np.array_equal(fa.color, fb.color):
                agree += 1
                self.assertEqual((sa.noise, sa.camera.jitter, ta), (sb.noise, sb.camera.jitter, tb), seed)
        self.assertGreater(occluded, 20, "more occluders under the hard mix")
        self.assertGreater(dark, 10, "more dark figures under the hard mix")
        self.assertGreater(agree, 200, "most seeds render the same clip under both mixes")
        frames = actiongen.clip_frames(seeds.seed("train", 0), "waving", 0.5, appearance=actiongen.APPEARANCE)
        self.assertTrue(all(np.array_equal(x, y) for x, y in zip(frames, actiongen.clip_frames(seeds.seed("train", 0), "waving", 0.5))))

    def test_empty_occluders_are_no_sign_of_a_figure_and_leave_other_draws_alone(self):
        # train.py --occluded-empty: scenes with nobody have an occluder as often as those with a figure (boxes seen
        # only in front of figures taught version 5 to call an empty stretch behind a post an action). The default
        # mix keeps its empty scenes as they were, and the occluder leaves every other draw of the scene alone.
        mix = train.with_empty_occluders(actiongen.APPEARANCE)
        n, with_figure, empty, eval_empty, box_seed = 1000, 0, 0, 0, None
        for k in range(n):
            seed = seeds.seed("train", k)
            with_figure += actiongen.clip_setup(seed, "waving", mix)[2].occluder is not None
            _, _, s, t = actiongen.clip_setup(seed, actiongen.NO_ACTION, mix)
            _, _, e, te = actiongen.clip_setup(seed, actiongen.NO_ACTION)
            empty += s.occluder is not None
            eval_empty += e.occluder is not None
            box_seed = box_seed or (seed if s.occluder is not None else None)
            self.assertEqual((s.noise, s.camera.jitter, len(s.distractors), t), (e.noise, e.camera.jitter, len(e.distractors), te), seed)
        self.assertGreater(empty / n, 0.2, "the mix's empty scenes have occluders")
        self.assertLess(abs(empty - with_figure) / n, 0.04, f"occluders: {empty} empty scenes, {with_figure} with a figure, of {n}")
        self.assertEqual(eval_empty, 0, "the default mix's empty scenes are as they were")
        # The background class's scenes are rendered with training's mix (the box shows in the clip), and with the
        # default mix as backgrounds.py renders them.
        background = actiongen.LABELS.index(actiongen.NO_ACTION)
        a, b = (train.render((m, [(box_seed, background, "scene")]))[0] for m in (mix, actiongen.APPEARANCE))
        self.assertFalse(np.array_equal(a, b), "an empty training scene rendered without its occluder")
        enc = train.clip_encoding(box_seed)
        scene = backgrounds.frames("scene", box_seed, train.CLIP_SECONDS, enc["fps"])
        self.assertTrue(np.array_equal(b, transcode.round_trip([scene], enc)[0]))

    def test_visible_only_keeps_the_first_clips_that_show_their_action(self):
        # train.py --visible: per action, the first seeds of its range whose clip shows the action; the others skipped.
        kept = train.jobs(40, "train", visible_only=True)
        every = train.jobs(40, "train")
        self.assertEqual(len(kept), len(every))
        skipped = 0
        for c, label in enumerate(actiongen.LABELS):
            if label == actiongen.NO_ACTION:
                self.assertEqual([j for j in kept if j[1] == c], [j for j in every if j[1] == c], "no-actor clips are all kept")
                continue
            mine = [s for s, k, _ in kept if k == c]
            first, last = seeds.seed("train", c * 100_000), mine[-1]
            self.assertEqual(len(mine), 40)
            tried = range(first, last + 1)
            shown = {s: train.shows_its_action((s, label, actiongen.APPEARANCE)) for s in tried}
            self.assertEqual(mine, [s for s in tried if shown[s]], label)
            skipped += len(tried) - len(mine)
        self.assertGreater(skipped, 3, "some clips hide their action")


class CacheTests(unittest.TestCase):
    def test_the_cache_keeps_the_most_recently_used_sets_of_each_purpose(self):
        with tempfile.TemporaryDirectory() as d, mock.patch.object(train, "CACHE", d):
            ages = {"train-a.npz": 400, "train-b.npz": 300, "train-c.npz": 200, "train-d.npz": 100,
                    "validation-a.npz": 900, "train-e.npz.tmp.npz": 800}   # seconds ago; the last still being written
            for name, age in ages.items():
                open(os.path.join(d, name), "wb").close()
                os.utime(os.path.join(d, name), (1e9 - age, 1e9 - age))
            train.prune_cache("train", keep=2)
            self.assertEqual(sorted(os.listdir(d)), ["train-c.npz", "train-d.npz", "train-e.npz.tmp.npz", "validation-a.npz"])


class WidenTests(unittest.TestCase):
    def test_a_widened_network_computes_what_version_1_computes_and_its_copies_learn_apart(self):
        c = train.CONFIG
        narrow = train.SmallVideoResNet(c["widths"], c["blocks"], c["stemWidth"], c["numClasses"])
        train.start_from(narrow, train.INIT)
        wide_widths = [w * 3 // 2 for w in c["widths"]]
        wide = train.SmallVideoResNet(wide_widths, c["blocks"], wide_widths[0], c["numClasses"])
        train.start_from(wide, train.INIT)
        x = torch.randn(2, 3, 8, 64, 64, generator=torch.Generator().manual_seed(3))
        narrow.eval()
        wide.eval()
        with torch.no_grad():
            a, b = narrow(x), wide(x)
        self.assertGreater(a.abs().max().item(), 0.1)
        self.assertLess((a - b).abs().max().item(), 1e-5 * a.abs().max().item() + 1e-6, "the same logits, to fp32 rounding")
        # A copied filter and its original get different gradients (their readers' shares differ).
        wide.train()
        wide(x).logsumexp(1).sum().backward()
        w, g = wide.layer3[0].conv1[0].weight, wide.layer3[0].conv1[0].weight.grad
        pairs = [(i, j) for i in range(c["widths"][2]) for j in range(c["widths"][2], w.shape[0]) if torch.equal(w[i], w[j])]
        self.assertEqual(len(pairs), w.shape[0] - c["widths"][2], "every new filter copies an original")
        self.assertTrue(all(not torch.allclose(g[i], g[j]) for i, j in pairs), "copies learn apart")


if __name__ == "__main__":
    unittest.main(verbosity=2)
