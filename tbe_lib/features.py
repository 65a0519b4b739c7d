"""Feature extraction from a trained model: one vector per video, cached to disk.

A video's feature is the backbone's feature map pooled globally (the paper's retrieval
features: 512-d for C3D, 1024-d for I3D, original-code.md §4.2), averaged over ``num_clips``
uniformly spaced, centre-cropped clips (the paper used one clip; ``num_clips=1`` gives that),
or the 128-d projection head's output (``head=True``).

Counterfactual clips (StillMix, Li et al. ICCV 2023): :func:`scufo_clips` turns clips into their
*SCUFO* twins (one frame repeated: the scene without its motion). ``clip_transform=scufo_clips``
with ``num_clips=1`` (the centre clip) repeats each video's middle frame for the whole clip.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import Tensor, nn

from .train.progress import progress_mode

__all__ = ["FeatureSet", "extract_features", "clip_logits", "scufo_clips"]

#: A transform of evaluation clips (B, C, T, H, W) -> (B, C, T, H, W), applied after cropping.
ClipTransform = Callable[[Tensor], Tensor]


def scufo_clips(clips: Tensor) -> Tensor:
    """The SCUFO twin of each clip: its middle frame (index ``T // 2``) repeated for all ``T``
    frames, so that the scene stays and the motion goes. ``clips`` (B, C, T, H, W) -> same shape.
    On the centre clip of a video (``num_clips=1``) the middle frame is the video's."""
    if clips.dim() != 5:
        raise ValueError(f"scufo_clips takes clips (B, C, T, H, W), got shape {tuple(clips.shape)}")
    t = clips.shape[2]
    return clips[:, :, t // 2 : t // 2 + 1].expand_as(clips).contiguous()


@dataclass
class FeatureSet:
    """Per-video features ``feats`` (N, D), ``labels`` (N,), dataset ``indices`` (N,) and
    the videos' paths (relative, as in the list)."""

    feats: Tensor
    labels: Tensor
    indices: Tensor
    paths: list[str]

    def save(self, path: str | os.PathLike) -> Path:
        from .utils import atomic_save

        return atomic_save(
            {"feats": self.feats, "labels": self.labels, "indices": self.indices, "paths": list(self.paths)}, path
        )

    @classmethod
    def load(cls, path: str | os.PathLike) -> "FeatureSet":
        from .utils import safe_load

        d = safe_load(path)
        return cls(d["feats"], d["labels"], d["indices"], list(d["paths"]))


def _eval_loader(
    list_path,
    frames: int,
    stride: int,
    num_clips: int,
    batch_size: int,
    workers: int,
    root=None,
    resize=None,
    cache: bool = False,
):
    """The test-time loader of a list: ``num_clips`` uniformly spaced clips per video (or the centre one)."""
    from .data.dataset import ClipDataset, ClipSampler, build_loader

    mode = "uniform" if num_clips > 1 else "center"
    ds = ClipDataset(
        list_path,
        ClipSampler(frames=frames, stride=stride, mode=mode, num_clips=num_clips),
        root=root,
        resize=resize,
        cache=cache,
    )
    return ds, build_loader(ds, batch_size, shuffle=False, workers=workers, seed=0)


@torch.no_grad()
def _run(
    model: nn.Module,
    loader,
    transform: nn.Module,
    device: torch.device,
    fn,
    desc: str,
    progress: bool,
    clip_transform: ClipTransform | None = None,
):
    from tqdm.auto import tqdm

    model.eval()
    outs, labels, indices = [], [], []
    show = progress and progress_mode() in ("bar", "notebook")  # no bar in plain lines (files, CI, papermill)
    for batch in tqdm(loader, desc=desc, disable=not show, leave=False):
        clips = batch.clips.to(device, non_blocking=True)  # (B, C, T, H, W) or (B, N, C, T, H, W)
        multi = clips.dim() == 6
        B = clips.shape[0]
        sizes = batch.sizes  # (B, [N,] 2) valid (H, W) of each clip (padded batches of mixed sizes)
        if multi:
            clips, sizes = clips.flatten(0, 1), None if sizes is None else sizes.flatten(0, 1)
        x = transform(clips, sizes=sizes)  # (B*N, C, T, h, w)
        if clip_transform is not None:
            x = clip_transform(x)
        y = fn(x.contiguous(memory_format=torch.channels_last_3d)).float()  # (B*N, D)
        outs.append(y.view(B, -1, y.shape[-1]) if multi else y.view(B, 1, -1))  # (B, N, D)
        labels.append(batch.labels)
        indices.append(batch.indices)
    return torch.cat(outs).cpu(), torch.cat(labels), torch.cat(indices)


def extract_features(
    model: nn.Module,
    list_path: str | os.PathLike,
    *,
    frames: int = 8,
    stride: int = 1,
    size: int = 32,
    num_clips: int = 4,
    head: bool = False,
    batch_size: int = 32,
    workers: int = 2,
    device: torch.device | str = "cpu",
    root: str | None = None,
    resize: int | None = None,
    cache_file: str | os.PathLike | None = None,
    progress: bool = False,
    eval_resize: int | None = None,
    clip_transform: ClipTransform | None = None,
) -> FeatureSet:
    """Per-video features of every video of ``list_path`` (see module docstring).

    ``cache_file``: load from it when it exists, else compute and save there (the caller
    keys the file name on the checkpoint and settings, e.g. with :func:`cache_key`).
    ``eval_resize``: short side before the centre crop of ``size`` (default ``size``: the
    whole frame, right for the embedded benchmark; the paper used 128 -> 112).
    ``clip_transform``: applied to the cropped clips before the model (e.g. :func:`scufo_clips`);
    the caller keys ``cache_file`` on it."""
    from .augment.video import VideoEval
    from .data.listfile import read_list

    if cache_file is not None and Path(cache_file).exists():
        return FeatureSet.load(cache_file)
    device = torch.device(device)
    model = model.to(device)
    ds, loader = _eval_loader(list_path, frames, stride, num_clips, batch_size, workers, root, resize)
    fn = model if head else model.features
    feats, labels, indices = _run(
        model, loader, VideoEval(size, resize=eval_resize or size), device, fn, "features", progress, clip_transform
    )
    paths = [r.path for r in read_list(list_path, root).records]
    fs = FeatureSet(feats.mean(1), labels, indices, [paths[i] for i in indices.tolist()])
    if cache_file is not None:
        fs.save(cache_file)
    return fs


def clip_logits(
    model: nn.Module,
    list_path: str | os.PathLike,
    *,
    frames: int,
    stride: int,
    size: int,
    num_clips: int,
    batch_size: int = 32,
    workers: int = 2,
    device: torch.device | str = "cpu",
    root: str | None = None,
    resize: int | None = None,
    eval_resize: int | None = None,
    progress: bool = False,
    clip_transform: ClipTransform | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """Classifier logits of ``num_clips`` uniformly spaced centre-cropped clips per video:
    ``(logits (N_videos, num_clips, C), labels (N_videos,), indices (N_videos,))``;
    ``clip_transform`` (e.g. :func:`scufo_clips`) is applied to the cropped clips."""
    from .augment.video import VideoEval

    device = torch.device(device)
    _, loader = _eval_loader(list_path, frames, stride, num_clips, batch_size, workers, root, resize)
    return _run(
        model.to(device),
        loader,
        VideoEval(size, resize=eval_resize or size),
        device,
        model,
        "evaluate",
        progress,
        clip_transform,
    )


def cache_key(*parts: object) -> str:
    """A short stable hash of the given parts (checkpoint path + mtime, settings...)."""
    h = hashlib.sha256()
    for p in parts:
        if isinstance(p, (str, os.PathLike)) and Path(p).is_file():
            st = Path(p).stat()
            p = f"{p}:{st.st_size}:{st.st_mtime_ns}"
        h.update(repr(p).encode())
    return h.hexdigest()[:16]
