"""Clip sampling: pure functions from a video's frame count to the frame indices of clips.

All indices are **0-based** (frame ``i`` of a frame folder is the file ``template.format(i + 1)``;
see :mod:`tbe_lib.data.decode`). A clip of ``clip_len`` frames at ``stride`` ``s`` starting at
``start`` is ``start, start + s, ..., start + (clip_len - 1) * s``; it needs
``span = (clip_len - 1) * s + 1`` frames, so the valid starts of a video with ``N >= span``
frames are ``0 .. N - span``.

Differences from the paper's code (``original-code.md`` §3.3, §7.2 item 14), on purpose:

* The paper's start is ``randint(1, max(N - 32 * s, 0) + 1)`` whatever the clip length (the
  window is sized for 32 frames while clips have 16), so every video with ``N <= 32 * s``
  frames always starts at frame 1. Our random start is **uniform over all valid starts**
  ``0 .. N - span`` of the actual clip.
* For a video shorter than ``span`` the paper wraps the missing indices to frame 1 and again
  always starts at frame 1. We offer ``short="loop"`` (default): indices are taken modulo
  ``N`` (the clip loops through the video), and the random start is uniform over all ``N``
  frames (every start gives a valid looped clip); ``short="pad"`` repeats the last frame;
  ``short="error"`` raises :class:`ShortVideoError`.
* The paper's validation clip is a random one; :func:`center_clip` and :func:`uniform_clips`
  are deterministic.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

__all__ = [
    "ShortVideoError",
    "ShortPolicy",
    "clip_span",
    "clip_indices",
    "random_clip",
    "center_clip",
    "uniform_clips",
    "other_time_clip",
]

ShortPolicy = Literal["loop", "pad", "error"]


class ShortVideoError(ValueError):
    """A video has fewer frames than one clip needs (raised with ``short="error"``)."""


def clip_span(clip_len: int, stride: int) -> int:
    """Number of consecutive frames a clip covers: ``(clip_len - 1) * stride + 1``."""
    if clip_len < 1 or stride < 1:
        raise ValueError(f"clip_len and stride must be >= 1, got clip_len={clip_len}, stride={stride}")
    return (clip_len - 1) * stride + 1


def _check(num_frames: int, clip_len: int, stride: int, short: ShortPolicy) -> tuple[int, bool]:
    """Return ``(max_start, is_short)``; raise for an empty video or ``short="error"``."""
    span = clip_span(clip_len, stride)
    if short not in ("loop", "pad", "error"):
        raise ValueError(f"short must be 'loop', 'pad' or 'error', got {short!r}")
    if num_frames < 1:
        raise ShortVideoError(f"the video has {num_frames} frames; it cannot give any clip")
    if num_frames >= span:
        return num_frames - span, False
    if short == "error":
        raise ShortVideoError(
            f"the video has {num_frames} frames, but a clip of {clip_len} frames at stride {stride} "
            f"needs {span}; use short='loop' or 'pad', a smaller stride, or drop the video from the list"
        )
    # loop: any frame can start a looped clip; pad: the only clip is the one from frame 0
    return (num_frames - 1 if short == "loop" else 0), True


def clip_indices(start: int, num_frames: int, clip_len: int, stride: int, short: ShortPolicy = "loop") -> np.ndarray:
    """Frame indices ``(clip_len,)`` int64 of the clip starting at ``start``.

    Indices past the end loop modulo ``num_frames`` (``short="loop"``) or repeat the last
    frame (``"pad"``); with ``"error"`` a clip that does not fit raises."""
    idx = start + stride * np.arange(clip_len, dtype=np.int64)
    if idx[-1] < num_frames:
        return idx
    if short == "loop":
        return idx % num_frames
    if short == "pad":
        return np.minimum(idx, num_frames - 1)
    raise ShortVideoError(
        f"clip start {start} with {clip_len} frames at stride {stride} runs past the video's {num_frames} frames"
    )


def random_clip(
    num_frames: int, clip_len: int, stride: int, rng: np.random.Generator, *, short: ShortPolicy = "loop"
) -> np.ndarray:
    """One clip with a start uniform over all valid starts. Returns ``(clip_len,)`` int64."""
    max_start, _ = _check(num_frames, clip_len, stride, short)
    start = int(rng.integers(0, max_start + 1))
    return clip_indices(start, num_frames, clip_len, stride, short)


def center_clip(num_frames: int, clip_len: int, stride: int, *, short: ShortPolicy = "loop") -> np.ndarray:
    """The centred clip (start ``(N - span) // 2``); a short video gives the clip from frame 0."""
    max_start, is_short = _check(num_frames, clip_len, stride, short)
    start = 0 if is_short else max_start // 2
    return clip_indices(start, num_frames, clip_len, stride, short)


def uniform_clips(num_frames: int, clip_len: int, stride: int, n: int, *, short: ShortPolicy = "loop") -> np.ndarray:
    """``n`` clips with evenly spaced starts (the multi-clip test protocol). Returns
    ``(n, clip_len)`` int64.

    The starts are ``round(linspace(0, N - span, n))`` for ``n > 1`` and the centre for
    ``n == 1``; for a short video with ``short="loop"`` they are spread over ``[0, N)``."""
    if n < 1:
        raise ValueError(f"n (clips per video) must be >= 1, got {n}")
    max_start, is_short = _check(num_frames, clip_len, stride, short)
    if n == 1:
        return center_clip(num_frames, clip_len, stride, short=short)[None]
    if is_short and short == "loop":
        starts = (np.arange(n) * num_frames) // n
    else:
        starts = np.round(np.linspace(0, max_start, n)).astype(np.int64)
    return np.stack([clip_indices(int(s), num_frames, clip_len, stride, short) for s in starts])


def other_time_clip(
    num_frames: int,
    clip_len: int,
    stride: int,
    anchor_start: int,
    rng: np.random.Generator,
    *,
    min_gap: int = 2,
    short: ShortPolicy = "loop",
) -> np.ndarray:
    """A clip of the same video at a different time: start uniform over the valid starts
    at least ``min_gap`` frames from ``anchor_start``.

    The paper's intra-video negative (``original-code.md`` §1.2) draws a new start and, when
    it is within 2 frames of the anchor's, shifts it by ``N // 3``; ``min_gap=2`` matches its
    threshold, but we draw uniformly over the allowed starts instead of shifting. When no
    start is far enough (a video barely longer than one clip), the farthest valid start is
    used, so the clip may overlap the anchor (and equals it when only one start exists:
    ``N == span`` with ``short="pad"`` or ``"error"``)."""
    max_start, _ = _check(num_frames, clip_len, stride, short)
    starts = np.arange(max_start + 1)
    ok = np.abs(starts - anchor_start) >= min_gap
    if ok.any():
        start = int(rng.choice(starts[ok]))
    else:
        start = int(starts[np.argmax(np.abs(starts - anchor_start))])
    return clip_indices(start, num_frames, clip_len, stride, short)
