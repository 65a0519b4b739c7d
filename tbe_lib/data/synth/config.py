"""Configuration of the embedded background-trap benchmark: sizes, splits, classes, presets."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

__all__ = ["SynthConfig", "PRESETS", "config_for", "CLASS_NAMES", "SPLITS", "BIASED_SPLITS", "CAMERAS", "CODECS"]

#: The 8 motion classes. No single frame tells them apart: see ``scenes.py`` for how the
#: per-frame distribution of position, scale and angle is made the same for all of them.
CLASS_NAMES: tuple[str, ...] = (
    "translate_left",
    "translate_right",
    "translate_up",
    "translate_down",
    "rotate_cw",
    "rotate_ccw",
    "approach",
    "recede",
)

#: Splits, in a fixed order (the order also enters each video's seed).
SPLITS: tuple[str, ...] = ("pretrain", "train", "train_unbiased", "test_same", "test_shift")
#: Splits where class c is shown on its own photograph with probability ``bias``.
BIASED_SPLITS: tuple[str, ...] = ("pretrain", "train", "test_same")
CAMERAS: tuple[str, ...] = ("static", "jitter", "pan")
CODECS: tuple[str, ...] = ("auto", "libx264", "mpeg4")


@dataclass(frozen=True)
class SynthConfig:
    """Everything that determines the benchmark's content (and so its manifest hash).

    Sizes: ``height`` x ``width`` pixels (even, for yuv420p), ``frames`` stored per video,
    ``fps`` written in the container. ``n_<split>``: number of videos in each split (labels
    are ``index % 8``, so a multiple of 8 gives exactly balanced classes). ``bias``: the
    probability that a video of a biased split (pretrain, train, test_same) is shown on its
    class's own photograph. ``centre_band``: the band the actor moves in, as ``(low, high)``
    fractions of each axis: uniform on it at every frame, wrapping from one side to the other
    (``(0.0, 1.0)``: the whole frame's torus, benchmark v2; see ``scenes.py`` for the trade-off). ``speed``: the range of a translating actor's speed, ``(low, high)`` in units of the
    frame's short side per frame (benchmark v5: three quarters of v3's and v4's). ``camera``: ``static`` | ``jitter`` | ``pan``. ``seed``: the
    master seed; video ``i`` of split ``s`` is rendered from ``(seed, s, i)`` alone.
    Encoding: ``codec`` (``auto`` = ``libx264`` when PyAV's FFmpeg has it, else ``mpeg4``),
    ``gop`` (keyframe interval in frames) and ``crf`` (x264 quality; lower is better).
    """

    height: int = 32
    width: int = 32
    frames: int = 32
    fps: int = 10
    n_pretrain: int = 2000
    n_train: int = 800
    n_train_unbiased: int = 800
    n_test_same: int = 400
    n_test_shift: int = 400
    bias: float = 0.9
    centre_band: tuple[float, float] = (0.3, 0.7)
    speed: tuple[float, float] = (0.01125, 0.0225)
    camera: str = "static"
    seed: int = 0
    codec: str = "auto"
    gop: int = 8
    crf: int = 12

    def __post_init__(self) -> None:
        for name in ("height", "width"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 16 or v % 2:
                raise ValueError(
                    f"SynthConfig.{name}={v!r}: must be an even integer >= 16 "
                    "(yuv420p video needs even sizes; smaller frames cannot hold the actor)"
                )
        if not isinstance(self.frames, int) or self.frames < 2:
            raise ValueError(f"SynthConfig.frames={self.frames!r}: need at least 2 frames per video to show motion")
        if not isinstance(self.fps, int) or self.fps < 1:
            raise ValueError(f"SynthConfig.fps={self.fps!r}: must be a positive integer")
        for split in SPLITS:
            n = getattr(self, f"n_{split}")
            if not isinstance(n, int) or n < 0:
                raise ValueError(f"SynthConfig.n_{split}={n!r}: must be a non-negative integer")
        if not isinstance(self.bias, (int, float)) or not 0.0 <= float(self.bias) <= 1.0:
            raise ValueError(f"SynthConfig.bias={self.bias!r}: must be a probability in [0, 1]")
        band = tuple(self.centre_band) if isinstance(self.centre_band, (list, tuple)) else ()
        if len(band) != 2 or not all(isinstance(v, (int, float)) for v in band) or not 0 <= band[0] <= band[1] <= 1:
            raise ValueError(
                f"SynthConfig.centre_band={self.centre_band!r}: expected (low, high) with 0 <= low <= high <= 1"
            )
        object.__setattr__(self, "centre_band", (float(band[0]), float(band[1])))  # a JSON list -> a tuple
        speed = tuple(self.speed) if isinstance(self.speed, (list, tuple)) else ()
        if (
            len(speed) != 2
            or not all(isinstance(v, (int, float)) for v in speed)
            or not 0 <= speed[0] <= speed[1] <= 0.5
        ):
            raise ValueError(
                f"SynthConfig.speed={self.speed!r}: expected (low, high) with 0 <= low <= high <= 0.5 "
                "(fractions of the frame's short side per frame)"
            )
        object.__setattr__(self, "speed", (float(speed[0]), float(speed[1])))
        if self.camera not in CAMERAS:
            raise ValueError(f"SynthConfig.camera={self.camera!r}: unknown camera, expected one of {CAMERAS}")
        if self.codec not in CODECS:
            raise ValueError(f"SynthConfig.codec={self.codec!r}: expected one of {CODECS}")
        if not isinstance(self.gop, int) or self.gop < 1:
            raise ValueError(f"SynthConfig.gop={self.gop!r}: keyframe interval must be >= 1 frame")
        if not isinstance(self.crf, int) or not 0 <= self.crf <= 51:
            raise ValueError(f"SynthConfig.crf={self.crf!r}: x264 crf must be in [0, 51]")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"SynthConfig.seed={self.seed!r}: must be a non-negative integer")

    @property
    def num_classes(self) -> int:
        return len(CLASS_NAMES)

    def count(self, split: str) -> int:
        """Number of videos in ``split``."""
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}, expected one of {SPLITS}")
        return getattr(self, f"n_{split}")

    def counts(self) -> dict[str, int]:
        return {s: self.count(s) for s in SPLITS}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SynthConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown SynthConfig fields {sorted(unknown)}; known: {sorted(known)}")
        return cls(**d)


#: Presets. ``default``: 4400 videos of 32 frames at 32x32 (the book samples clips of 16
#: frames at random starts, so two clips of one video can be at different times). ``smoke``: 2 videos per class per split (80 videos), for tests.
#: ``larger``: 64x64, same counts as default.
PRESETS: dict[str, SynthConfig] = {
    "default": SynthConfig(),
    "smoke": SynthConfig(n_pretrain=16, n_train=16, n_train_unbiased=16, n_test_same=16, n_test_shift=16),
    "larger": SynthConfig(height=64, width=64),
}


def config_for(size: str = "default", **overrides: Any) -> SynthConfig:
    """The preset ``size`` (``default`` | ``smoke`` | ``larger``) with fields replaced by
    ``overrides`` (e.g. ``config_for("smoke", camera="pan", seed=3)``)."""
    if size not in PRESETS:
        raise ValueError(f"unknown synth size {size!r}, expected one of {sorted(PRESETS)}")
    known = {f.name for f in fields(SynthConfig)}
    unknown = set(overrides) - known
    if unknown:
        raise ValueError(f"unknown SynthConfig fields {sorted(unknown)}; known: {sorted(known)}")
    return replace(PRESETS[size], **overrides)
