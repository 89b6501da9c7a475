#!/usr/bin/env python3
"""Procedural action videos: an articulated stick figure performing one of a few actions in which motion,
not any single frame, decides the class, or nobody at all (`no_action`). Everything is seeded and randomised:
body proportions, size, position, speed, phase; colours from easy to hard (low contrast, dark on dark); background
gradient and texture; distractor shapes, some moving back and forth; an occluder in front of the figure; camera
zoom, pan and jitter; sensor noise. The figure may be partly outside the frame.

Frames are rendered at 128×171 (the size torchvision's R3D-18 preset resizes to) at any frame rate (15 by default).

    python3 actiongen.py video OUT.mp4 --seed S --seconds 40   # a long video + OUT.truth.json (ground truth)
"""
import argparse
import itertools
import json
import math
import subprocess

import numpy as np

ACTIONS = ["standing_still", "waving", "clapping", "jumping_jacks", "squatting", "walking_left", "walking_right"]
NO_ACTION = "no_action"
LABELS = ACTIONS + [NO_ACTION]   # the model's classes: the last is the background class vidar maps to no_action
H, W, FPS = 128, 171, 15


# How often a figure is drawn in each colour mode and stands behind an occluder, and how often a clip with nobody
# has an occluder ("occluded_empty"): the evaluation's (and the demo's) mix. Training may draw the hard cases more
# often (train.py); the random draws are the same either way, so a seed renders the same video under any mix that
# leaves its modes alone.
APPEARANCE = {"colours": {"random": 0.55, "low": 0.3, "dark": 0.15}, "occluded": 0.25, "occluded_empty": 0.0}


def figure_colour(rng, bg_at, colours):
    """A figure colour against the background colour under it: random, low contrast, or dark on dark."""
    mode = rng.choice(list(colours), p=list(colours.values()))
    if mode == "random":
        return rng.uniform(0, 1, 3)
    if mode == "low":
        d = rng.normal(0, 1, 3)
        d /= np.linalg.norm(d) + 1e-9
        return np.clip(bg_at + d * rng.uniform(0.12, 0.3), 0, 1)
    return rng.uniform(0, 0.18, 3)


class Figure:
    """Random body, colours and placement for one actor."""

    def __init__(self, rng):
        self.scale = rng.uniform(0.6, 1.45)
        self.limb = rng.uniform(0.9, 1.15)
        self.thick = rng.uniform(1.6, 3.4) * math.sqrt(self.scale)
        self.color = rng.uniform(0, 1, 3)
        self.x = rng.uniform(45, W - 45)
        self.y = rng.uniform(62, 92) + 10 * (self.scale - 1)
        self.speed = rng.uniform(0.8, 1.3)      # cycles per second scale
        self.phase = rng.uniform(0, 2 * math.pi)

    def joints(self, action, t, walk_x):
        """Line segments and head (centre, radius) at time t seconds for an action."""
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


def occluder(rng, x):
    """A post or box (left, top, width, height, colour) near where a figure stands at column x."""
    w, h = rng.uniform(6, 30), rng.uniform(15, 70)
    return (x + rng.uniform(-25, 25) - w / 2, rng.uniform(20, H) - h, w, h, rng.uniform(0, 1, 3))


class Camera:
    """Slow zoom and pan (screen → world coordinates) plus per-frame jitter."""

    def __init__(self, rng):
        moving = rng.uniform() < 0.45
        self.zoom_amp = rng.uniform(0, 0.25) if moving else 0.0
        self.pan_amp = rng.uniform(0, 12, 2) if moving else np.zeros(2)
        self.w = rng.uniform(0.15, 0.6, 3)
        self.ph = rng.uniform(0, 2 * math.pi, 3)
        self.jitter = rng.uniform(0, 1.5)

    def world(self, xx, yy, t, rng=None):
        """World coordinates of screen columns `xx` and rows `yy` at time t; jitter drawn from `rng` (None: none)."""
        zoom = 1 + self.zoom_amp * math.sin(self.w[0] * t + self.ph[0])
        jx, jy = (rng.normal(0, self.jitter), rng.normal(0, self.jitter)) if rng is not None else (0.0, 0.0)
        px = self.pan_amp[0] * math.sin(self.w[1] * t + self.ph[1]) + jx
        py = self.pan_amp[1] * math.sin(self.w[2] * t + self.ph[2]) + jy
        return (xx - W / 2) / zoom + W / 2 + px, (yy - H / 2) / zoom + H / 2 + py, zoom


class Scene:
    """A background, distractors, an occluder and camera behaviour; one per video or clip."""

    def __init__(self, rng, figure=None, distractors=(0, 4), appearance=APPEARANCE):
        self.rng = rng
        # A row of column indices and a column of row indices: the camera maps columns and rows apart, so the
        # world coordinates of a frame are a row X and a column Y, broadcast (the same values as full grids).
        self.xx, self.yy = np.arange(W, dtype=np.float32)[None, :], np.arange(H, dtype=np.float32)[:, None]
        dark = rng.uniform() < 0.15
        self.c0, self.c1 = rng.uniform(0, 1, 3), rng.uniform(0, 1, 3)
        if dark:
            self.c0, self.c1 = self.c0 * 0.25, self.c1 * 0.25
        self.dir = (math.cos(rng.uniform(0, 6.3)), math.sin(rng.uniform(0, 6.3)))
        self.freq, self.tex, self.tph = rng.uniform(0.05, 0.4), rng.uniform(0, 0.12), rng.uniform(0, 6)
        self.distractors = [(rng.uniform(0, W), rng.uniform(0, H), rng.uniform(4, 16), rng.uniform(0, 1, 3),
                             rng.uniform(-0.6, 0.6), rng.uniform(-0.4, 0.4),
                             rng.uniform(0, 25) if rng.uniform() < 0.3 else 0.0, rng.uniform(0.5, 3))
                            for _ in range(rng.integers(distractors[0], distractors[1] + 1))]
        self.occluder = None
        if figure is not None and rng.uniform() < appearance["occluded"]:   # a post or box in front of part of the figure
            self.occluder = occluder(rng, figure.x)
        self.camera = Camera(rng)
        self.noise = rng.uniform(0.0, 0.05)
        if figure is not None:
            figure.color = figure_colour(rng, self.background(np.array([[figure.x]]), np.array([[figure.y]]))[0, 0], appearance["colours"])

    def background(self, X, Y):
        g = (X * self.dir[0] + Y * self.dir[1]) / (W + H) + 0.5
        bg = self.c0 * (1 - g[..., None]) + self.c1 * g[..., None]
        bg += self.tex * (np.sin(X * self.freq + self.tph) * np.sin(Y * self.freq * 0.7))[..., None]
        return np.clip(bg, 0, 1)

    def occluder_mask(self, X, Y):
        ox, oy, ow, oh, _ = self.occluder
        return (X >= ox) & (X < ox + ow) & (Y >= oy) & (Y < oy + oh)

    def figure_in_view(self, fig, action, t, walk_x):
        """The pixels the figure covers at time t and those the occluder leaves in view, the camera's pan and zoom
        applied but not its jitter (jitter would sweep the whole figure and hide what the limbs do)."""
        X, Y, _ = self.camera.world(self.xx, self.yy, t)
        seen = ~self.occluder_mask(X, Y) if self.occluder is not None else np.ones((H, W), bool)
        return figure_mask(X, Y, *fig.joints(action, t, walk_x), fig.thick), seen

    def render(self, fig, action, t, walk_x):
        """One frame at time t; `fig` None renders the scene without anybody."""
        X, Y, zoom = self.camera.world(self.xx, self.yy, t, self.rng)
        img = self.background(X, Y).astype(np.float32)
        for x, y, r, col, vx, vy, swing, sw in self.distractors:   # drifting or swinging blobs: motion that means nothing
            cx = (x + vx * t * FPS + swing * math.sin(sw * t)) % W
            cy = (y + vy * t * FPS) % H
            img[(X - cx) ** 2 + (Y - cy) ** 2 < r * r] = col
        if fig is not None:
            img[figure_mask(X, Y, *fig.joints(action, t, walk_x), fig.thick)] = fig.color
        if self.occluder is not None:
            img[self.occluder_mask(X, Y)] = self.occluder[4]
        img += self.rng.normal(0, self.noise, img.shape).astype(np.float32)
        return (np.clip(img, 0, 1) * 255).astype(np.uint8)


def figure_mask(X, Y, segs, head, head_r, thick, box=None):
    """The pixels a figure covers (limbs: segments `thick` wide; the head: a disc), for world coordinates X (a row)
    and Y (a column). Each part is tested only in `box`'s rows and columns near it (default: `_box`; the pixels
    outside are too far to count)."""
    box = box or _box
    mask = np.zeros((H, W), bool)
    for a, b in segs:
        rows, cols = box(X, Y, min(a[0], b[0]), max(a[0], b[0]), min(a[1], b[1]), max(a[1], b[1]), thick)
        x, y = X[:, cols], Y[rows, :]
        d = b - a
        L2 = max(d @ d, 1e-6)
        u = np.clip(((x - a[0]) * d[0] + (y - a[1]) * d[1]) / L2, 0, 1)
        mask[rows, cols] |= (x - a[0] - u * d[0]) ** 2 + (y - a[1] - u * d[1]) ** 2 < thick ** 2
    rows, cols = box(X, Y, head[0], head[0], head[1], head[1], head_r)
    mask[rows, cols] |= (X[:, cols] - head[0]) ** 2 + (Y[rows, :] - head[1]) ** 2 < head_r ** 2
    return mask


def _box(X, Y, x0, x1, y0, y1, reach):
    """The rows and columns whose world coordinates (an increasing row X, column Y) lie within `reach` of the box
    x0…x1 × y0…y1, with 2 units to spare so that rounding cannot leave out a pixel the full frame's test takes."""
    xs, ys = X[0], Y[:, 0]
    return (slice(np.searchsorted(ys, y0 - reach - 2), np.searchsorted(ys, y1 + reach + 2, "right")),
            slice(np.searchsorted(xs, x0 - reach - 2), np.searchsorted(xs, x1 + reach + 2, "right")))


def walk_offset(action, t, fig):
    v = 9 * fig.scale * fig.speed                           # pixels per second
    return {"walking_left": -v * t, "walking_right": v * t}.get(action, 0.0)


def clip_setup(seed, action, appearance=APPEARANCE):
    """The random actor, scene and start time of one clip, and the generator that goes on to render it."""
    rng = np.random.default_rng(seed)
    fig = Figure(rng)
    # The model sees the centre 112×112 crop (x 30–141): a figure may stand or walk in across its edges.
    if action == "walking_left":
        fig.x = rng.uniform(W * 0.4, 152)
    elif action == "walking_right":
        fig.x = rng.uniform(19, W * 0.6)
    elif rng.uniform() < 0.2:
        fig.x = rng.choice([rng.uniform(24, 40), rng.uniform(W - 40, W - 24)])
    empty = action == NO_ACTION
    scene = Scene(rng, None if empty else fig, distractors=(0, 8) if empty else (0, 4), appearance=appearance)
    # A post stays when nobody is there, as in a long video's empty stretches: drawn only with a figure, a box would
    # be a sign of somebody. From its own stream, so that the scene's other draws stay as they are.
    box_rng = np.random.default_rng([seed, 3])
    if empty and box_rng.uniform() < appearance["occluded_empty"]:
        scene.occluder = occluder(box_rng, fig.x)
    return rng, fig, scene, rng.uniform(0, 3)


def clip_frames(seed, action, seconds, fps=FPS, appearance=APPEARANCE):
    """Frames (at `fps`) of one clip of `action` (NO_ACTION: the scene without anybody), `seconds` long."""
    rng, fig, scene, t0 = clip_setup(seed, action, appearance)
    empty = action == NO_ACTION
    return [scene.render(None if empty else fig, action, t0 + i / fps, walk_offset(action, i / fps, fig))
            for i in range(int(math.ceil(seconds * fps)) + 1)]


# What a model with torchvision's preset (vidar's: resize to 128×171, the centre 112×112) sees of a frame.
MODEL_VIEW = (slice(8, 120), slice(30, 142))
# A clip or segment shows its action when at least this share of the figure and, but for standing still, of the
# pixels its motion sweeps is in view (train.py keeps only such training clips; the evaluation counts the others).
IN_VIEW = 0.3


def shows_its_action(action, figure_share, motion_share):
    """Whether clip_visibility's shares leave `action` to be seen (not hidden, not out of the model's view)."""
    return figure_share >= IN_VIEW and (action == "standing_still" or motion_share >= IN_VIEW)


def clip_visibility(seed, action, seconds, crop, fps=FPS, appearance=APPEARANCE):
    """How much of the figure one clip shows inside `crop` (rows, columns) and not behind its occluder, over its
    frames at `fps`: (share of the figure's pixels, share of the pixels its motion sweeps). A clip labelled with an
    action whose moving limbs are hidden or out of view shows something else (standing, or nobody)."""
    _, fig, scene, t0 = clip_setup(seed, action, appearance)
    return shares_in_view((scene.figure_in_view(fig, action, t0 + i / fps, walk_offset(action, i / fps, fig))
                           for i in range(int(math.ceil(seconds * fps)) + 1)), crop)


def shares_in_view(views, crop):
    """Over frames' (figure's pixels, pixels the occluder leaves in view) pairs: the share of the figure's pixels
    inside `crop` and in view, and the same share of the pixels its motion sweeps from frame to frame."""
    inside = np.zeros((H, W), bool)
    inside[crop] = True
    shown = total = swept = swept_shown = 0
    last = None
    for mask, seen in views:
        seen = seen & inside
        total, shown = total + mask.sum(), shown + (mask & seen).sum()
        if last is not None:
            moved = mask ^ last
            swept, swept_shown = swept + moved.sum(), swept_shown + (moved & seen).sum()
        last = mask
    return shown / max(total, 1), swept_shown / max(swept, 1)


def timeline(rng, seconds, min_len=3.0, max_len=7.0, empty_share=0.2):
    """The true segments of a long video: actions follow each other, with stretches of nobody."""
    segments, t, last = [], 0.0, None
    while t < seconds - 1e-9:
        if last != NO_ACTION and rng.uniform() < empty_share:
            action = NO_ACTION
        else:
            action = rng.choice([a for a in ACTIONS if a != last])
        length = min(rng.uniform(min_len, max_len), seconds - t)
        if seconds - t - length < min_len:
            length = seconds - t
        segments.append((t, t + length, str(action)))
        t, last = t + length, action
    return segments


def long_video(seed, seconds, fps=FPS, min_len=3.0, max_len=7.0):
    """Frames (at `fps`) and the true timeline of a video in which actions follow each other."""
    fig, scene, segments, steps = long_video_steps(seed, seconds, fps, min_len, max_len)
    frames = [scene.render(None if action == NO_ACTION else fig, action, t, walk) for t, (_, _, action), walk in steps]
    return frames, segments


def long_video_visibility(seed, seconds, crop, fps=FPS):
    """Per true segment with somebody in it: (start, end, action, share of the figure in view, share of its motion
    in view), as clip_visibility measures a clip: what of each action a model that sees only `crop` can see."""
    fig, scene, segments, steps = long_video_steps(seed, seconds, fps)
    return [(start, end, action, *shares_in_view((scene.figure_in_view(fig, action, t, walk) for t, _, walk in frames), crop))
            for (start, end, action), frames in itertools.groupby(steps, key=lambda step: step[1]) if action != NO_ACTION]


def long_video_steps(seed, seconds, fps=FPS, min_len=3.0, max_len=7.0):
    """A long video's figure, scene and true timeline, and its frames' (time, segment, walk offset) to come, each
    placing the figure (its x) as it is yielded: the one sequence that long_video draws and the visibility measures."""
    rng = np.random.default_rng(seed)
    fig = Figure(rng)
    scene = Scene(rng, fig)
    segments = timeline(rng, seconds, min_len, max_len)

    def steps():
        base_x, current, prev_t = fig.x, None, 0.0
        home = fig.x
        for i in range(int(round(seconds * fps))):
            ti = i / fps
            segment = next((s for s in segments if s[0] <= ti < s[1]), segments[-1])
            start, _, action = segment
            if current != (start, action):
                # A walk starts on the side it walks away from; other actions stay where the last walk ended
                # (back home after nobody was there).
                if action == "walking_left":
                    base_x = W - 30
                elif action == "walking_right":
                    base_x = 30
                elif current is not None and current[1].startswith("walking"):
                    base_x = fig.x + walk_offset(current[1], prev_t - current[0], fig)
                elif current is not None and current[1] == NO_ACTION:
                    base_x = home
                current = (start, action)
            fig.x = base_x
            yield ti, segment, walk_offset(action, ti - start, fig)
            prev_t = ti
    return fig, scene, segments, steps()


# x264's plain C arithmetic on one thread: the same file on every x86-64 CPU. With its SIMD kernels the bytes depend on
# the CPU's instruction sets (on one machine, x264 limited to SSE2, with its AVX2 kernels and without SIMD wrote three
# different files) and with a thread per core on the core count: the demo clips and the evaluation's original videos
# came out other bytes on each kind of machine, and an AVX2 EPYC's `make eval` scored 14 of the 20 original videos
# unlike the AVX-512 EPYC's (all 20 re-encoded ones alike). About 5× the SIMD encoder's time: 10 s for 45 s of video.
H264_SAME_EVERYWHERE = ["-threads", "1", "-x264-params", "asm=0"]


def write_video(frames, path, fps=FPS):
    """The generator's own H.264 (171×128, 4:4:4, CRF 26) of `frames`, the same bytes on any x86-64 machine."""
    p = subprocess.Popen(["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{W}x{H}", "-r", f"{fps:g}",
                          "-i", "-", "-c:v", "libx264", "-pix_fmt", "yuv444p", "-crf", "26", "-preset", "medium",
                          *H264_SAME_EVERYWHERE, path], stdin=subprocess.PIPE)
    for f in frames:
        p.stdin.write(f.tobytes())
    p.stdin.close()
    assert p.wait() == 0


def ground_truth(segments, path, seconds, seed, command):
    """The true timeline, in vidar's timeline vocabulary (segments with start, end, label; no_action included)."""
    source = {"path": path, "duration": seconds, "frame_rate": FPS, "width": W, "height": H}
    return {"schema": "vidar.groundtruth/1", "source": source, "generator": {"seed": seed, "command": command},
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
