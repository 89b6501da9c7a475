#!/usr/bin/env python3
"""Procedural action videos: an articulated stick figure performing one of a few actions in which motion,
not any single frame, decides the class. Everything is seeded and randomised (body proportions, colours, size,
position, speed, phase, background gradient/texture, distractor shapes, camera jitter, noise).

Frames are rendered at 128×171 (the size torchvision's R3D-18 preset resizes to), 15 fps.

    python3 actiongen.py video OUT.mp4 --seed S --seconds 40   # a long video + OUT.timeline.json (ground truth)
"""
import argparse
import json
import math
import subprocess

import numpy as np

ACTIONS = ["standing_still", "waving", "clapping", "jumping_jacks", "squatting", "walking_left", "walking_right"]
H, W, FPS = 128, 171, 15


class Figure:
    """Random body, colours and placement for one actor."""

    def __init__(self, rng):
        self.scale = rng.uniform(0.75, 1.15)
        self.limb = rng.uniform(0.9, 1.15)
        self.thick = rng.uniform(2.0, 3.4)
        self.color = rng.uniform(0, 1, 3)
        self.x = rng.uniform(55, W - 55)
        self.y = rng.uniform(70, 88)
        self.speed = rng.uniform(0.8, 1.3)      # cycles per second scale
        self.phase = rng.uniform(0, 2 * math.pi)

    def joints(self, action, t, walk_x):
        """Joint positions (x, y) at time t seconds for an action."""
        s, L = 12 * self.scale, self.limb
        w = 2 * math.pi * self.speed * t + self.phase
        cx, hip_y = self.x + walk_x, self.y
        lift = 0.0
        arm = {"l": (-0.35, 0.9), "r": (0.35, 0.9)}          # (angle from down, elbow bend)
        leg = {"l": (-0.12, 0.0), "r": (0.12, 0.0)}
        if action == "waving":
            a = 2.6 + 0.5 * math.sin(2.2 * w)
            arm["r"] = (a, 0.3 + 0.4 * math.sin(2.2 * w))
        elif action == "clapping":
            c = 0.5 + 0.5 * math.sin(2.5 * w)
            arm["l"] = (-(1.3 + 0.5 * c), 1.2 - 0.8 * c)
            arm["r"] = (1.3 + 0.5 * c, 1.2 - 0.8 * c)
        elif action == "jumping_jacks":
            c = 0.5 + 0.5 * math.sin(1.6 * w)
            arm["l"], arm["r"] = (-(0.3 + 2.5 * c), 0.1), (0.3 + 2.5 * c, 0.1)
            leg["l"], leg["r"] = (-(0.1 + 0.45 * c), 0.0), (0.1 + 0.45 * c, 0.0)
            lift = 4 * s / 12 * abs(math.sin(1.6 * w))
        elif action == "squatting":
            c = 0.5 + 0.5 * math.sin(1.2 * w)
            hip_y += 1.1 * s * c
            leg["l"], leg["r"] = (-0.12 - 0.5 * c, 1.6 * c), (0.12 + 0.5 * c, -1.6 * c)
            arm["l"], arm["r"] = (-(0.35 + 1.2 * c), 0.3), (0.35 + 1.2 * c, 0.3)
        elif action in ("walking_left", "walking_right"):
            c = math.sin(2.0 * w)
            leg["l"], leg["r"] = (0.45 * c, 0.25 * max(0, c)), (-0.45 * c, 0.25 * max(0, -c))
            arm["l"], arm["r"] = (-0.4 * c, 0.4), (0.4 * c, 0.4)
            lift = 0.8 * abs(c)
        hip = np.array([cx, hip_y - lift])
        neck = hip + [0, -1.6 * s * L]
        head = neck + [0, -0.75 * s]
        segs = [(hip, neck)]
        for side, sx in (("l", -1), ("r", 1)):
            a, bend = arm[side]
            shoulder = neck + [0.45 * s * sx, 0.15 * s]
            elbow = shoulder + 0.95 * s * L * np.array([math.sin(a), math.cos(a)])
            hand = elbow + 0.9 * s * L * np.array([math.sin(a + bend * sx), math.cos(a + bend * sx)])
            segs += [(neck, shoulder), (shoulder, elbow), (elbow, hand)]
            a, bend = leg[side]
            hipj = hip + [0.3 * s * sx, 0]
            knee = hipj + 1.1 * s * L * np.array([math.sin(a), math.cos(a)])
            foot = knee + 1.1 * s * L * np.array([math.sin(a - bend), math.cos(a - bend)])
            segs += [(hip, hipj), (hipj, knee), (knee, foot)]
        return segs, head, 0.45 * s


class Scene:
    """A background, distractors and camera behaviour; one per video or clip."""

    def __init__(self, rng):
        self.rng = rng
        yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
        c0, c1 = rng.uniform(0, 1, 3), rng.uniform(0, 1, 3)
        g = (xx * math.cos(rng.uniform(0, 6.3)) + yy * math.sin(rng.uniform(0, 6.3))) / (W + H) + 0.5
        bg = c0[None, None] * (1 - g[..., None]) + c1[None, None] * g[..., None]
        freq = rng.uniform(0.05, 0.4)
        bg += rng.uniform(0, 0.12) * np.sin(xx * freq + rng.uniform(0, 6))[..., None] * np.sin(yy * freq * 0.7)[..., None]
        self.bg = np.clip(bg, 0, 1).astype(np.float32)
        self.yy, self.xx = yy, xx
        self.distractors = [(rng.uniform(0, W), rng.uniform(0, H), rng.uniform(4, 14), rng.uniform(0, 1, 3),
                             rng.uniform(-0.6, 0.6), rng.uniform(-0.4, 0.4)) for _ in range(rng.integers(0, 4))]
        self.jitter = rng.uniform(0, 1.5)
        self.noise = rng.uniform(0.0, 0.04)

    def render(self, fig, action, t, walk_x):
        img = self.bg.copy()
        for x, y, r, col, vx, vy in self.distractors:      # slow-drifting blobs: motion that means nothing
            m = (self.xx - (x + vx * t * FPS) % W) ** 2 + (self.yy - (y + vy * t * FPS) % H) ** 2 < r * r
            img[m] = col
        jx, jy = self.rng.normal(0, self.jitter, 2)
        segs, head, head_r = fig.joints(action, t, walk_x)
        mask = np.zeros((H, W), bool)
        for a, b in segs:
            a, b = a + [jx, jy], b + [jx, jy]
            d = b - a
            L2 = max(d @ d, 1e-6)
            u = np.clip(((self.xx - a[0]) * d[0] + (self.yy - a[1]) * d[1]) / L2, 0, 1)
            dist2 = (self.xx - a[0] - u * d[0]) ** 2 + (self.yy - a[1] - u * d[1]) ** 2
            mask |= dist2 < fig.thick ** 2
        hx, hy = head + [jx, jy]
        mask |= (self.xx - hx) ** 2 + (self.yy - hy) ** 2 < head_r ** 2 * 1.0
        img[mask] = fig.color
        img += self.rng.normal(0, self.noise, img.shape).astype(np.float32)
        return (np.clip(img, 0, 1) * 255).astype(np.uint8)


def walk_offset(action, t, fig):
    v = 9 * fig.scale * fig.speed                           # pixels per second
    return {"walking_left": -v * t, "walking_right": v * t}.get(action, 0.0)


MAX_WALK = 7.0  # seconds: at most ~110 px at the fastest speed, so a walk stays in the 171-px frame


def clip(seed, action, frames=16):
    """One training clip (frames × H × W × 3, uint8) of `action`."""
    rng = np.random.default_rng(seed)
    fig, scene = Figure(rng), Scene(rng)
    if action == "walking_left":
        fig.x = rng.uniform(W * 0.45, W - 30)
    elif action == "walking_right":
        fig.x = rng.uniform(30, W * 0.55)
    t0 = rng.uniform(0, 3)
    return np.stack([scene.render(fig, action, t0 + i / FPS, walk_offset(action, i / FPS, fig)) for i in range(frames)])


def long_video(seed, seconds, min_len=3.0, max_len=7.0):
    """Frames and the true timeline of a video in which actions follow each other."""
    rng = np.random.default_rng(seed)
    scene, fig = Scene(rng), Figure(rng)
    segments, t, last = [], 0.0, None
    while t < seconds - 1e-9:
        action = rng.choice([a for a in ACTIONS if a != last])
        length = min(rng.uniform(min_len, max_len), seconds - t)
        if seconds - t - length < min_len:
            length = seconds - t
        segments.append((t, t + length, action))
        t, last = t + length, action
    frames = []
    base_x, current = fig.x, None
    for i in range(int(round(seconds * FPS))):
        ti = i / FPS
        start, end, action = next((s for s in segments if s[0] <= ti < s[1]), segments[-1])
        if current != (start, action):
            # A walk starts on the side it walks away from; other actions stay where the last walk ended.
            if action == "walking_left":
                base_x = W - 30
            elif action == "walking_right":
                base_x = 30
            elif current is not None and current[1].startswith("walking"):
                base_x = fig.x + walk_offset(current[1], prev_t - current[0], fig)
            current = (start, action)
        fig.x = base_x
        frames.append(scene.render(fig, action, ti, walk_offset(action, ti - start, fig)))
        prev_t = ti
    return frames, segments


def write_video(frames, path):
    p = subprocess.Popen(["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{W}x{H}", "-r", str(FPS),
                          "-i", "-", "-c:v", "libx264", "-pix_fmt", "yuv444p", "-crf", "26", "-preset", "medium", path],
                         stdin=subprocess.PIPE)
    for f in frames:
        p.stdin.write(f.tobytes())
    p.stdin.close()
    assert p.wait() == 0


def ground_truth(segments, path, seconds, seed, command):
    """The true timeline, in vidar's timeline vocabulary (segments with start, end, label)."""
    return {"schema": "vidar.groundtruth/1", "source": {"path": path, "duration": seconds, "frame_rate": FPS,
            "width": W, "height": H}, "generator": {"seed": seed, "command": command},
            "segments": [{"start": round(a, 4), "end": round(b, 4), "label": label, "score": 1.0} for a, b, label in segments]}


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    v = sub.add_parser("video")
    v.add_argument("out")
    v.add_argument("--seed", type=int, required=True)
    v.add_argument("--seconds", type=float, default=40)
    a = p.parse_args()
    frames, segments = long_video(a.seed, a.seconds)
    write_video(frames, a.out)
    cmd = f"python3 tools/actions/actiongen.py video {a.out} --seed {a.seed} --seconds {a.seconds:g}"
    json.dump(ground_truth(segments, a.out, a.seconds, a.seed, cmd), open(a.out.rsplit(".", 1)[0] + ".truth.json", "w"), indent=1)


if __name__ == "__main__":
    main()
