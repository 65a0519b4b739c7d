"""Clip dataset and DataLoader builder.

:class:`ClipDataset` reads a list file (either format of :mod:`tbe_lib.data.listfile`),
samples clips with a :class:`ClipSampler` and returns raw uint8 clips; spatial and colour
augmentation runs later on the whole batch, on the training device
(:mod:`tbe_lib.augment.video`). CPU workers only decode.

Views. What one item holds is described by ``ClipSampler.views``, a tuple of view kinds;
the item is then a stack ``(V, C, T, H, W)`` in that order:

* ``"anchor"``: a clip of the video (random start when training, see :mod:`.sampling`).
* ``"same_frames"``: the anchor's frame indices again (the raw frames are identical; the
  batch augmentation draws independent crops/colours for each view).
* ``"other_time"``: a clip of the same video starting at least ``min_gap`` frames away.
* ``"other_video"``: a random clip of a different, randomly chosen video.
* ``"actor_swap"`` (embedded benchmark only): the anchor's frames where its ground-truth actor
  mask is set, a random clip of another video elsewhere: the actor on another background (the
  ``oracle_swap`` control, :mod:`tbe_lib.methods.oracle_swap`).

How this maps to the paper's code (``original-code.md`` §1.2, §1.4), whose dataset always
returns ``[anchor, positive, negative]``:

* ``be``:   ``BE_VIEWS = ("anchor", "same_frames", "other_time")``. The anchor becomes the
  query after BE mixing on the device, ``same_frames`` is the momentum encoder's key (same
  frames, augmented separately), ``other_time`` the extra intra-video negative.
* ``moco``: ``MOCO_VIEWS = ("anchor", "same_frames", "other_video")``: the extra negative
  is a clip of another video (also what ``be`` uses on Something-Something v1).
* finetuning: ``("anchor",)`` (the default), giving ``(C, T, H, W)``; testing:
  ``mode="uniform", num_clips=n`` gives ``(n, C, T, H, W)``.

Randomness. :func:`build_loader` wraps the sampler so that the dataset receives keys
``(index, entropy)``; the clip positions of an item are drawn from
``numpy.random.default_rng(entropy)`` with ``entropy = (seed, epoch, index, position)``, so a
run is reproducible whatever the number of workers and whether they persist. A plain
``dataset[i]`` uses a per-process generator seeded from ``torch.initial_seed()``.

Bad input. A missing or corrupt file, or a video shorter than a clip with
``short="error"``, raises an error naming the file (``on_error="raise"``, default). With
``on_error="skip"`` the item is replaced by another random index, the bad path is kept in
``dataset.bad_files`` (per process) and a warning is issued once per bad file by the process
that met it (each worker process warns on its own). Each sample carries the paths it
skipped (``ClipSample.skipped``), :func:`collate_clips` concatenates them, and the
:class:`BadFileLog` of the loader returned by :func:`build_loader` (training and evaluation
alike) warns once at the end of each epoch, naming the files, and stops the run past a limit:
this is how the count gets from worker processes back to the main one. Never a silent zero
clip.

Mixed sizes. Videos of one data set may differ in frame size and aspect ratio (even after
``resize``, which fixes only the short side). :func:`collate_clips` then pads the batch to the
largest height and width (each clip in the top-left corner, its last row and column repeated
into the margin) and returns every clip's valid ``(H, W)`` in ``ClipBatch.sizes``; the batch
augmentation (:class:`~tbe_lib.augment.video.VideoAugment`) and the test transform
(:class:`~tbe_lib.augment.video.VideoEval`) take those sizes and crop each clip inside its own
region. The views of one item are stacked the same way (an ``"other_video"`` view may come from
a video of another size). A batch whose clips share one size is stacked exactly as before.

RAM cache. ``cache=True`` keeps each decoded **full video** (uint8, after ``resize``) in
memory after its first read, which goes through the real decoder. Only sensible for small
data such as the embedded benchmark. Each worker process has its own cache (so memory is
multiplied by the number of workers); :func:`build_loader` uses persistent workers so the
caches survive across epochs.
"""

from __future__ import annotations

import math
import os
import random
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Literal, NamedTuple, Sequence

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import (
    DataLoader,
    Dataset,
    DistributedSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    default_collate,
    get_worker_info,
)

from .decode import (
    Backend,
    DecodeError,
    FrameCountError,
    probe_num_frames,
    read_frames_clip,
    read_video_all,
    read_video_clip,
    read_video_sampled,
)
from .listfile import VideoList, read_list
from .sampling import ShortPolicy, ShortVideoError, center_clip, clip_span, other_time_clip, random_clip, uniform_clips
from .synth.masks import ActorMasks

__all__ = [
    "ViewKind",
    "BE_VIEWS",
    "MOCO_VIEWS",
    "ClipSampler",
    "ClipSample",
    "ClipBatch",
    "ClipDataset",
    "collate_clips",
    "stack_clips",
    "SeededSampler",
    "ClipLoader",
    "BadFileLog",
    "TooManyBadFiles",
    "build_loader",
    "seed_worker",
]

ViewKind = Literal["anchor", "same_frames", "other_time", "other_video", "actor_swap"]
BE_VIEWS: tuple[ViewKind, ...] = ("anchor", "same_frames", "other_time")
MOCO_VIEWS: tuple[ViewKind, ...] = ("anchor", "same_frames", "other_video")
_VIEW_KINDS = ("anchor", "same_frames", "other_time", "other_video", "actor_swap")

#: errors that ``on_error="skip"`` turns into a replacement item
BAD_INPUT_ERRORS = (FileNotFoundError, DecodeError, ShortVideoError)


@dataclass(frozen=True)
class ClipSampler:
    """Which clips one dataset item holds.

    ``frames`` per clip at ``stride``; the anchor's start is ``mode``: ``"random"``
    (training), ``"center"`` or ``"uniform"`` (``num_clips`` evenly spaced clips, test time).
    ``views``: see the module docstring. ``short``: what to do with videos shorter than a
    clip (:mod:`.sampling`). ``min_gap``: minimum start distance of an ``"other_time"`` view
    (2 frames, the paper's threshold)."""

    frames: int = 16
    stride: int = 1
    mode: Literal["random", "center", "uniform"] = "random"
    num_clips: int = 1
    views: tuple[ViewKind, ...] = ("anchor",)
    short: ShortPolicy = "loop"
    min_gap: int = 2

    def __post_init__(self) -> None:
        clip_span(self.frames, self.stride)  # validates frames/stride
        if self.mode not in ("random", "center", "uniform"):
            raise ValueError(f"mode must be 'random', 'center' or 'uniform', got {self.mode!r}")
        if self.short not in ("loop", "pad", "error"):
            raise ValueError(f"short must be 'loop', 'pad' or 'error', got {self.short!r}")
        if self.num_clips < 1:
            raise ValueError(f"num_clips must be >= 1, got {self.num_clips}")
        views = tuple(self.views)
        object.__setattr__(self, "views", views)
        bad = [v for v in views if v not in _VIEW_KINDS]
        if bad or not views or views[0] != "anchor":
            raise ValueError(f"views must start with 'anchor' and use only {_VIEW_KINDS}, got {views}")
        if self.num_clips > 1 and len(views) > 1:
            raise ValueError("num_clips > 1 (multi-clip testing) cannot be combined with several views")

    @property
    def stacked(self) -> bool:
        """Whether items are stacks ``(N, C, T, H, W)`` rather than one clip ``(C, T, H, W)``."""
        return self.num_clips > 1 or len(self.views) > 1


class ClipSample(NamedTuple):
    """One item: ``clip`` uint8 ``(C, T, H, W)`` or ``(N, C, T, H, W)``, the label and the
    index of the video actually loaded, the paths skipped to get it (``on_error="skip"``), and
    ``sizes``: the valid ``(H, W)`` of each clip, ``(N, 2)`` int64, when the clips of a stack
    were padded to one size (``None``: every clip fills the frame)."""

    clip: Tensor
    label: int
    index: int
    skipped: tuple[str, ...] = ()
    sizes: Tensor | None = None


class ClipBatch(NamedTuple):
    """A collated batch: ``clips`` uint8 ``(B, ..., C, T, H, W)``, ``labels``/``indices`` int64
    ``(B,)``, ``skipped``: the bad paths met while building it, and ``sizes``: the valid
    ``(H, W)`` of every clip, int64 ``(B, ..., 2)`` on the CPU (``H, W`` everywhere unless the
    batch mixes frame sizes and was padded; pass it to the augmentation)."""

    clips: Tensor
    labels: Tensor
    indices: Tensor
    skipped: list[str]
    sizes: Tensor | None = None


def _full_sizes(clip: Tensor) -> Tensor:
    """``(..., C, T, H, W)`` -> ``(..., 2)`` int64 filled with ``(H, W)``."""
    return torch.tensor(clip.shape[-2:], dtype=torch.int64).expand(*clip.shape[:-4], 2)


def _empty_like_batch(first: Tensor, shape: tuple[int, ...], collate: bool) -> Tensor:
    """An uninitialised uint8 batch buffer; in a loader worker it lives in shared memory (as
    ``default_collate``'s), so the batch reaches the main process without another copy."""
    if collate and get_worker_info() is not None:
        numel = math.prod(shape)
        storage = first._typed_storage()._new_shared(numel, device=first.device)
        return first.new(storage).resize_(*shape)
    return torch.empty(shape, dtype=first.dtype)


def stack_clips(
    clips: Sequence[Tensor], sizes: Sequence[Tensor | None] | None = None, *, collate: bool = False
) -> tuple[Tensor, Tensor]:
    """Stack clips ``(..., C, T, H_i, W_i)`` into ``(N, ..., C, T, H, W)`` and their valid
    sizes into ``(N, ..., 2)`` int64 (the one stacking path of items and batches).

    Clips of one shape are stacked as they are. Clips of several frame sizes are padded to
    the largest ``H`` and ``W``: each in the top-left corner, its last row and column repeated
    into the margin (edge padding: resampling near a clip's border then reads its own edge,
    never zeros). ``sizes[i]``: the valid sizes already known for clip ``i`` (a padded stack),
    ``None``: the clip fills its frame. ``collate``: building a loader batch (shared memory in
    a worker; NumPy copies in the main process)."""
    clips = list(clips)
    given = list(sizes) if sizes is not None else [None] * len(clips)
    valid = torch.stack([_full_sizes(c) if z is None else z for c, z in zip(clips, given)])  # (N, ..., 2)
    shapes = {tuple(c.shape) for c in clips}
    if len(shapes) == 1:
        if collate:
            return _stack_clips(clips), valid
        return torch.stack(clips), valid
    lead = {tuple(c.shape[:-2]) for c in clips}
    if len(lead) != 1:
        raise ValueError(
            f"cannot stack clips of shapes {sorted(shapes)}: only the frame size (H, W) may differ "
            "(the same number of views, channels and frames is needed)"
        )
    H, W = max(c.shape[-2] for c in clips), max(c.shape[-1] for c in clips)
    out = _empty_like_batch(clips[0], (len(clips), *next(iter(lead)), H, W), collate)
    dst_all = out.numpy()  # NumPy copies: single-threaded, no intra-op stalls on busy cores
    for dst, clip in zip(dst_all, clips):
        src = clip.numpy()
        h, w = src.shape[-2:]
        dst[..., :h, :w] = src
        dst[..., :h, w:] = src[..., :, w - 1 : w]  # repeat the last column
        dst[..., h:, :] = dst[..., h - 1 : h, :]  # then the last row (corner included)
    return out, valid


def _stack_clips(clips: list[Tensor]) -> Tensor:
    if get_worker_info() is not None:
        return default_collate(clips)  # writes into shared memory: no copy on the way to the main process
    # main process (workers=0): NumPy's single-threaded copy; torch.stack's intra-op threads
    # stall on busy cores (measured 5-50x slower on a loaded 2-core machine)
    return torch.from_numpy(np.stack([c.numpy() for c in clips]))


def collate_clips(batch: Sequence[ClipSample]) -> ClipBatch:
    """Stack samples into a :class:`ClipBatch` (concatenating their ``skipped`` paths); clips
    of several frame sizes are padded, see :func:`stack_clips`."""
    clips, sizes = stack_clips([s.clip for s in batch], [s.sizes for s in batch], collate=True)
    return ClipBatch(
        clips=clips,
        labels=torch.tensor([s.label for s in batch], dtype=torch.int64),
        indices=torch.tensor([s.index for s in batch], dtype=torch.int64),
        skipped=[p for s in batch for p in s.skipped],
        sizes=sizes,
    )


class _BadRecord(Exception):
    def __init__(self, index: int, path: Path, error: Exception):
        super().__init__(str(error))
        self.index, self.path, self.error = index, path, error


class ClipDataset(Dataset):
    """Clips of the videos of a list file, as raw uint8 tensors.

    Args:
        source: a :class:`VideoList` or the path of a list file (read with ``root``).
        sampler: what each item holds (:class:`ClipSampler`).
        resize: short side of the decoded frames (``None``: native size).
        backend: video decoder, ``"pyav"`` (default), ``"torchcodec"`` or ``"auto"``.
        threads: FFmpeg threads per decode (1 in workers; 0 lets FFmpeg choose).
        on_error: ``"raise"`` or ``"skip"`` bad files (see the module docstring).
        cache: keep decoded full videos in RAM (per process).
        max_replacements: how many bad items in a row ``"skip"`` tolerates before raising.
        transform: optional ``transform(clip, generator=g)`` applied to each item in the
            worker, with a generator seeded from the item's key (plus ``sizes=`` when the
            item's views were padded to one frame size, as :class:`VideoAugment` accepts). Leave it ``None`` when
            training on a GPU (augment the batch there, :mod:`tbe_lib.augment.video`); it is
            for CPU-only runs, where augmenting in the workers spreads the work over cores.
    """

    def __init__(
        self,
        source: VideoList | str | os.PathLike,
        sampler: ClipSampler | None = None,
        *,
        root: str | os.PathLike | None = None,
        resize: int | None = None,
        backend: Backend = "pyav",
        threads: int = 1,
        on_error: Literal["raise", "skip"] = "raise",
        cache: bool = False,
        max_replacements: int = 20,
        transform: Callable[..., Tensor] | None = None,
    ):
        self.videos = source if isinstance(source, VideoList) else read_list(source, root)
        self.sampler = sampler or ClipSampler()
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
        for view in ("other_video", "actor_swap"):
            if view in self.sampler.views and len(self.videos) < 2:
                raise ValueError(
                    f"the view {view!r} needs at least 2 videos; {self.videos.source} has {len(self.videos)}"
                )
        self._masks: ActorMasks | None = None
        if "actor_swap" in self.sampler.views:
            self._masks = ActorMasks.for_videos([self.videos.resolve(r) for r in self.videos.records])
        self.resize, self.backend, self.threads = resize, backend, threads
        self.on_error, self.cache, self.max_replacements = on_error, cache, max_replacements
        self.transform = transform
        self.bad_files: dict[str, str] = {}  # path -> error message (this process only)
        self._num_frames: dict[int, int] = {}
        self._videos_cache: dict[int, Tensor] = {}  # index -> (C, N, H, W) uint8
        self._rng: np.random.Generator | None = None
        self._rng_pid = -1

    def __len__(self) -> int:
        return len(self.videos)

    @property
    def labels(self) -> list[int]:
        return [r.label for r in self.videos.records]

    def path(self, index: int) -> Path:
        """Video file or frame folder of item ``index``."""
        return self.videos.resolve(self.videos.records[index])

    # ---- randomness ------------------------------------------------------------------

    def _process_rng(self) -> np.random.Generator:
        if self._rng is None or self._rng_pid != os.getpid():  # a forked worker re-seeds
            self._rng = np.random.default_rng(torch.initial_seed())
            self._rng_pid = os.getpid()
        return self._rng

    def _key(self, key: int | tuple[int, object]) -> tuple[int, np.random.Generator]:
        if isinstance(key, tuple):
            index, entropy = key
            return int(index), np.random.default_rng(entropy)  # type: ignore[arg-type]
        return int(key), self._process_rng()

    # ---- frames of one record ----------------------------------------------------------

    def num_frames(self, index: int) -> int:
        """Frame count of video ``index``: the list's column for frame folders, else probed
        once from the file and cached (per process)."""
        if index in self._num_frames:
            return self._num_frames[index]
        record = self.videos.records[index]
        if record.num_frames is not None:
            n = record.num_frames
        elif self.cache:
            n = self._full_video(index).shape[1]
        else:
            n = probe_num_frames(self.path(index), backend=self.backend)
        self._num_frames[index] = n
        return n

    def _count_while_reading(self, index: int) -> bool:
        """A video file whose frame count is not known yet and is not cached whole: its
        count is read from the container it is decoded from (no separate probe)."""
        return (
            not self.cache
            and self.videos.format == "video"
            and index not in self._num_frames
            and self.videos.records[index].num_frames is None
        )

    def _full_video(self, index: int) -> Tensor:
        if index not in self._videos_cache:
            path = self.path(index)
            if self.videos.format == "frames":
                n = self.num_frames(index)
                video = read_frames_clip(path, np.arange(n), template=self.videos.template, resize=self.resize)
            else:
                video = read_video_all(path, resize=self.resize, backend=self.backend, threads=self.threads)
                self._num_frames[index] = video.shape[1]
            self._videos_cache[index] = video
        return self._videos_cache[index]

    def read_frames(self, index: int, indices: np.ndarray) -> Tensor:
        """Decode frames ``indices`` (0-based) of video ``index``: uint8 ``(C, T, H, W)``."""
        if self.cache:
            return self._full_video(index)[:, torch.from_numpy(np.asarray(indices, dtype=np.int64))]
        path = self.path(index)
        if self.videos.format == "frames":
            return read_frames_clip(path, indices, template=self.videos.template, resize=self.resize)
        return read_video_clip(path, indices, resize=self.resize, backend=self.backend, threads=self.threads)

    def _anchor_indices(self, n: int, rng: np.random.Generator) -> np.ndarray:
        s = self.sampler
        if s.mode == "uniform" or s.num_clips > 1:
            return uniform_clips(n, s.frames, s.stride, s.num_clips, short=s.short)
        if s.mode == "center":
            return center_clip(n, s.frames, s.stride, short=s.short)[None]
        return random_clip(n, s.frames, s.stride, rng, short=s.short)[None]

    def _clips_of(self, index: int, rng: np.random.Generator, other_time: bool) -> tuple[Tensor, np.ndarray]:
        """Anchor clip(s) of video ``index`` (plus an other-time clip): ``(N, C, T, H, W)``, and
        their frame indices ``(N, T)``."""
        s = self.sampler
        path = self.path(index)

        def choose(n: int) -> np.ndarray:
            idx = self._anchor_indices(n, rng)  # (N, T)
            if other_time:
                other = other_time_clip(n, s.frames, s.stride, int(idx[0, 0]), rng, min_gap=s.min_gap, short=s.short)
                idx = np.concatenate([idx, other[None]])
            return idx

        for attempt in range(3):
            try:
                if self._count_while_reading(index):  # one opening of the file: count, sample, decode
                    frames, idx, n = read_video_sampled(
                        path, choose, resize=self.resize, backend=self.backend, threads=self.threads
                    )
                    self._num_frames[index] = n
                else:
                    idx = choose(self.num_frames(index))
                    frames = self.read_frames(index, idx.reshape(-1))  # (C, N*T, H, W)
                return frames.unflatten(1, idx.shape).transpose(0, 1), idx
            except FrameCountError as e:
                # the header over-counted: resample with the real count (at most a few times)
                if e.available < 1 or attempt == 2:
                    raise _BadRecord(index, path, e) from None
                self._num_frames[index] = e.available
            except ShortVideoError as e:
                raise _BadRecord(index, path, ShortVideoError(f"{path}: {e}")) from None
            except BAD_INPUT_ERRORS as e:
                raise _BadRecord(index, path, e) from None
        raise AssertionError("unreachable")

    def _load(self, index: int, rng: np.random.Generator) -> tuple[Tensor, Tensor | None]:
        """The item's clip(s) and, when its views were padded to one size, their sizes."""
        views = self.sampler.views
        clips, idx = self._clips_of(index, rng, other_time="other_time" in views)  # (N, C, T, H, W), (N, T)
        if not self.sampler.stacked:
            return clips[0], None
        if self.sampler.num_clips > 1:
            return clips, None
        out = []
        for v in views:
            if v in ("anchor", "same_frames"):
                out.append(clips[0])
            elif v == "other_time":
                out.append(clips[1])
            elif v == "other_video":
                j = int(rng.integers(0, len(self) - 1))
                j += j >= index
                out.append(self._clips_of(j, rng, other_time=False)[0][0])  # its frame size may differ
            else:  # actor_swap: the anchor's actor on another video's clip
                j = int(rng.integers(0, len(self) - 1))
                j += j >= index
                other = self._clips_of(j, rng, other_time=False)[0][0]  # (C, T, H, W)
                mask = torch.from_numpy(self._masks(self.path(index), idx[0]))  # (T, H, W) bool
                out.append(torch.where(mask, clips[0], other))
        if len({tuple(c.shape) for c in out}) == 1:
            return torch.stack(out), None  # (V, C, T, H, W)
        stacked, sizes = stack_clips(out)  # padded (V, C, T, H, W), sizes (V, 2)
        return stacked, sizes

    def __getitem__(self, key: int | tuple[int, object]) -> ClipSample:
        index, rng = self._key(key)
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for a dataset of {len(self)} videos")
        index %= len(self)
        skipped: list[str] = []
        for _ in range(self.max_replacements + 1):
            try:
                clip, sizes = self._load(index, rng)
            except _BadRecord as bad:
                if self.on_error == "raise":
                    raise bad.error from None
                self._note_bad(bad)
                skipped.append(str(bad.path))
                index = int(rng.integers(0, len(self)))
                continue
            if self.transform is not None:
                g = torch.Generator().manual_seed(int(rng.integers(0, 2**63 - 1)))
                # padded views (an 'other_video' of another size): the transform gets their sizes
                kw = {} if sizes is None else {"sizes": sizes}
                clip = self.transform(clip, generator=g, **kw)
                sizes = None
            return ClipSample(clip, self.videos.records[index].label, index, tuple(skipped), sizes)
        raise RuntimeError(
            f"{self.max_replacements + 1} items in a row hit bad files (last: {skipped[-1]}); "
            f"bad files so far in this process: {len(self.bad_files)}. Check the list and the data root."
        )

    def _note_bad(self, bad: _BadRecord) -> None:
        key = str(bad.path)
        if key not in self.bad_files:
            self.bad_files[key] = str(bad.error)
            warnings.warn(
                f"skipping bad video {key} ({type(bad.error).__name__}: {bad.error}); its items are "
                "replaced by other videos (on_error='skip')",
                RuntimeWarning,
                stacklevel=3,
            )


# --------------------------------------------------------------------------------------
# Loader


class SeededSampler(Sampler):
    """Wraps an index sampler and yields ``(index, entropy)`` keys for :class:`ClipDataset`,
    with ``entropy = (seed, epoch, index, position)``: every item's random clip positions are
    fixed by the seed and the epoch, whichever worker loads it. ``set_epoch`` is forwarded
    to the wrapped sampler (e.g. a :class:`DistributedSampler`)."""

    def __init__(self, sampler: Sampler, seed: int):
        self.sampler, self.seed, self.epoch = sampler, int(seed), 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)
        if hasattr(self.sampler, "set_epoch"):
            self.sampler.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.sampler)  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[tuple[int, tuple[int, int, int, int]]]:
        for pos, index in enumerate(self.sampler):
            yield index, (self.seed, self.epoch, int(index), pos)


def seed_worker(worker_id: int) -> None:
    """``worker_init_fn``: seed Python's and NumPy's global generators from the worker's torch
    seed (which the DataLoader derives from its seeded ``generator``)."""
    s = torch.initial_seed() % 2**32
    random.seed(s)
    np.random.seed(s)


class TooManyBadFiles(RuntimeError):
    """More bad files than a run's ``skip_limit`` allows."""


class BadFileLog:
    """Items replaced because of bad files (``on_error="skip"``), the one place they are counted.

    ``add(paths)`` takes a batch's ``skipped`` paths; ``end_epoch(epoch)`` warns once, naming
    the files, and returns a record ``{"epoch", "skipped_clips", "bad_files", "first_bad"}``
    for ``metrics.jsonl`` (None when nothing was skipped). Past ``limit`` (a fraction of the
    dataset's videos, distinct bad files, at least 1) :class:`TooManyBadFiles` stops the run:
    a list whose videos are mostly unreadable is an error, not something to train around."""

    def __init__(self, dataset_size: int, limit: float | None = None, where: str = "") -> None:
        self.dataset_size, self.limit, self.where = dataset_size, limit, where
        self.epoch_paths: list[str] = []
        self.files: set[str] = set()

    def add(self, paths: Sequence[str]) -> None:
        if not paths:
            return
        self.epoch_paths.extend(paths)
        self.files.update(paths)
        if self.limit is not None and len(self.files) > max(1, int(self.limit * self.dataset_size)):
            raise TooManyBadFiles(
                f"{self.where or 'data'}: {len(self.files)} of {self.dataset_size} videos could not be read "
                f"(first: {sorted(self.files)[:5]}), more than the limit of {self.limit:.0%}; fix or remove them "
                "from the list, or raise the limit (DataConfig.skip_limit)"
            )

    def end_epoch(self, epoch: int) -> dict[str, Any] | None:
        skipped, self.epoch_paths = self.epoch_paths, []
        if not skipped:
            return None
        bad = sorted(set(skipped))
        warnings.warn(
            f"{self.where + ': ' if self.where else ''}epoch {epoch}: {len(skipped)} items were replaced "
            f"because of {len(bad)} bad files (first: {bad[:5]})",
            RuntimeWarning,
            stacklevel=3,
        )
        return {
            "epoch": epoch,
            "skipped_clips": len(skipped),
            "bad_files": len(bad),
            "first_bad": bad[:5],
            "skipped": skipped,
        }


class ClipLoader:
    """A :class:`DataLoader` that counts epochs (calling ``set_epoch`` on its sampler before
    each pass) and reports, once per epoch, items replaced because of bad files
    (:class:`BadFileLog`).

    Iterating yields :class:`ClipBatch` (with the default collate). ``skipped_last_epoch``
    lists the bad paths met during the last complete pass (one entry per replacement). With
    an endless sampler (training's :class:`~tbe_lib.train.sampler.StepSampler`) the pass never
    ends: the training loop ends its epochs on the same :attr:`bad_files` log."""

    def __init__(self, loader: DataLoader, sampler: SeededSampler | None, bad_files: BadFileLog | None = None):
        self.dataloader, self.sampler = loader, sampler
        self.epoch = 0
        self.skipped_last_epoch: list[str] = []
        self.bad_files = bad_files or BadFileLog(len(loader.dataset))  # type: ignore[arg-type]

    @property
    def dataset(self) -> Dataset:
        return self.dataloader.dataset

    @property
    def batch_size(self) -> int | None:
        return self.dataloader.batch_size

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch of the next pass (also done automatically: +1 after each pass)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.dataloader)

    def __iter__(self) -> Iterator:
        if self.sampler is not None:
            self.sampler.set_epoch(self.epoch)
        try:
            for batch in self.dataloader:
                if isinstance(batch, ClipBatch):
                    self.bad_files.add(batch.skipped)
                yield batch
            record = self.bad_files.end_epoch(self.epoch)
            self.skipped_last_epoch = record["skipped"] if record else []
        finally:  # also when the pass is cut short (break): the next pass is a new epoch
            self.epoch += 1


def build_loader(
    dataset: Dataset,
    batch_size: int,
    *,
    shuffle: bool = True,
    workers: int = 0,
    seed: int = 0,
    distributed: bool = False,
    drop_last: bool = False,
    pin_memory: bool | Literal["auto"] = "auto",
    prefetch_factor: int | None = None,
    collate_fn=collate_clips,
    sampler: Sampler | None = None,
    bad_files: BadFileLog | None = None,
) -> ClipLoader:
    """A reproducible loader for a :class:`ClipDataset`: the one loader of every stage.

    ``workers`` processes (persistent across epochs, seeded by :func:`seed_worker` from a
    generator seeded with ``seed``); pinned memory when CUDA is available
    (``pin_memory="auto"``); a :class:`DistributedSampler` (rank and world size from the
    initialised ``torch.distributed``) when ``distributed``. Two runs with the same ``seed``
    give the same batches, whatever ``workers`` is. ``sampler``: a sampler that already yields
    keys (training's endless :class:`~tbe_lib.train.sampler.StepSampler`), used as is;
    ``bad_files``: the :class:`BadFileLog` to count skipped items in (default: a new one)."""
    if sampler is not None:
        if pin_memory == "auto":
            pin_memory = torch.cuda.is_available()
        loader = DataLoader(
            dataset,
            batch_size=batch_size,
            sampler=sampler,
            num_workers=workers,
            collate_fn=collate_fn,
            pin_memory=bool(pin_memory),
            persistent_workers=workers > 0,
            worker_init_fn=seed_worker if workers > 0 else None,
            generator=torch.Generator().manual_seed(seed + 1),
            prefetch_factor=prefetch_factor if workers > 0 else None,
        )
        return ClipLoader(loader, None, bad_files)
    if distributed:
        if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
            raise RuntimeError("build_loader(distributed=True) needs torch.distributed to be initialised first")
        base: Sampler = DistributedSampler(dataset, shuffle=shuffle, seed=seed, drop_last=drop_last)  # type: ignore[arg-type]
    elif shuffle:
        base = RandomSampler(dataset, generator=torch.Generator().manual_seed(seed))  # type: ignore[arg-type]
    else:
        base = SequentialSampler(dataset)  # type: ignore[arg-type]
    keyed = SeededSampler(base, seed) if isinstance(dataset, ClipDataset) else None
    if pin_memory == "auto":
        pin_memory = torch.cuda.is_available()
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=keyed if keyed is not None else base,
        num_workers=workers,
        collate_fn=collate_fn,
        pin_memory=bool(pin_memory),
        drop_last=drop_last,
        persistent_workers=workers > 0,
        worker_init_fn=seed_worker if workers > 0 else None,
        generator=torch.Generator().manual_seed(seed + 1),
        prefetch_factor=prefetch_factor if workers > 0 else None,
    )
    return ClipLoader(
        loader,
        keyed if keyed is not None else (base if hasattr(base, "set_epoch") else None),  # type: ignore[arg-type]
        bad_files,
    )
