"""Frame readers: decode the frames of one clip from a compressed video or a JPEG folder.

Both readers take **0-based** frame indices (any order, repeats allowed, as produced by
:mod:`tbe_lib.data.sampling`) and return a uint8 tensor ``(C, T, H, W)`` (RGB), optionally
resized so that the short side is ``resize`` (aspect kept, long side ``int(long * resize / short)``
as in torchvision's ``Resize(int)``).

Videos (:func:`read_video_clip`)
    Decoded on the fly with PyAV (default; its wheels ship their own FFmpeg) or torchcodec
    (``backend="torchcodec"``, used only when it is installed and can load a system FFmpeg;
    ``backend="auto"`` picks it when it works). torchvision >= 0.28 no longer decodes video.
    PyAV path: the needed indices are grouped into runs; for each run we seek to the
    keyframe at or before the run's first frame and decode forward, stopping after the
    run's last frame. Frames are identified by their presentation time:
    ``index = round((pts - start_time) * time_base * fps)`` (constant frame rate assumed;
    for a variable-rate file an index means "the frame shown at time index / fps"). If a
    seek lands after the wanted frame (some containers index keyframes by decode time), we
    seek again further back, and finally from the start. Only the frames that are used are
    converted to RGB (with the resize folded into the same swscale call).

Frame folders (:func:`read_frames_clip`)
    Frame ``i`` is ``folder / template.format(i + 1)`` (templates are 1-based, like the
    paper's ``img_{:05d}.jpg``). JPEG files are decoded in one batched
    ``torchvision.io.decode_jpeg`` call (faster than PIL); other extensions go through
    ``torchvision.io.decode_image``. A missing frame raises :class:`FileNotFoundError` naming
    it (the paper's code silently loaded frame 1 instead, ``original-code.md`` §7.2 item 18).

Errors name the file: :class:`FileNotFoundError` for a missing file, :class:`DecodeError`
for an unreadable or corrupt one, :class:`FrameCountError` (a :class:`DecodeError`) when a
video ends before a requested frame (its header over-counted); it carries ``available``,
the number of frames actually decoded, so that callers can resample.
"""

from __future__ import annotations

import os
import warnings
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Callable, Literal, Sequence

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "DecodeError",
    "FrameCountError",
    "Backend",
    "torchcodec_available",
    "resolve_backend",
    "probe_num_frames",
    "read_video_clip",
    "read_video_sampled",
    "read_video_all",
    "read_frames_clip",
    "resized_hw",
]

Backend = Literal["pyav", "torchcodec", "auto"]

# Needed frames closer than this are decoded in one run; a larger gap starts a new seek.
_RUN_GAP = 32
# How far before a run's first frame to seek again when the first seek overshoots.
_SEEK_BACKOFF = (8, 32, 128)


class DecodeError(RuntimeError):
    """A video or image file that cannot be decoded; the message names the file."""


class FrameCountError(DecodeError):
    """A video that ends before a requested frame. ``available`` frames were decoded."""

    def __init__(self, message: str, available: int):
        super().__init__(message)
        self.available = available


def resized_hw(height: int, width: int, resize: int | None) -> tuple[int, int]:
    """Output ``(H, W)`` when the short side is resized to ``resize`` (``None``: unchanged)."""
    if resize is None:
        return height, width
    if height <= width:
        return resize, int(width * resize / height)
    return int(height * resize / width), resize


@lru_cache(maxsize=1)
def torchcodec_available() -> bool:
    """True when ``torchcodec`` imports and its FFmpeg libraries load (checked once)."""
    try:
        from torchcodec.decoders import VideoDecoder  # noqa: F401
    except Exception:  # ImportError, or RuntimeError/OSError when no system FFmpeg is found
        return False
    return True


def resolve_backend(backend: Backend) -> Literal["pyav", "torchcodec"]:
    """``"auto"`` -> torchcodec when available, else PyAV; a named backend is checked."""
    if backend == "auto":
        return "torchcodec" if torchcodec_available() else "pyav"
    if backend == "torchcodec" and not torchcodec_available():
        raise RuntimeError(
            "backend='torchcodec' was asked for, but torchcodec is not installed or cannot load "
            "FFmpeg (it needs a system FFmpeg); use backend='pyav' (the default) or 'auto'"
        )
    if backend not in ("pyav", "torchcodec"):
        raise ValueError(f"unknown video backend {backend!r}; expected 'pyav', 'torchcodec' or 'auto'")
    return backend


def _check_file(path: Path, what: str = "video file") -> None:
    if not path.is_file():
        hint = " (it is a folder: is the list a 'frames' list?)" if path.is_dir() else ""
        raise FileNotFoundError(f"{what} not found: {path}{hint}")


# --------------------------------------------------------------------------------------
# PyAV


def _open_pyav(path: Path, threads: int):
    import av

    _check_file(path)
    try:
        container = av.open(str(path))
    except av.FFmpegError as e:
        raise DecodeError(f"cannot open video {path}: {e}; the file may be corrupt or not a video") from None
    if not container.streams.video:
        container.close()
        raise DecodeError(f"{path} has no video stream")
    stream = container.streams.video[0]
    if threads == 1:
        stream.thread_count = 1  # PyAV's default (0) starts a thread per core for every file
    else:
        stream.thread_type = "AUTO"
        stream.thread_count = threads  # 0: FFmpeg picks from the core count
    return container, stream


def _to_array(frame, hw: tuple[int, int] | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """av.VideoFrame -> RGB planes ``(r, g, b)``, each an (H, W) uint8 view of the converted
    frame, resized to ``hw`` when given.

    swscale converts to planar ``gbrp``, single-threaded: planar output makes the final
    (C, T, H, W) stack a plain copy, and swscale's default of one thread per core costs
    several times more than the conversion itself on clip-sized frames."""
    if hw is None:
        out = frame.reformat(format="gbrp", threads=1)
    else:
        out = frame.reformat(format="gbrp", height=hw[0], width=hw[1], threads=1)
    h, w = out.height, out.width
    g, b, r = (np.frombuffer(p, np.uint8).reshape(h, p.line_size)[:, :w] for p in out.planes)
    return r, g, b


def probe_num_frames(path: str | os.PathLike, *, backend: Backend = "pyav") -> int:
    """Number of frames of a video.

    PyAV: the stream's ``frames`` field when the container stores it (mp4/mov ``stts``, avi
    header); otherwise (mkv, webm, some avi) the video packets are counted (a demux pass,
    no decoding). Callers should cache the result per path; the count may still be a frame
    too high for odd files, which :func:`read_video_clip` reports as :class:`FrameCountError`.
    """
    path = Path(path)
    if resolve_backend(backend) == "torchcodec":
        return int(_open_torchcodec(path, 1).metadata.num_frames)
    import av

    container, stream = _open_pyav(path, 1)
    try:
        if stream.frames and stream.frames > 0:
            return int(stream.frames)
        n = sum(1 for packet in container.demux(stream) if packet.size > 0)
    except av.FFmpegError as e:
        raise DecodeError(f"cannot read video {path}: {e}; the file may be corrupt") from None
    finally:
        container.close()
    if n == 0:
        raise DecodeError(f"{path} contains no video frames")
    return n


def _runs(needed: np.ndarray) -> list[np.ndarray]:
    """Split sorted unique indices into runs with gaps of at most ``_RUN_GAP``."""
    cut = np.nonzero(np.diff(needed) > _RUN_GAP)[0] + 1
    return np.split(needed, cut)


class _Overshoot(Exception):
    pass


def _decode_run(container, stream, run: np.ndarray, seek_index: int | None, timing, hw) -> dict[int, tuple]:
    """Decode the frames of ``run`` after seeking to frame ``seek_index`` (None: from the
    start, counting frames when timestamps are unusable)."""
    first = int(run[0])
    pending = list(run)[::-1]  # pop() gives the smallest pending index
    out: dict[int, tuple] = {}  # frame index -> RGB planes
    if timing is None:  # no frame rate / no timestamps: count frames from the start
        container.seek(0, stream=stream, backward=True)
        count = 0
        for frame in container.decode(stream):
            if pending and pending[-1] == count:
                arr = _to_array(frame, hw)
                while pending and pending[-1] == count:
                    out[pending.pop()] = arr
            count += 1
            if not pending:
                return out
        raise FrameCountError("", available=count)

    start_pts, to_pts, to_index = timing
    target = start_pts if seek_index is None else to_pts(seek_index)
    container.seek(target, stream=stream, backward=True, any_frame=False)
    prev = None
    prev_arr = None
    last_index = -1
    for frame in container.decode(stream):
        if frame.pts is None:
            raise _Overshoot("missing pts")
        idx = to_index(frame.pts)
        if prev is None and idx > first and seek_index is not None:
            raise _Overshoot()
        # frames "shown" at each pending index: the last frame with index <= it
        while pending and pending[-1] < idx:
            k = pending.pop()
            if prev is None:  # decoding from the very start and the first frame is late
                prev, prev_arr = frame, None
            if prev_arr is None:
                prev_arr = _to_array(prev, hw)
            out[k] = prev_arr
        prev, prev_arr, last_index = frame, None, idx
        if pending and pending[-1] == idx:
            prev_arr = _to_array(frame, hw)
            while pending and pending[-1] == idx:
                out[pending.pop()] = prev_arr
        if not pending:
            break
    if pending:
        raise FrameCountError("", available=last_index + 1)
    return out


def _pyav_timing(stream):
    """``(start_pts, frame index -> pts, pts -> frame index)`` from the stream's frame rate and
    time base (exact integer arithmetic), or None when they are unknown."""
    rate = stream.average_rate or stream.guessed_rate
    if not rate or stream.time_base is None:
        return None
    ticks = Fraction(rate) * Fraction(stream.time_base)  # frames per pts tick
    p, q = ticks.numerator, ticks.denominator
    start = stream.start_time or 0

    def to_pts(i: int) -> int:  # round(i / ticks)
        return start + (2 * i * q + p) // (2 * p)

    def to_index(pts: int) -> int:  # round((pts - start) * ticks)
        return (2 * (pts - start) * p + q) // (2 * q)

    return start, to_pts, to_index


def _read_pyav(path: Path, needed: np.ndarray, resize: int | None, threads: int, opened=None) -> list[tuple]:
    import av

    container, stream = opened or _open_pyav(path, threads)
    try:
        hw = None
        if resize is not None:
            hw = resized_hw(stream.codec_context.height, stream.codec_context.width, resize)
        timing = _pyav_timing(stream)
        frames: dict[int, tuple] = {}
        for run in _runs(needed):
            first = int(run[0])
            tries: list[int | None] = [first] + [max(first - b, 0) for b in _SEEK_BACKOFF if first - b > 0] + [None]
            for seek_index in dict.fromkeys(tries):  # unique, in order
                try:
                    frames.update(_decode_run(container, stream, run, seek_index, timing, hw))
                    break
                except _Overshoot as e:
                    if str(e) == "missing pts":  # timestamps unusable: count frames instead
                        timing = None
                    continue
    except FrameCountError as e:
        raise FrameCountError(
            f"video {path} ended after {e.available} frames, before requested frame {int(needed[-1])}; "
            "its header over-counts the frames (the dataset then resamples with the real count)",
            available=e.available,
        ) from None
    except av.FFmpegError as e:
        raise DecodeError(f"cannot decode video {path}: {e}; the file may be corrupt or truncated") from None
    finally:
        container.close()
    return [frames[int(i)] for i in needed]


def read_video_all(
    path: str | os.PathLike, *, resize: int | None = None, backend: Backend = "pyav", threads: int = 1
) -> Tensor:
    """Decode every frame of a video: uint8 ``(C, T, H, W)`` (used by the RAM cache)."""
    path = Path(path)
    if resolve_backend(backend) == "torchcodec":
        dec = _open_torchcodec(path, threads)
        data = dec.get_frames_in_range(0, int(dec.metadata.num_frames)).data  # (T, C, H, W)
        return _resize_tchw(data, resize).permute(1, 0, 2, 3).contiguous()
    import av

    container, stream = _open_pyav(path, threads)
    try:
        hw = None
        if resize is not None:
            hw = resized_hw(stream.codec_context.height, stream.codec_context.width, resize)
        arrays = [_to_array(f, hw) for f in container.decode(stream)]  # T x (C, H, W)
    except av.FFmpegError as e:
        raise DecodeError(f"cannot decode video {path}: {e}; the file may be corrupt or truncated") from None
    finally:
        container.close()
    if not arrays:
        raise DecodeError(f"{path} contains no decodable video frames")
    return _stack_ctHW(arrays)


# --------------------------------------------------------------------------------------
# torchcodec (optional)


def _open_torchcodec(path: Path, threads: int):
    from torchcodec.decoders import VideoDecoder

    _check_file(path)
    try:
        # "approximate": trust the container's index instead of scanning the whole file,
        # which is what per-clip random access wants.
        return VideoDecoder(str(path), seek_mode="approximate", num_ffmpeg_threads=threads)
    except Exception as e:
        raise DecodeError(f"cannot open video {path} with torchcodec: {e}") from None


def _read_torchcodec(path: Path, needed: np.ndarray, resize: int | None, threads: int) -> Tensor:
    dec = _open_torchcodec(path, threads)
    n = int(dec.metadata.num_frames or 0)
    if n and int(needed[-1]) >= n:
        raise FrameCountError(f"video {path} has {n} frames, before requested frame {int(needed[-1])}", available=n)
    try:
        data = dec.get_frames_at(indices=[int(i) for i in needed]).data  # (T', C, H, W)
    except (IndexError, RuntimeError) as e:
        raise DecodeError(f"cannot decode video {path} with torchcodec: {e}") from None
    return _resize_tchw(data, resize)


# --------------------------------------------------------------------------------------
# Public clip readers


def _resize_tchw(x: Tensor, resize: int | None) -> Tensor:
    """(T, C, H, W) uint8 -> short side ``resize`` (bilinear, antialiased)."""
    if resize is None:
        return x
    from torchvision.transforms.v2 import functional as TF

    h, w = resized_hw(x.shape[-2], x.shape[-1], resize)
    if (h, w) == tuple(x.shape[-2:]):
        return x
    return TF.resize(x, [h, w], antialias=True)


def _stack_ctHW(frames: Sequence) -> Tensor:
    """T frames, each ``(C, H, W)`` (an array or a sequence of C planes, any strides) ->
    contiguous ``(C, T, H, W)`` tensor, in one copy. NumPy copies single-threaded: torch's
    intra-op threads stall on small copies when the cores are busy (e.g. ``workers=0`` next
    to other processes)."""
    c, (h, w) = len(frames[0]), frames[0][0].shape
    out = np.empty((c, len(frames), h, w), dtype=np.uint8)
    for t, frame in enumerate(frames):
        for ch in range(c):
            out[ch, t] = frame[ch]
    return torch.from_numpy(out)


def _unique(indices: Sequence[int] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    idx = np.asarray(indices, dtype=np.int64).reshape(-1)
    if idx.size == 0:
        raise ValueError("no frame indices to read")
    if idx.min() < 0:
        raise ValueError(f"frame indices must be >= 0 (0-based), got {idx.min()}")
    return np.unique(idx, return_inverse=True)


def read_video_clip(
    path: str | os.PathLike,
    indices: Sequence[int] | np.ndarray,
    *,
    resize: int | None = None,
    backend: Backend = "pyav",
    threads: int = 1,
) -> Tensor:
    """Decode the frames ``indices`` (0-based, any order, repeats allowed) of a video.

    Returns uint8 ``(C, T, H, W)`` RGB with ``T = len(indices)``. ``resize`` sets the short
    side (swscale bilinear in PyAV). ``threads``: FFmpeg decoding threads (1 suits
    DataLoader workers, which already use one core each; 0 lets FFmpeg choose)."""
    path = Path(path)
    needed, inverse = _unique(indices)
    if resolve_backend(backend) == "torchcodec":
        data = _read_torchcodec(path, needed, resize, threads)  # (T', C, H, W)
        return data[torch.from_numpy(inverse)].permute(1, 0, 2, 3).contiguous()
    arrays = _read_pyav(path, needed, resize, threads)  # T' x (C, H, W)
    return _stack_ctHW([arrays[j] for j in inverse])


def read_video_sampled(
    path: str | os.PathLike,
    choose: Callable[[int], np.ndarray],
    *,
    resize: int | None = None,
    backend: Backend = "pyav",
    threads: int = 1,
) -> tuple[Tensor, np.ndarray, int]:
    """Count the frames and decode a clip with **one** opening of the file: ``choose(n)`` gets
    the frame count and returns the indices to decode (any shape, e.g. ``(clips, T)``).

    Returns uint8 ``(C, indices.size, H, W)``, the indices, and ``n``. The count is the
    container's (PyAV ``stream.frames``); when the container does not store it, it is counted
    by :func:`probe_num_frames` first (a second opening), as :func:`read_video_clip` callers
    do. A header that over-counts raises :class:`FrameCountError` as usual."""
    path = Path(path)
    if resolve_backend(backend) == "pyav":
        opened = _open_pyav(path, threads)
        n = int(opened[1].frames or 0)
        if n > 0:
            try:
                idx = np.asarray(choose(n))
            except BaseException:
                opened[0].close()
                raise
            needed, inverse = _unique(idx.reshape(-1))
            arrays = _read_pyav(path, needed, resize, threads, opened)  # closes the container
            return _stack_ctHW([arrays[j] for j in inverse]), idx, n
        opened[0].close()
    n = probe_num_frames(path, backend=backend)
    idx = np.asarray(choose(n))
    return read_video_clip(path, idx.reshape(-1), resize=resize, backend=backend, threads=threads), idx, n


def _decode_images(paths: list[Path], datas: list[Tensor]) -> list[Tensor]:
    from torchvision.io import ImageReadMode, decode_image, decode_jpeg

    jpeg = all(p.suffix.lower() in (".jpg", ".jpeg") for p in paths)
    try:
        with warnings.catch_warnings():
            # torchvision 0.29 marks its image codecs deprecated in favour of torchcodec's;
            # they are still the fastest batched JPEG decoder available without a system FFmpeg.
            warnings.simplefilter("ignore", DeprecationWarning)
            if jpeg:
                return decode_jpeg(datas, mode=ImageReadMode.RGB)
            return [decode_image(d, mode=ImageReadMode.RGB) for d in datas]
    except RuntimeError:
        # find the culprit to name it
        for p, d in zip(paths, datas):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", DeprecationWarning)
                    decode_image(d, mode=ImageReadMode.RGB)
            except RuntimeError as e:
                raise DecodeError(f"cannot decode image {p}: {e}; the file may be corrupt") from None
        raise


def read_frames_clip(
    folder: str | os.PathLike,
    indices: Sequence[int] | np.ndarray,
    *,
    template: str = "img_{:05d}.jpg",
    resize: int | None = None,
) -> Tensor:
    """Read frames ``indices`` (0-based) of a frame folder; frame ``i`` is the file
    ``template.format(i + 1)``. Returns uint8 ``(C, T, H, W)`` RGB."""
    folder = Path(folder)
    needed, inverse = _unique(indices)
    paths = [folder / template.format(int(i) + 1) for i in needed]
    datas = []
    for i, p in zip(needed, paths):
        try:
            datas.append(torch.frombuffer(bytearray(p.read_bytes()), dtype=torch.uint8))
        except FileNotFoundError:
            if not folder.is_dir():
                raise FileNotFoundError(f"frame folder not found: {folder}") from None
            raise FileNotFoundError(
                f"frame file not found: {p} (frame {int(i) + 1} of {folder}, template {template!r}); "
                "check the list's frame count and the template"
            ) from None
    images = _decode_images(paths, datas)  # T' x (C, H, W)
    shapes = {tuple(im.shape) for im in images}
    if len(shapes) > 1:
        raise DecodeError(f"frames of {folder} have different sizes {sorted(shapes)}")
    if resize is not None:
        images = list(_resize_tchw(torch.stack(images), resize))
    return _stack_ctHW([images[j].numpy() for j in inverse])
