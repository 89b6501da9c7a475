#!/usr/bin/env python3
"""The bundled model's data never overlaps its evaluation: seed ranges, footage and patterns are disjoint, and
every seed train.py, make_clips.sh and evaluate_actions.py actually use lies in its own range.

    /usr/bin/python3 tools/actions/test_seeds.py      (run by the Swift test BundledModelDataTests)
"""
import itertools
import os
import re
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "Benchmarks", "eval"))
import evaluate_actions  # noqa: E402
import seeds  # noqa: E402
import train  # noqa: E402


class SeedTests(unittest.TestCase):
    def test_ranges_are_disjoint(self):
        for (a, ra), (b, rb) in itertools.combinations(seeds.RANGES.items(), 2):
            self.assertTrue(ra.stop <= rb.start or rb.stop <= ra.start, f"{a} {ra} overlaps {b} {rb}")

    def test_training_uses_only_its_ranges(self):
        for purpose, per_class in (("train", train.TRAIN_PER_CLASS), ("validation", train.VAL_PER_CLASS)):
            used = [s for s, _, _ in train.jobs(per_class, purpose)]
            self.assertEqual(len(used), len(set(used)), f"{purpose}: a seed used twice")
            self.assertTrue(all(seeds.purpose_of(s) == purpose for s in used), purpose)

    def test_evaluation_uses_only_its_range(self):
        used = [seeds.seed("eval", k) for k in range(evaluate_actions.VIDEOS)]
        used += [seeds.seed("eval", evaluate_actions.NO_ACTOR_SEED_OFFSET + k) for k in range(len(evaluate_actions.NO_ACTOR_KINDS))]
        self.assertEqual(len(used), len(set(used)))
        self.assertTrue(all(seeds.purpose_of(s) == "eval" for s in used))

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


if __name__ == "__main__":
    unittest.main(verbosity=2)
